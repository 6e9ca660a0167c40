"""The read models: SQLite tables kept with sqlite-utils, caught up from the event log.

Rows are versioned on the log axis: a row is known from the sequence that
produced it until the sequence that superseded it (``known_to``; CURRENT while
still in force). "As now known" and "as known at T" are then one indexed query
with a different sequence, and a backdated event or a void never rewrites what
an earlier answer was built from.

Catch-up reads the eventsourcing notification log in pages; the rows of a
page and the tracking position commit in one transaction (exactly once), under
SQLite's write lock, so concurrent readers never apply a page twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import date

from ledger import events as ev
from ledger.customer import Timeline, fold
from ledger.errors import StorageError
from ledger.events import Event, canonical, event_from_record
from ledger.money import to_cents
from ledger.settings import LedgerSettings
from ledger.store import EventStore
from projections.movements import Movement, movements

CURRENT = 2**63 - 1  # known_to of a row still in force
SCHEMA_VERSION = 2
CACHE_CUSTOMERS = 20_000


def default_path(location: str) -> str:
    """Where the read models of a SQLite ledger live: beside it, never inside it.

    (An open write transaction on the event store's file would block appends.)
    """
    root, ext = os.path.splitext(location)
    return f"{root}.projections{ext or '.db'}"


def _movement_row(m: Movement, known_from: int) -> tuple:
    return (
        m.customer_id,
        m.date.isoformat(),
        m.category,
        m.cause,
        to_cents(m.from_mrr),
        to_cents(m.to_mrr),
        to_cents(m.amount),
        json.dumps(list(m.event_ids)),
        json.dumps({cause: to_cents(delta) for cause, delta in m.parts}, sort_keys=True),
        known_from,
        CURRENT,
    )


class ReadModel:
    """The projections of one ledger, and the write side's view of its history."""

    def __init__(self, path: str, store: EventStore, settings: LedgerSettings | None = None):
        self.path = path
        self.store = store
        self.settings = settings or store.settings()
        try:
            import sqlite_utils  # loaded when a read model is opened, not for `--help`

            self.db = sqlite_utils.Database(path)
            self.db.conn.isolation_level = None  # we say where transactions begin and end
            # Wait for other processes' locks from the first statement on (switching to WAL needs one).
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.execute("PRAGMA journal_mode=WAL")
            # Under the write lock, so of several processes opening a new (or stale) cache at
            # once, one makes the schema and the others then find it whole, tracking row included.
            with self._write():
                self._ensure_schema()
                self._check_origin()
        except sqlite3.DatabaseError as e:
            raise StorageError(f"cannot open the read models at {path}: {e} (delete the file or run `revledger rebuild`)") from e
        self._timelines: OrderedDict[str, Timeline] = OrderedDict()
        self._current: dict[str, dict[date, tuple]] = {}
        self._pending_events = []
        self._pending_movements = {}
        self._pending_supersede = []
        self._pending_customers = set()

    # -- schema ----------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        db = self.db
        if "tracking" in db.table_names():
            return
        # sqlite-utils commits each statement; every create is IF NOT EXISTS, so two
        # processes creating the schema at once both succeed.
        db["events"].create(
            {
                "sequence": int,
                "event_id": str,
                "customer_id": str,
                "type": str,
                "effective_date": str,
                "recorded_at": str,
                "append_last": int,
                "record": str,
            },
            pk="sequence",
            if_not_exists=True,
        )
        db["events"].create_index(["event_id"], unique=True, if_not_exists=True)
        db["events"].create_index(["customer_id", "sequence"], if_not_exists=True)
        db["events"].create_index(["recorded_at"], if_not_exists=True)
        # The ends of appends by recorded time: "as known at T" counts whole appends only (SPEC §2).
        db.execute("CREATE INDEX IF NOT EXISTS events_append_ends ON events (recorded_at) WHERE append_last = sequence")
        db["events"].create_index(["type"], if_not_exists=True)  # the period closes, read on every append
        db["movements"].create(
            {
                "id": int,
                "customer_id": str,
                "date": str,
                "category": str,
                "cause": str,
                "from_cents": int,
                "to_cents": int,
                "amount_cents": int,
                "event_ids": str,
                "parts": str,
                "known_from": int,
                "known_to": int,
            },
            pk="id",
            if_not_exists=True,
        )
        db["movements"].create_index(["date", "known_from", "known_to"], if_not_exists=True)
        db["movements"].create_index(["customer_id", "date"], if_not_exists=True)
        db["attributes"].create(
            {
                "customer_id": str,
                "name": str,
                "value": str,
                "effective_date": str,
                "event_sequence": int,
                "known_from": int,
                "known_to": int,
            },
            if_not_exists=True,
        )
        db["attributes"].create_index(["name", "customer_id"], if_not_exists=True)
        db["attributes"].create_index(["event_sequence"], if_not_exists=True)
        db["tracking"].create(
            {"id": int, "position": int, "sequence": int, "schema": int, "ledger_id": str}, pk="id", if_not_exists=True
        )
        db["tracking"].insert(
            {"id": 1, "position": 0, "sequence": 0, "schema": SCHEMA_VERSION, "ledger_id": self.settings.ledger_id},
            ignore=True,
        )

    def _check_origin(self) -> None:
        """A read model built from another ledger, or ahead of this log, is thrown away and rebuilt.

        (A ledger re-created at the same path leaves its old read models beside it.)
        """
        ledger_id, schema, sequence = self.db.execute(
            "SELECT ledger_id, schema, sequence FROM tracking WHERE id = 1"
        ).fetchone() or (None, None, None)  # a lost tracking row (a damaged file): rebuild
        if ledger_id == self.settings.ledger_id and schema == SCHEMA_VERSION and sequence <= self.store.head().sequence:
            return
        for table in ("events", "movements", "attributes", "tracking"):
            self.db.execute(f"DROP TABLE IF EXISTS {table}")
        self._ensure_schema()

    def _write(self):
        return _Transaction(self.db.conn, self)

    # -- catching up --------------------------------------------------------------------

    def position(self) -> tuple[int, int]:
        """(notification id, event sequence) applied so far."""
        row = self.db.execute("SELECT position, sequence FROM tracking WHERE id = 1").fetchone()
        return row[0], row[1]

    def catch_up(self, on_page: Callable[[int], object] | None = None) -> int:
        """Apply every event appended since the tracked position; return the head sequence.

        ``on_page(n)`` is told after each page of ``n`` events is applied (a progress bar).
        """
        while True:
            with self._write():
                position, sequence = self.position()
                page = self.store.notifications(after=position)
                if not page:
                    return sequence
                if self._cached_at != sequence:
                    self._forget()
                for notification_id, event in page:
                    if event.sequence != sequence + 1:
                        raise StorageError(
                            f"the event log skips from sequence {sequence} to {event.sequence} "
                            f"(notification {notification_id}); run `revledger verify`"
                        )
                    self._apply(event)
                    sequence = event.sequence
                self._flush()
                self.db.execute(
                    "UPDATE tracking SET position = ?, sequence = ? WHERE id = 1", (page[-1][0], sequence)
                )
                self._cached_at = sequence
            if on_page is not None:
                on_page(len(page))

    _cached_at = -1

    def _forget(self) -> None:
        self._timelines.clear()
        self._current.clear()
        self._pending_events.clear()
        self._pending_movements.clear()
        self._pending_supersede.clear()
        self._pending_customers.clear()

    # A page's rows wait here and are written with one executemany each (_flush):
    # one statement per row was a fifth of a rebuild.
    _pending_events: list[tuple]
    _pending_movements: dict[tuple[str, date], list]  # rows inserted this page, still mutable
    _pending_supersede: list[tuple]  # (known_to, customer_id, date, CURRENT) of stored rows superseded
    _pending_customers: set[str]

    def _flush(self) -> None:
        conn = self.db.conn
        if self._pending_events:
            conn.executemany(
                "INSERT INTO events (sequence, event_id, customer_id, type, effective_date, recorded_at, append_last, record) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                self._pending_events,
            )
        if self._pending_supersede:
            conn.executemany(
                "UPDATE movements SET known_to = ? WHERE customer_id = ? AND date = ? AND known_to = ?",
                self._pending_supersede,
            )
        if self._pending_movements:
            conn.executemany(
                "INSERT INTO movements (customer_id, date, category, cause, from_cents, to_cents, amount_cents, "
                "event_ids, parts, known_from, known_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self._pending_movements.values(),
            )
        self._pending_events.clear()
        self._pending_movements.clear()
        self._pending_supersede.clear()
        self._pending_customers.clear()

    def _apply(self, event: Event) -> None:
        conn = self.db.conn
        self._pending_events.append(
            (
                event.sequence,
                event.event_id,
                event.customer_id,
                event.type,
                event.effective_date.isoformat(),
                event.recorded_at,
                event.append_last or event.sequence,
                canonical(event.record()),
            )
        )
        self._pending_customers.add(event.customer_id)
        if event.type == ev.VOID:
            self._flush()  # a void looks its target up in the stored rows
        if event.type in ev.LEDGER_TYPES:
            return
        timeline = self._timeline(event.customer_id, before=event.sequence)
        problems = timeline.add(event, check_claim=False)
        if problems:
            raise StorageError(
                f"event {event.sequence} ({event.event_id}) does not fold into its customer's timeline: "
                f"{problems[0][1]}; run `revledger verify`"
            )
        self._timelines.move_to_end(event.customer_id)
        if event.type == ev.CUSTOMER_UPDATED:
            conn.executemany(
                "INSERT INTO attributes VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (event.customer_id, name, value, event.effective_date.isoformat(), event.sequence, event.sequence, CURRENT)
                    for name, value in event.attributes
                ],
            )
        elif event.type == ev.VOID:
            conn.execute(
                "UPDATE attributes SET known_to = ? WHERE event_sequence = ? AND known_to = ?",
                (event.sequence, self._sequence_of(event.target_event_id or ""), CURRENT),
            )
        if timeline.changed_from is not None:
            self._supersede(timeline, event.sequence)

    def _sequence_of(self, event_id: str) -> int:
        row = self.db.execute("SELECT sequence FROM events WHERE event_id = ?", (event_id,)).fetchone()
        return row[0] if row else -1

    def _supersede(self, timeline: Timeline, sequence: int) -> None:
        """Replace the customer's movements from the changed day on, where they differ."""
        since = timeline.changed_from
        assert since is not None
        customer = timeline.customer_id
        current = self._current[customer]
        fresh = {day: _movement_row(m, sequence) for day, m in movements(timeline, since).items()}
        pending = self._pending_movements
        self._pending_customers.add(customer)
        for day in sorted({d for d in current if d >= since} | set(fresh)):
            old, new = current.get(day), fresh.get(day)
            if old is not None and new is not None and old[:9] == new[:9]:
                continue
            if old is not None:
                waiting = pending.pop((customer, day), None)
                if waiting is not None:  # inserted earlier in this page: keep it, closed
                    waiting[10] = sequence
                    pending[(customer, day, sequence)] = waiting  # type: ignore[index]
                else:
                    self._pending_supersede.append((sequence, customer, day.isoformat(), CURRENT))
                del current[day]
            if new is not None:
                pending[(customer, day)] = list(new)
                current[day] = new

    def _timeline(self, customer_id: str, *, before: int) -> Timeline:
        timeline = self._timelines.get(customer_id)
        if timeline is not None:
            return timeline
        if customer_id in self._pending_customers:
            self._flush()  # it was evicted this page: what is read back must include its pending rows
        timeline = fold(customer_id, self._customer_events(customer_id, before), self.settings)
        rows = self.db.execute(
            "SELECT customer_id, date, category, cause, from_cents, to_cents, amount_cents, event_ids, parts "
            "FROM movements WHERE customer_id = ? AND known_to = ?",
            (customer_id, CURRENT),
        ).fetchall()
        self._current[customer_id] = {date.fromisoformat(r[1]): tuple(r) for r in rows}
        self._timelines[customer_id] = timeline
        if len(self._timelines) > CACHE_CUSTOMERS:
            evicted, _ = self._timelines.popitem(last=False)
            del self._current[evicted]
        return timeline

    def _customer_events(self, customer_id: str, before: int) -> list[Event]:
        rows = self.db.execute(
            "SELECT record FROM events WHERE customer_id = ? AND sequence < ? AND type != ? ORDER BY sequence",
            (customer_id, before, ev.PERIOD_CLOSED),
        ).fetchall()
        return [event_from_record(json.loads(r[0])) for r in rows]

    # -- the write side's view (ledger.application.History) -------------------------------

    def timeline(self, customer_id: str) -> Timeline:
        return fold(customer_id, self._customer_events(customer_id, CURRENT), self.settings)

    def find(self, event_ids: Iterable[str]) -> dict[str, Event]:
        found: dict[str, Event] = {}
        ids = list(event_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for (record,) in self.db.execute(f"SELECT record FROM events WHERE event_id IN ({marks})", chunk):
                event = event_from_record(json.loads(record))
                found[event.event_id] = event
        return found

    def closes(self) -> list[Event]:
        """The period_closed events, in sequence order (the write side derives the locked periods from them)."""
        rows = self.db.execute("SELECT record FROM events WHERE type = ? ORDER BY sequence", (ev.PERIOD_CLOSED,))
        return [event_from_record(json.loads(r[0])) for r in rows]

    def close(self) -> None:
        self.db.close()


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT: take the write lock first, so a page is applied once."""

    def __init__(self, conn: sqlite3.Connection, owner: ReadModel):
        self.conn = conn
        self.owner = owner

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
                return
            except sqlite3.Error as e:
                exc = e
        if self.conn.in_transaction:  # SQLite has already rolled back after, e.g., a full disk
            self.conn.execute("ROLLBACK")
        self.owner._cached_at = -1  # the timelines folded in memory were not kept
        if isinstance(exc, sqlite3.Error):
            raise StorageError(f"cannot update the read models at {self.owner.path}: {exc}") from exc


def rebuild(path: str, store: EventStore, on_page: Callable[[int], object] | None = None) -> int:
    """Throw the read models at ``path`` away and replay them from the log; return the head sequence."""
    store.settings()  # refuse before deleting anything if there is no ledger
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    read_model = ReadModel(path, store)
    try:
        return read_model.catch_up(on_page=on_page)
    finally:
        read_model.close()
