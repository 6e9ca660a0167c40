"""Durability signals (SPEC §15): does expansion last, does contraction turn into churn, how soon do new customers expand.

A period's customers are anchored at their first movement of a kind dated in
it; what follows the anchor is read from every visible movement, wherever it
falls (after the range too). So a recent period is right-censored: its
customers have had less time for anything to follow, and its signals can only
rise as time passes.

One read of the movements, then one ordered pass: each customer's contractions
and churns are indexed once, every anchor looks its window up by bisection, and
the customers' MRR is carried from period to period for the groups listed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from typing import Any

from ledger.errors import UsageError
from ledger.money import cents_text, ratio, ratio_text
from projections.metrics import KINDS, attribute_changes, group_order, movement_stream
from projections.movements import CHURN, CONTRACTION, EXPANSION, NEW
from projections.periods import split, require_whole_months
from projections.queries import Knowledge, report_header
from projections.readmodel import ReadModel

WITHIN_DAYS = (90, 180, 365)  # first_expansion.within_N
MAX_WITHIN = 3660
PERCENTILES = (("median_days", 1, 2), ("p25_days", 1, 4), ("p75_days", 3, 4))  # (name, q as a fraction)

_EXPANSION = frozenset(k for k, (category, _) in KINDS.items() if category == EXPANSION)
_CONTRACTION = frozenset(k for k, (category, _) in KINDS.items() if category == CONTRACTION)
_CHURN = frozenset(k for k, (category, _) in KINDS.items() if category == CHURN)
_NEW = frozenset(k for k, (category, _) in KINDS.items() if category == NEW)


def visible_movements(rm: ReadModel, known: Knowledge) -> list[tuple]:
    """Every movement visible at ``known``, dated any time, in date order: the one read durability makes.

    Rows are (customer_id, date, kind, to_cents, amount_cents), ``KINDS[kind]``
    its (category, cause), as ``metrics.movement_stream`` gives them.
    """
    return movement_stream(rm, date.max, known.sequence)


@dataclass(frozen=True, slots=True)
class Grain:
    """Where a movement lies for §15's windows: in days, or in calendar months under ``movement_grain=month``.

    With months, a window of N days is ⌈N/30⌉ months and a movement qualifies
    when dated in one of the months after its anchor's, up to that many (SPEC §13).
    """

    monthly: bool = False

    def position(self, day: date) -> int:
        return day.year * 12 + day.month if self.monthly else day.toordinal()

    def reach(self, days: int) -> int:
        return -(-days // 30) if self.monthly else days

    def within(self, anchor: date, later: date, days: int) -> bool:
        """``later`` lies in (anchor, anchor + days]."""
        return 0 < self.position(later) - self.position(anchor) <= self.reach(days)


def check_within(within: int) -> None:
    if not isinstance(within, int) or isinstance(within, bool) or not 1 <= within <= MAX_WITHIN:
        raise UsageError(f"--within {within}: a whole number of days from 1 to {MAX_WITHIN}")


def nearest_rank(values: list[int], numerator: int, denominator: int) -> int | None:
    """The ⌈q·n⌉-th smallest of ``values`` (q = numerator/denominator), or None when there are none."""
    if not values:
        return None
    rank = -(-numerator * len(values) // denominator)
    return sorted(values)[rank - 1]


@dataclass(slots=True)
class Signals:
    """One period's durability signals for one group (counts, integer cents, and the days to first expansion)."""

    expanded: int = 0  # expansion.customers
    followed: int = 0
    expansion_amount: int = 0
    lost_amount: int = 0
    contracted: int = 0  # contraction.customers
    churned: int = 0
    repeated: int = 0
    joined: int = 0  # first_expansion.customers
    days: list[int] = field(default_factory=list)  # days to first expansion, one per customer that expanded
    within: dict[int, int] = field(default_factory=lambda: dict.fromkeys(WITHIN_DAYS, 0))

    def json(self, start: date, end: date, group: str | None) -> dict[str, Any]:
        return {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "group": group,
            "expansion": {
                "customers": self.expanded,
                "followed": self.followed,
                "rate": ratio_text(ratio(self.followed, self.expanded)),
                "expansion_amount": cents_text(self.expansion_amount),
                "lost_amount": cents_text(self.lost_amount),
            },
            "contraction": {
                "customers": self.contracted,
                "churned": self.churned,
                "churn_rate": ratio_text(ratio(self.churned, self.contracted)),
                "repeated": self.repeated,
            },
            "first_expansion": {
                "customers": self.joined,
                "expanded": len(self.days),
                **{f"within_{days}": self.within[days] for days in WITHIN_DAYS},
                **{name: nearest_rank(self.days, n, d) for name, n, d in PERCENTILES},
            },
        }


@dataclass(slots=True)
class _Losses:
    """A customer's contraction and churn movements in date order: (position, is_churn, amount_cents)."""

    moves: list[tuple[int, bool, int]] = field(default_factory=list)

    def after(self, anchor: int, reach: int) -> list[tuple[int, bool, int]]:
        """Those in (anchor, anchor + reach], in the grain's positions."""
        moves = self.moves
        low = bisect_right(moves, anchor, key=itemgetter(0))
        high = bisect_right(moves, anchor + reach, lo=low, key=itemgetter(0))
        return moves[low:high]


def signals(
    rm: ReadModel, spans: list[tuple[date, date]], known: Knowledge, within: int, by: str | None = None
) -> list[tuple[date, date, dict[str | None, Signals]]]:
    """The signals of each span (in date order, not overlapping) per group listed, from one read of the movements."""
    check_within(within)
    if not spans:
        return []
    grain = Grain(known.policy.monthly)
    reach = grain.reach(within)
    reaches = {days: grain.reach(days) for days in WITHIN_DAYS}
    rows = visible_movements(rm, known)

    # Every customer's losses, and the date of its first expansion after its first `new`, over the whole history.
    losses: dict[str, _Losses] = {}
    joined: dict[str, str] = {}
    first_expansion: dict[str, str] = {}
    positions: dict[str, int] = {}  # date text -> position, computed once per day
    for customer, day, kind, _, amount in rows:
        if kind in _CONTRACTION or kind in _CHURN:
            position = positions.get(day)
            if position is None:
                position = positions[day] = grain.position(date.fromisoformat(day))
            history = losses.get(customer)
            if history is None:
                history = losses[customer] = _Losses()
            history.moves.append((position, kind in _CHURN, amount))
        elif kind in _EXPANSION:
            if customer in joined and customer not in first_expansion:
                first_expansion[customer] = day
        elif kind in _NEW and customer not in joined:
            joined[customer] = day

    def position_of(day: str) -> int:
        position = positions.get(day)
        if position is None:
            position = positions[day] = grain.position(date.fromisoformat(day))
        return position

    changes = attribute_changes(rm, by, spans[-1][1], known.sequence) if by else []
    next_change = 0
    group_of: dict[str, str] = {}
    group_get = group_of.get
    position = bisect_left(rows, spans[0][0].isoformat(), key=itemgetter(1))
    mrr: dict[str, int] = {row[0]: row[3] for row in rows[:position]}  # each customer's MRR before the range
    active: dict[str | None, int] = {}  # customers with MRR > 0 per group, as currently grouped
    no_losses = _Losses()

    result = []
    for index, (start, end) in enumerate(spans):
        last_day = end.isoformat()
        # The attribute as of this period's last day, for opening, movements and anchors alike.
        while next_change < len(changes) and changes[next_change][2] <= last_day:
            customer, value, _ = changes[next_change]
            next_change += 1
            old = group_get(customer)
            group_of[customer] = value
            if index and mrr.get(customer, 0) > 0 and old != value:
                active[old] -= 1
                active[value] = active.get(value, 0) + 1
        if index == 0:
            for customer, cents in mrr.items():
                if cents > 0:
                    g = group_get(customer)
                    active[g] = active.get(g, 0) + 1
        listed: dict[str | None, Signals] = {g: Signals() for g, count in active.items() if count > 0}
        if not by:
            listed.setdefault(None, Signals())

        end_position = bisect_right(rows, last_day, lo=position, key=itemgetter(1))
        anchored_expansion: set[str] = set()
        anchored_contraction: set[str] = set()
        for customer, day, kind, to_cents, amount in rows[position:end_position]:
            g = group_get(customer)
            s = listed.get(g)
            if s is None:
                s = listed[g] = Signals()
            before = mrr.get(customer, 0)
            mrr[customer] = to_cents
            if (to_cents > 0) != (before > 0):
                active[g] = active.get(g, 0) + (1 if to_cents > 0 else -1)
            if kind in _EXPANSION:
                if customer in anchored_expansion:
                    continue
                anchored_expansion.add(customer)
                s.expanded += 1
                s.expansion_amount += amount
                window = losses.get(customer, no_losses).after(position_of(day), reach)
                if window:
                    s.followed += 1
                    s.lost_amount += sum(cents for _, _, cents in window)
            elif kind in _CONTRACTION:
                if customer in anchored_contraction:
                    continue
                anchored_contraction.add(customer)
                s.contracted += 1
                window = losses[customer].after(position_of(day), reach)
                if any(churn for _, churn, _ in window):
                    s.churned += 1
                if any(not churn for _, churn, _ in window):
                    s.repeated += 1
            elif kind in _NEW and joined.get(customer) == day:
                s.joined += 1
                expanded = first_expansion.get(customer)
                if expanded is not None:
                    s.days.append((date.fromisoformat(expanded) - date.fromisoformat(day)).days)
                    apart = position_of(expanded) - position_of(day)
                    for days, limit in reaches.items():
                        if apart <= limit:
                            s.within[days] += 1
        position = end_position
        result.append((start, end, listed))
    return result


def durability_report(
    rm: ReadModel,
    start: date,
    end: date,
    known: Knowledge,
    *,
    period: str = "month",
    within: int = 90,
    by: str | None = None,
) -> dict[str, Any]:
    """SPEC §15 `durability --format json`: the signals of every period of [start, end] (clipped) and group."""
    require_whole_months(start, end, known.policy)
    spans = split(start, end, period)
    periods = [
        found[group].json(first, last, group)
        for first, last, found in signals(rm, spans, known, within, by)
        for group in sorted(found, key=group_order)
    ]
    return {**report_header(rm, known), "within": within, "periods": periods}
