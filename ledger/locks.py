"""Locked periods (SPEC §7): a `close --lock` refuses later events effective in its period unless they are restatements."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ledger.events import Event


@dataclass(frozen=True, slots=True)
class PeriodLock:
    """A closed period that refuses later events effective in it, unless they carry a restatement.

    Attributes:
      period: the period as the close named it (``2026-01``, ``2026-Q1``, ``2026``).
      start, end: its first and last day.
      locked_at: recorded_at of the first close that locked it (a lock is never lifted).
      actor: who locked it.
    """

    period: str
    start: date
    end: date
    locked_at: str
    actor: str

    def refusal(self, what: str, effective: date) -> str:
        """Why an event (``what`` is effective …) is refused by this lock, and how to let it in."""
        return (
            f"{what} {effective}, in period {self.period}, locked at {self.locked_at} by {self.actor}; "
            'to record it as a restatement, give --restate "reason"'
        )


def period_locks(closes: Iterable[Event]) -> list[PeriodLock]:
    """The locked periods, from the ``period_closed`` events (each ``details`` names period, start, end, lock)."""
    locks: dict[tuple[date, date], PeriodLock] = {}
    for close in closes:
        details = json.loads(close.details or "{}")
        if not details.get("lock"):
            continue
        start, end = date.fromisoformat(details["start"]), date.fromisoformat(details["end"])
        locks.setdefault((start, end), PeriodLock(details["period"], start, end, close.recorded_at, close.actor))
    return sorted(locks.values(), key=lambda lock: (lock.start, lock.end))


def lock_on(day: date, locks: Iterable[PeriodLock]) -> PeriodLock | None:
    """The lock covering ``day``, if any."""
    for lock in locks:
        if lock.start <= day <= lock.end:
            return lock
    return None
