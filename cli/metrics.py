"""`metrics`, `cohorts` and `explain`: the period figures of SPEC §6 and the audit trail of §8."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli import render, xlsx
from cli.context import state
from cli.options import PolicyOption, By, ExportFormat, ExportFormatOption, From, KnownAt, Opt, OutOption, Period, PeriodOption, To, attribute
from cli.output import about, deliver
from cli.render import Column, known_suffix, with_net_change
from ledger.customer import CAUSES
from ledger.errors import UsageError
from projections import names, queries
from projections.cohorts import cohorts_report
from projections.explain import explain as explain_metric, is_count
from projections.metrics import metrics_report, report_for
from projections.periods import parse_range, period_label, require_periods


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
    ("Quick ratio", "quick_ratio", "multiple"),
    ("Expansion share", "expansion_share", "ratio"),
]


def _lookup(entry: dict[str, Any], path: str) -> Any:
    value: Any = entry
    for key in path.split("."):
        value = value[key]
    return value


def _cell(value: Any, kind: str) -> str:
    if kind == "money":  # a figure with no value (ARPA without customers) reads n/a, as every other figure
        return "n/a" if value is None else render.money_cell(value)
    if kind == "ratio":
        return render.ratio_cell(value)
    if kind == "count":
        return f"{value:,}"
    if kind == "multiple":  # as finance quotes a quick ratio: 1.13x
        return render.multiple_cell(value)
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
            # The causes any period has, in the one fixed order of every format (0.00 in a period without it).
            for cause in [c for c in CAUSES if any(c in e["causes"][kind] for e in entries)]:
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
    names.require_attribute(rm, group, k)
    report = metrics_report(rm, start, end, k, period=period.value, by=group)

    def csv():
        return [xlsx.metric_row(entry) for entry in report["periods"]], [c.key for c in xlsx.metric_columns()]

    def workbook():
        # The totals are the ledger's own figures for all customers and for the whole range, not sums of cells.
        totals = metrics_report(rm, start, end, k, period=period.value)["periods"] if group else []
        whole = report_for(rm, [(start, end)], k)["periods"][0] if group or len(report["periods"]) > 1 else None
        return xlsx.metrics_sheets(report, by=group, totals=totals, whole=whole)

    deliver(
        format.value,
        out,
        json=lambda: report,
        csv=csv,
        table=lambda: metrics_table(report, k, period.value, group),
        xlsx=workbook,
        about=lambda: about(ctx, k, range=f"{start} – {end}", period=period.value, by=group, currency=report["currency"]),
    )


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
    require_periods(start, end, "month", " of cohorts")
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
        about=lambda: about(ctx, k, range=f"{start} – {end}", currency=report["currency"]),
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
    by: Annotated[
        str | None, Opt("--by", help="The attribute --group refers to: segment (the default), channel, region or attr.NAME.")
    ] = None,
    within: Annotated[
        int | None, Opt("--within", help="For the durability.* figures: days after each anchor movement (default 90).")
    ] = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
) -> None:
    """The customers, movements and events that make up one figure of one period (the range)."""
    names.require_metric(metric)
    if by is not None and group is None:
        raise UsageError(f"--by {by} names the attribute --group refers to: give --group VALUE too")
    start, end = parse_range(from_, to)
    grouped_by = attribute(by or "segment") if group is not None else None
    rm, k = state(ctx).reading(known_at, policy)
    if grouped_by is not None:
        names.require_attribute(rm, grouped_by, k)
        names.require_group(rm, grouped_by, group, end, k)
    report = with_net_changes(explain_metric(rm, metric, start, end, k, group=group, by=grouped_by, within=within))
    deliver(
        format.value,
        out,
        json=lambda: report,
        csv=lambda: (explain_rows(report), EXPLAIN_CSV_KEYS),
        table=lambda: explain_table(report, k, grouped_by),
        xlsx=lambda: xlsx.explain_sheets(report),
        about=lambda: about(ctx, k, figure=metric, range=f"{start} – {end}", group=group if grouped_by else None,
                            by=grouped_by, currency=report["currency"]),
    )


def with_net_changes(report: dict[str, Any]) -> dict[str, Any]:
    """Each listed movement with its signed ``net_change``, as `movements` prints it (SPEC §8's fields kept)."""
    for item in report["items"]:
        item["movements"] = [with_net_change(m) for m in item["movements"]]
    return report


EXPLAIN_CSV_KEYS = ["customer_id", "item_amount", "date", "category", "cause", "from_mrr", "to_mrr", "amount",
                    "net_change", "event_ids"]


def explain_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One CSV row per movement behind the figure, with its customer's item amount (the items add up to the figure)."""
    rows = []
    for item in report["items"]:
        for m in item["movements"] or [{}]:
            rows.append({"customer_id": item["customer_id"], "item_amount": item["amount"],
                         **{k: v for k, v in m.items() if k not in ("events", "parts")},
                         "event_ids": [e["event_id"] for e in m.get("events", [])]})
    return rows


EXPLAIN_COLUMNS = [
    Column("customer_id", "customer"),
    Column("amount", "amount", "count"),
    Column("date", "date"),
    Column("category", "category"),
    Column("cause", "cause"),
    Column("movement", "movement", "money"),
    Column("net_change", "net change", "change"),
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
                    net_change=m["net_change"],
                    events="; ".join(f"{e['event_id']} (#{e['sequence']}, {e['recorded_at']}, {e['actor']}, {e['source']})" for e in m["events"]),
                )
            rows.append(row)
    columns = EXPLAIN_COLUMNS
    if "within" in report:  # durability: each customer's anchor movement, then the movements that qualify it
        days = [Column("days", "days", "count")] if any("days" in item for item in report["items"]) else []
        columns = [*EXPLAIN_COLUMNS[:2], *days, Column("role", "role"), *EXPLAIN_COLUMNS[2:]]
    return render.table(rows, columns, title)
