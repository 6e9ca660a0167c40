"""Trailing windows (SPEC §15): net and gross retention over the N months up to each month, with the NRR band.

A window is one §6 period that starts on the first day of month M-N+1 and ends
on the last day of M, so its figures are exactly those `metrics` prints for
that one period (`figures_for` measures overlapping spans); the band reads the
NRR as printed, six decimals, so a printed 0.900000 is never "below 90%".
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ledger.errors import UsageError
from projections.metrics import figures_for, figures_json, group_order
from projections.periods import month_end, require_whole_months
from projections.queries import Knowledge, report_header
from projections.readmodel import ReadModel

MAX_WINDOW = 120
# (lower bound, band): each band includes its lower bound; U+2013 between the figures, as finance writes a range.
BANDS = (
    (Decimal("1.3"), "130%+"),
    (Decimal("1.2"), "120–130%"),
    (Decimal("1.1"), "110–120%"),
    (Decimal("1.0"), "100–110%"),
    (Decimal("0.9"), "90–100%"),
)
BELOW = "below 90%"
BAND_NAMES = (BELOW, *(name for _, name in reversed(BANDS)))


def band(nrr: str | None) -> str | None:
    """The NRR band finance reads a trailing NRR against, from the six-decimal ratio; None when NRR is."""
    if nrr is None:
        return None
    value = Decimal(nrr)
    return next((name for lower, name in BANDS if value >= lower), BELOW)


def months_ending_in(start: date, end: date) -> list[date]:
    """The last days of the months whose last day lies in [start, end], in order."""
    result = []
    day = month_end(start)
    while day <= end:
        result.append(day)
        day = month_end(date(day.year + day.month // 12, day.month % 12 + 1, 1))
    return result


def window_start(last_day: date, window: int) -> date:
    """The first day of month M-N+1, M the month of ``last_day``."""
    index = last_day.year * 12 + last_day.month - 1 - (window - 1)
    return date(index // 12, index % 12 + 1, 1)


def trailing_windows(start: date, end: date, window: int) -> list[tuple[date, date]]:
    """One span per month M whose last day lies in [start, end]: the first day of month M-N+1 to M's last day."""
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= MAX_WINDOW:
        raise UsageError(f"--window {window}: a whole number of months from 1 to {MAX_WINDOW}")
    if end < start:
        raise UsageError(f"the range ends ({end}) before it starts ({start})")
    return [(window_start(last, window), last) for last in months_ending_in(start, end)]


def retention_report(
    rm: ReadModel, start: date, end: date, known: Knowledge, *, window: int = 12, by: str | None = None
) -> dict[str, Any]:
    """SPEC §15 `retention --format json`: the trailing ``window``-month figures for each month ending in [start, end]."""
    require_whole_months(start, end, known.policy)
    spans = trailing_windows(start, end, window)
    months = []
    for first, last, figures in figures_for(rm, spans, known, by):
        for group in sorted(figures, key=group_order):
            entry = figures_json(first, last, group, figures[group])
            retention = entry["retention"]
            months.append(
                {
                    "month": last.isoformat()[:7],
                    "start": entry["start"],
                    "end": entry["end"],
                    "group": group,
                    "opening_mrr": entry["opening_mrr"],
                    "closing_mrr": entry["closing_mrr"],
                    "nrr": retention["nrr"],
                    "grr": retention["grr"],
                    "expansion_rate": retention["expansion_rate"],
                    "contraction_rate": retention["contraction_rate"],
                    "churn_rate": retention["churn_rate"],
                    "logo_churn_rate": entry["customers"]["logo_churn_rate"],
                    "band": band(retention["nrr"]),
                }
            )
    return {**report_header(rm, known), "window": window, "months": months}
