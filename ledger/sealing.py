"""Sealing an append (SPEC §2, §9): each event is numbered after the head, timed on the recorded clock and chained.

An append is known whole: its events get consecutive microseconds *ending* at
its recorded time, and each records the sequence of the append's last event,
so a reader counts none of them until the last one is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from ledger.clock import ONE_MICROSECOND, instant_text, parse_instant, utc_now
from ledger.errors import UsageError
from ledger.events import Event
from ledger.integrity import event_hash
from ledger.store import Head


def requested_time(text: str | None, head: Head) -> datetime | None:
    """``--recorded-at``: a past instant after the log's latest recorded time (SPEC §2), or None for now."""
    if text is None:
        return None
    at = parse_instant(text)
    if at > utc_now():
        raise UsageError(f"--recorded-at {instant_text(at)} is in the future")
    if head.recorded_at and at <= parse_instant(head.recorded_at):
        raise UsageError(
            f"--recorded-at {instant_text(at)} is not later than the log's latest recorded time {head.recorded_at}"
        )
    return at


def first_instant(count: int, head: Head, at: datetime | None) -> datetime:
    """When the first of ``count`` events is recorded, so that the last is recorded at ``at`` (now when None).

    recorded_at strictly increases along the log, one microsecond per event.
    """
    span = timedelta(microseconds=count - 1)
    latest = parse_instant(head.recorded_at) if head.recorded_at else None
    if at is None:
        at = utc_now()
        if latest is not None and at - span <= latest:
            at = latest + span + ONE_MICROSECOND
    elif latest is not None and at - span <= latest:
        raise UsageError(
            f"--recorded-at {instant_text(at)} leaves no room for {count} events after "
            f"the log's latest recorded time {head.recorded_at} (one microsecond each)"
        )
    return at - span


class RecordedClock:
    """The recorded_at texts of an append's events, one microsecond apart from ``start`` (formatted once per second)."""

    def __init__(self, start: datetime):
        self.start = start
        self._second = -1
        self._prefix = ""
        self._base = 0

    def text(self, offset: int) -> str:
        """The instant ``offset`` microseconds after the start, as ``instant_text`` writes it."""
        micro = self.start.microsecond + offset
        second, micro = divmod(micro, 1_000_000)
        if second != self._second:
            moment = self.start.replace(microsecond=0) + timedelta(seconds=second)
            self._prefix = moment.strftime("%Y-%m-%dT%H:%M:%S.")
            self._second = second
        return f"{self._prefix}{micro:06d}Z"


def seal(events: Iterable[Event], count: int, head: Head, at: datetime | None, actor: str) -> Iterator[Event]:
    """The ``count`` events numbered after ``head``, timed so the last is recorded at ``at``, and chained."""
    start = first_instant(count, head, at)
    last = head.sequence + count
    previous, sequence = head.hash, head.sequence
    for event in events:
        sequence += 1
        event = event._replace(
            sequence=sequence,
            append_last=last,
            recorded_at=instant_text(start + (sequence - head.sequence - 1) * ONE_MICROSECOND),
            actor=actor,
        )
        previous = event_hash(previous, event)
        yield event._replace(hash=previous)
    if sequence != last:  # pragma: no cover - a caller counting wrong would break SPEC §2
        raise AssertionError(f"sealed {sequence - head.sequence} events, expected {count}")
