"""The embedded default event store: one SQLite file, through eventsourcing's SQLite persistence."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from eventsourcing.persistence import InterfaceError, PersistenceError, StoredEvent
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
)

from ledger.errors import LedgerExistsError, LedgerNotFoundError, StorageError
from ledger.settings import LedgerSettings
from ledger.store import SETTINGS_TABLE, STATE_TABLE, EventStore, one_line


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
        if os.path.isdir(path):
            raise StorageError(f"{path} is a folder, not a ledger; give the ledger's file, e.g. {os.path.join(path, 'revledger.db')}")
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
        """`init` makes a ledger only in a new or empty file: it never adds its tables to another database."""
        if os.path.isdir(path):
            raise StorageError(f"{path} is a folder; give the ledger a file name, e.g. {os.path.join(path, 'revledger.db')}")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise StorageError(f"cannot create a ledger at {path}: there is no folder {folder}")
        if not os.path.exists(path) or os.path.getsize(path) == 0:
            return
        fresh = "init creates a ledger only in a new or empty file"
        try:
            with closing(sqlite3.connect(read_only_uri(path), uri=True)) as conn:
                tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                logged = "stored_events" in tables and conn.execute("SELECT 1 FROM stored_events LIMIT 1").fetchone()
        except sqlite3.DatabaseError as e:
            raise StorageError(f"{path} exists and is not a revledger ledger ({one_line(e)}); {fresh}") from e
        if SETTINGS_TABLE in tables:
            raise LedgerExistsError(f"a ledger already exists at {path}")
        others = sorted(tables - {"stored_events", STATE_TABLE})
        if others:
            listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
            raise StorageError(f"{path} is another database (its tables: {listed}), not a revledger ledger; {fresh}")
        if logged:  # an event log without the settings beside it: not a ledger init may start afresh
            raise StorageError(f"{path} holds an event log but no ledger settings; {fresh}")

    def initialise(self, settings: LedgerSettings) -> None:
        with self._transaction() as c:
            c.execute(f"CREATE TABLE IF NOT EXISTS {SETTINGS_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            c.executemany(
                f"INSERT INTO {SETTINGS_TABLE} (key, value) VALUES (?, ?)",
                sorted(self._settings_values(settings).items()),
            )

    def _insert_chunk(self, cursor: Any, chunk: list[StoredEvent]) -> None:
        # eventsourcing has no public way to write one transaction in chunks. Its aggregate
        # recorder's insert is one executemany into the same table with the same statement (the
        # application recorder's runs one statement per event to collect notification ids, which
        # we read once, after the last chunk). Contract-tested in tests/test_store_contract.py.
        SQLiteAggregateRecorder._insert_events(self.recorder, cursor, chunk)

    def _last_notification(self, cursor: Any) -> int:
        cursor.execute(self.recorder.select_max_notification_id_statement)
        return cursor.fetchone()[0] or 0

    def _read_state(self, cursor: Any, key: str) -> str | None:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (STATE_TABLE,))
        if cursor.fetchone() is None:
            return None
        cursor.execute(f"SELECT value FROM {STATE_TABLE} WHERE key = ?", (key,))
        row = cursor.fetchone()
        return row[0] if row else None

    def _write_state(self, cursor: Any, state: dict[str, str]) -> None:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        cursor.executemany(f"INSERT OR REPLACE INTO {STATE_TABLE} (key, value) VALUES (?, ?)", sorted(state.items()))

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
