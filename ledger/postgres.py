"""The shared event log: PostgreSQL, through eventsourcing's PostgreSQL persistence.

The same store as the SQLite one (ledger/sqlite.py), keeping the contract of ledger/store.py, so that many people and
jobs on many machines can append to one ledger:

* the whole log is one aggregate sequence, and the recorder's primary key
  (originator_id, originator_version) is the optimistic-concurrency guard: of
  two writers appending sequence N+1, one wins and the other gets a
  ConflictError (the write side then re-validates and retries);
* eventsourcing takes an EXCLUSIVE lock on the events table around each
  insert, so notification ids are issued in commit order and a read model
  tailing the log never passes over a gap that is filled in later (rolled-back
  inserts do leave holes in the ids; catch-up pages by id, so they are harmless);
* the ledger's settings live in a table ``revledger_settings`` beside the
  events; ``init`` creates it, and a database without it holds no ledger.

The location is a libpq URL, ``postgresql://user:password@host:port/dbname``,
with an optional ``?schema=NAME`` (default ``public``) to keep several ledgers
in one database. Other query parameters (``sslmode``, ``connect_timeout``,
``application_name`` …) are passed to libpq; libpq's environment variables
(PGHOST, PGPASSWORD …) and ``~/.pgpass`` fill in what the URL leaves out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import psycopg
from eventsourcing.persistence import PersistenceError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from ledger.errors import LedgerExistsError, LedgerNotFoundError, StorageError
from ledger.settings import LedgerSettings
from ledger.store import SETTINGS_TABLE, STATE_TABLE, EventStore, one_line

DEFAULT_PORT = "5432"
CONNECT_TIMEOUT = 10  # seconds, unless the URL says otherwise (?connect_timeout=)
_CONNECTION_FIELDS = ("dbname", "host", "port", "user", "password")


@dataclass(frozen=True, slots=True)
class PostgresLocation:
    """Where a PostgreSQL ledger lives, parsed from its URL.

    Attributes:
      dbname, host, port, user, password: the libpq connection parameters (None = libpq's default).
      schema: the schema holding the ledger's tables (``public`` when not given).
      options: any other libpq parameters from the URL's query, sorted by name.
    """

    dbname: str | None
    host: str | None
    port: str | None
    user: str | None
    password: str | None
    schema: str
    options: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        """The URL without its password, for messages."""
        user = f"{self.user}@" if self.user else ""
        host = self.host or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{self.port}" if self.port else ""
        schema = f"?schema={self.schema}" if self.schema != "public" else ""
        return f"postgresql://{user}{host}{port}/{self.dbname or ''}{schema}"

    def connection_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for psycopg.connect (None values are left to libpq's defaults)."""
        values = {name: getattr(self, name) for name in _CONNECTION_FIELDS}
        values.update(self.options)
        values.setdefault("connect_timeout", str(CONNECT_TIMEOUT))
        return values

    def cache_name(self) -> str:
        """A file-name-safe name for this ledger's local read-model cache: HOST_PORT_DBNAME[_SCHEMA]."""
        parts = [self.host or "localhost", self.port or DEFAULT_PORT, self.dbname or self.user or "postgres"]
        if self.schema != "public":
            parts.append(self.schema)
        return "_".join(re.sub(r"[^A-Za-z0-9._-]", "-", part) for part in parts)


def parse_url(url: str) -> PostgresLocation:
    """Parse a ``postgresql://`` URL with libpq's own rules, ``?schema=`` aside."""
    base, _, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    schemas = [value for name, value in pairs if name == "schema"]
    rest = urlencode([(name, value) for name, value in pairs if name != "schema"])
    try:
        params = conninfo_to_dict(f"{base}?{rest}" if rest else base)
    except psycopg.Error as e:
        raise StorageError(f"not a PostgreSQL URL: {one_line(e)}") from None
    schema = (schemas[-1] if schemas else "").strip() or "public"
    fields = {name: (str(params.pop(name)) if params.get(name) not in (None, "") else None) for name in _CONNECTION_FIELDS}
    return PostgresLocation(
        schema=schema, options=tuple(sorted((k, str(v)) for k, v in params.items())), **fields
    )


class PostgresEventStore(EventStore):
    """The shared event log in a PostgreSQL database (or one schema of it)."""

    def __init__(self, url: str, *, create: bool = False):
        self.where = parse_url(url)
        self.location = str(self.where)
        self._values: dict[str, str] | None = None
        with self._connection() as conn:
            exists = self._has_settings(conn)
            if create and exists:
                raise LedgerExistsError(f"a ledger already exists at {self.location}")
            if not create and not exists:
                raise LedgerNotFoundError(f"no ledger at {self.location} (run `revledger init` first, or pass --db)")
            if create and self.where.schema != "public":
                self._execute(conn, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.where.schema)))
            if not create:
                self._values = self._select_settings(conn)
        try:
            self.datastore = self._datastore()
            self.recorder = PostgresApplicationRecorder(self.datastore)
            if create:
                self.recorder.create_table()
        except PersistenceError as e:
            raise StorageError(f"cannot open the ledger at {self.location}: {one_line(e)}") from None

    def _datastore(self) -> PostgresDatastore:
        w = self.where
        kwargs = w.connection_kwargs()
        datastore = PostgresDatastore(
            dbname=w.dbname,  # type: ignore[arg-type] - None leaves it to libpq's defaults
            host=w.host,  # type: ignore[arg-type]
            port=w.port,  # type: ignore[arg-type]
            user=w.user,  # type: ignore[arg-type]
            password=w.password,  # type: ignore[arg-type]
            schema=w.schema,
            connect_timeout=float(kwargs["connect_timeout"]),
        )
        # The remaining libpq parameters (sslmode, application_name …) go to every pooled connection.
        datastore.pool.kwargs.update(  # type: ignore[union-attr]
            {k: v for k, v in kwargs.items() if k not in _CONNECTION_FIELDS}
        )
        return datastore

    # -- appending -----------------------------------------------------------------------

    def _insert_chunk(self, cursor: Any, chunk: list[StoredEvent]) -> None:
        """One transaction, written in chunks, so a long import never sits in memory whole.

        Each chunk goes through the recorder's own insert, which first takes the
        EXCLUSIVE table lock (held to the commit): notification ids still follow
        commit order, and a collision anywhere rolls back every chunk.
        """
        self.recorder._insert_stored_events(cursor, chunk)

    def _last_notification(self, cursor: Any) -> int:
        # eventsourcing's cursors return rows as dicts; the table is locked until the commit
        cursor.execute(self.recorder.max_notification_id_statement)
        return cursor.fetchone()["max"] or 0

    # -- import state beside the log -----------------------------------------------------

    def _state_table(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.where.schema), sql.Identifier(STATE_TABLE))

    def _read_state(self, cursor: Any, key: str) -> str | None:
        # eventsourcing's cursors return rows as dicts
        name = f"{_quoted(self.where.schema)}.{STATE_TABLE}"
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (name,))
        if not cursor.fetchone()["present"]:
            return None
        cursor.execute(sql.SQL("SELECT value FROM {} WHERE key = %s").format(self._state_table()), (key,))
        row = cursor.fetchone()
        return row["value"] if row else None

    def _write_state(self, cursor: Any, state: dict[str, str]) -> None:
        table = self._state_table()
        cursor.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, value text NOT NULL)").format(table))
        cursor.executemany(
            sql.SQL("INSERT INTO {} (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value")
            .format(table),
            sorted(state.items()),
        )

    # -- connections of our own (the settings table, and the first contact) ----------

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A short-lived connection; an unreachable server is one clear line, not a traceback."""
        try:
            conn = psycopg.connect(**self.where.connection_kwargs(), autocommit=True)
        except psycopg.Error as e:
            raise StorageError(f"cannot connect to PostgreSQL at {self.location}: {one_line(e)}") from None
        try:
            yield conn
        except psycopg.Error as e:
            raise StorageError(f"{self.location}: {one_line(e)}") from None
        finally:
            conn.close()

    @staticmethod
    def _execute(conn: psycopg.Connection, statement: Any, params: Any = None) -> list[tuple]:
        with conn.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def _settings_table(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.where.schema), sql.Identifier(SETTINGS_TABLE))

    def _has_settings(self, conn: psycopg.Connection) -> bool:
        name = f"{_quoted(self.where.schema)}.{SETTINGS_TABLE}"
        return self._execute(conn, "SELECT to_regclass(%s) IS NOT NULL", (name,))[0][0]

    def _select_settings(self, conn: psycopg.Connection) -> dict[str, str]:
        rows = self._execute(conn, sql.SQL("SELECT key, value FROM {}").format(self._settings_table()))
        return {key: value for key, value in rows}

    # -- settings ------------------------------------------------------------------------

    def initialise(self, settings: LedgerSettings) -> None:
        """Create the settings table beside the events; of two concurrent inits, one wins."""
        table = self._settings_table()
        with self._connection() as conn:
            try:
                with conn.transaction():
                    self._execute(conn, sql.SQL("CREATE TABLE {} (key text PRIMARY KEY, value text NOT NULL)").format(table))
                    with conn.cursor() as cursor:
                        cursor.executemany(
                            sql.SQL("INSERT INTO {} (key, value) VALUES (%s, %s)").format(table),
                            sorted(self._settings_values(settings).items()),
                        )
            except psycopg.errors.DuplicateTable:
                raise LedgerExistsError(f"a ledger already exists at {self.location}") from None
            self._values = self._select_settings(conn)

    def _read_settings(self) -> dict[str, str]:
        # Settings never change after init (SPEC §2: rates are fixed), so one read serves.
        if self._values is None:
            with self._connection() as conn:
                self._values = self._select_settings(conn)
        return self._values

    def close(self) -> None:
        self.datastore.close()


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
