"""Movements (SPEC §5): one per customer per day on which its MRR changes, classified."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


NEW = "new"
EXPANSION = "expansion"
CONTRACTION = "contraction"
CHURN = "churn"
REACTIVATION = "reactivation"
CATEGORIES = (NEW, EXPANSION, CONTRACTION, CHURN, REACTIVATION)


@dataclass(frozen=True, slots=True)
class Movement:
    """A customer's MRR change on one day (or month), all of its events netted, in integer cents.

    Attributes:
      customer_id, date: whose MRR moved, and on which day (a month's last day under month grain).
      category: new, expansion, contraction, churn or reactivation.
      cause: for expansion and contraction, the cause (or ``mixed``); else None.
      from_cents, to_cents: MRR at the end of the day (month) before, and at the end of this one.
      event_ids: the customer's events listed for it (not customer_updated or void).
      parts: (cause, net MRR change in cents) of each cause behind it, for `explain`.
    """

    customer_id: str
    date: date
    category: str
    cause: str | None
    from_cents: int
    to_cents: int
    event_ids: tuple[str, ...]
    parts: tuple[tuple[str, int], ...]

    @property
    def amount_cents(self) -> int:
        return abs(self.to_cents - self.from_cents)


def classify(from_mrr: int | Decimal, to_mrr: int | Decimal, was_active: bool) -> str:
    """The category of a change from ``from_mrr`` to ``to_mrr`` (SPEC §5)."""
    if from_mrr == 0:
        return REACTIVATION if was_active else NEW
    if to_mrr == 0:
        return CHURN
    return EXPANSION if to_mrr > from_mrr else CONTRACTION
