"""Recognition (SPEC §13): a customer's folded timeline seen through the policy, as MRR per day and movements.

The fold (``ledger.customer``) reads the contract as written: which lines are
open when, with what MRR. The policy decides when that MRR *counts*, in the
order SPEC §13 gives:

1. ``churn_recognition=term_end`` moves each cancel of a line to the end of the
   line's billing term in progress (or to the day the line is restarted, if sooner);
2. ``reactivation_grace_days=N`` fills a short lapse: a run of at most N days with
   MRR 0 between days with MRR > 0 takes the MRR of the day before the run;
3. ``movement_grain=month`` nets movements per calendar month.

The default policy reproduces SPEC §5 exactly: ``day_movements(timeline, DEFAULT)``
are the movements of the contract as written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from ledger import events as ev
from ledger.clock import add_months
from ledger.customer import MIXED, Effect, Line, Timeline
from ledger.policy import DEFAULT, Policy
from projections.movements import CONTRACTION, EXPANSION, Movement, classify
from projections.periods import month_end

_NOT_LISTED = (ev.CUSTOMER_UPDATED, ev.VOID)


@dataclass(slots=True)
class Point:
    """A day on which something lands under the policy: its end-of-day MRR, the events listed, the effects.

    Attributes:
      date: the day.
      mrr: the customer's MRR at its end, as recognized (after term_end and grace), in cents.
      events: the ids of the events listed on this day (SPEC §5: not customer_updated or void;
        a cancel moved by term_end is listed on the day it takes effect only).
      effects: (cause, MRR change in cents) of each line change that lands on this day.
    """

    date: date
    mrr: int
    events: list[str]
    effects: list[tuple[str, int]]


def term_end(anchor: date, months: int, cancel: date) -> date:
    """The first term boundary on or after ``cancel``: anchor + k × months calendar months (k = 0, 1, …)."""
    if cancel <= anchor:  # a cancel on the anchor stays on it
        return cancel
    # An estimate of k from the month distance, then step to the first boundary on or after the cancel.
    elapsed = (cancel.year - anchor.year) * 12 + cancel.month - anchor.month
    k = max(elapsed // months - 1, 0)
    boundary = add_months(anchor, k * months)
    while boundary < cancel:
        k += 1
        boundary = add_months(anchor, k * months)
    return boundary


def _landings(timeline: Timeline, policy: Policy) -> list[tuple[date, Effect]]:
    """Every line change with the day it lands on: its own day, or a cancel's term end under ``term_end``.

    A cancel of a line that earned nothing is there too (with no MRR change): it still takes effect at its term end.
    """
    landed: list[tuple[date, Effect]] = []
    moving = policy.churn_recognition == "term_end"
    restarts: dict[str, list[tuple[date, int]]] = {}
    if moving:  # every start of a line, priced or not, ends the term of its cancelled predecessor
        for day in timeline.days:
            for event in day.events:
                if event.type == ev.SUBSCRIPTION_STARTED:
                    restarts.setdefault(event.subscription_id or "", []).append((day.date, event.sequence))
    for day in timeline.days:
        for effect in (*day.effects, *day.ended):
            when = day.date
            if moving and effect.anchor is not None:
                when = term_end(effect.anchor, effect.months, when)
                for started, sequence in restarts.get(effect.line, ()):
                    # A restart of the same line before the boundary ends the old term on the restart day.
                    if (started, sequence) > (day.date, effect.event.sequence) and started < when:
                        when = started
                        break
            landed.append((when, effect))
    return landed


def points(timeline: Timeline, policy: Policy = DEFAULT) -> list[Point]:
    """The customer's days as recognized under ``policy`` (term_end, then grace), in date order."""
    if policy.churn_recognition == "term_end":
        result = _moved_points(timeline, policy)
    else:  # every change lands on its own day: the fold's days, read as they are
        result = []
        mrr = 0
        for day in timeline.days:
            effects = [(f.cause, int(f.delta * 100)) for f in day.effects]
            for _, delta in effects:
                mrr += delta
            result.append(Point(day.date, mrr, [e.event_id for e in day.events if e.type not in _NOT_LISTED], effects))
    if policy.reactivation_grace_days:
        _fill_lapses(result, policy.reactivation_grace_days)
    return result


def _moved_points(timeline: Timeline, policy: Policy) -> list[Point]:
    landed = _landings(timeline, policy)
    lands_on: dict[str, set[date]] = {}
    for when, effect in landed:
        lands_on.setdefault(effect.event.event_id, set()).add(when)
    by_day: dict[date, Point] = {}
    listed: dict[date, list[tuple[int, str]]] = {}  # each day's listed events, in the order they take effect
    for day in timeline.days:
        by_day[day.date] = Point(day.date, 0, [], [])
        for e in day.events:
            if e.type in _NOT_LISTED:
                continue
            days = lands_on.get(e.event_id)
            if days is None or day.date in days:  # listed where it takes effect (a moved cancel: only there)
                listed.setdefault(day.date, []).append((e.sequence, e.event_id))
    for when, effect in landed:
        point = by_day.get(when)
        if point is None:
            point = by_day[when] = Point(when, 0, [], [])
        if effect.delta:
            point.effects.append((effect.cause, int(effect.delta * 100)))
        e = effect.event
        if when != e.effective_date:
            entry = (e.sequence, e.event_id)
            if entry not in listed.setdefault(when, []):
                listed[when].append(entry)
    result = sorted(by_day.values(), key=lambda p: p.date)
    mrr = 0
    for point in result:
        point.events = [event_id for _, event_id in sorted(listed.get(point.date, ()))]
        for _, delta in point.effects:
            mrr += delta
        point.mrr = mrr
    return result


def _lapses(series: list[Point], grace: int) -> list[tuple[int, int]]:
    """(i, j) of each run of MRR 0, series[i:j], between days with MRR > 0 that lasts at most ``grace`` days."""
    found = []
    i = 1
    while i < len(series):
        if series[i].mrr == 0 and series[i - 1].mrr > 0:
            j = i
            while j < len(series) and series[j].mrr == 0:
                j += 1
            if j < len(series) and (series[j].date - series[i].date).days <= grace:
                found.append((i, j))
            i = j
        else:
            i += 1
    return found


def _fill_lapses(series: list[Point], grace: int) -> None:
    """Runs of MRR 0 between days with MRR > 0 that last at most ``grace`` days take the MRR before them."""
    for i, j in _lapses(series, grace):
        for k in range(i, j):
            series[k].mrr = series[i - 1].mrr


def recognized_ends(timeline: Timeline, policy: Policy) -> list[tuple[date, str, date]]:
    """(contract end, line, recognized end) of each line end the policy moves (SPEC §13): the lines MRR counts.

    Under ``term_end`` a cancel is recognized at its term end (or the line's restart);
    a lapse that grace fills ends the lines of the day it began on the day MRR returns.
    """
    ends = [[effect.event.effective_date, effect.line, when]
            for when, effect in _landings(timeline, policy) if effect.anchor is not None]  # the cancels
    if policy.reactivation_grace_days:
        series = points(timeline, replace(policy, reactivation_grace_days=0))
        # the first day of a lapse grace fills -> the day MRR returns
        lapses = {series[i].date: series[j].date for i, j in _lapses(series, policy.reactivation_grace_days)}
        for end in ends:
            end[2] = lapses.get(end[2], end[2])
    return [(contract, line, recognized) for contract, line, recognized in ends if recognized != contract]


def recognized_lines(timeline: Timeline, policy: Policy, day: date) -> list[Line]:
    """Every line at the end of ``day`` as MRR counts it under ``policy`` (``mrr --customer``'s lines).

    A line whose cancel the policy has not recognized yet is still open, with its
    terms of the day before the cancel; under the default policy, the fold's lines.
    """
    lines = {line.subscription_id: line for line in timeline.lines_on(day)}
    for contract, line_id, recognized in recognized_ends(timeline, policy):
        current = lines.get(line_id)
        if contract <= day < recognized and (current is None or not current.open):
            before = next((line for line in timeline.lines_on(contract - timedelta(days=1))
                           if line.subscription_id == line_id and line.open), None)
            if before is not None:
                lines[line_id] = before
    return sorted(lines.values(), key=lambda line: line.subscription_id)


def _cause(effects: Iterable[tuple[str, int]]) -> tuple[str | None, tuple[tuple[str, int], ...]]:
    totals: dict[str, int] = {}
    for cause, delta in effects:
        totals[cause] = totals.get(cause, 0) + delta
    if not totals:
        return None, ()
    return (next(iter(totals)) if len(totals) == 1 else MIXED), tuple(sorted(totals.items()))


def day_movements(timeline: Timeline, policy: Policy = DEFAULT, series: list[Point] | None = None) -> list[Movement]:
    """One movement per day on which the recognized MRR changes (SPEC §5, under the policy's term_end and grace)."""
    series = points(timeline, policy) if series is None else series
    result = []
    previous = 0
    ever_active = False
    for point in series:
        if point.mrr != previous:
            category = classify(previous, point.mrr, ever_active)
            cause, parts = _cause(point.effects)
            result.append(
                Movement(
                    customer_id=timeline.customer_id,
                    date=point.date,
                    category=category,
                    cause=cause if category in (EXPANSION, CONTRACTION) else None,
                    from_cents=previous,
                    to_cents=point.mrr,
                    event_ids=tuple(point.events),
                    parts=parts,
                )
            )
        ever_active = ever_active or point.mrr > 0
        previous = point.mrr
    return result


def month_movements(timeline: Timeline, policy: Policy, series: list[Point] | None = None) -> list[Movement]:
    """One movement per calendar month whose end-of-month MRR differs from the previous month end's (SPEC §13)."""
    series = points(timeline, policy) if series is None else series
    result = []
    previous = 0
    ever_active = False
    i = 0
    while i < len(series):
        last = month_end(series[i].date)
        listed: list[str] = []
        effects: list[tuple[str, int]] = []
        closing = previous
        while i < len(series) and series[i].date <= last:
            listed.extend(e for e in series[i].events if e not in listed)
            effects.extend(series[i].effects)
            closing = series[i].mrr
            i += 1
        if closing != previous:
            category = classify(previous, closing, ever_active)
            cause, parts = _cause(effects)
            result.append(
                Movement(
                    customer_id=timeline.customer_id,
                    date=last,
                    category=category,
                    cause=cause if category in (EXPANSION, CONTRACTION) else None,
                    from_cents=previous,
                    to_cents=closing,
                    event_ids=tuple(listed),
                    parts=parts,
                )
            )
        ever_active = ever_active or closing > 0
        previous = closing
    return result


def recognized(timeline: Timeline, policy: Policy = DEFAULT) -> tuple[list[Movement], list[Movement] | None]:
    """The customer's day movements (its MRR as recognized) and, under ``movement_grain=month``, its month movements."""
    series = points(timeline, policy)
    days = day_movements(timeline, policy, series)
    return days, (month_movements(timeline, policy, series) if policy.monthly else None)

