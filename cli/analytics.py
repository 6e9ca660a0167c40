"""`retention` and `durability`: the trailing windows and the durability signals of SPEC §15."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli import render
from cli.context import state
from cli.options import By, ExportFormat, ExportFormatOption, From, KnownAt, Opt, OutOption, Period, PeriodOption, PolicyOption, To, attribute
from cli.output import deliver
from cli.render import Column, known_suffix
from cli.xlsx import Sheet
from projections import names
from projections.durability import durability_report
from projections.figures import flatten
from projections.periods import parse_range, period_label
from projections.queries import Knowledge
from projections.retention import retention_report

Window = Annotated[int, Opt("--window", help="Months in each trailing window, ending with each month of the range.")]
Within = Annotated[int, Opt("--within", help="Days after each anchor movement in which a later movement counts.")]


def _notes(title: str, report: dict[str, Any]) -> list[str]:
    """The lines above a sheet: what it is, in which currency, as known when, under which policy."""
    policy = ", ".join(f"{k}={v}" for k, v in report["policy"].items())
    return [
        title,
        f"currency: {report['currency']}",
        f"known at: {report['known_at']}" if report["known_at"] else "known at: (empty ledger)",
        f"policy: {policy}" + (" (preview)" if report.get("preview") else ""),
    ]


def _blocks(entries: list[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
    blocks: dict[Any, list[dict[str, Any]]] = {}
    for entry in entries:
        blocks.setdefault(entry["group"], []).append(entry)
    return blocks


def _heading(title: str, by: str | None, group: Any, first: bool) -> str:
    lines = [title] if first else []
    if by:
        lines.append(f"{by} = {'(none)' if group is None else group}")
    return "\n".join(lines)


# -- retention -----------------------------------------------------------------------------------

# SPEC §15's keys of a month, and how a spreadsheet shows each.
RETENTION_KINDS = {
    "month": "text", "start": "text", "end": "text", "group": "text",
    "opening_mrr": "money", "closing_mrr": "money",
    "nrr": "ratio", "grr": "ratio", "expansion_rate": "ratio", "contraction_rate": "ratio", "churn_rate": "ratio",
    "logo_churn_rate": "ratio", "band": "text",
}
RETENTION_KEYS = list(RETENTION_KINDS)
RETENTION_COLUMNS = [
    Column("month", "month"),
    Column("window", "window"),
    Column("opening_mrr", "opening MRR", "money"),
    Column("closing_mrr", "closing MRR", "money"),
    Column("nrr", "NRR", "ratio"),
    Column("band", "band"),
    Column("grr", "GRR", "ratio"),
    Column("expansion_rate", "expansion", "ratio"),
    Column("contraction_rate", "contraction", "ratio"),
    Column("churn_rate", "churn", "ratio"),
    Column("logo_churn_rate", "logo churn", "ratio"),
]


def retention_table(report: dict[str, Any], k: Knowledge, by: str | None) -> str:
    """One row per month: its window, opening and closing MRR, NRR with its band beside it, then GRR and the rates."""
    title = f"Trailing {report['window']}-month retention ({report['currency']}){known_suffix(k)}"
    if not report["months"]:
        return f"{title}\n(no month ends in that range)"
    out = []
    for group, entries in _blocks(report["months"]).items():
        rows = [{**e, "window": f"{e['start']} – {e['end']}", "band": e["band"] or "n/a"} for e in entries]
        out.append(render.table(rows, RETENTION_COLUMNS, _heading(title, by, group, not out)))
    return "\n\n".join(out)


def retention(
    ctx: typer.Context,
    from_: From,
    to: To,
    window: Window = 12,
    by: By = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
) -> None:
    """Trailing N-month NRR (with its band), GRR and the retention rates, for each month ending in the range."""
    start, end = parse_range(from_, to)
    group = attribute(by)
    rm, k = state(ctx).reading(known_at, policy)
    names.require_attribute(rm, group, k)
    report = retention_report(rm, start, end, k, window=window, by=group)
    sheet_columns = [Column(key, key, kind) for key, kind in RETENTION_KINDS.items()]
    deliver(
        format.value,
        out,
        json=lambda: report,
        csv=lambda: (report["months"], RETENTION_KEYS),
        table=lambda: retention_table(report, k, group),
        xlsx=lambda: [Sheet("retention", report["months"], sheet_columns,
                            _notes(f"Trailing {report['window']}-month retention", report))],
    )


# -- durability ----------------------------------------------------------------------------------

# (JSON path, heading, kind) of each signal's table, in the order of SPEC §15.
SIGNALS = {
    "expansion": ("Expansion followed by contraction or churn", [
        ("expansion.customers", "expanded", "count"),
        ("expansion.followed", "followed", "count"),
        ("expansion.rate", "rate", "ratio"),
        ("expansion.expansion_amount", "expansion", "money"),
        ("expansion.lost_amount", "lost", "money"),
    ]),
    "contraction": ("Contraction followed by churn or another contraction", [
        ("contraction.customers", "contracted", "count"),
        ("contraction.churned", "churned", "count"),
        ("contraction.churn_rate", "churn rate", "ratio"),
        ("contraction.repeated", "repeated", "count"),
    ]),
    "first_expansion": ("Time from first revenue to first expansion", [
        ("first_expansion.customers", "new", "count"),
        ("first_expansion.expanded", "expanded", "count"),
        ("first_expansion.within_90", "≤ 90 days", "count"),
        ("first_expansion.within_180", "≤ 180 days", "count"),
        ("first_expansion.within_365", "≤ 365 days", "count"),
        ("first_expansion.p25_days", "p25 days", "count"),
        ("first_expansion.median_days", "median days", "count"),
        ("first_expansion.p75_days", "p75 days", "count"),
    ]),
}


def _window_text(report: dict[str, Any]) -> str:
    within = report["within"]
    if report["policy"]["movement_grain"] == "month":
        months = -(-within // 30)
        return f"within {within} days ({months} month{'s' if months != 1 else ''}: movements are monthly)"
    return f"within {within} days"


def durability_table(report: dict[str, Any], k: Knowledge, by: str | None) -> str:
    """The three signals, one table each, a row per period (and group); counts, rates as percentages, money."""
    title = f"Durability signals, {_window_text(report)} ({report['currency']}){known_suffix(k)}"
    out = [title]
    for name, (heading, figures) in SIGNALS.items():
        columns = [Column("period", "period")] + ([Column("group", by)] if by else [])
        columns += [Column(path, label, kind) for path, label, kind in figures]
        rows = []
        for entry in report["periods"]:
            flat = flatten(entry)
            row = {"period": period_label(entry["start"], entry["end"]), "group": "(none)" if entry["group"] is None else entry["group"]}
            for path, _, kind in figures:
                value = flat[path]
                row[path] = "n/a" if value is None and kind == "count" else value
            rows.append(row)
        out.append(render.table(rows, columns, heading))
    return "\n\n".join(out)


DURABILITY_KEYS = ["start", "end", "group"] + [path for _, figures in SIGNALS.values() for path, _, _ in figures]


def durability(
    ctx: typer.Context,
    from_: From,
    to: To,
    period: PeriodOption = Period.month,
    within: Within = 90,
    by: By = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
) -> None:
    """Does growth last: expansion later lost, contraction turning into churn, and the time to first expansion."""
    start, end = parse_range(from_, to)
    group = attribute(by)
    rm, k = state(ctx).reading(known_at, policy)
    names.require_attribute(rm, group, k)
    report = durability_report(rm, start, end, k, period=period.value, within=within, by=group)
    kinds = {path: kind for _, figures in SIGNALS.values() for path, _, kind in figures}
    sheet_columns = [Column(key, key, kinds.get(key, "text")) for key in DURABILITY_KEYS]
    deliver(
        format.value,
        out,
        json=lambda: report,
        csv=lambda: ([flatten(p) for p in report["periods"]], DURABILITY_KEYS),
        table=lambda: durability_table(report, k, group),
        xlsx=lambda: [Sheet("durability", [flatten(p) for p in report["periods"]], sheet_columns,
                            _notes(f"Durability signals, {_window_text(report)}", report))],
    )
