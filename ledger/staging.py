"""Where a file's rows wait, on disk, while they are checked and appended.

An import validates every row before appending any, but a log of millions
must never be held in memory whole: rows are staged in a temporary SQLite
file, checked one customer at a time, then streamed into the log in order.
`record` and `amend` stage their one or two events in memory, behind the same
interface.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ledger.events import Event, canonical, event_from_record

FLUSH_EVERY = 10_000


@dataclass(frozen=True, slots=True)
class Draft:
    """A validated row waiting for its place in the log.

    Attributes:
      position: its place among the batch's rows (file order is recording order).
      source: ``FILE:LINE`` or ``cli``.
      line: the line it came from (0 for the command line).
      event: the event as given (no sequence, time or hash yet).
    """

    position: int
    source: str
    line: int
    event: Event


class Drafts:
    """A batch's drafts in memory: the few events of `record` or `amend`."""

    def __init__(self, drafts: Iterable[Draft] = ()):
        self._drafts = list(drafts)
        self._skipped: set[int] = set()

    def add(self, draft: Draft) -> None:
        self._drafts.append(draft)

    def replace(self, draft: Draft) -> None:
        self._drafts = [draft if d.position == draft.position else d for d in self._drafts]

    def skip(self, position: int) -> None:
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

    def by_customer(self) -> Iterator[tuple[str, list[Draft]]]:
        """Each customer's drafts (skipped ones left out), in batch order: one customer in memory at a time."""
        groups: dict[str, list[Draft]] = {}
        for d in self._drafts:
            if d.position not in self._skipped:
                groups.setdefault(d.event.customer_id, []).append(d)
        yield from sorted(groups.items())

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
        self.conn.execute(
            "CREATE TABLE drafts (position INTEGER PRIMARY KEY, customer_id TEXT, event_id TEXT, "
            "source TEXT, line INTEGER, record TEXT, skipped INTEGER DEFAULT 0)"
        )
        self.conn.execute("CREATE INDEX drafts_event_id ON drafts (event_id)")
        self._buffer: list[tuple] = []
        self.conn.execute("BEGIN")

    def add(self, draft: Draft) -> None:
        e = draft.event
        self._buffer.append((draft.position, e.customer_id, e.event_id, draft.source, draft.line, canonical(e.record())))
        if len(self._buffer) >= FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self.conn.executemany("INSERT INTO drafts (position, customer_id, event_id, source, line, record) VALUES (?, ?, ?, ?, ?, ?)", self._buffer)
            self._buffer.clear()

    def replace(self, draft: Draft) -> None:
        self._flush()
        e = draft.event
        self.conn.execute(
            "UPDATE drafts SET customer_id = ?, event_id = ?, record = ? WHERE position = ?",
            (e.customer_id, e.event_id, canonical(e.record()), draft.position),
        )

    def skip(self, position: int) -> None:
        self._flush()
        self.conn.execute("UPDATE drafts SET skipped = 1 WHERE position = ?", (position,))

    def finish(self) -> None:
        self._flush()
        self.conn.execute("CREATE INDEX drafts_customer ON drafts (customer_id, position)")

    @staticmethod
    def _draft(row: tuple) -> Draft:
        position, source, line, record = row
        return Draft(position, source, line, event_from_record(json.loads(record)))

    def find(self, event_id: str) -> Draft | None:
        self._flush()
        row = self.conn.execute(
            "SELECT position, source, line, record FROM drafts WHERE event_id = ? ORDER BY position LIMIT 1", (event_id,)
        ).fetchone()
        return self._draft(row) if row else None

    def duplicates(self) -> Iterator[tuple[Draft, Draft]]:
        ids = [r[0] for r in self.conn.execute("SELECT event_id FROM drafts GROUP BY event_id HAVING count(*) > 1")]
        for event_id in ids:
            rows = self.conn.execute(
                "SELECT position, source, line, record FROM drafts WHERE event_id = ? ORDER BY position", (event_id,)
            ).fetchall()
            first = self._draft(rows[0])
            for row in rows[1:]:
                yield first, self._draft(row)

    def by_customer(self) -> Iterator[tuple[str, list[Draft]]]:
        cursor = self.conn.cursor().execute(
            "SELECT customer_id, position, source, line, record FROM drafts WHERE skipped = 0 ORDER BY customer_id, position"
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

    def in_order(self, chunk: int = FLUSH_EVERY) -> Iterator[list[Draft]]:
        cursor = self.conn.execute("SELECT position, source, line, record FROM drafts WHERE skipped = 0 ORDER BY position")
        while rows := cursor.fetchmany(chunk):
            yield [self._draft(r) for r in rows]

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM drafts WHERE skipped = 0").fetchone()[0]

    def skipped(self) -> int:
        return self.conn.execute("SELECT count(*) FROM drafts WHERE skipped = 1").fetchone()[0]

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            if os.path.exists(self.path):
                os.remove(self.path)
