"""When a period may be closed (SPEC §7): once it has ended, and once — again only to lock it, or for a stated reason."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, timedelta

from ledger.clock import utc_now
from ledger.errors import UsageError
from ledger.events import Event


def earlier_closes(start: date, end: date, closes: Iterable[Event]) -> list[Event]:
    """The ``period_closed`` events recorded for exactly [start, end], in log order."""
    span = (start.isoformat(), end.isoformat())
    return [c for c in closes if _span(c) == span]


def refuse_close(
    period: str, start: date, end: date, lock: bool, force: str | None, closes: Iterable[Event], today: date | None = None
) -> None:
    """Raise why a close of [start, end] may not be recorded: the period has not ended, or it is closed already.

    Figures closed before the period's last day has passed are not the period's
    figures, and a second close records a second set of figures for one period:
    either takes ``force``, a stated reason (recorded on the close). A repeat
    that locks a period closed without a lock needs none.
    """
    today = today or utc_now().date()
    if force is not None and not force.strip():
        raise UsageError('--force needs the reason the period is closed before it ends: --force "reason"')
    if end >= today and force is None:
        after = f"close it from {end + timedelta(days=1)} on, or " if end < date.max else ""
        raise UsageError(
            f"{period} has not ended: its last day is {end} (today is {today}, UTC); "
            f'{after}give --force "reason" to close it now'
        )
    earlier = earlier_closes(start, end, closes)
    if not earlier or force is not None:
        return
    locked = next((c for c in earlier if _details(c).get("lock")), None)
    since = f"`revledger restatements --period {period}` shows what has changed since"
    again = '--force "reason" closes it again with its figures as now known'
    if locked is not None:
        raise UsageError(
            f"{period} is already closed at {locked.recorded_at} (sequence {locked.sequence}) and locked; {since}; {again}"
        )
    if not lock:
        last = earlier[-1]
        raise UsageError(
            f"{period} is already closed at {last.recorded_at} (sequence {last.sequence}); {since}; "
            f"--lock locks it; {again}"
        )


def _details(close: Event) -> dict:
    return json.loads(close.details or "{}")


def _span(close: Event) -> tuple[str | None, str | None]:
    details = _details(close)
    return details.get("start"), details.get("end")
