"""Where a batch's rows wait while they are checked, placed and sealed.

An import validates every row before appending any, but a log of millions
must never be held in memory whole: a file's rows are staged in a temporary
SQLite file, checked one customer at a time (each customer's rows in file
order), then sealed and appended in file order. Each row is encoded for the
staging file once (a compact tuple, not JSON) and decoded once, for its
customer's fold; the fold leaves each event's canonical record fragments
(``ledger.events.record_fragments``) for sealing, so nothing is encoded twice.
`record` and `amend` stage their one or two events in memory, behind the same
interface.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ledger.events import Event

FLUSH_EVERY = 10_000


@dataclass(frozen=True, slots=True)
class Draft:
    """A validated row waiting for its place in the log.

    Attributes:
      position: its place among the batch's rows (file order is recording order).
      source: ``FILE:LINE`` or ``cli``.
      line: the line it came from (0 for the command line).
      event: the event as given (its sequence set once the batch is numbered).
    """

    position: int
    source: str
    line: int
    event: Event


@dataclass(frozen=True, slots=True)
class Sealable:
    """A placed draft, in log order, as sealing needs it: its record fragments and where it came from."""

    position: int
    sequence: int
    source: str
    fragments: str
    event_id: str
    customer_id: str
    type: str
    effective_date: str


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def encode(event: Event) -> bytes:
    """An event as given, as compact bytes for the staging file (marshal of plain values)."""
    return marshal.dumps(
        (
            event.event_id, event.type, event.customer_id, event.effective_date.toordinal(), event.subscription_id,
            event.plan, event.quantity, _text(event.unit_price), _text(event.amount), event.billing_months,
            _text(event.discount_pct), event.currency, event.cause, event.reason, event.note, event.target_event_id,
            event.restatement, event.attributes, event.details,
        )
    )


def decode(blob: bytes, sequence: int = 0) -> Event:
    """The inverse of :func:`encode`."""
    (event_id, kind, customer_id, day, subscription_id, plan, quantity, unit_price, amount, billing_months,
     discount_pct, currency, cause, reason, note, target_event_id, restatement, attributes, details) = marshal.loads(blob)
    return Event(
        event_id, kind, customer_id, date.fromordinal(day), subscription_id, plan, quantity, _decimal(unit_price),
        _decimal(amount), billing_months, _decimal(discount_pct), currency, cause, reason, note, target_event_id,
        restatement, attributes, details, sequence,
    )


class Drafts:
    """A batch's drafts in memory: the few events of `record` or `amend`."""

    def __init__(self, drafts: Iterable[Draft] = ()):
        self._drafts = list(drafts)
        self._skipped: set[int] = set()
        self._fragments: dict[int, str] = {}
        self._sequences: dict[int, int] = {}

    def add(self, draft: Draft) -> None:
        self._drafts.append(draft)

    def replace(self, draft: Draft) -> None:
        self._drafts = [draft if d.position == draft.position else d for d in self._drafts]

    def skip(self, position: int) -> None:
        if any(d.position == position for d in self._drafts):
            self._skipped.add(position)

    def finish(self) -> None:
        pass

    def find(self, event_id: str) -> Draft | None:
        """The first draft with this id (staged before the one asking)."""
        return next((d for d in self._drafts if d.event.event_id == event_id), None)

    def find_position(self, position: int) -> Draft | None:
        return next((d for d in self._drafts if d.position == position), None)

    def skipped(self) -> int:
        """How many drafts were skipped as already recorded (or repeated in the batch)."""
        return len(self._skipped)

    def duplicates(self) -> Iterator[tuple[Draft, Draft]]:
        """(first, later) pairs of drafts sharing an event_id."""
        first: dict[str, Draft] = {}
        for draft in self._drafts:
            earlier = first.setdefault(draft.event.event_id, draft)
            if earlier is not draft:
                yield earlier, draft

    def ids(self, chunk: int = 500) -> Iterator[list[str]]:
        """The event ids of the drafts not skipped, in chunks."""
        kept = [d.event.event_id for d in self._drafts if d.position not in self._skipped]
        for start in range(0, len(kept), chunk):
            yield kept[start : start + chunk]

    def skip_ids(self, event_ids: set[str]) -> None:
        for d in self._drafts:
            if d.event.event_id in event_ids:
                self._skipped.add(d.position)

    def number(self, head_sequence: int) -> int:
        """Give the drafts not skipped their sequences, in batch order, after the head; return how many there are."""
        kept = [d for d in self._drafts if d.position not in self._skipped]
        self._sequences = {d.position: head_sequence + i for i, d in enumerate(kept, start=1)}
        return len(kept)

    def by_customer(self) -> Iterator[tuple[str, list[Draft]]]:
        """Each customer's drafts (skipped ones left out), in batch order, numbered: one customer at a time."""
        groups: dict[str, list[Draft]] = {}
        for d in self._drafts:
            if d.position not in self._skipped:
                event = d.event._replace(sequence=self._sequences.get(d.position, 0))
                groups.setdefault(d.event.customer_id, []).append(Draft(d.position, d.source, d.line, event))
        yield from sorted(groups.items())

    def keep_fragments(self, position: int, fragments: str) -> None:
        self._fragments[position] = fragments

    def sealable(self) -> Iterator[Sealable]:
        """The placed drafts in log order, with their record fragments."""
        for d in self._drafts:
            if d.position in self._skipped:
                continue
            e = d.event
            yield Sealable(d.position, self._sequences[d.position], d.source, self._fragments[d.position], e.event_id,
                           e.customer_id, e.type, e.effective_date.isoformat())

    def in_order(self, chunk: int = FLUSH_EVERY) -> Iterator[list[Draft]]:
        kept = [d for d in self._drafts if d.position not in self._skipped]
        for start in range(0, len(kept), chunk):
            yield kept[start : start + chunk]

    def count(self) -> int:
        return len(self._drafts) - len(self._skipped)

    def close(self) -> None:
        pass

    def __enter__(self) -> Drafts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StagedDrafts(Drafts):
    """A file's drafts in a temporary SQLite file: memory stays flat however long the file."""

    def __init__(self, directory: str | None = None):
        super().__init__()
        handle, self.path = tempfile.mkstemp(prefix="revledger-staging-", suffix=".db", dir=directory)
        os.close(handle)
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA cache_size=-65536")
        self.conn.execute(
            "CREATE TABLE drafts (position INTEGER PRIMARY KEY, customer_id TEXT, event_id TEXT, "
            "source TEXT, line INTEGER, event BLOB, skipped INTEGER DEFAULT 0, sequence INTEGER)"
        )
        # Indexed from the start: a void finds its target among the rows staged before it.
        self.conn.execute("CREATE INDEX drafts_event_id ON drafts (event_id)")
        self.conn.execute("CREATE TABLE placed (position INTEGER PRIMARY KEY, fragments TEXT)")
        self._buffer: list[tuple] = []
        self._placed: list[tuple] = []
        self.conn.execute("BEGIN")

    def add(self, draft: Draft) -> None:
        e = draft.event
        self._buffer.append((draft.position, e.customer_id, e.event_id, draft.source, draft.line, encode(e)))
        if len(self._buffer) >= FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self.conn.executemany(
                "INSERT INTO drafts (position, customer_id, event_id, source, line, event) VALUES (?, ?, ?, ?, ?, ?)",
                self._buffer,
            )
            self._buffer.clear()
        if self._placed:
            self.conn.executemany("INSERT INTO placed (position, fragments) VALUES (?, ?)", self._placed)
            self._placed.clear()

    def replace(self, draft: Draft) -> None:
        self._flush()
        e = draft.event
        self.conn.execute(
            "UPDATE drafts SET customer_id = ?, event_id = ?, source = ?, line = ?, event = ? WHERE position = ?",
            (e.customer_id, e.event_id, draft.source, draft.line, encode(e), draft.position),
        )

    def skip(self, position: int) -> None:
        self._flush()
        self.conn.execute("UPDATE drafts SET skipped = 1 WHERE position = ?", (position,))

    def finish(self) -> None:
        self._flush()

    @staticmethod
    def _draft(row: tuple) -> Draft:
        position, source, line, blob, sequence = row
        return Draft(position, source, line, decode(blob, sequence or 0))

    def find(self, event_id: str) -> Draft | None:
        self._flush()
        row = self.conn.execute(
            "SELECT position, source, line, event, sequence FROM drafts WHERE event_id = ? ORDER BY position LIMIT 1",
            (event_id,),
        ).fetchone()
        return self._draft(row) if row else None

    def find_position(self, position: int) -> Draft | None:
        row = self.conn.execute(
            "SELECT position, source, line, event, sequence FROM drafts WHERE position = ?", (position,)
        ).fetchone()
        return self._draft(row) if row else None

    def duplicates(self) -> Iterator[tuple[Draft, Draft]]:
        ids = [r[0] for r in self.conn.execute("SELECT event_id FROM drafts GROUP BY event_id HAVING count(*) > 1")]
        for event_id in ids:
            rows = self.conn.execute(
                "SELECT position, source, line, event, sequence FROM drafts WHERE event_id = ? ORDER BY position",
                (event_id,),
            ).fetchall()
            first = self._draft(rows[0])
            for row in rows[1:]:
                yield first, self._draft(row)

    def ids(self, chunk: int = 500) -> Iterator[list[str]]:
        cursor = self.conn.execute("SELECT event_id FROM drafts WHERE skipped = 0 ORDER BY position")
        while rows := cursor.fetchmany(chunk):
            yield [r[0] for r in rows]

    def skip_ids(self, event_ids: set[str]) -> None:
        self._flush()
        self.conn.executemany("UPDATE drafts SET skipped = 1 WHERE event_id = ?", [(i,) for i in event_ids])

    def number(self, head_sequence: int) -> int:
        self._flush()
        self.conn.execute(
            "UPDATE drafts SET sequence = ? + numbered.n FROM (SELECT position, row_number() OVER (ORDER BY position) AS n "
            "FROM drafts WHERE skipped = 0) AS numbered WHERE drafts.position = numbered.position",
            (head_sequence,),
        )
        self.conn.execute("CREATE INDEX IF NOT EXISTS drafts_customer ON drafts (customer_id, position) WHERE skipped = 0")
        return self.count()

    def by_customer(self) -> Iterator[tuple[str, list[Draft]]]:
        cursor = self.conn.cursor().execute(
            "SELECT customer_id, position, source, line, event, sequence FROM drafts WHERE skipped = 0 "
            "ORDER BY customer_id, position"
        )
        customer, group = None, []
        for row in cursor:
            if row[0] != customer:
                if group:
                    yield customer, group  # type: ignore[misc]
                customer, group = row[0], []
            group.append(self._draft(row[1:]))
        if group:
            yield customer, group  # type: ignore[misc]

    def keep_fragments(self, position: int, fragments: str) -> None:
        self._placed.append((position, fragments))
        if len(self._placed) >= FLUSH_EVERY:
            self._flush()

    def sealable(self) -> Iterator[Sealable]:
        self._flush()
        cursor = self.conn.execute(
            "SELECT d.position, d.sequence, d.source, p.fragments, d.event FROM drafts d JOIN placed p USING (position) "
            "WHERE d.skipped = 0 ORDER BY d.position"
        )
        while rows := cursor.fetchmany(FLUSH_EVERY):
            for position, sequence, source, fragments, blob in rows:
                fields = marshal.loads(blob)
                yield Sealable(position, sequence, source, fragments, fields[0], fields[2], fields[1],
                               date.fromordinal(fields[3]).isoformat())

    def in_order(self, chunk: int = FLUSH_EVERY) -> Iterator[list[Draft]]:
        self._flush()
        cursor = self.conn.execute(
            "SELECT position, source, line, event, sequence FROM drafts WHERE skipped = 0 ORDER BY position"
        )
        while rows := cursor.fetchmany(chunk):
            yield [self._draft(r) for r in rows]

    def count(self) -> int:
        self._flush()
        return self.conn.execute("SELECT count(*) FROM drafts WHERE skipped = 0").fetchone()[0]

    def skipped(self) -> int:
        self._flush()
        return self.conn.execute("SELECT count(*) FROM drafts WHERE skipped = 1").fetchone()[0]

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            if os.path.exists(self.path):
                os.remove(self.path)
