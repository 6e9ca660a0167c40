"""`metrics`, `cohorts` and `explain`: the period figures of SPEC §6 and the audit trail of §8."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import typer

from cli import render, xlsx
from cli.context import state
from cli.options import PolicyOption, By, ExportFormat, ExportFormatOption, From, KnownAt, Opt, OutOption, Period, PeriodOption, To, attribute
from cli.output import deliver
from cli.render import Column, known_suffix
from projections import queries
from projections.cohorts import cohorts_report
from projections.explain import explain as explain_metric, is_count
from projections.metrics import metrics_report
from projections.periods import parse_range, period_label


class ExplainFormat(str, Enum):
    table = "table"
    json = "json"
    xlsx = "xlsx"


# -- metrics ---------------------------------------------------------------------------------

# (label, JSON path, kind): the rows of the metrics table, top to bottom.
METRIC_ROWS = [
    ("Opening MRR", "opening_mrr", "money"),
    ("+ New", "bridge.new", "money"),
    ("+ Expansion", "bridge.expansion", "money"),
    ("+ Reactivation", "bridge.reactivation", "money"),
    ("- Contraction", "bridge.contraction", "money"),
    ("- Churn", "bridge.churn", "money"),
    ("= Net new MRR", "bridge.net_new", "money"),
    ("Closing MRR", "closing_mrr", "money"),
    ("ARR", "arr", "money"),
    ("", None, "text"),
    ("Retained expansion", "retention.expansion", "money"),
    ("Retained contraction", "retention.contraction", "money"),
    ("Retained churn", "retention.churn", "money"),
    ("Net revenue retention", "retention.nrr", "ratio"),
    ("Gross revenue retention", "retention.grr", "ratio"),
    ("Expansion rate", "retention.expansion_rate", "ratio"),
    ("Contraction rate", "retention.contraction_rate", "ratio"),
    ("Churn rate", "retention.churn_rate", "ratio"),
    ("", None, "text"),
    ("Customers at opening", "customers.opening", "count"),
    ("Customers at closing", "customers.closing", "count"),
    ("New customers", "customers.new", "count"),
    ("Reactivated customers", "customers.reactivated", "count"),
    ("Churned customers", "customers.churned", "count"),
    ("Logo churn rate", "customers.logo_churn_rate", "ratio"),
    ("ARPA", "arpa", "money"),
    ("Quick ratio", "quick_ratio", "times"),
    ("Expansion share", "expansion_share", "ratio"),
]


def _lookup(entry: dict[str, Any], path: str) -> Any:
    value: Any = entry
    for key in path.split("."):
        value = value[key]
    return value


def _cell(value: Any, kind: str) -> str:
    if kind == "money":
        return render.money_cell(value)
    if kind == "ratio":
        return render.ratio_cell(value)
    if kind == "count":
        return f"{value:,}"
    if kind == "times":  # a multiple, as finance quotes a quick ratio: 1.13x
        return "n/a" if value is None else f"{Decimal(value):,.2f}x"
    return "" if value is None else str(value)


def metrics_table(report: dict[str, Any], k: queries.Knowledge, period: str, by: str | None) -> str:
    """Periods as columns, the figures as rows (one block per group), causes below the bridge."""
    blocks: dict[Any, list[dict[str, Any]]] = {}
    for entry in report["periods"]:
        blocks.setdefault(entry["group"], []).append(entry)
    out = []
    title = f"Metrics by {period} ({report['currency']}){known_suffix(k)}"
    if not report["periods"]:
        return f"{title}\n(no customers in that range)"
    for group, entries in blocks.items():
        labels = [period_label(e["start"], e["end"]) for e in entries]
        columns = [Column("metric", "")] + [Column(f"p{i}", label, "count") for i, label in enumerate(labels)]
        rows = []
        for label, path, kind in METRIC_ROWS:
            row: dict[str, Any] = {"metric": label}
            for i, entry in enumerate(entries):
                row[f"p{i}"] = _cell(_lookup(entry, path), kind) if path else ""
            rows.append(row)
        rows.append({"metric": "", **{f"p{i}": "" for i in range(len(entries))}})
        for kind in ("expansion", "contraction"):
            causes = sorted({c for e in entries for c in e["causes"][kind]})
            for cause in causes:
                row = {"metric": f"{kind.capitalize()}: {cause}"}
                for i, entry in enumerate(entries):
                    row[f"p{i}"] = render.money_cell(entry["causes"][kind].get(cause, "0.00"))
                rows.append(row)
        heading = title if not by else f"{title}\n{by} = {'(none)' if group is None else group}"
        out.append(render.table(rows, columns, heading))
    return "\n\n".join(out)


def metrics(
    ctx: typer.Context,
    from_: From,
    to: To,
    period: PeriodOption = Period.month,
    by: By = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
) -> None:
    """MRR bridge, retention, customer counts and causes per period (and group)."""
    start, end = parse_range(from_, to)
    group = attribute(by)
    rm, k = state(ctx).reading(known_at, policy)
    report = metrics_report(rm, start, end, k, period=period.value, by=group)

    def csv():
        rows = [render.flatten(entry) for entry in report["periods"]]
        return rows, _csv_keys(rows)

    deliver(
        format.value,
        out,
        json=lambda: report,
        csv=csv,
        table=lambda: metrics_table(report, k, period.value, group),
        xlsx=lambda: xlsx.metrics_sheets(report),
    )


def _csv_keys(rows: list[dict[str, Any]]) -> list[str]:
    """The flattened keys of every row in first-seen order, the causes (which vary by period) sorted, before arpa."""
    fixed: list[str] = []
    causes: set[str] = set()
    for row in rows:
        for key in row:
            if key.startswith("causes."):
                causes.add(key)
            elif key not in fixed:
                fixed.append(key)
    if not rows:
        fixed = ["start", "end", "group", "opening_mrr", "closing_mrr"]
    before_causes = fixed[: fixed.index("arpa")] if "arpa" in fixed else fixed
    after = fixed[len(before_causes):]
    return before_causes + sorted(causes) + after


# -- cohorts ---------------------------------------------------------------------------------


COHORT_CSV_KEYS = ["cohort", "customers", "mrr_0", "k", "month", "as_of", "mrr", "nrr", "active", "logo_retention",
                   "contraction", "contraction_rate"]


def cohorts(
    ctx: typer.Context,
    from_: From,
    to: To,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
) -> None:
    """Cohorts by month of first `new` movement: MRR, NRR, active logos and contraction per month offset."""
    start, end = parse_range(from_, to)
    rm, k = state(ctx).reading(known_at, policy)
    report = cohorts_report(rm, start, end, k)

    def csv():
        rows = [{"cohort": c["cohort"], "customers": c["customers"], "mrr_0": c["mrr_0"], **o}
                for c in report["cohorts"] for o in c["offsets"]]
        return rows, COHORT_CSV_KEYS

    deliver(
        format.value,
        out,
        json=lambda: report,
        csv=csv,
        table=lambda: cohorts_table(report, k),
        xlsx=lambda: xlsx.cohorts_sheets(report),
    )


def cohorts_table(report: dict[str, Any], k: queries.Knowledge) -> str:
    """Three triangles, cohorts as rows and month offsets as columns: NRR, logo retention, cumulative contraction."""
    title = f"Cohorts by month of first revenue ({report['currency']}){known_suffix(k)}"
    if not report["cohorts"]:
        return f"{title}\n(no cohorts in that range)"
    width = max(len(c["offsets"]) for c in report["cohorts"])
    out = []
    for key, name in (("nrr", "Net revenue retention"), ("logo_retention", "Logo retention"), ("contraction_rate", "Cumulative contraction rate")):
        columns = [Column("cohort", "cohort"), Column("customers", "customers", "count"), Column("mrr_0", "MRR month 0", "money")]
        columns += [Column(f"m{i}", f"M{i}", "ratio") for i in range(width)]
        rows = []
        for c in report["cohorts"]:
            row: dict[str, Any] = {"cohort": c["cohort"], "customers": c["customers"], "mrr_0": c["mrr_0"]}
            for o in c["offsets"]:
                row[f"m{o['k']}"] = o[key]
            for i in range(len(c["offsets"]), width):
                row[f"m{i}"] = ""
            rows.append(row)
        cells = [{**r, **{f"m{i}": ("" if r[f"m{i}"] == "" else render.ratio_cell(r[f"m{i}"])) for i in range(width)}} for r in rows]
        columns = columns[:3] + [Column(f"m{i}", f"M{i}", "count") for i in range(width)]
        out.append(render.table(cells, columns, f"{title}\n{name}" if not out else name))
    return "\n\n".join(out)


# -- explain ---------------------------------------------------------------------------------


def explain(
    ctx: typer.Context,
    metric: Annotated[
        str,
        typer.Argument(
            help="A metric's JSON path: opening_mrr, bridge.expansion, customers.churned, causes.contraction.seats, "
            "durability.expansion.followed …"
        ),
    ],
    from_: From,
    to: To,
    group: Annotated[str | None, Opt("--group", help="Only this group's customers (see --by).")] = None,
    by: Annotated[str, Opt("--by", help="The attribute --group refers to: segment, channel, region or attr.NAME.")] = "segment",
    within: Annotated[
        int | None, Opt("--within", help="For the durability.* figures: days after each anchor movement (default 90).")
    ] = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: Annotated[ExplainFormat, Opt("--format", help="Output format (xlsx needs --out).")] = ExplainFormat.table,
    out: OutOption = None,
) -> None:
    """The customers, movements and events that make up one figure of one period (the range)."""
    start, end = parse_range(from_, to)
    grouped_by = attribute(by) if group is not None else None
    rm, k = state(ctx).reading(known_at, policy)
    report = explain_metric(rm, metric, start, end, k, group=group, by=grouped_by, within=within)
    deliver(
        format.value,
        out,
        json=lambda: report,
        table=lambda: explain_table(report, k, grouped_by),
        xlsx=lambda: xlsx.explain_sheets(report),
    )


EXPLAIN_COLUMNS = [
    Column("customer_id", "customer"),
    Column("amount", "amount", "count"),
    Column("date", "date"),
    Column("category", "category"),
    Column("cause", "cause"),
    Column("movement", "movement", "money"),
    Column("events", "events (sequence, recorded at, actor, source)"),
]


def explain_table(report: dict[str, Any], k: queries.Knowledge, by: str | None) -> str:
    counting = is_count(report["metric"])
    show = (lambda v: v) if counting else render.money_cell
    where = f", {by} = {report['group']}" if by else ""
    if "within" in report:
        where += f", within {report['within']} days"
    title = (
        f"{report['metric']} {report['start']} – {report['end']}{where} ({report['currency']}){known_suffix(k)}: "
        f"{show(report['value'])} from {len(report['items']):,} customers"
    )
    rows = []
    for item in report["items"]:
        moves = item["movements"] or [None]
        for i, m in enumerate(moves):
            row = {"customer_id": item["customer_id"] if i == 0 else "", "amount": show(item["amount"]) if i == 0 else ""}
            if i == 0 and "days" in item:
                row["days"] = item["days"]
            if m is not None:
                if "role" in m:
                    row["role"] = m["role"]
                cause = m["cause"] or ""
                if "parts" in m:
                    cause += " (" + ", ".join(f"{c} {render.money_cell(a)}" for c, a in m["parts"].items()) + ")"
                row.update(
                    date=m["date"],
                    category=m["category"],
                    cause=cause,
                    movement=m["amount"],
                    events="; ".join(f"{e['event_id']} (#{e['sequence']}, {e['recorded_at']}, {e['actor']}, {e['source']})" for e in m["events"]),
                )
            rows.append(row)
    columns = EXPLAIN_COLUMNS
    if "within" in report:  # durability: each customer's anchor movement, then the movements that qualify it
        days = [Column("days", "days", "count")] if any("days" in item for item in report["items"]) else []
        columns = [*EXPLAIN_COLUMNS[:2], *days, Column("role", "role"), *EXPLAIN_COLUMNS[2:]]
    return render.table(rows, columns, title)
