"""Movements (SPEC §5): one per customer per day on which its MRR changes, classified."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ledger import events as ev
from ledger.customer import MIXED, Timeline
from ledger.money import ZERO

NEW = "new"
EXPANSION = "expansion"
CONTRACTION = "contraction"
CHURN = "churn"
REACTIVATION = "reactivation"
CATEGORIES = (NEW, EXPANSION, CONTRACTION, CHURN, REACTIVATION)
_NOT_LISTED = (ev.CUSTOMER_UPDATED, ev.VOID)


@dataclass(frozen=True, slots=True)
class Movement:
    """A customer's MRR change on one day, all of that day's events netted.

    Attributes:
      customer_id, date: whose MRR moved, and on which day.
      category: new, expansion, contraction, churn or reactivation.
      cause: for expansion and contraction, the cause (or ``mixed``); else None.
      from_mrr, to_mrr: MRR at the end of the day before, and at the end of this day.
      event_ids: the customer's events effective that day (not customer_updated or void).
      parts: (cause, net MRR change) of each cause behind the day, for `explain`.
    """

    customer_id: str
    date: date
    category: str
    cause: str | None
    from_mrr: Decimal
    to_mrr: Decimal
    event_ids: tuple[str, ...]
    parts: tuple[tuple[str, Decimal], ...]

    @property
    def amount(self) -> Decimal:
        return abs(self.to_mrr - self.from_mrr)


def classify(from_mrr: Decimal, to_mrr: Decimal, was_active: bool) -> str:
    """The category of a change from ``from_mrr`` to ``to_mrr`` (SPEC §5)."""
    if from_mrr == 0:
        return REACTIVATION if was_active else NEW
    if to_mrr == 0:
        return CHURN
    return EXPANSION if to_mrr > from_mrr else CONTRACTION


def movements(timeline: Timeline, since: date | None = None) -> dict[date, Movement]:
    """The customer's movements on or after ``since`` (all of them when None)."""
    result: dict[date, Movement] = {}
    days = timeline.days
    for i, day in enumerate(days):
        if since is not None and day.date < since:
            continue
        previous = days[i - 1] if i else None
        from_mrr = previous.mrr if previous else ZERO
        if day.mrr == from_mrr:
            continue
        category = classify(from_mrr, day.mrr, previous.ever_active if previous else False)
        totals: dict[str, Decimal] = {}
        for effect in day.effects:
            totals[effect.cause] = totals.get(effect.cause, ZERO) + effect.delta
        cause = None
        if category in (EXPANSION, CONTRACTION):
            cause = next(iter(totals)) if len(totals) == 1 else MIXED
        result[day.date] = Movement(
            customer_id=timeline.customer_id,
            date=day.date,
            category=category,
            cause=cause,
            from_mrr=from_mrr,
            to_mrr=day.mrr,
            event_ids=tuple(e.event_id for e in day.events if e.type not in _NOT_LISTED),
            parts=tuple(sorted(totals.items())),
        )
    return result
