"""`diff`: the same read at two knowledge times, figure by figure, with the events recorded in between (SPEC §7)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from cli import xlsx
from cli.closes import EVENT_COLUMNS
from cli.context import state
from cli.options import ExportFormat, ExportFormatOption, Opt, OutOption, Period, attribute, instant
from cli.output import about, deliver
from cli.reads import MOVEMENT_COLUMNS
from cli.render import Column, figure_cell, signed_cell, table, with_net_change
from ledger.clock import parse_date
from ledger.errors import UsageError
from projections import names
from projections.diff import diff_report
from projections.movements import CATEGORIES
from projections.periods import parse_range
from projections.preview import preview
from projections.queries import knowledge


class DiffRead(str, Enum):
    metrics = "metrics"
    mrr = "mrr"
    movements = "movements"


# Which options each read takes.
TAKES = {
    DiffRead.metrics: {"--from", "--to", "--period", "--by"},
    DiffRead.mrr: {"--as-of", "--customer", "--by"},
    DiffRead.movements: {"--from", "--to", "--customer", "--category"},
}


def diff(
    ctx: typer.Context,
    read: Annotated[DiffRead, typer.Argument(help="Which read to compare: metrics, mrr or movements.")],
    known_at: Annotated[
        list[str] | None,
        Opt("--known-at", help="The two knowledge times to compare, before then after (give it twice); with --policy, once "
                               "at most: the knowledge time of both sides."),
    ] = None,
    policy: Annotated[
        list[str] | None,
        Opt("--policy", help="KEY=VALUE (repeatable): compare the policy in force with a preview under this one, "
                             "side by side (SPEC §13); nothing is recorded."),
    ] = None,
    from_: Annotated[str | None, Opt("--from", help="metrics, movements: first day.")] = None,
    to: Annotated[str | None, Opt("--to", help="metrics, movements: last day (inclusive).")] = None,
    period: Annotated[Period | None, Opt("--period", help="metrics: month, quarter or year.")] = None,
    by: Annotated[str | None, Opt("--by", help="metrics, mrr: group by segment, channel, region or attr.NAME.")] = None,
    as_of: Annotated[str | None, Opt("--as-of", help="mrr: the day.")] = None,
    customer: Annotated[str | None, Opt("--customer", help="mrr, movements: one customer.")] = None,
    category: Annotated[str | None, Opt("--category", help="movements: one category.")] = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
) -> None:
    """The same read at two knowledge times (or under the policy in force and a preview): what differs, and why."""
    if policy:
        if known_at and len(known_at) > 1:
            raise UsageError("with --policy, give --known-at once at most: both sides are read as known then")
    elif not known_at or len(known_at) != 2:
        raise UsageError("give --known-at twice (the two knowledge times to compare), or --policy KEY=VALUE")
    given = {"--from": from_, "--to": to, "--period": period, "--by": by, "--as-of": as_of, "--customer": customer,
             "--category": category}
    wrong = [name for name, value in given.items() if value is not None and name not in TAKES[read]]
    if wrong:
        raise UsageError(f"diff {read.value} does not take {', '.join(wrong)}")
    start = end = day = None
    if read is DiffRead.mrr:
        if as_of is None:
            raise UsageError("diff mrr needs --as-of")
        day = parse_date(as_of)
    else:
        if from_ is None or to is None:
            raise UsageError(f"diff {read.value} needs --from and --to")
        start, end = parse_range(from_, to)
    rm = state(ctx).read_model
    after_rm = None
    if policy:
        before = knowledge(rm, instant(known_at[0]) if known_at else None)
        after_rm, after = preview(rm, before, before.policy.with_settings(policy))
        if after_rm is rm:
            after_rm = None
    else:
        assert known_at is not None
        before, after = (knowledge(rm, instant(t)) for t in known_at)
    names.require_customer(rm, customer, after)
    names.require_attribute(rm, attribute(by), after)
    names.require_choice("--category", category, CATEGORIES, "movement category")
    report = diff_report(rm, read.value, before, after, start=start, end=end, period=(period or Period.month).value,
                         by=attribute(by), as_of=day, customer=customer, category=category, after_rm=after_rm)
    deliver(format.value, out, json=lambda: report, csv=lambda: diff_csv(report), table=lambda: diff_table(report),
            xlsx=lambda: diff_sheets(report),
            about=lambda: about(ctx, after, read=read.value, compared_with=f"as known at {before.recorded_at or '(empty ledger)'}"
                                + (" under the policy in force (the answer: a preview under --policy)" if policy else ""),
                                range=f"{start} – {end}" if start else None, as_of=as_of, currency=report["currency"]))


def diff_sheets(report: dict[str, Any]) -> list:
    rows, _ = diff_csv(report)
    title = diff_table(report).split("\n", 1)[0]
    figures = "figures" in report
    return xlsx.diff_sheets(report, rows if figures else None, None if figures else rows, title)


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
    return sorted((with_net_change(r) for r in rows), key=lambda r: (r["date"], r["customer_id"]))


# A movement's columns as `movements` shows them, with what changed and what it was before.
MOVEMENT_CHANGE_COLUMNS = [Column("change", "change"), *MOVEMENT_COLUMNS[:-1], Column("before", "before"), MOVEMENT_COLUMNS[-1]]


def diff_csv(report: dict[str, Any]):
    if "figures" in report:
        keys = (["start", "end"] if report["read"] == "metrics" else []) + ["group", "metric", "before", "after", "difference"]
        return report["figures"], keys
    return _movement_changes(report["movements"]), [c.key for c in MOVEMENT_CHANGE_COLUMNS]


def diff_table(report: dict[str, Any]) -> str:
    b, a = report["before"], report["after"]

    def when(side: dict[str, Any]) -> str:
        known = f"as known at {side['known_at']}" if side["known_at"] else "the empty ledger"
        if b["policy"] == a["policy"]:
            return known
        p = side["policy"]
        under = (f"churn_recognition={p['churn_recognition']} reactivation_grace_days={p['reactivation_grace_days']} "
                 f"movement_grain={p['movement_grain']}")
        return f"{known} under {under}" + (" (PREVIEW, nothing recorded)" if side.get("preview") else "")

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
        first = table(rows, columns, title)
    else:
        first = table(_movement_changes(report["movements"]), MOVEMENT_CHANGE_COLUMNS, title)
    second = table(report["events"], EVENT_COLUMNS, "Events recorded in between")
    return f"{first}\n\n{second}"
