"""Month summaries: each calendar month's figures per group, versioned on the log axis like every row.

A month's figures (SPEC §6, for that month as one period) are sums of the
customers' contributions (``projections.derive``). An append changes some
contributions; the summaries it changes are updated by the difference — the
contributions it inserted minus those it superseded — summed inside SQLite,
and written as new versions (known from the append's last sequence). So
`metrics` by month, `cohorts` and `mrr` read a few hundred rows instead of
every movement, as known at any time.

Dimensions: ``""`` (all customers), ``segment``, ``channel``, ``region`` (the
attribute as of the month's last day) and ``cohort`` (the month of the
customer's first new movement). A customer whose group changes while it has
MRR moves its opening MRR from one group to the other (``transfer_*``), so
each group's opening is the previous month's closing plus what moved in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ledger.customer import CAUSES
from projections.derive import GROUPED
from projections.movements import CATEGORIES
from projections.versioning import CURRENT

DIMENSIONS = ("", *GROUPED, "cohort")
# The sums a month and group keeps, each an SQL expression over a contribution row.
SUMS = {
    "net_cents": "closing_cents - opening_cents",
    **{f"{c}_cents": f"{c}_cents" for c in CATEGORIES},
    **{f"expansion_{c}_cents": f"expansion_{c}_cents" for c in CAUSES},
    **{f"contraction_{c}_cents": f"contraction_{c}_cents" for c in CAUSES},
    "kept_expansion_cents": "CASE WHEN opening_cents > 0 AND closing_cents > opening_cents THEN closing_cents - opening_cents ELSE 0 END",
    "kept_contraction_cents": "CASE WHEN opening_cents > 0 AND closing_cents > 0 AND closing_cents < opening_cents "
                              "THEN opening_cents - closing_cents ELSE 0 END",
    "kept_churn_cents": "CASE WHEN opening_cents > 0 AND closing_cents = 0 THEN opening_cents ELSE 0 END",
    "lost": "opening_cents > 0 AND closing_cents = 0",
    "activated": "opening_cents = 0 AND closing_cents > 0",
    "had_new": "had_new",
    "had_reactivation": "had_reactivation",
    "had_churn": "had_churn",
    "moved": "moved",
}
TRANSFERS = ("transfer_in_cents", "transfer_in", "transfer_out_cents", "transfer_out")
FIELDS = (*SUMS, *TRANSFERS)
_ZERO = (0,) * len(FIELDS)


def schema(db) -> None:
    """The summaries table (sqlite-utils, as every read-model table)."""
    db["summaries"].create(
        {"id": int, "month": str, "dimension": str, "value": str, **{f: int for f in FIELDS},
         "known_from": int, "known_to": int},
        pk="id", if_not_exists=True,
    )


INDEXES = (("summaries_keys", "summaries", "INDEX {name} ON summaries (dimension, month, known_from, known_to)"),)
_SIGNED = ", ".join(f"SUM(sign * ({expression}))" for expression in SUMS.values())
# The changed contributions with their sign: +1 inserted by the append, -1 superseded by it.
_CHANGED = (
    "SELECT 1 AS sign, * FROM contributions WHERE known_from = :at "
    "UNION ALL SELECT -1 AS sign, * FROM contributions WHERE id IN (SELECT id FROM temp.superseded)"
)
_DELTAS = "SELECT month, segment, channel, region, cohort, " + _SIGNED + " FROM (" + _CHANGED + ") GROUP BY 1, 2, 3, 4, 5"
_MOVES = (
    "SELECT month, sign, opening_cents, segment, segment_before, channel, channel_before, region, region_before "
    "FROM (" + _CHANGED + ") WHERE opening_cents > 0 AND (segment IS NOT segment_before "
    "OR channel IS NOT channel_before OR region IS NOT region_before)"
)


def _insert_sql() -> str:
    columns, marks = ", ".join(FIELDS), ", ".join("?" * len(FIELDS))
    return f"INSERT INTO summaries (month, dimension, value, {columns}, known_from, known_to) VALUES (?, ?, ?, {marks}, ?, {CURRENT})"


_INSERT = _insert_sql()


def update(conn: sqlite3.Connection, at: int, superseded: Iterable[int]) -> None:
    """Add what the append ending at ``at`` changed (its contributions, and the rowids it superseded) to the summaries."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS superseded (id INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM temp.superseded")
    conn.executemany("INSERT OR IGNORE INTO temp.superseded (id) VALUES (?)", ((i,) for i in superseded))
    deltas: dict[tuple[str, str, str], list[int]] = {}
    width = len(SUMS)

    def add(key: tuple[str, str, str], values) -> None:
        total = deltas.get(key)
        if total is None:
            total = deltas[key] = [0] * len(FIELDS)
        for i, v in enumerate(values):
            total[i] += v

    for month, segment, channel, region, cohort, *sums in conn.execute(_DELTAS, {"at": at}):
        for dimension, value in (("", ""), ("segment", segment), ("channel", channel), ("region", region),
                                 ("cohort", cohort)):
            add((month, dimension, value), sums)
    for month, sign, opening, *groups in conn.execute(_MOVES, {"at": at}):
        for i, dimension in enumerate(GROUPED):
            now, before = groups[2 * i], groups[2 * i + 1]
            if now != before:
                add((month, dimension, now), [0] * width + [sign * opening, sign, 0, 0])
                add((month, dimension, before), [0] * width + [0, 0, sign * opening, sign])
    changed = {key: values for key, values in deltas.items() if any(values)}
    if not changed:
        return
    current: dict[tuple[str, str, str], tuple[int, tuple]] = {}
    columns = ", ".join(FIELDS)
    for month in {key[0] for key in changed}:
        for rowid, dimension, value, *values in conn.execute(
            f"SELECT id, dimension, value, {columns} FROM summaries WHERE month = ? AND known_to = {CURRENT}", (month,)
        ):
            current[(month, dimension, value)] = (rowid, tuple(values))
    supersede, insert = [], []
    for key, delta in changed.items():
        rowid, values = current.get(key, (None, _ZERO))
        if rowid is not None:
            supersede.append((at, rowid))
        insert.append((*key, *(v + d for v, d in zip(values, delta)), at))
    conn.executemany("UPDATE summaries SET known_to = ? WHERE id = ?", supersede)
    conn.executemany(_INSERT, insert)


def read(conn: sqlite3.Connection, dimension: str, known: int, last_month: str) -> dict[str, dict[str | None, dict]]:
    """Every month up to ``last_month`` (from the ledger's first): its figures per value of ``dimension``, as known."""
    columns = ", ".join(FIELDS)
    rows = conn.execute(
        f"SELECT month, value, {columns} FROM summaries WHERE dimension = ? AND known_from <= ? AND known_to > ? "
        "AND month <= ? ORDER BY month",
        (dimension, known, known, last_month),
    )
    found: dict[str, dict[str | None, dict]] = {}
    for month, value, *values in rows:
        found.setdefault(month, {})[value if value != "" or dimension == "" else None] = dict(zip(FIELDS, values))
    return found


def closing_before(conn: sqlite3.Connection, dimension: str, month: str, known: int) -> tuple[int, int]:
    """(Σ MRR in cents, active customers) at the end of the month before ``month``, as known: every earlier month's net."""
    if dimension != "":
        raise ValueError("only the whole ledger's closing is a plain sum (groups move MRR between them)")
    net, active = conn.execute(
        "SELECT coalesce(sum(net_cents), 0), coalesce(sum(activated - lost), 0) FROM summaries "
        "WHERE dimension = '' AND month < ? AND known_from <= ? AND known_to > ?",
        (month, known, known),
    ).fetchone()
    return net, active
