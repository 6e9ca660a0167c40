"""`amend`, `close`, `restatements`, `diff`, `verify` and `checkpoint`: corrections, closes and integrity (SPEC §7, §9)."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import typer

from cli import render
from cli.common import (
    Format,
    FormatOption,
    KnownAt,
    app,
    fail,
    given_cells,
    handled,
    known_at_option,
    known_suffix,
    state,
)
from cli.render import Column
from ledger.clock import parse_date
from ledger.errors import UsageError
from ledger.integrity import Checkpoint
from projections import closes, diff as diffs, figures, queries, restatements as restated, verify as verification
from projections.periods import period_kind, period_name
from projections.metrics import metrics_report
from projections.periods import parse_period, parse_range
from projections.readmodel import default_path

Opt = typer.Option


class ReportFormat(str, Enum):
    table = "table"
    json = "json"


# -- amend ---------------------------------------------------------------------------------------


@app.command()
@handled
def amend(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(help="The event to correct.")],
    reason: Annotated[str, Opt("--reason", help="Why it is corrected (recorded on the void).")],
    type: Annotated[str | None, Opt("--type", help="type (default: the original's)")] = None,
    customer: Annotated[str | None, Opt("--customer", help="customer_id (default: the original's)")] = None,
    date_: Annotated[str | None, Opt("--date", help="effective_date (default: the original's)")] = None,
    subscription: Annotated[str | None, Opt("--subscription", help="subscription_id")] = None,
    plan: Annotated[str | None, Opt(help="plan")] = None,
    quantity: Annotated[str | None, Opt(help="quantity (seats)")] = None,
    unit_price: Annotated[str | None, Opt("--unit-price", help="unit_price per seat per billing period")] = None,
    amount: Annotated[str | None, Opt(help="amount per billing period (flat or usage lines)")] = None,
    billing_months: Annotated[str | None, Opt("--billing-months", help="billing_months")] = None,
    discount: Annotated[str | None, Opt("--discount", help="discount_pct, 0–100")] = None,
    currency: Annotated[str | None, Opt(help="currency")] = None,
    event_reason: Annotated[str | None, Opt("--event-reason", help="the corrected event's own reason (default: the original's)")] = None,
    note: Annotated[str | None, Opt(help="note")] = None,
    name: Annotated[str | None, Opt("--name", help="customer_name")] = None,
    segment: Annotated[str | None, Opt(help="segment")] = None,
    channel: Annotated[str | None, Opt(help="channel")] = None,
    region: Annotated[str | None, Opt(help="region")] = None,
    attr: Annotated[list[str] | None, Opt("--attr", help="a custom attribute NAME=VALUE; repeatable")] = None,
    new_id: Annotated[str | None, Opt("--event-id", help="the corrected event's event_id (derived when not given)")] = None,
    restate: Annotated[str | None, Opt("--restate", help="why a correction in a locked period is let in")] = None,
    actor: Annotated[str | None, Opt(help="Who is appending (default: your login name).")] = None,
    dry_run: Annotated[bool, Opt("--dry-run", help="Validate only; write nothing.")] = False,
) -> None:
    """Correct an event: void it and record the corrected one, in one append. Nothing is edited or deleted."""
    changes: dict[str, Any] = {
        "type": type,
        "customer_id": customer,
        "effective_date": date_,
        "subscription_id": subscription,
        "plan": plan,
        "quantity": quantity,
        "unit_price": unit_price,
        "amount": amount,
        "billing_months": billing_months,
        "discount_pct": discount,
        "currency": currency,
        "reason": event_reason,
        "note": note,
        "customer_name": name,
        "segment": segment,
        "channel": channel,
        "region": region,
        "event_id": new_id,
    }
    changes = given_cells(changes, attr)
    st = state(ctx)
    result = st.ledger(actor).amend(event_id, changes, reason=reason, restatement=restate, dry_run=dry_run)
    if dry_run:
        typer.echo(f"valid: would void {event_id} and record {result.events[-1].event_id}; nothing written (dry run)")
        return
    if not result.events:
        typer.echo(f"nothing new: {event_id} was already amended that way")
        return
    void, corrected = result.events
    typer.echo(f"voided {event_id} by {void.event_id} (sequence {void.sequence}, reason: {reason})")
    typer.echo(f"recorded {corrected.event_id} as sequence {corrected.sequence} at {corrected.recorded_at}")
    st.read_model.catch_up()


# -- close -----------------------------------------------------------------------------------------


@app.command()
@handled
def close(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="The period: 2026-03 (month), 2026-Q1 (quarter) or 2026 (year).")],
    lock: Annotated[bool, Opt("--lock", help="Refuse later events effective in it, unless given --restate.")] = False,
    actor: Annotated[str | None, Opt(help="Who is closing (default: your login name).")] = None,
    format: Annotated[ReportFormat, Opt("--format", help="Output format.")] = ReportFormat.table,
) -> None:
    """Record the period's figures as they stand, with the log head they come from, as an event in the log."""
    from cli.metrics import metrics_table

    label = period_name(period)
    start, end = parse_period(label)
    st = state(ctx)
    rm = st.read_model
    event = st.ledger(actor).close_period(
        label, start, end, lock=lock, figures=lambda head, at: closes.close_figures(rm, label, head, at)
    )
    rm.catch_up()
    closed = closes.Close.of(event)
    if format is ReportFormat.json:
        render.emit(render.as_json({**closed.summary(), "metrics": closed.metrics}))
        return
    kind = period_kind(label)
    typer.echo(
        f"closed {label} ({start} – {end}) as sequence {event.sequence} ({event.event_id}) at {event.recorded_at}, "
        f"from the log up to sequence {closed.head}"
    )
    if lock:
        typer.echo(f'locked: later events effective in {label} are refused unless given --restate "reason"')
    typer.echo(
        f"reproduce: revledger metrics --from {start} --to {end} --period {kind} --known-at {event.recorded_at}\n"
    )
    known = queries.Knowledge(event.sequence, event.recorded_at)
    render.emit(metrics_table(closed.metrics, known, kind, None))


# -- restatements ---------------------------------------------------------------------------------


def figure_cell(metric: str, value: Any) -> str:
    """A figure of any kind in a table cell: money, count or ratio by its name."""
    if metric.endswith("quick_ratio"):  # a multiple, as the metrics table shows it
        return "n/a" if value is None else f"{Decimal(value):,.2f}x"
    if metric.endswith("arpa"):
        return render.money_cell(value) if value is not None else "n/a"
    if any(metric == r or metric.endswith(f".{r}") for r in figures.RATIOS):
        return render.ratio_cell(value)
    if isinstance(value, int):
        return f"{value:,}"
    return render.money_cell(value) if value is not None else "n/a"


def signed_cell(metric: str, value: Any) -> str:
    text = figure_cell(metric, value)
    return text if text.startswith("-") or text in ("n/a", "") or value in (0, None) else f"+{text}"


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


@app.command()
@handled
def restatements(
    ctx: typer.Context,
    period: Annotated[str | None, Opt("--period", help="Only this closed period (2026-03, 2026-Q1, 2026).")] = None,
    known_at: KnownAt = None,
    format: FormatOption = Format.table,
) -> None:
    """Every closed period whose figures as now known differ from those recorded at its close, and the events why."""
    rm = state(ctx).read_model
    k = queries.knowledge(rm, known_at_option(known_at))
    found = restated.restatements(rm, k, period=period)
    if format is Format.json:
        render.emit(render.as_json({"currency": rm.settings.currency, "known_at": k.recorded_at, "restatements": found}))
        return
    if format is Format.csv:
        rows = [
            {"period": r["period"], "closed_at": r["recorded_at"], **f, "events": [e["event_id"] for e in r["events"]]}
            for r in found
            for f in r["figures"]
        ]
        render.emit(render.as_csv(rows, ["period", "closed_at", "metric", "closed", "now", "difference", "events"]))
        return
    if not found:
        typer.echo(f"no closed period is restated{known_suffix(k)}")
        return
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
            }
            for f in r["figures"]
        ]
        out.append(render.table(figures, FIGURE_COLUMNS, title))
        out.append(render.table(r["events"], EVENT_COLUMNS, "Events recorded after the close that changed it"))
    render.emit("\n\n".join(out))


# -- diff ------------------------------------------------------------------------------------------


class DiffRead(str, Enum):
    metrics = "metrics"
    mrr = "mrr"
    movements = "movements"


class Period(str, Enum):
    month = "month"
    quarter = "quarter"
    year = "year"


@app.command()
@handled
def diff(
    ctx: typer.Context,
    read: Annotated[DiffRead, typer.Argument(help="Which read to compare: metrics, mrr or movements.")],
    known_at: Annotated[
        list[str] | None, Opt("--known-at", help="The two knowledge times to compare, before then after (give it twice).")
    ] = None,
    from_: Annotated[str | None, Opt("--from", help="metrics, movements: first day.")] = None,
    to: Annotated[str | None, Opt("--to", help="metrics, movements: last day (inclusive).")] = None,
    period: Annotated[Period | None, Opt("--period", help="metrics: month, quarter or year.")] = None,
    by: Annotated[str | None, Opt("--by", help="metrics, mrr: group by segment, channel, region or attr.NAME.")] = None,
    as_of: Annotated[str | None, Opt("--as-of", help="mrr: the day.")] = None,
    customer: Annotated[str | None, Opt("--customer", help="mrr, movements: one customer.")] = None,
    category: Annotated[str | None, Opt("--category", help="movements: one category.")] = None,
    format: FormatOption = Format.table,
) -> None:
    """The same read at two knowledge times: what differs, and the events recorded in between."""
    from cli.metrics import group_attribute

    if not known_at or len(known_at) != 2:
        raise UsageError("give --known-at twice: the two knowledge times to compare")
    given = {"--from": from_, "--to": to, "--period": period, "--by": by, "--as-of": as_of, "--customer": customer,
             "--category": category}
    takes = {
        DiffRead.metrics: {"--from", "--to", "--period", "--by"},
        DiffRead.mrr: {"--as-of", "--customer", "--by"},
        DiffRead.movements: {"--from", "--to", "--customer", "--category"},
    }[read]
    wrong = [name for name, value in given.items() if value is not None and name not in takes]
    if wrong:
        raise UsageError(f"diff {read.value} does not take {', '.join(wrong)}")
    rm = state(ctx).read_model
    before, after = (queries.knowledge(rm, known_at_option(t)) for t in known_at)
    report: dict[str, Any] = {
        "read": read.value,
        "currency": rm.settings.currency,
        "before": {"known_at": before.recorded_at, "sequence": before.sequence},
        "after": {"known_at": after.recorded_at, "sequence": after.sequence},
    }
    if read is DiffRead.mrr:
        day = parse_date(as_of) if as_of else None
        if day is None:
            raise UsageError("diff mrr needs --as-of")
        attribute = group_attribute(by)
        report["figures"] = diffs.diff_mrr(
            queries.mrr_report(rm, day, before, customer=customer, by=attribute),
            queries.mrr_report(rm, day, after, customer=customer, by=attribute),
        )
    else:
        if from_ is None or to is None:
            raise UsageError(f"diff {read.value} needs --from and --to")
        start, end = parse_range(from_, to)
        if read is DiffRead.metrics:
            kind, attribute = (period or Period.month).value, group_attribute(by)
            report["figures"] = diffs.diff_metrics(
                metrics_report(rm, start, end, before, period=kind, by=attribute),
                metrics_report(rm, start, end, after, period=kind, by=attribute),
            )
        else:
            report["movements"] = diffs.diff_movements(
                queries.movement_rows(rm, start, end, before.sequence, customer=customer, category=category),
                queries.movement_rows(rm, start, end, after.sequence, customer=customer, category=category),
            )
    low, high = sorted((before.sequence, after.sequence))
    report["events"] = figures.events_recorded(rm, low, high)
    _render_diff(report, format)


def _movement_changes(moved: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for change in ("added", "removed"):
        rows.extend({"change": change, **m, "before": None, "after": None} for m in moved[change])
    for c in moved["changed"]:
        b, a = c["before"], c["after"]
        rows.append(
            {
                "change": "changed",
                "customer_id": c["customer_id"],
                "date": c["date"],
                "category": a["category"],
                "cause": a["cause"],
                "from_mrr": a["from_mrr"],
                "to_mrr": a["to_mrr"],
                "amount": a["amount"],
                "event_ids": a["event_ids"],
                "before": f"{b['category']} {b['amount']}",
            }
        )
    return sorted(rows, key=lambda r: (r["date"], r["customer_id"]))


MOVEMENT_CHANGE_COLUMNS = [
    Column("change", "change"),
    Column("date", "date"),
    Column("customer_id", "customer"),
    Column("category", "category"),
    Column("cause", "cause"),
    Column("from_mrr", "from MRR", "money"),
    Column("to_mrr", "to MRR", "money"),
    Column("amount", "amount", "money"),
    Column("before", "before"),
    Column("event_ids", "events"),
]


def _render_diff(report: dict[str, Any], format: Format) -> None:
    if format is Format.json:
        render.emit(render.as_json(report))
        return
    if format is Format.csv:
        if "figures" in report:
            keys = (["start", "end"] if report["read"] == "metrics" else []) + ["group", "metric", "before", "after", "difference"]
            render.emit(render.as_csv(report["figures"], keys))
        else:
            render.emit(render.as_csv(_movement_changes(report["movements"]), [c.key for c in MOVEMENT_CHANGE_COLUMNS]))
        return
    b, a = report["before"], report["after"]
    def when(side: dict[str, Any]) -> str:
        return f"as known at {side['known_at']}" if side["known_at"] else "the empty ledger"

    title = f"{report['read']} ({report['currency']}) {when(b)} → {when(a)}"
    if "figures" in report:
        rows = [
            {
                **f,
                "before": figure_cell(f["metric"], f["before"]),
                "after": figure_cell(f["metric"], f["after"]),
                "difference": signed_cell(f["metric"], f["difference"]),
            }
            for f in report["figures"]
        ]
        columns = [Column("metric", "figure"), Column("before", "before", "count"), Column("after", "after", "count"),
                   Column("difference", "difference", "count")]
        if report["read"] == "metrics":
            columns = [Column("start", "start"), Column("end", "end"), Column("group", "group"), *columns]
        elif any(f["group"] is not None for f in report["figures"]):
            columns = [Column("group", "group"), *columns]
        first = render.table(rows, columns, title)
    else:
        first = render.table(_movement_changes(report["movements"]), MOVEMENT_CHANGE_COLUMNS, title)
    second = render.table(report["events"], EVENT_COLUMNS, "Events recorded in between")
    render.emit(f"{first}\n\n{second}")


# -- integrity -------------------------------------------------------------------------------------


@app.command()
@handled
def checkpoint(ctx: typer.Context) -> None:
    """Print the log head, SEQUENCE:HASH, to keep elsewhere: `verify --checkpoint` proves the log still extends it."""
    head = state(ctx).store.head()
    typer.echo(f"{head.sequence}:{head.hash}")


@app.command()
@handled
def verify(
    ctx: typer.Context,
    checkpoint: Annotated[
        str | None, Opt("--checkpoint", help="A head kept earlier (SEQUENCE:HASH): prove the log still extends it.")
    ] = None,
    format: Annotated[ReportFormat, Opt("--format", help="Output format.")] = ReportFormat.table,
) -> None:
    """Re-read the whole log: re-chain it, re-derive the projections and compare; exit 0 only when all holds."""
    try:
        head = Checkpoint.parse(checkpoint) if checkpoint is not None else None
    except ValueError as e:
        raise UsageError(f"--checkpoint: {e}") from None
    st = state(ctx)
    store = st.store
    result = verification.verify(store, st.cache or default_path(st.location), store.settings(), head)
    if format is ReportFormat.json:
        render.emit(render.as_json(result.as_dict()))
    else:
        for line in result.checked:
            typer.echo(f"checked: {line}")
        for finding in verification.sorted_findings(result):
            typer.echo(f"FAILED: {finding}")
        if result.ok:
            typer.echo(f"ok: {result.events} events, head {result.head}")
    if not result.ok:
        first = verification.sorted_findings(result)[0]
        raise fail(f"the ledger fails verification; the first difference is at {first}")
