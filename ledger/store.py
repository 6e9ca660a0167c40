"""The event log, kept with eventsourcing's persistence layer.

The whole log is one eventsourcing aggregate sequence: ``originator_version``
is the event's ``sequence``. eventsourcing's unique (originator_id,
originator_version) key is then the optimistic-concurrency guard that keeps
the hash chain linear: two writers that both try to append sequence N+1 cannot
both succeed, and the loser re-validates and retries.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from itertools import islice
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid4, uuid5

from eventsourcing.persistence import IntegrityError, InterfaceError, PersistenceError, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
)

from ledger.errors import ConflictError, LedgerExistsError, LedgerNotFoundError, StorageError
from ledger.events import Event, canonical, event_from_record
from ledger.settings import LedgerSettings

LOG_ID = uuid5(NAMESPACE_URL, "revledger:log")
TOPIC = "revledger:event"
SETTINGS_TABLE = "revledger_settings"
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

    def append_stream(self, events: Iterable[Event]) -> int:
        """Append a long run of events, numbered and chained, in ONE transaction written in chunks.

        A million-event import never sits in memory whole, and a collision in any
        chunk rolls back every one. Returns how many were appended.
        """
        count = 0
        iterator = iter(events)
        first = None
        try:
            with self.datastore.transaction(commit=True) as cursor:
                while chunk := list(islice(iterator, PAGE_SIZE)):
                    first = first or chunk[0]
                    self._insert_chunk(cursor, [stored(e) for e in chunk])
                    count += len(chunk)
        except IntegrityError as e:
            raise ConflictError(f"another writer appended sequence {first.sequence if first else '?'} first") from e
        except PersistenceError as e:
            raise StorageError(f"cannot append to the event log at {self.location}: {one_line(e)}") from e
        return count

    def _insert_chunk(self, cursor: Any, chunk: list[StoredEvent]) -> None:  # pragma: no cover - overridden
        """Write stored events inside the open transaction (the backend's recorder does it)."""
        raise NotImplementedError

    def notifications(self, after: int = 0, limit: int = PAGE_SIZE) -> list[tuple[int, Event]]:
        """One page of the notification log: (notification id, event) after position ``after``."""
        try:
            page = self.recorder.select_notifications(after + 1, limit)
        except PersistenceError as e:
            raise StorageError(f"cannot read the event log at {self.location}: {one_line(e)}") from e
        return [(n.id, unstored(n.state)) for n in page]

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


class _DurablePool(SQLiteConnectionPool):
    """eventsourcing's pool (which turns on WAL), with every commit synced to disk."""

    def _create_connection(self) -> SQLiteConnection:
        try:
            connection = super()._create_connection()
            connection._sqlite_conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as e:  # e.g. a file that is not a database: ours to report, not a traceback
            raise InterfaceError(e) from e
        return connection


class _DurableDatastore(SQLiteDatastore):
    def __init__(self, path: str):
        super().__init__(path, lock_timeout=30)
        self.pool = _DurablePool(db_name=path, lock_timeout=30)


class SQLiteEventStore(EventStore):
    """The embedded default: one SQLite file, nothing to start."""

    def __init__(self, path: str, *, create: bool = False):
        self.location = path
        exists = os.path.exists(path)
        if not create and not exists:
            raise LedgerNotFoundError(f"no ledger at {path} (run `revledger init` first, or pass --db)")
        if create:
            self._check_fresh(path)
        try:
            self.datastore = _DurableDatastore(path)
            self.recorder = SQLiteApplicationRecorder(self.datastore)
            if create:
                self.recorder.create_table()
            self.values = None if create else self._read_settings()
        except PersistenceError as e:
            raise StorageError(f"cannot open the ledger at {path}: {e}") from e

    @staticmethod
    def _check_fresh(path: str) -> None:
        if not os.path.exists(path):
            return
        try:
            with sqlite3.connect(read_only_uri(path), uri=True) as conn:
                found = conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (SETTINGS_TABLE,)
                ).fetchone()
        except sqlite3.DatabaseError as e:
            raise StorageError(f"{path} exists and is not a revledger ledger: {e}") from e
        if found:
            raise LedgerExistsError(f"a ledger already exists at {path}")

    def initialise(self, settings: LedgerSettings) -> None:
        with self._transaction() as c:
            c.execute(f"CREATE TABLE IF NOT EXISTS {SETTINGS_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            c.executemany(
                f"INSERT INTO {SETTINGS_TABLE} (key, value) VALUES (?, ?)",
                sorted(self._settings_values(settings).items()),
            )

    def _insert_chunk(self, cursor: Any, chunk: list[StoredEvent]) -> None:
        self.recorder._insert_events(cursor, chunk)

    def _read_settings(self) -> dict[str, str]:
        try:
            with self._transaction(commit=False) as c:
                c.execute(f"SELECT key, value FROM {SETTINGS_TABLE}")
                rows = c.fetchall()
        except StorageError as e:
            if isinstance(e.__cause__, InterfaceError):  # not openable as a database at all
                raise StorageError(f"cannot open the ledger at {self.location}: {one_line(e.__cause__)}") from e
            raise LedgerNotFoundError(
                f"{self.location} is not a revledger ledger ({one_line(e.__cause__ or e)}; `revledger init` creates one)"
            ) from e
        return {row[0]: row[1] for row in rows}

    @contextmanager
    def _transaction(self, *, commit: bool = True) -> Iterator[Any]:
        try:
            with self.datastore.transaction(commit=commit) as c:
                yield c
        except PersistenceError as e:
            raise StorageError(f"{self.location}: {e}") from e

    def close(self) -> None:
        self.datastore.close()


def read_only_uri(path: str) -> str:
    """A read-only SQLite URI for a file path; the path is quoted, so '#', '?' or '%' in a name stay part of it."""
    return f"{Path(path).absolute().as_uri()}?mode=ro"


def open_store(location: str, *, create: bool = False) -> EventStore:
    """The event store at ``location``: a SQLite file path, or a ``postgresql://`` URL."""
    if location.startswith(("postgresql://", "postgres://")):
        from ledger.postgres import PostgresEventStore

        return PostgresEventStore(location, create=create)
    return SQLiteEventStore(location, create=create)
