"""The event log, kept with eventsourcing's persistence layer: the contract every backend keeps.

The backends (``ledger/sqlite.py``, ``ledger/postgres.py``) import this module;
it imports neither (``ledger/location.py`` picks one by URL).

The whole log is one eventsourcing aggregate sequence: ``originator_version``
is the event's ``sequence``. eventsourcing's unique (originator_id,
originator_version) key is then the optimistic-concurrency guard that keeps
the hash chain linear: two writers that both try to append sequence N+1 cannot
both succeed, and the loser re-validates and retries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Any
from uuid import NAMESPACE_URL, uuid4, uuid5

from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent

from ledger.errors import ConflictError, StorageError
from ledger.events import Event, canonical, event_from_record
from ledger.settings import LedgerSettings

LOG_ID = uuid5(NAMESPACE_URL, "revledger:log")
TOPIC = "revledger:event"
SETTINGS_TABLE = "revledger_settings"
# What an import keeps beside the log between runs (SPEC §14: the invoice lines imported so far, the --as-of).
STATE_TABLE = "revledger_import_state"
PAGE_SIZE = 5000


@dataclass(frozen=True, slots=True)
class Head:
    """The latest event of the log (sequence 0 and the genesis hash when empty)."""

    sequence: int
    hash: str
    recorded_at: str


def stored(event: Event) -> StoredEvent:
    return StoredEvent(
        originator_id=LOG_ID,
        originator_version=event.sequence,
        topic=TOPIC,
        state=canonical(event.record()).encode(),
    )


def unstored(state: bytes) -> Event:
    return event_from_record(json.loads(state))


def one_line(error: BaseException) -> str:
    """A driver's message on one line (libpq's span several), for a one-line error."""
    return " ".join(str(error).split()) or type(error).__name__


class EventStore:
    """The append-only log and the ledger's settings beside it."""

    location: str
    recorder: Any

    # -- settings --------------------------------------------------------------------

    def settings(self) -> LedgerSettings:
        values = self._read_settings()
        rates = tuple(sorted((code, Decimal(rate)) for code, rate in json.loads(values.get("rates", "{}")).items()))
        return LedgerSettings(currency=values["currency"], rates=rates, ledger_id=values.get("ledger_id", ""))

    def _settings_values(self, settings: LedgerSettings) -> dict[str, str]:
        return {
            "currency": settings.currency,
            "rates": canonical({code: str(rate) for code, rate in settings.rates}),
            "schema": "1",
            "ledger_id": settings.ledger_id or str(uuid4()),
        }

    # -- the log -----------------------------------------------------------------------

    def head(self) -> Head:
        from ledger.integrity import GENESIS

        try:
            latest = self.recorder.select_events(LOG_ID, desc=True, limit=1)
        except PersistenceError as e:
            raise StorageError(f"cannot read the event log at {self.location}: {one_line(e)}") from e
        if not latest:
            return Head(0, GENESIS, "")
        event = unstored(latest[0].state)
        return Head(event.sequence, event.hash, event.recorded_at)

    def append(self, events: list[Event]) -> None:
        """Append events already numbered from head+1 and chained; all or nothing."""
        if not events:
            return
        try:
            self.recorder.insert_events([stored(e) for e in events])
        except IntegrityError as e:
            raise ConflictError(
                f"another writer appended sequence {events[0].sequence} first"
            ) from e
        except PersistenceError as e:
            raise StorageError(f"cannot append to the event log at {self.location}: {one_line(e)}") from e

    def append_stream(self, events: Iterable[Event], *, state: dict[str, str] | None = None) -> int:
        """Append a long run of events, numbered and chained, in ONE transaction; return how many were appended."""
        count = 0

        def texts() -> Iterator[tuple[int, str]]:
            nonlocal count
            for e in events:
                count += 1
                yield e.sequence, canonical(e.record())

        self.append_texts(texts(), state=state)
        return count

    def append_texts(self, texts: Iterable[tuple[int, str]], *, state: dict[str, str] | None = None) -> int:
        """Append (sequence, stored text) pairs in ONE transaction written in chunks; return the last notification id.

        A million-event import never sits in memory whole, and a collision in any
        chunk rolls back every one. ``state`` (import state kept beside the log)
        is written in the same transaction.
        """
        iterator = iter(texts)
        first = None
        try:
            with self.datastore.transaction(commit=True) as cursor:
                while chunk := list(islice(iterator, PAGE_SIZE)):
                    first = first or chunk[0][0]
                    self._insert_chunk(
                        cursor, [StoredEvent(LOG_ID, sequence, TOPIC, text.encode()) for sequence, text in chunk]
                    )
                if state:
                    self._write_state(cursor, state)
                return self._last_notification(cursor)
        except IntegrityError as e:
            raise ConflictError(f"another writer appended sequence {first if first else '?'} first") from e
        except PersistenceError as e:
            raise StorageError(f"cannot append to the event log at {self.location}: {one_line(e)}") from e

    def _last_notification(self, cursor: Any) -> int:  # pragma: no cover - overridden
        """The notification id of the last event written in the open transaction."""
        raise NotImplementedError

    def _insert_chunk(self, cursor: Any, chunk: list[StoredEvent]) -> None:  # pragma: no cover - overridden
        """Write stored events inside the open transaction (the backend's recorder does it)."""
        raise NotImplementedError

    # -- import state beside the log -----------------------------------------------------

    def import_state(self, key: str) -> str | None:
        """What an import kept under ``key`` (None when nothing was)."""
        try:
            with self.datastore.transaction(commit=False) as cursor:
                return self._read_state(cursor, key)
        except PersistenceError as e:
            raise StorageError(f"cannot read the import state at {self.location}: {one_line(e)}") from e

    def keep_import_state(self, state: dict[str, str]) -> None:
        """Keep ``state`` beside the log on its own (an import that appends nothing still keeps what it read)."""
        try:
            with self.datastore.transaction(commit=True) as cursor:
                self._write_state(cursor, state)
        except PersistenceError as e:
            raise StorageError(f"cannot keep the import state at {self.location}: {one_line(e)}") from e

    def _read_state(self, cursor: Any, key: str) -> str | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _write_state(self, cursor: Any, state: dict[str, str]) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def notifications(self, after: int = 0, limit: int = PAGE_SIZE) -> list[tuple[int, Event, str]]:
        """One page of the notification log: (notification id, event, its stored text) after position ``after``."""
        try:
            page = self.recorder.select_notifications(after + 1, limit)
        except PersistenceError as e:
            raise StorageError(f"cannot read the event log at {self.location}: {one_line(e)}") from e
        result = []
        for n in page:
            text = n.state.decode() if isinstance(n.state, (bytes, bytearray, memoryview)) else n.state
            result.append((n.id, event_from_record(json.loads(text)), text))
        return result

    def events(self, after: int = 0) -> Iterator[Event]:
        """Every event after sequence ``after``, in sequence order, read in pages."""
        for _, state in self.raw_events(after):
            yield unstored(state)

    def raw_events(self, after: int = 0) -> Iterator[tuple[int, bytes]]:
        """(originator_version, stored bytes) of every stored event after ``after``, for `verify`."""
        while True:
            try:
                page = self.recorder.select_events(LOG_ID, gt=after, limit=PAGE_SIZE)
            except PersistenceError as e:
                raise StorageError(f"cannot read the event log at {self.location}: {one_line(e)}") from e
            if not page:
                return
            for item in page:
                yield item.originator_version, item.state
            after = page[-1].originator_version

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def _read_settings(self) -> dict[str, str]:  # pragma: no cover - overridden
        raise NotImplementedError
