"""Movements (SPEC §5): one per customer per day on which its MRR changes, classified."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


NEW = "new"
EXPANSION = "expansion"
CONTRACTION = "contraction"
CHURN = "churn"
REACTIVATION = "reactivation"
CATEGORIES = (NEW, EXPANSION, CONTRACTION, CHURN, REACTIVATION)


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
