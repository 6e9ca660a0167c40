"""The read models: SQLite tables beside the log, kept with sqlite-utils, versioned on the log axis.

Rows are versioned per append (``projections.versioning``), so "as now known"
and "as known at T" are one indexed query with a different sequence, and a
backdated event or a void never rewrites what an earlier answer was built from.

They are written two ways, with identical results:

* in the writer's own process, from the timelines the write side has just
  validated (``ReadModel.appending``): each event is folded once on its way in,
  and the rows and the new tracking position commit in one transaction right
  after the log's;
* by a catch-up from the eventsourcing notification log (``ReadModel.catch_up``),
  for other processes, other machines, and after a crash between the two
  commits: whole appends at a time, the rows and the position in one
  transaction, under SQLite's write lock, so each append is applied exactly once.

``rebuild`` replays the whole log customer by customer, writing each row once.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date

from ledger import events as ev
from ledger.customer import FoldError, Timeline, fold
from ledger.errors import StorageError
from ledger.events import Event, event_from_record
from ledger.policy import DEFAULT, Policy
from ledger.retry import Retry
from ledger.settings import LedgerSettings
from ledger.store import EventStore
from projections import summaries
from projections.derive import CONTRIBUTION_COLUMNS, derive
from projections.recognition import points
from projections.versioning import CURRENT, Writer

SCHEMA_VERSION = 4
CACHE_CUSTOMERS = 2_000
BULK = 20_000  # an append this large into empty read models builds their indexes afterwards
CATCH_UP_EVENTS = 5_000  # a catch-up commits after about this many events (whole appends)

# Secondary indexes, (name, table, definition): dropped for a bulk load into empty tables, built after it
# (the events' first: projecting reads a customer's events through them).
INDEXES = (
    ("events_event_id", "events", "UNIQUE INDEX {name} ON events (event_id)"),
    ("events_customer", "events", "INDEX {name} ON events (customer_id, sequence)"),
    ("events_append_ends", "events", "INDEX {name} ON events (recorded_at) WHERE append_last = sequence"),
    ("events_ledger", "events", "INDEX {name} ON events (type, sequence) WHERE customer_id = ''"),
    ("movements_current", "movements", f"INDEX {{name}} ON movements (customer_id) WHERE known_to = {CURRENT}"),
    ("movements_dates", "movements", "INDEX {name} ON movements (grain, date, known_from, known_to)"),
    ("movements_customer", "movements", "INDEX {name} ON movements (customer_id, grain, date)"),
    ("attributes_current", "attributes", f"INDEX {{name}} ON attributes (customer_id) WHERE known_to = {CURRENT}"),
    ("attributes_names", "attributes", "INDEX {name} ON attributes (name, customer_id)"),
    ("contributions_current", "contributions", f"INDEX {{name}} ON contributions (customer_id) WHERE known_to = {CURRENT}"),
    ("contributions_months", "contributions", "INDEX {name} ON contributions (month, known_from, known_to)"),
    ("contributions_known_from", "contributions", "INDEX {name} ON contributions (known_from)"),
    *summaries.INDEXES,
)


def default_path(location: str) -> str:
    """Where the read models of a SQLite ledger live: beside it, never inside it.

    (An open write transaction on the event store's file would block appends.)
    """
    root, ext = os.path.splitext(location)
    return f"{root}.projections{ext or '.db'}"


def _schema(conn: sqlite3.Connection, ledger_id: str) -> None:
    """Create the tables (with sqlite-utils, loaded only when a read model is made) and their indexes."""
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    db["events"].create(
        {"sequence": int, "event_id": str, "customer_id": str, "type": str, "effective_date": str,
         "recorded_at": str, "append_last": int, "record": str},
        pk="sequence", if_not_exists=True,
    )
    db["movements"].create(
        {"id": int, "customer_id": str, "grain": int, "date": str, "category": str, "cause": str, "from_cents": int,
         "to_cents": int, "amount_cents": int, "event_ids": str, "parts": str, "known_from": int, "known_to": int},
        pk="id", if_not_exists=True,
    )
    db["attributes"].create(
        {"id": int, "customer_id": str, "name": str, "value": str, "effective_date": str, "event_sequence": int,
         "known_from": int, "known_to": int},
        pk="id", if_not_exists=True,
    )
    money = {c: int for c in CONTRIBUTION_COLUMNS}
    money.update({"cohort": str, "segment": str, "channel": str, "region": str,
                  "segment_before": str, "channel_before": str, "region_before": str})
    db["contributions"].create(
        {"id": int, "customer_id": str, "month": str, **money, "known_from": int, "known_to": int},
        pk="id", if_not_exists=True,
    )
    summaries.schema(db)
    db["tracking"].create(
        {"id": int, "position": int, "sequence": int, "schema": int, "ledger_id": str}, pk="id", if_not_exists=True
    )
    conn.execute(
        "INSERT OR IGNORE INTO tracking (id, position, sequence, schema, ledger_id) VALUES (1, 0, 0, ?, ?)",
        (SCHEMA_VERSION, ledger_id),
    )
    _create_indexes(conn)


def _create_indexes(conn: sqlite3.Connection, tables: tuple[str, ...] | None = None) -> None:
    for name, table, definition in INDEXES:
        if tables is None or table in tables:
            conn.execute("CREATE " + definition.replace("INDEX {name}", "INDEX IF NOT EXISTS " + name))


def _drop_indexes(conn: sqlite3.Connection) -> None:
    for index_name, _, _ in INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {index_name}")


class ReadModel:
    """The projections of one ledger, and the write side's view of its history (``ledger.history.History``)."""

    def __init__(self, path: str, store: EventStore, settings: LedgerSettings | None = None):
        self.path = path
        self.store = store
        self.settings = settings or store.settings()
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # Wait for other processes' locks from the first statement on (switching to WAL needs one).
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.execute("PRAGMA journal_mode=WAL")
            # The read models can always be rebuilt from the log, so a commit need not wait for the disk.
            self.db.execute("PRAGMA synchronous=NORMAL")
            # 16 MiB of page cache: the OS caches the file, and more only grows the RSS of verify and rebuild.
            self.db.execute("PRAGMA cache_size=-16384")
            # Under the write lock, so of several processes opening a new (or stale) cache at
            # once, one makes the schema and the others then find it whole, tracking row included.
            with self._write():
                self._ensure_schema()
        except sqlite3.DatabaseError as e:
            raise StorageError(f"cannot open the read models at {path}: {e} (delete the file or run `revledger rebuild`)") from e
        self._timelines: OrderedDict[str, tuple[int, Timeline]] = OrderedDict()

    # -- schema ------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        """Make the schema, or throw away read models of another ledger, another schema, or ahead of this log."""
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "tracking" in tables:
            row = self.db.execute("SELECT ledger_id, schema, sequence FROM tracking WHERE id = 1").fetchone()
            if row and row[0] == self.settings.ledger_id and row[1] == SCHEMA_VERSION and row[2] <= self.store.head().sequence:
                return
        for table in tables:  # a lost tracking row (a damaged file) is rebuilt too
            if not table.startswith("sqlite_"):
                self.db.execute(f'DROP TABLE IF EXISTS "{table}"')
        _schema(self.db, self.settings.ledger_id)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT: take the write lock first, so an append is applied once."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException as e:
            if self.db.in_transaction:  # SQLite has already rolled back after, e.g., a full disk
                self.db.execute("ROLLBACK")
            self._timelines.clear()  # the timelines folded in memory were not kept
            if isinstance(e, sqlite3.Error):
                raise StorageError(f"cannot update the read models at {self.path}: {e}") from e
            raise
        else:
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as e:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                self._timelines.clear()
                raise StorageError(f"cannot update the read models at {self.path}: {e}") from e

    # -- what is known -----------------------------------------------------------------

    def position(self) -> tuple[int, int]:
        """(notification id, event sequence) applied so far: always the end of an append."""
        row = self.db.execute("SELECT position, sequence FROM tracking WHERE id = 1").fetchone()
        return row[0], row[1]

    def policy_at(self, sequence: int) -> Policy:
        """The policy in force once the log up to ``sequence`` is known (SPEC §13)."""
        row = self.db.execute(
            "SELECT record FROM events WHERE customer_id = '' AND type = ? AND sequence <= ? ORDER BY sequence DESC LIMIT 1",
            (ev.POLICY_CHANGED, sequence),
        ).fetchone()
        return Policy.from_text(event_from_record(json.loads(row[0])).details or "{}") if row else DEFAULT

    def recognized_mrr(self, timeline: Timeline, policy: Policy) -> list[tuple[date, int]]:
        """The customer's MRR in cents as ``policy`` recognizes it: (day, MRR from that day on), in date order."""
        return [(point.date, point.mrr) for point in points(timeline, policy)]

    def customer_events_after(self, customer_id: str, after: int, upto: int) -> list[Event]:
        rows = self.db.execute(
            "SELECT record FROM events WHERE customer_id = ? AND sequence > ? AND sequence <= ? ORDER BY sequence",
            (customer_id, after, upto),
        ).fetchall()
        return [event_from_record(json.loads(r[0])) for r in rows]

    def customer_events(self, customer_id: str, upto: int = CURRENT) -> list[Event]:
        rows = self.db.execute(
            "SELECT record FROM events WHERE customer_id = ? AND sequence <= ? ORDER BY sequence", (customer_id, upto)
        ).fetchall()
        return [event_from_record(json.loads(r[0])) for r in rows]

    def customers(self, upto: int = CURRENT) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT customer_id FROM events WHERE customer_id != '' AND sequence <= ? ORDER BY customer_id", (upto,)
        )]

    # -- the write side's view (ledger.history.History) --------------------------------

    def timeline(self, customer_id: str) -> Timeline:
        """A fresh timeline of the customer as now known (empty for a new customer)."""
        return fold(customer_id, self.customer_events(customer_id), self.settings)

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
        rows = self.db.execute(
            "SELECT record FROM events WHERE customer_id = '' AND type = ? ORDER BY sequence", (ev.PERIOD_CLOSED,)
        )
        return [event_from_record(json.loads(r[0])) for r in rows]

    # -- writing an append ---------------------------------------------------------------

    @contextmanager
    def appending(self, head_sequence: int, last_sequence: int) -> Iterator[Projection]:
        """The projection of one append (``head_sequence`` + 1 … ``last_sequence``) in the writer's own process.

        Its rows are written in one transaction that the caller commits (``Projection.commit``)
        right after the log's own commit; any error rolls them back, and a later catch-up
        derives the same rows from the log.
        """
        with self._write():
            if self.position()[1] != head_sequence:
                raise Retry  # another process applied more of the log meanwhile
            projection = Projection(self, head_sequence, last_sequence)
            yield projection
            if not projection.committed:
                raise StorageError("an append's projection was left unfinished")

    # -- catching up from the log --------------------------------------------------------

    def catch_up(self, on_page: Callable[[int], object] | None = None) -> int:
        """Apply every append recorded since the tracked position; return the head sequence.

        Appends are applied whole, a few thousand events to a transaction (a long
        append in one); ``on_page(n)`` is told after each transaction of ``n``
        events (a progress bar).
        """
        while True:
            with self._write():
                position, sequence = self.position()
                projection = Projection(self, sequence, None)
                after, applied = position, 0
                while not (applied >= CATCH_UP_EVENTS and projection.complete()):
                    page = self.store.notifications(after=after)
                    if not page:
                        if applied and not projection.complete():
                            raise StorageError(f"the event log ends inside an append (after sequence {projection.last})")
                        break
                    for notification_id, event, record in page:
                        if event.sequence != projection.last + 1:
                            raise StorageError(
                                f"the event log skips from sequence {projection.last} to {event.sequence} "
                                f"(notification {notification_id}); run `revledger verify`"
                            )
                        projection.read(event, record)
                        after, applied = notification_id, applied + 1
                        if projection.complete():
                            projection.project()
                            projection.finish(notification_id)
                            if applied >= CATCH_UP_EVENTS:
                                break
                if not applied:
                    return sequence
            if on_page is not None:
                on_page(applied)

    def close(self) -> None:
        self.db.close()


class Projection:
    """The rows one append (or a run of whole appends) makes, written in the read model's open transaction."""

    def __init__(self, rm: ReadModel, head_sequence: int, last_sequence: int | None):
        self.rm = rm
        self.conn = rm.db
        self.head = head_sequence
        self.last = head_sequence
        self.end = last_sequence  # the append's last sequence, when known in advance
        self.writer = Writer(rm.db)
        self.policy = rm.policy_at(head_sequence)
        self.index: list[tuple] = []
        self.touched: dict[str, None] = {}
        self.policy_changed = False
        self.committed = False
        self.bulk = False
        if last_sequence is not None and head_sequence == 0 and last_sequence - head_sequence >= BULK:
            _drop_indexes(self.conn)  # a bulk load into empty tables: build the indexes once, afterwards
            self.bulk = True

    # -- the writer's own process ------------------------------------------------------

    def customer(self, timeline: Timeline, existed: bool) -> None:
        """Write the customer's rows as of this append, from the timeline the write side has just validated.

        ``existed``: the customer had events before this append (else it has no rows to compare with).
        """
        at = self.end
        assert at is not None
        new = derive(timeline, self.policy)
        if existed:
            old, ids = self.writer.current(timeline.customer_id)
            self.writer.replace(timeline.customer_id, old, ids, new, at)
        else:
            self.writer.replace(timeline.customer_id, None, None, new, at)
        self.rm._timelines.pop(timeline.customer_id, None)

    def event(self, event: Event, record: str) -> None:
        """The index row of an event as sealed (``record``: its stored text)."""
        self.index.append(
            (event.sequence, event.event_id, event.customer_id, event.type, event.effective_date.isoformat(),
             event.recorded_at, event.append_last or event.sequence, record)
        )
        if len(self.index) >= 10_000:
            self._flush_index()

    def indexed(self, rows: list[tuple]) -> None:
        """Index rows already made (sequence, event_id, customer_id, type, effective_date, recorded_at, append_last, record)."""
        self.index.extend(rows)
        if len(self.index) >= 10_000:
            self._flush_index()

    def _flush_index(self) -> None:
        if self.index:
            self.conn.executemany(
                "INSERT INTO events (sequence, event_id, customer_id, type, effective_date, recorded_at, append_last, record) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                self.index,
            )
            self.index.clear()

    def commit(self, position: int) -> None:
        """Record the append as applied (tracking in the same transaction) and commit."""
        assert self.end is not None
        self.last = self.end
        self.finish(position)

    # -- a catch-up from the log ---------------------------------------------------------

    def read(self, event: Event, record: str) -> None:
        """One event of the log, in order (``record``: its stored text): index it, and note whose rows it changes."""
        if self.last == self.head and self.head == 0 and (event.append_last or 0) - self.head >= BULK and not self.bulk:
            _drop_indexes(self.conn)  # a bulk load into empty tables: build the indexes once, afterwards
            self.bulk = True
        self.event(event, record)
        if self.end is None or self.last == self.end:
            # An append ends at the sequence its events name (a marker before the event itself, in a
            # damaged log, is taken as an append of its own: verify reports it).
            self.end = max(event.append_last, event.sequence)
        self.last = event.sequence
        if event.type == ev.POLICY_CHANGED:
            self.policy_changed = True
        elif event.type not in ev.LEDGER_TYPES:
            self.touched[event.customer_id] = None

    def complete(self) -> bool:
        return self.end is not None and self.last == self.end

    def project(self) -> None:
        """Write the rows of every customer the append touched (every customer, after a policy change)."""
        self._flush_index()
        if self.bulk:
            _create_indexes(self.conn, ("events",))
        at = self.last
        if self.policy_changed:
            self.policy = self.rm.policy_at(at)
            customers: Iterable[str] = self.rm.customers(at)
        else:
            customers = self.touched
        cache = self.rm._timelines
        for customer in customers:
            cached = cache.pop(customer, None)
            if cached is not None and cached[0] == self.head:
                timeline = cached[1]
                for event in self.rm.customer_events_after(customer, self.head, at):
                    problems = timeline.add(event, check_claim=False)
                    if problems:
                        failure = FoldError(event, problems[0][1])
                        raise StorageError(f"{failure}; run `revledger verify`") from failure
            else:
                timeline = _fold(customer, self.rm.customer_events(customer, at), self.rm.settings)
            # From an empty read model (a rebuild) no customer has rows yet, and the bulk load has no index to find them by.
            old, ids = self.writer.current(customer) if self.head else (None, None)
            self.writer.replace(customer, old, ids, derive(timeline, self.policy), at)
            cache[customer] = (at, timeline)
            if len(cache) > CACHE_CUSTOMERS:
                cache.popitem(last=False)
        self.touched = {}
        self.policy_changed = False
        self.head = at

    def finish(self, position: int) -> None:
        self._flush_index()
        self.writer.flush()
        if self.bulk:
            _create_indexes(self.conn)
            self.bulk = False
        summaries.update(self.conn, self.last, self.writer.superseded_contributions)
        self.writer.superseded_contributions.clear()
        self.conn.execute("UPDATE tracking SET position = ?, sequence = ? WHERE id = 1", (position, self.last))
        self.committed = True


def _fold(customer_id: str, events: list[Event], settings: LedgerSettings) -> Timeline:
    try:
        return fold(customer_id, events, settings)
    except FoldError as e:
        raise StorageError(f"{e}; run `revledger verify`") from e


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
