"""`revledger report`: the period metrics, cohorts, top movers and restatements as one self-contained HTML file."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Annotated, Any

import typer

from cli import html_report
from cli.context import state
from cli.options import PolicyOption, By, From, KnownAt, Opt, Period, PeriodOption, To, attribute
from cli.output import write_atomically
from cli.progress import progress
from ledger.errors import UsageError
from projections import names, queries
from projections.movers import top_movers
from projections.periods import parse_range, require_periods
from projections.readmodel import ReadModel


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


def report(
    ctx: typer.Context,
    from_: From,
    to: To,
    out: Annotated[str, Opt("--out", help="The HTML file to write.")],
    period: PeriodOption = Period.month,
    by: Annotated[str | None, Opt("--by", help="Also break the metrics down by segment, channel, region or attr.NAME.")] = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
) -> None:
    """Write one self-contained HTML report: bridge, MRR/ARR, NRR/GRR, causes, cohorts, top movers, restatements.

    Charts are inline SVG; the file needs no network.
    """
    start, end = parse_range(from_, to)
    require_periods(start, end, "month", " of cohorts")
    require_periods(start, end, period.value)
    group = attribute(by)
    rm, k = state(ctx).reading(known_at, policy)
    names.require_attribute(rm, group, k)
    with progress("writing the report"):
        page = html_report.document(gather(rm, start, end, k, period=period.value, by=group))
        write_atomically(out, lambda path: _write(path, page))
    typer.echo(f"wrote {out} ({start} to {end} by {period.value}{', as known at ' + k.recorded_at if k.recorded_at else ''})")


def _write(path: str, page: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(page)
