"""`close` and `restatements`: a period's figures recorded with the log head they come from, and how they moved since (SPEC §7)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from cli import render, xlsx
from cli.context import state
from cli.options import PolicyOption, Actor, ExportFormat, ExportFormatOption, KnownAt, Opt, OutOption
from cli.output import about, deliver
from cli.render import Column, figure_cell, known_suffix, signed_cell, table
from projections import names, queries
from ledger.errors import UsageError
from projections.closes import Close, close_figures, closes
from projections.periods import parse_period, period_kind, period_name
from projections.restatements import restatements as restated


class ReportFormat(str, Enum):
    table = "table"
    json = "json"


def close(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="The period: 2026-03 (month), 2026-Q1 (quarter) or 2026 (year).")],
    lock: Annotated[bool, Opt("--lock", help="Refuse later events effective in it, unless given --restate.")] = False,
    force: Annotated[
        str | None, Opt("--force", help="Close a period that has not ended, or close one again, for this reason (recorded on the close).")
    ] = None,
    actor: Actor = None,
    format: Annotated[ReportFormat, Opt("--format", help="Output format.")] = ReportFormat.table,
) -> None:
    """Record the period's figures as they stand, with the log head they come from, as an event in the log."""
    from cli.metrics import metrics_table
    from ledger.closes import earlier_closes

    label = period_name(period)
    start, end = parse_period(label)
    st = state(ctx)
    rm = st.read_model
    earlier = earlier_closes(start, end, rm.closes())
    event = st.ledger(actor).close_period(
        label, start, end, lock=lock, force=force, figures=lambda head, at: close_figures(rm, label, head, at)
    )
    rm.catch_up()
    closed = Close.of(event)
    if format is ReportFormat.json:
        render.emit(render.as_json({**closed.summary(), "policy": closed.metrics.get("policy"), "metrics": closed.metrics}))
        return
    kind = period_kind(label)
    if earlier:
        again = f"because: {force}" if force else "and locks it"
        typer.echo(f"{label} was closed at {earlier[-1].recorded_at}; this close records its figures again {again}")
    elif force:
        typer.echo(f"{label} ends on {end}; closed before it ended because: {force}")
    typer.echo(
        f"closed {label} ({start} – {end}) as sequence {event.sequence} ({event.event_id}) at {event.recorded_at}, "
        f"from the log up to sequence {closed.head}"
    )
    if lock:
        typer.echo(f'locked: later events effective in {label} are refused unless given --restate "reason"')
    typer.echo(f"reproduce: revledger metrics --from {start} --to {end} --period {kind} --known-at {event.recorded_at}\n")
    render.emit(metrics_table(closed.metrics, queries.Knowledge(event.sequence, event.recorded_at), kind, None))


EVENT_COLUMNS = [
    Column("sequence", "seq", "count"),
    Column("customer_id", "customer"),
    Column("event_id", "event_id"),
    Column("type", "type"),
    Column("effective_date", "effective"),
    Column("recorded_at", "recorded_at"),
    Column("actor", "actor"),
    Column("reason", "reason"),
    Column("restatement", "restatement"),
]
FIGURE_COLUMNS = [Column("metric", "figure"), Column("closed", "as closed", "count"), Column("now", "as now known", "count"),
                  Column("difference", "difference", "count")]
SPLIT_COLUMNS = [Column("by_policy", "by the policy change", "count"), Column("by_events", "by events", "count")]
RESTATEMENT_CSV_KEYS = ["period", "closed_at", "metric", "closed", "now", "difference", "events", "by_policy", "by_events"]


def restatements(
    ctx: typer.Context,
    period: Annotated[str | None, Opt("--period", help="Only this closed period (2026-03, 2026-Q1, 2026).")] = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
) -> None:
    """Every closed period whose figures as now known differ from those recorded at its close, and the events why."""
    rm, k = state(ctx).reading(known_at, policy)
    if period is not None:
        parse_period(period)  # refuses what is not a period, as written
        period = period_name(period)
        _require_closed(period, closes(rm, k), names.as_known(rm, k))
    found = restated(rm, k, period=period)

    def csv():
        rows = [
            {"period": r["period"], "closed_at": r["recorded_at"], **f, "events": [e["event_id"] for e in r["events"]]}
            for r in found
            for f in r["figures"]
        ]
        return rows, RESTATEMENT_CSV_KEYS

    deliver(
        format.value,
        out,
        json=lambda: {**queries.report_header(rm, k), "restatements": found},
        csv=csv,
        table=lambda: restatements_table(found, k, period),
        xlsx=lambda: xlsx.restatements_sheets(csv()[0], f"Restatements of closed periods{known_suffix(k)}"),
        about=lambda: about(ctx, k, period=period, currency=rm.settings.currency),
    )


def _require_closed(period: str, recorded: list[Close], known: str) -> None:
    """``restatements --period P`` of a period never closed (as known) says so, rather than "not restated"."""
    start, end = parse_period(period)
    if any((c.start, c.end) == (start, end) for c in recorded):
        return
    closed = ", ".join(dict.fromkeys(c.period for c in recorded)) or "none"
    raise UsageError(f"--period {period}: {period} was never closed{known} (closed periods: {closed}); "
                     f"`revledger close {period}` closes it")


def restatements_table(found: list[dict], k: queries.Knowledge, period: str | None = None) -> str:
    if not found:
        if period:
            known = f" as known at {k.recorded_at}" if k.recorded_at else ""
            return f"{period} is not restated: its figures{known} are those recorded at its close"
        return f"no closed period is restated{known_suffix(k)}"
    out = []
    for r in found:
        title = (
            f"{r['period']} ({r['start']} – {r['end']}), closed at {r['recorded_at']} by {r['actor']} "
            f"(sequence {r['sequence']}{', locked' if r['locked'] else ''}) — restated{known_suffix(k)}"
        )
        figures = [
            {
                "metric": f["metric"],
                "closed": figure_cell(f["metric"], f["closed"]),
                "now": figure_cell(f["metric"], f["now"]),
                "difference": signed_cell(f["metric"], f["difference"]),
                **({"by_policy": signed_cell(f["metric"], f["by_policy"]),
                    "by_events": signed_cell(f["metric"], f["by_events"])} if "by_policy" in f else {}),
            }
            for f in r["figures"]
        ]
        split = any("by_policy" in f for f in r["figures"])
        out.append(table(figures, FIGURE_COLUMNS + (SPLIT_COLUMNS if split else []), title))
        out.append(table(r["events"], EVENT_COLUMNS, "Events recorded after the close that changed it"))
    return "\n\n".join(out)
