"""Rows versioned on the log axis: each row is known from the append that made it until the one that changed it.

A row is visible at knowledge sequence k when ``known_from <= k < known_to``
(``known_to`` is CURRENT while the row is still in force). Knowledge points are
always the ends of appends (SPEC §2), so a row's bounds are append ends: an
append writes a customer's rows once, after all of its events, and changes
only the rows whose values differ. The same rows come out however the log is
read (in the writer's process, by a catch-up in pages, by a rebuild), which is
what lets ``verify`` compare them, and ``--known-at`` reproduce any answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from projections.derive import CONTRIBUTION_COLUMNS, CustomerRows

CURRENT = 2**63 - 1  # known_to of a row still in force

# Each versioned table: its key columns and value columns (after customer_id), in stored order.
TABLES = {
    "movements": (("grain", "date"), ("category", "cause", "from_cents", "to_cents", "amount_cents", "event_ids", "parts")),
    "attributes": (("name", "event_sequence"), ("value", "effective_date")),
    "contributions": (("month",), CONTRIBUTION_COLUMNS),
}
_FIELD = {"movements": "movements", "attributes": "attributes", "contributions": "contributions"}


def _insert_sql(table: str) -> str:
    keys, values = TABLES[table]
    names = ("customer_id", *keys, *values, "known_from", "known_to")
    columns, marks = ", ".join(names), ", ".join("?" * len(names))
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})"


def _select_current_sql(table: str) -> str:
    keys, values = TABLES[table]
    columns = ", ".join((*keys, *values))
    return f"SELECT rowid, {columns} FROM {table} WHERE customer_id = ? AND known_to = {CURRENT}"


INSERT = {table: _insert_sql(table) for table in TABLES}
SELECT_CURRENT = {table: _select_current_sql(table) for table in TABLES}
SUPERSEDE = {table: f"UPDATE {table} SET known_to = ? WHERE rowid = ?" for table in TABLES}
FLUSH_EVERY = 2_000  # customers buffered before one executemany per table: ~100,000 rows, ~25 MB


class Writer:
    """Buffers the row changes of an append and writes them with one executemany per table and kind."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.inserts: dict[str, list[tuple]] = {table: [] for table in TABLES}
        self.supersedes: dict[str, list[tuple]] = {table: [] for table in TABLES}
        self.superseded_contributions: list[int] = []  # rowids, for the month summaries
        self.pending = 0

    def current(self, customer_id: str) -> tuple[CustomerRows, dict[str, dict[tuple, int]]]:
        """The customer's rows in force, and the rowid of each (to supersede it)."""
        self.flush()
        rows = CustomerRows()
        ids: dict[str, dict[tuple, int]] = {}
        for table, (keys, _) in TABLES.items():
            found = getattr(rows, _FIELD[table])
            ids[table] = {}
            for rowid, *cells in self.conn.execute(SELECT_CURRENT[table], (customer_id,)):
                key = tuple(cells[: len(keys)])
                key = key[0] if table == "contributions" else key
                found[key] = tuple(cells[len(keys):])
                ids[table][key] = rowid
        return rows, ids

    def replace(self, customer_id: str, old: CustomerRows | None, ids, new: CustomerRows, at: int) -> None:
        """Make ``new`` the customer's rows from append end ``at`` on: supersede what changed, insert what is new."""
        for table in TABLES:
            before = getattr(old, _FIELD[table]) if old is not None else {}
            after = getattr(new, _FIELD[table])
            for key, values in after.items():
                if before.get(key) == values:
                    continue
                if key in before:
                    self.supersedes[table].append((at, ids[table][key]))
                self.inserts[table].append((customer_id, *(key if isinstance(key, tuple) else (key,)), *values, at, CURRENT))
            for key in before:
                if key not in after:
                    self.supersedes[table].append((at, ids[table][key]))
        self.pending += 1
        if self.pending >= FLUSH_EVERY:
            self.flush()

    def versions(self, customer_id: str, history: Iterable[tuple[int, CustomerRows]]) -> None:
        """Write a customer's whole versioned history at once: (append end, rows as of it) in log order.

        A rebuild knows every version in advance, so each row is inserted once, with both bounds.
        """
        for table in TABLES:
            open_rows: dict[object, tuple[tuple, int]] = {}
            out = self.inserts[table]
            for at, rows in history:
                after = getattr(rows, _FIELD[table])
                for key in list(open_rows):
                    values, since = open_rows[key]
                    if after.get(key) != values:
                        out.append((customer_id, *(key if isinstance(key, tuple) else (key,)), *values, since, at))
                        del open_rows[key]
                for key, values in after.items():
                    if key not in open_rows:
                        open_rows[key] = (values, at)
            for key, (values, since) in open_rows.items():
                out.append((customer_id, *(key if isinstance(key, tuple) else (key,)), *values, since, CURRENT))
        self.pending += 1
        if self.pending >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        self.superseded_contributions.extend(rowid for _, rowid in self.supersedes["contributions"])
        for table in TABLES:
            if self.supersedes[table]:
                self.conn.executemany(SUPERSEDE[table], self.supersedes[table])
                self.supersedes[table].clear()
            if self.inserts[table]:
                self.conn.executemany(INSERT[table], self.inserts[table])
                self.inserts[table].clear()
        self.pending = 0
