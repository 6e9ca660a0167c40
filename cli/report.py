"""`revledger report`: the period metrics, cohorts, top movers and restatements as one self-contained HTML file."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Annotated, Any

import typer

from cli import html_report
from cli.common import KnownAt, app, handled, known_at_option, state
from cli.progress import progress
from ledger.errors import UsageError
from ledger.money import cents_text
from projections import queries
from projections.periods import parse_range
from projections.readmodel import ReadModel

Opt = typer.Option
TOP_MOVERS = 10


def top_movers(rm: ReadModel, start: date, end: date, known: int, count: int = TOP_MOVERS) -> dict[str, list[dict[str, Any]]]:
    """The customers whose MRR rose and fell most from the opening (end of ``start``-1) to the end of ``end``."""
    opening = queries.customer_mrr_cents(rm, start - timedelta(days=1), known)
    closing = queries.customer_mrr_cents(rm, end, known)
    categories: dict[str, list[str]] = {}
    for row in queries.movement_rows(rm, start, end, known):
        seen = categories.setdefault(row["customer_id"], [])
        if row["category"] not in seen:
            seen.append(row["category"])
    changes = []
    for customer in sorted(set(opening) | set(closing)):
        o, c = opening.get(customer, 0), closing.get(customer, 0)
        if o != c:
            changes.append((c - o, customer, o, c))

    def row(change: int, customer: str, o: int, c: int) -> dict[str, Any]:
        return {
            "customer_id": customer,
            "opening_mrr": cents_text(o),
            "closing_mrr": cents_text(c),
            "change": cents_text(change),
            "categories": ", ".join(categories.get(customer, [])),
        }

    gainers = sorted((x for x in changes if x[0] > 0), key=lambda x: (-x[0], x[1]))[:count]
    losers = sorted((x for x in changes if x[0] < 0), key=lambda x: (x[0], x[1]))[:count]
    return {"gainers": [row(*x) for x in gainers], "losers": [row(*x) for x in losers]}


def closed_period_restatements(rm: ReadModel, k: queries.Knowledge) -> list[dict[str, Any]] | None:
    """SPEC §7 restatements as known at ``k``, or None when this ledger has no period closing yet."""
    try:
        from projections.restatements import restatements
    except ImportError:
        return None
    return restatements(rm, k)


def gather(rm: ReadModel, start: date, end: date, k: queries.Knowledge, *, period: str, by: str | None) -> dict[str, Any]:
    """Everything the report shows, as the SPEC JSON documents the other commands print."""
    from projections.cohorts import cohorts_report
    from projections.metrics import metrics_report

    return {
        "title": "Revenue report",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "period": period,
        "by": by,
        "currency": rm.settings.currency,
        "known_at": k.recorded_at,
        "metrics": metrics_report(rm, start, end, k, period=period),
        "grouped": metrics_report(rm, start, end, k, period=period, by=by) if by else None,
        "cohorts": cohorts_report(rm, start, end, k),
        "movers": top_movers(rm, start, end, k.sequence),
        "restatements": closed_period_restatements(rm, k),
    }


@app.command()
@handled
def report(
    ctx: typer.Context,
    from_: Annotated[str, Opt("--from", help="First day, YYYY-MM-DD.")],
    to: Annotated[str, Opt("--to", help="Last day, YYYY-MM-DD (inclusive).")],
    out: Annotated[str, Opt("--out", help="The HTML file to write.")],
    period: Annotated[str, Opt("--period", help="Period size: month, quarter or year.")] = "month",
    by: Annotated[str | None, Opt("--by", help="Also break the metrics down by segment, channel, region or attr.NAME.")] = None,
    known_at: KnownAt = None,
) -> None:
    """Write one self-contained HTML report (charts as inline SVG, no network): bridge, MRR/ARR, NRR/GRR,
    causes, cohorts, top movers and restatements."""
    from cli.metrics import group_attribute

    if period not in ("month", "quarter", "year"):
        raise UsageError(f"--period {period!r}: one of month, quarter, year")
    start, end = parse_range(from_, to)
    attribute = group_attribute(by)
    rm = state(ctx).read_model
    k = queries.knowledge(rm, known_at_option(known_at))
    with progress("writing the report"):
        page = html_report.document(gather(rm, start, end, k, period=period, by=attribute))
        folder = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(folder):
            raise UsageError(f"--out {out}: no such folder {folder}")
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(page)
    typer.echo(f"wrote {out} ({start} to {end} by {period}{', as known at ' + k.recorded_at if k.recorded_at else ''})")
