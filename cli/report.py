"""`revledger report`: one self-contained HTML file for a CFO and an auditor, with drill-down to the events.

``gather`` collects everything the report shows as the SPEC JSON documents the
other commands print (metrics, cohorts, restatements, §15 trailing retention
and durability) plus the drill-down data: the movements, customers and events
from which the page lists what makes up any figure, as `explain` does.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

import typer

from cli import html_report
from cli.context import state
from cli.options import From, KnownAt, Opt, Period, PeriodOption, PolicyOption, To, attribute
from cli.output import write_atomically
from cli.progress import progress
from projections import names, queries
from projections.movements import CATEGORIES
from projections.movers import top_movers
from projections.periods import month_end, parse_range, require_periods, split
from projections.readmodel import ReadModel

DRILL_LIMIT = 100_000
"""The most movements one report embeds for its drill-down (about 20 MB of page): see docs/decisions.md."""

WINDOW = 12  # months of the trailing NRR and GRR (SPEC §15's default)
BANDS = ((None, "0.9", "below 90%"), ("0.9", "1.0", "90–100%"), ("1.0", "1.1", "100–110%"),
         ("1.1", "1.2", "110–120%"), ("1.2", "1.3", "120–130%"), ("1.3", None, "130%+"))


def closed_period_restatements(rm: ReadModel, k: queries.Knowledge) -> list[dict[str, Any]] | None:
    """SPEC §7 restatements as known at ``k``, or None when this ledger has no period closing yet."""
    try:
        from projections.restatements import restatements
    except ImportError:
        return None
    return restatements(rm, k)


def band(nrr: str | None) -> str | None:
    """SPEC §15: the band of an NRR as printed (six decimals), each band including its lower bound."""
    if nrr is None:
        return None
    from decimal import Decimal

    value = Decimal(nrr)
    for low, high, name in BANDS:
        if (low is None or value >= Decimal(low)) and (high is None or value < Decimal(high)):
            return name
    return None


def trailing_retention(rm: ReadModel, start: date, end: date, known: queries.Knowledge, *, window: int = WINDOW) -> dict[str, Any]:
    """SPEC §15 trailing windows, in the shape of `projections.retention.retention_report` (which replaces it).

    For each month whose last day is in [start, end], the §6 figures of the
    ``window`` months ending with it, measured as one period.
    """
    try:
        from projections.retention import retention_report
    except ImportError:
        pass
    else:
        return retention_report(rm, start, end, known, window=window)
    from projections.metrics import Figures, figures_for, figures_json

    months = [e for _, e in split(start, end, "month") if e == month_end(e)]
    spans = [(_months_before(e, window - 1), e) for e in months]
    rows = []
    for s, e, figures in figures_for(rm, spans, known):
        f = figures_json(s, e, None, figures.get(None) or Figures())
        rows.append({"month": e.isoformat()[:7], "start": f["start"], "end": f["end"], "group": None,
                     "opening_mrr": f["opening_mrr"], "closing_mrr": f["closing_mrr"],
                     **{key: f["retention"][key] for key in ("nrr", "grr", "expansion_rate", "contraction_rate", "churn_rate")},
                     "logo_churn_rate": f["customers"]["logo_churn_rate"], "band": band(f["retention"]["nrr"])})
    return {**queries.report_header(rm, known), "window": window, "months": rows}


def _months_before(end: date, months: int) -> date:
    """The first day of the month ``months`` before ``end``'s (no earlier than the calendar's first)."""
    index = max(end.year * 12 + end.month - 1 - months, 12)
    return date(index // 12, index % 12 + 1, 1)


def durability(rm: ReadModel, start: date, end: date, known: queries.Knowledge) -> dict[str, Any] | None:
    """SPEC §15 durability signals per quarter, or None until `projections.durability` is in this build."""
    try:
        from projections.durability import durability_report
    except ImportError:
        return None
    return durability_report(rm, start, end, known, period="quarter")


def gather(rm: ReadModel, start: date, end: date, k: queries.Knowledge, *, period: str, by: str | None,
           ledger: str = "") -> dict[str, Any]:
    """Everything the report shows, as the SPEC JSON documents the other commands print, and the drill-down data."""
    from projections.cohorts import cohorts_report
    from projections.metrics import metrics_report, report_for

    names = queries.attribute_on(rm, "customer_name", end, k.sequence)
    metrics = metrics_report(rm, start, end, k, period=period)
    retention = trailing_retention(rm, start, end, k)
    last = retention["months"][-1] if retention["months"] else None
    window = report_for(rm, [(date.fromisoformat(last["start"]), date.fromisoformat(last["end"]))], k)["periods"][0] if last else None
    return {
        "title": "Revenue report",
        "ledger": ledger,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "period": period,
        "by": by,
        **queries.report_header(rm, k),
        "metrics": metrics,
        "whole": report_for(rm, [(start, end)], k)["periods"][0],
        "grouped": metrics_report(rm, start, end, k, period=period, by=by) if by else None,
        "grouped_whole": report_for(rm, [(start, end)], k, by=by) if by else None,
        "cohorts": cohorts_report(rm, start, end, k),
        "movers": top_movers(rm, start, end, k.sequence),
        "names": names,
        "restatements": closed_period_restatements(rm, k),
        "retention": retention,
        "trailing_window": window,
        "durability": durability(rm, start, end, k),
        "drill": drilldown(rm, start, end, k, by=by, metrics=metrics, names=names, limit=DRILL_LIMIT),
    }


# -- the drill-down data -------------------------------------------------------------------------


def _cutoff(periods: list[dict[str, Any]], moves: list[dict[str, Any]], limit: int) -> str | None:
    """The first day from which every period's drill-down fits in ``limit`` movements (None: not even the last).

    A period needs its movements and those after it, and the last movement of
    each customer active at its opening (its opening MRR and retention).
    """
    index = 0
    for p in periods:
        while index < len(moves) and moves[index]["date"] < p["start"]:
            index += 1
        if (len(moves) - index) + p["customers"]["opening"] <= limit:
            return p["start"]
    return None


def _cents(text: str) -> int:
    whole, _, frac = text.lstrip("-").partition(".")
    value = int(whole) * 100 + int((frac + "00")[:2])
    return -value if text.startswith("-") else value


def drilldown(
    rm: ReadModel, start: date, end: date, k: queries.Knowledge, *, by: str | None, metrics: dict[str, Any],
    names: dict[str, str], limit: int = DRILL_LIMIT,
) -> dict[str, Any]:
    """The movements, customers and events the page needs to list what makes up a figure, as `explain` does.

    Every period's drill-down is embedded when the range's movements fit in
    ``limit``; otherwise only the latest periods that fit (the page says so).
    """
    grain = queries.grain_of(k)
    moves = queries.movement_rows(rm, start, end, k.sequence, grain=grain)
    periods = [p for p in metrics["periods"] if p["group"] is None]
    cutoff = _cutoff(periods, moves, limit)
    data: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat(), "from": cutoff, "by": by,
                            "currency": rm.settings.currency, "known_at": k.recorded_at, "limit": limit,
                            "range_movements": len(moves), "categories": list(CATEGORIES)}
    if cutoff is None:
        return {**data, "customers": [], "movements": [], "events": []}
    first = date.fromisoformat(cutoff)
    before: dict[str, dict[str, Any]] = {}
    if first > date.min:
        for row in queries.movement_rows(rm, date.min, first - timedelta(days=1), k.sequence, grain=grain):
            before[row["customer_id"]] = row
    chosen = [row for row in before.values() if _cents(row["to_mrr"]) > 0]
    chosen += [row for row in moves if row["date"] >= cutoff]
    chosen.sort(key=lambda r: (r["date"], r["customer_id"]))
    customers = sorted({row["customer_id"] for row in chosen})
    index = {c: i for i, c in enumerate(customers)}
    history = _history(rm, by, end, k.sequence, index) if by else {}
    event_ids = sorted({e for row in chosen for e in row["event_ids"]})
    found = rm.find(event_ids)
    event_index = {e: i for i, e in enumerate(event_ids)}
    category = {c: i for i, c in enumerate(CATEGORIES)}
    return {
        **data,
        "embedded_movements": len(chosen),
        "customers": [[c, names.get(c), history.get(c, [])] for c in customers],
        "movements": [[index[r["customer_id"]], r["date"], category[r["category"]], r["cause"], _cents(r["from_mrr"]),
                       _cents(r["to_mrr"]), [event_index[e] for e in r["event_ids"]]] for r in chosen],
        "events": [_event(found.get(e), e) for e in event_ids],
    }


def _history(rm: ReadModel, by: str, end: date, known: int, index: dict[str, int]) -> dict[str, list[list[str]]]:
    """Each customer's values of ``by`` up to ``end``, in the order they apply (its group as of any day)."""
    from projections.metrics import attribute_changes

    history: dict[str, list[list[str]]] = {}
    for customer, value, effective in attribute_changes(rm, by, end, known):
        if customer in index:
            history.setdefault(customer, []).append([effective, value])
    return history


def _event(event: Any, event_id: str) -> list[Any]:
    if event is None:
        return [event_id, None, None, None, None, None, None]
    return [event_id, event.sequence, event.effective_date.isoformat(), event.recorded_at, event.actor, event.source,
            event.type]


# -- the command ---------------------------------------------------------------------------------


def report(
    ctx: typer.Context,
    from_: From,
    to: To,
    out: Annotated[str, Opt("--out", help="The HTML file to write.")],
    period: PeriodOption = Period.month,
    by: Annotated[str | None, Opt("--by", help="Also break the figures down by segment, channel, region or attr.NAME.")] = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
) -> None:
    """Write one self-contained HTML report: bridge, MRR/ARR, NRR/GRR, causes, cohorts, top movers, restatements.

    Charts are inline SVG; every figure opens the customers, movements and
    events behind it, from data inside the file: it needs no network.
    """
    start, end = parse_range(from_, to)
    require_periods(start, end, "month", " of cohorts")
    require_periods(start, end, period.value)
    group = attribute(by)
    st = state(ctx)
    rm, k = st.reading(known_at, policy)
    names.require_attribute(rm, group, k)
    with progress("writing the report"):
        page = html_report.document(gather(rm, start, end, k, period=period.value, by=group, ledger=st.location))
        write_atomically(out, lambda path: _write(path, page))
    typer.echo(f"wrote {out} ({start} to {end} by {period.value}{', as known at ' + k.recorded_at if k.recorded_at else ''})")


def _write(path: str, page: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(page)

