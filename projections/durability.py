"""Durability signals (SPEC §15): does expansion last, does contraction turn into churn, how soon do new customers expand.

A period's customers are anchored at their first movement of a kind dated in
it; what follows the anchor is read from every visible movement, wherever it
falls (after the range too). So a recent period is right-censored: its
customers have had less time for anything to follow, and its signals can only
rise as time passes.

One read of the movements, then one pass in date order from the first period
on: a movement first settles the open windows of its customer's earlier
anchors, then (inside a period) may become an anchor itself; the customers with
MRR > 0 are carried from period to period for the groups listed.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from typing import Any

from ledger.errors import UsageError
from ledger.money import cents_text, ratio, ratio_text
from projections.metrics import KINDS, ReconciliationError, attribute_changes, group_order, movement_stream
from projections.movements import CHURN, CONTRACTION, EXPANSION, NEW
from projections.periods import require_whole_months, split
from projections.queries import Knowledge, grain_of, report_header
from projections.readmodel import ReadModel

WITHIN_DAYS = (90, 180, 365)  # first_expansion.within_N
MAX_WITHIN = 3660
PERCENTILES = (("median_days", 1, 2), ("p25_days", 1, 4), ("p75_days", 3, 4))  # (name, q as a fraction)


def visible_movements(rm: ReadModel, known: Knowledge) -> list[tuple]:
    """Every movement visible at ``known``, dated any time, in date order: the one read durability makes.

    Rows are (customer_id, date, kind, to_cents, amount_cents), ``KINDS[kind]``
    its (category, cause), as ``metrics.movement_stream`` gives them.
    """
    return movement_stream(rm, date.max, known.sequence, grain_of(known))


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


# What durability needs of a movement's kind (KINDS: category and cause): its category, as a small code.
_OTHER, _NEW, _EXPANSION, _CONTRACTION, _CHURN = range(5)
_CODES = {NEW: _NEW, EXPANSION: _EXPANSION, CONTRACTION: _CONTRACTION, CHURN: _CHURN}
CODE = {kind: _CODES.get(category, _OTHER) for kind, (category, _) in KINDS.items()}


class _Anchors:
    """The anchors whose windows are still open, per customer.

    Kept in parallel flat lists (an anchor is an index), not one small object
    each: a million-movement history makes hundreds of thousands of anchors,
    and so many containers keep the garbage collector busy for nothing.
    """

    __slots__ = ("open", "kind", "position", "signals", "seen")

    def __init__(self) -> None:
        self.open: dict[str, list[int]] = {}  # customer -> its open anchors
        self.kind: list[int] = []
        self.position: list[int] = []
        self.signals: list[Signals] = []
        self.seen = bytearray()  # per anchor: 1 once counted (followed or churned), 2 once repeated

    def add(self, customer: str, kind: int, position: int, signals: Signals) -> None:
        theirs = self.open.get(customer)
        if theirs is None:
            self.open[customer] = [len(self.kind)]
        else:
            theirs.append(len(self.kind))
        self.kind.append(kind)
        self.position.append(position)
        self.signals.append(signals)
        self.seen.append(0)

    def settle(self, customer: str, code: int, position: int, amount: int, reach: int) -> None:
        """A contraction or churn at ``position``: it qualifies the anchors whose window it lies in; those it lies past close."""
        theirs = self.open.get(customer)
        if theirs is None:
            return
        places, seen = self.position, self.seen
        closed = False
        for i in theirs:
            apart = position - places[i]
            if apart > reach:
                closed = True
                continue
            if apart <= 0:
                continue
            s = self.signals[i]
            if self.kind[i] == _EXPANSION:
                if not seen[i]:
                    seen[i] = 1
                    s.followed += 1
                s.lost_amount += amount
            elif code == _CHURN:
                if not seen[i] & 1:
                    seen[i] |= 1
                    s.churned += 1
            elif not seen[i] & 2:
                seen[i] |= 2
                s.repeated += 1
        if closed:
            still = [i for i in theirs if position - places[i] <= reach]
            if still:
                self.open[customer] = still
            else:
                del self.open[customer]


def signals(
    rm: ReadModel, spans: list[tuple[date, date]], known: Knowledge, within: int, by: str | None = None
) -> list[tuple[date, date, dict[str | None, Signals]]]:
    """The signals of each span (in date order, contiguous) per group listed, from one read of the movements.

    One pass in date order from the first span on: a movement first settles the
    windows of its customer's earlier anchors, then (inside a span) may become an
    anchor itself. Past the last span only the open windows and first expansions
    are followed.
    """
    check_within(within)
    if not spans:
        return []
    grain = Grain(known.policy.monthly)
    reach = grain.reach(within)
    reaches = [(days, grain.reach(days)) for days in WITHIN_DAYS]
    rows = visible_movements(rm, known)

    changes = attribute_changes(rm, by, spans[-1][1], known.sequence) if by else []
    next_change = 0
    group_of: dict[str, str] = {}
    group_get = group_of.get
    first = bisect_left(rows, spans[0][0].isoformat(), key=itemgetter(1))
    # Only to list groups (SPEC §6): who has MRR > 0, and how many of them each group has, as grouped now.
    active: set[str] = set()
    active_count: dict[str | None, int] = {}
    if by:
        for customer, _, _, to_cents, _ in rows[:first]:  # the last movement before the range decides
            if to_cents > 0:
                active.add(customer)
            else:
                active.discard(customer)

    anchors = _Anchors()
    joined: dict[str, tuple[str, int, Signals]] = {}  # a `new` in a span awaiting its first expansion
    anchored: dict[str, int] = {}  # the span of each customer's latest expansion anchor
    anchored_contraction: dict[str, int] = {}
    result: list[tuple[date, date, dict[str | None, Signals]]] = []
    index = -1
    last_day = ""  # the current span's last day; "" before the first span is opened
    listed: dict[str | None, Signals] = {}
    day_seen, position = "", 0

    def open_span(i: int) -> dict[str | None, Signals]:
        nonlocal next_change, last_day
        start, end = spans[i]
        last_day = end.isoformat()
        # The attribute as of this period's last day, for opening, movements and anchors alike.
        while next_change < len(changes) and changes[next_change][2] <= last_day:
            customer, value, _ = changes[next_change]
            next_change += 1
            old = group_get(customer)
            group_of[customer] = value
            if i and old != value and customer in active:
                active_count[old] -= 1
                active_count[value] = active_count.get(value, 0) + 1
        if by and i == 0:
            for customer in active:
                g = group_get(customer)
                active_count[g] = active_count.get(g, 0) + 1
        found = {g: Signals() for g, count in active_count.items() if count > 0} if by else {None: Signals()}
        result.append((start, end, found))
        return found

    for customer, day, kind, to_cents, amount in rows[first:]:
        if day != day_seen:
            day_seen, position = day, grain.position(date.fromisoformat(day))
            while day > last_day and index + 1 < len(spans):
                index += 1
                listed = open_span(index)
        code = CODE.get(kind)
        if code is None:
            raise ReconciliationError(f"{day} {customer}: a movement of an unknown category or cause; run `revledger rebuild`")
        if code >= _CONTRACTION:
            anchors.settle(customer, code, position, amount, reach)
        elif code == _EXPANSION and joined:
            waiting = joined.pop(customer, None)
            if waiting is not None:
                since_day, since, s = waiting
                s.days.append((date.fromisoformat(day) - date.fromisoformat(since_day)).days)
                for days, limit in reaches:
                    if position - since <= limit:
                        s.within[days] += 1
        if day > last_day:
            continue  # past the last span: only the windows and first expansions above are followed
        if by:
            g = group_get(customer)
            if (to_cents > 0) != (customer in active):
                if to_cents > 0:
                    active.add(customer)
                    active_count[g] = active_count.get(g, 0) + 1
                else:
                    active.discard(customer)
                    active_count[g] -= 1
            s = listed.get(g)
            if s is None:
                s = listed[g] = Signals()
        else:
            s = listed[None]
        if code == _EXPANSION:
            if anchored.get(customer) != index:
                anchored[customer] = index
                s.expanded += 1
                s.expansion_amount += amount
                anchors.add(customer, _EXPANSION, position, s)
        elif code == _CONTRACTION:
            if anchored_contraction.get(customer) != index:
                anchored_contraction[customer] = index
                s.contracted += 1
                anchors.add(customer, _CONTRACTION, position, s)
        elif code == _NEW:  # a customer's one `new` movement: it never had MRR before
            s.joined += 1
            joined[customer] = (day, position, s)
    while index + 1 < len(spans):  # periods after the last movement
        index += 1
        open_span(index)
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
