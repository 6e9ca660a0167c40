"""Trailing windows (SPEC §15): net and gross retention over the N months up to each month, with the NRR band.

A window is one §6 period that starts on the first day of month M-N+1 and ends
on the last day of M, so its figures are exactly those `metrics` prints for
that one period; the band reads the NRR as printed, six decimals, so a printed
0.900000 is never "below 90%". The windows overlap, so they are measured in one
pass (``trailing_figures``) rather than one read per window (`figures_for`).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, timedelta
from decimal import Decimal
from operator import countOf, itemgetter
from typing import Any

from ledger.errors import UsageError
from projections.metrics import Figures, attribute_changes, figures_json, group_order, movement_stream
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
        if day.year == date.max.year and day.month == 12:
            break  # the calendar's last month
        day = month_end(date(day.year + day.month // 12, day.month % 12 + 1, 1))
    return result


def window_start(last_day: date, window: int) -> date:
    """The first day of month M-N+1, M the month of ``last_day``."""
    index = max(last_day.year * 12 + last_day.month - 1 - (window - 1), 12)  # no earlier than 0001-01
    return date(index // 12, index % 12 + 1, 1)


def trailing_windows(start: date, end: date, window: int) -> list[tuple[date, date]]:
    """One span per month M whose last day lies in [start, end]: the first day of month M-N+1 to M's last day."""
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= MAX_WINDOW:
        raise UsageError(f"--window {window}: a whole number of months from 1 to {MAX_WINDOW}")
    if end < start:
        raise UsageError(f"the range ends ({end}) before it starts ({start})")
    return [(window_start(last, window), last) for last in months_ending_in(start, end)]


def trailing_figures(
    rm: ReadModel, spans: list[tuple[date, date]], known: Knowledge, by: str | None = None
) -> list[tuple[date, date, dict[str | None, Figures]]]:
    """The §6 retention figures of whole-month spans (overlapping ones included), each as one period, from one pass.

    What a retention row shows only: opening and closing MRR and counts, and net
    retention over S (not the bridge, causes or movers, left empty). Each
    customer's MRR is carried month end by month end; S is copied at the end of
    the month before a span (the span's opening) and, at the span's last day,
    compared with the MRR then (by group: for the customers that moved in the
    span, the only ones whose MRR or group can make a difference). Equal, figure
    for figure, to `metrics.figures_for`.
    """
    if not spans:
        return []
    for start, end in spans:
        if start.day != 1 or end != month_end(end) or end < start:
            raise ValueError(f"trailing_figures takes whole months, not {start}..{end}")
    # The opening is the end of the day before a span (before the calendar's first day: nothing, MRR 0).
    opening_of = {start: start - timedelta(days=1) for start, _ in spans if start > date.min}
    first = min(opening_of.values(), default=month_end(date.min))
    last = max(end for _, end in spans)
    month_ends = [month_end(first)]
    while month_ends[-1] < last:
        month_ends.append(month_end(month_ends[-1] + timedelta(days=1)))  # last is a month end, so this stops at it
    openings = set(opening_of.values())
    closing_at: dict[date, list[tuple[date, date]]] = {}
    for span in spans:
        closing_at.setdefault(span[1], []).append(span)

    rows = movement_stream(rm, last, known.sequence)
    changes = attribute_changes(rm, by, last, known.sequence) if by else []
    next_change = 0
    group_of: dict[str, str] = {}
    group_get = group_of.get
    customer, to_cents = itemgetter(0), itemgetter(3)
    mrr: dict[str, int] = {}
    copies: dict[date, dict[str, int]] = {}  # opening day -> S: the customers with MRR > 0 then, and their MRR
    movers: dict[date, set[str]] = {}  # month end -> customers with a movement in that month
    position = 0
    found: dict[tuple[date, date], dict[str | None, Figures]] = {}
    for month in month_ends:
        day = month.isoformat()
        end_position = bisect_right(rows, day, lo=position, key=itemgetter(1))
        chunk = rows[position:end_position]
        position = end_position
        mrr.update(zip(map(customer, chunk), map(to_cents, chunk)))
        if by:  # with one group, S alone is compared; with groups, the movers decide which are listed
            movers[month] = set(map(customer, chunk))
        while next_change < len(changes) and changes[next_change][2] <= day:
            who, value, _ = changes[next_change]
            next_change += 1
            group_of[who] = value
        if month in openings:
            copies[month] = dict(filter(itemgetter(1), mrr.items()))
        for start, end in closing_at.get(month, []):
            opened = copies[opening_of[start]] if start in opening_of else {}
            if by:
                moved = set().union(*(moves for m, moves in movers.items() if start <= m <= end))
                found[(start, end)] = _groups(opened, mrr, moved, group_get)
            else:
                found[(start, end)] = {None: _whole(opened, mrr)}
        if closing_at.get(month):  # forget the months and copies no span still open needs
            still = [start for start, end in spans if end > month]
            earliest = min(still, default=last)
            movers = {m: moves for m, moves in movers.items() if m >= earliest}
            copies = {day: copy for day, copy in copies.items() if any(opening_of.get(start) == day for start in still)}
    return [(start, end, found[(start, end)]) for start, end in spans]


def _whole(opened: dict[str, int], mrr: dict[str, int]) -> Figures:
    """One span's figures, all customers: S and its opening MRR from the copy, closing from every customer's MRR now."""
    mrr_get = mrr.get
    expansion = contraction = churn = lost = 0
    for who, o in opened.items():  # S
        c = mrr_get(who, 0)
        if c == o:
            continue
        if c > o:
            expansion += c - o
        elif c:
            contraction += o - c
        else:
            churn += o
            lost += 1
    return Figures(
        opening=sum(opened.values()),
        opening_count=len(opened),
        closing=sum(mrr.values()),
        closing_count=len(mrr) - countOf(mrr.values(), 0),
        retention_expansion=expansion,
        retention_contraction=contraction,
        retention_churn=churn,
        logos_lost=lost,
    )


def _groups(opened: dict[str, int], mrr: dict[str, int], moved: set[str], group_get) -> dict[str | None, Figures]:
    """One span's figures per group: S and its opening MRR from the copy, closing and retention from those that moved."""
    opened_get, mrr_get = opened.get, mrr.get
    figures: dict[str | None, Figures] = {}
    for who, o in opened.items():
        g = group_get(who)
        f = figures.get(g)
        if f is None:
            f = figures[g] = Figures()
        f.opening += o
        f.opening_count += 1
    for f in figures.values():
        f.closing, f.closing_count = f.opening, f.opening_count
    for who in moved:
        o, c = opened_get(who, 0), mrr_get(who, 0)  # o_c and c_c
        g = group_get(who)
        f = figures.get(g)
        if f is None:
            f = figures[g] = Figures()
        f.touched = True
        f.closing += c - o
        f.closing_count += (c > 0) - (o > 0)
        if o > 0:
            _retain(f, o, c)
    return {g: f for g, f in figures.items() if f.touched or f.opening_count or f.closing_count}


def _retain(f: Figures, o: int, c: int) -> None:
    """A customer of S, active at opening with o_c, closing at c_c (SPEC §6 net retention)."""
    if c > 0:
        if c > o:
            f.retention_expansion += c - o
        elif o > c:
            f.retention_contraction += o - c
    else:
        f.retention_churn += o
        f.logos_lost += 1


def retention_report(
    rm: ReadModel, start: date, end: date, known: Knowledge, *, window: int = 12, by: str | None = None
) -> dict[str, Any]:
    """SPEC §15 `retention --format json`: the trailing ``window``-month figures for each month ending in [start, end]."""
    require_whole_months(start, end, known.policy)
    spans = trailing_windows(start, end, window)
    months = []
    for first, last, figures in trailing_figures(rm, spans, known, by):
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
