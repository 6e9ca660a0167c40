"""One period's MRR bridge for one group (SPEC §6), the unit every metrics path fills.

``projections.metrics`` fills it from the movements, ``projections.monthly``
from the month summaries; both check it reconciles (opening + net new =
closing) and raise ``ReconciliationError`` when it does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.errors import StorageError
from projections.movements import CHURN, CONTRACTION, EXPANSION, NEW, REACTIVATION


class ReconciliationError(StorageError):
    """A figure that does not reconcile: the read models disagree with themselves (run `revledger rebuild`)."""


@dataclass(slots=True)
class Figures:
    """One period's figures for one group, in integer cents (SPEC §6).

    Attributes:
      opening, closing: Σ MRR of the group's customers at the end of s-1 and of e.
      opening_count, closing_count: its customers active (MRR > 0) then.
      bridge: Σ movement amounts per category, dated in the period.
      movers: customers with at least one movement of each category in the period.
      causes: Σ amounts of expansion and contraction movements per cause.
      retention_expansion, retention_contraction, retention_churn: SPEC §6's retention.* over S,
        the customers active at opening; logos_lost: those of S with no MRR at closing.
      mover_counts: the movers' counts when only counts are known (month summaries), else None.
    """

    opening: int = 0
    closing: int = 0
    opening_count: int = 0
    closing_count: int = 0
    bridge: dict[str, int] = field(default_factory=lambda: {c: 0 for c in (NEW, EXPANSION, CONTRACTION, CHURN, REACTIVATION)})
    movers: dict[str, set[str]] = field(default_factory=lambda: {NEW: set(), REACTIVATION: set(), CHURN: set()})
    causes: dict[str, dict[str, int]] = field(default_factory=lambda: {EXPANSION: {}, CONTRACTION: {}})
    retention_expansion: int = 0
    retention_contraction: int = 0
    retention_churn: int = 0
    logos_lost: int = 0
    touched: bool = False
    mover_counts: dict[str, int] | None = None

    def movers_of(self, category: str) -> int:
        """How many customers had at least one movement of ``category`` (new, reactivation, churn) in the period."""
        return self.mover_counts[category] if self.mover_counts is not None else len(self.movers[category])

    @property
    def net_new(self) -> int:
        b = self.bridge
        return b[NEW] + b[EXPANSION] + b[REACTIVATION] - b[CONTRACTION] - b[CHURN]
