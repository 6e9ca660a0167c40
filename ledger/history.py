"""What the write side needs of the read side: the log as it stands, and its part of an append.

The write side (``ledger.application``) validates against timelines it asks
the history for, and hands what it appended to the projection in the same
process; ``projections.readmodel`` implements both.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Protocol

from ledger.customer import Timeline
from ledger.events import Event
from ledger.policy import Policy


class History(Protocol):
    """What the write side needs to know of the log as it stands (kept by the read models)."""

    def catch_up(self) -> int:
        """Bring the history up to the log's head; return the head sequence."""

    def timeline(self, customer_id: str) -> Timeline:
        """A fresh timeline of the customer as now known (empty for a new customer)."""

    def find(self, event_ids: Iterable[str]) -> dict[str, Event]:
        """The recorded events with these ids."""

    def closes(self) -> list[Event]:
        """The recorded ``period_closed`` events, in sequence order."""

    def appending(self, head_sequence: int, last_sequence: int) -> Any:
        """A context for the read models' side of an append (see ``Projection``)."""

    def policy_at(self, sequence: int) -> Policy:
        """The recognition policy in force once the log up to ``sequence`` is known (SPEC §13)."""

    def recognized_mrr(self, timeline: Timeline, policy: Policy) -> list[tuple[date, int]]:
        """The customer's MRR in cents as ``policy`` recognizes it: (day, MRR from that day on), in date order."""


class Projection(Protocol):
    """The read models' side of an append in the writer's process (``projections.readmodel.Projection``)."""

    def customer(self, timeline: Timeline, existed: bool) -> None: ...

    def indexed(self, rows: list[tuple]) -> None: ...

    def commit(self, position: int) -> None: ...
