"""The documented views of SPEC §16, as known at a knowledge sequence: the one place that knows the read models' layout.

``open(rm, known)`` opens the read models read-only and defines TEMP views
named after the SPEC's (``events``, ``movements``, ``customer_mrr``,
``attributes``, ``closes``, plus ``lines`` and ``knowledge``) over the
versioned tables of ``projections.readmodel``: a row of a versioned table is
visible at knowledge sequence k when ``known_from <= k < known_to``, an event
when its sequence is at most k. The sequence sits in the one-row TEMP table
``knowledge`` (bound as a parameter, never formatted into SQL), so the view
text is constant and every view answers "as known at T".

Money is integer cents, dates ISO text, a ``valid_to`` the first day no longer
valid (NULL while open). When the read models' tables change, only this
module changes: ``VIEWS`` is the contract, tested and documented in
docs/query.md.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from ledger import events as ev
from ledger.customer import Timeline, fold
from ledger.events import event_from_record
from ledger.money import to_cents
from ledger.policy import Policy
from ledger.sqlite import read_only_uri
from projections.queries import Knowledge
from projections.recognition import recognized_ends
from projections.readmodel import ReadModel


@dataclass(frozen=True, slots=True)
class ViewColumn:
    """A column of a documented view: its name and SQLite type (INTEGER for cents, counts and sequences; TEXT otherwise)."""

    name: str
    type: str


def _columns(spec: str) -> tuple[ViewColumn, ...]:
    return tuple(ViewColumn(*item.split(":")) for item in spec.split())


VIEWS: dict[str, tuple[ViewColumn, ...]] = {
    "events": _columns(
        "sequence:INTEGER event_id:TEXT type:TEXT customer_id:TEXT effective_date:TEXT recorded_at:TEXT "
        "actor:TEXT source:TEXT hash:TEXT record:TEXT"
    ),
    "movements": _columns(
        "customer_id:TEXT date:TEXT category:TEXT cause:TEXT from_cents:INTEGER to_cents:INTEGER "
        "amount_cents:INTEGER event_ids:TEXT segment:TEXT channel:TEXT region:TEXT"
    ),
    "customer_mrr": _columns("customer_id:TEXT valid_from:TEXT valid_to:TEXT mrr_cents:INTEGER"),
    "attributes": _columns("customer_id:TEXT name:TEXT value:TEXT valid_from:TEXT valid_to:TEXT"),
    "closes": _columns(
        "period:TEXT start:TEXT end:TEXT locked:INTEGER sequence:INTEGER recorded_at:TEXT actor:TEXT"
    ),
    "lines": _columns(
        "customer_id:TEXT subscription_id:TEXT plan:TEXT quantity:INTEGER billing_months:INTEGER "
        "valid_from:TEXT valid_to:TEXT mrr_cents:INTEGER"
    ),
    "knowledge": _columns("sequence:INTEGER known_at:TEXT policy:TEXT"),
}
"""Every view and its columns, in order: the contract of SPEC §16 (and docs/query.md)."""

_KNOWLEDGE = "CREATE TEMP TABLE knowledge (sequence INTEGER NOT NULL, known_at TEXT, policy TEXT NOT NULL)"

# `lines` needs each customer's terms folded (the read models keep no line history), so it is
# a TEMP table, filled by Python only for a query that names it (see ``fill_lines``).
_LINES = (
    "CREATE TEMP TABLE lines (customer_id TEXT NOT NULL, subscription_id TEXT NOT NULL, plan TEXT, "
    "quantity INTEGER, billing_months INTEGER NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT, "
    "mrr_cents INTEGER NOT NULL)"
)

# The read models' tables are named main.* explicitly: the TEMP views of the same names shadow them.
_DEFINITIONS = {
    "events": """
CREATE TEMP VIEW events AS
SELECT e.sequence AS sequence, e.event_id AS event_id, e.type AS type,
       NULLIF(e.customer_id, '') AS customer_id, e.effective_date AS effective_date,
       e.recorded_at AS recorded_at, json_extract(e.record, '$.actor') AS actor,
       json_extract(e.record, '$.source') AS source, json_extract(e.record, '$.hash') AS hash,
       e.record AS record
FROM main.events AS e, temp.knowledge AS k
WHERE e.sequence <= k.sequence
""",
    # The customer's attributes as of the movement's date: the latest effective setting, then the latest recorded.
    "movements": """
CREATE TEMP VIEW movements AS
SELECT m.customer_id AS customer_id, m.date AS date, m.category AS category, m.cause AS cause,
       m.from_cents AS from_cents, m.to_cents AS to_cents, m.amount_cents AS amount_cents,
       m.event_ids AS event_ids,
       (SELECT a.value FROM main.attributes AS a
         WHERE a.customer_id = m.customer_id AND a.name = 'segment' AND a.effective_date <= m.date
           AND a.known_from <= k.sequence AND a.known_to > k.sequence
         ORDER BY a.effective_date DESC, a.event_sequence DESC LIMIT 1) AS segment,
       (SELECT a.value FROM main.attributes AS a
         WHERE a.customer_id = m.customer_id AND a.name = 'channel' AND a.effective_date <= m.date
           AND a.known_from <= k.sequence AND a.known_to > k.sequence
         ORDER BY a.effective_date DESC, a.event_sequence DESC LIMIT 1) AS channel,
       (SELECT a.value FROM main.attributes AS a
         WHERE a.customer_id = m.customer_id AND a.name = 'region' AND a.effective_date <= m.date
           AND a.known_from <= k.sequence AND a.known_to > k.sequence
         ORDER BY a.effective_date DESC, a.event_sequence DESC LIMIT 1) AS region
FROM main.movements AS m, temp.knowledge AS k
WHERE m.known_from <= k.sequence AND m.known_to > k.sequence
  AND m.grain = (CASE json_extract(k.policy, '$.movement_grain') WHEN 'month' THEN 1 ELSE 0 END)
""",
    # A movement is exactly a change of end-of-day MRR, so each one starts a run that the next one ends;
    # the run before a customer's first movement (from its first event in effect) is a zero run.
    "customer_mrr": """
CREATE TEMP VIEW customer_mrr AS
WITH k AS (SELECT sequence FROM temp.knowledge),
voided AS (
  SELECT json_extract(e.record, '$.target_event_id') AS event_id
  FROM main.events AS e, k WHERE e.type = 'void' AND e.sequence <= k.sequence
),
first_event AS (
  SELECT e.customer_id AS customer_id, min(e.effective_date) AS day
  FROM main.events AS e, k
  WHERE e.sequence <= k.sequence AND e.type NOT IN ('void', 'period_closed', 'policy_changed')
    AND e.event_id NOT IN (SELECT event_id FROM voided WHERE event_id IS NOT NULL)
  GROUP BY e.customer_id
),
moves AS (  -- the day movements: the MRR as recognized under the policy, whatever the grain
  SELECT m.customer_id AS customer_id, m.date AS date, m.to_cents AS to_cents
  FROM main.movements AS m, k WHERE m.grain = 0 AND m.known_from <= k.sequence AND m.known_to > k.sequence
),
runs AS (
  SELECT f.customer_id AS customer_id, f.day AS valid_from,
         (SELECT min(moves.date) FROM moves WHERE moves.customer_id = f.customer_id) AS valid_to,
         0 AS mrr_cents
  FROM first_event AS f
  UNION ALL
  SELECT customer_id, date, lead(date) OVER (PARTITION BY customer_id ORDER BY date), to_cents FROM moves
)
SELECT customer_id, valid_from, valid_to, mrr_cents FROM runs
WHERE valid_to IS NULL OR valid_from < valid_to
""",
    # Per customer and name: the value in force from each effective date (the latest recorded that day),
    # runs of the same value joined, each valid until the next different one.
    "attributes": """
CREATE TEMP VIEW attributes AS
WITH settings AS (
  SELECT a.customer_id AS customer_id, a.name AS name, a.value AS value, a.effective_date AS day,
         row_number() OVER (PARTITION BY a.customer_id, a.name, a.effective_date
                            ORDER BY a.event_sequence DESC) AS latest
  FROM main.attributes AS a, temp.knowledge AS k
  WHERE a.known_from <= k.sequence AND a.known_to > k.sequence
),
daily AS (
  SELECT customer_id, name, value, day,
         lag(value) OVER (PARTITION BY customer_id, name ORDER BY day) AS previous
  FROM settings WHERE latest = 1
),
changes AS (SELECT customer_id, name, value, day FROM daily WHERE previous IS NULL OR previous <> value)
SELECT customer_id, name, value, day AS valid_from,
       lead(day) OVER (PARTITION BY customer_id, name ORDER BY day) AS valid_to
FROM changes
""",
    "closes": """
CREATE TEMP VIEW closes AS
SELECT json_extract(json_extract(e.record, '$.details'), '$.period') AS period,
       json_extract(json_extract(e.record, '$.details'), '$.start') AS start,
       json_extract(json_extract(e.record, '$.details'), '$.end') AS "end",
       json_extract(json_extract(e.record, '$.details'), '$.lock') AS locked,
       e.sequence AS sequence, e.recorded_at AS recorded_at, json_extract(e.record, '$.actor') AS actor
FROM main.events AS e, temp.knowledge AS k
WHERE e.type = 'period_closed' AND e.sequence <= k.sequence
""",
}


def open(rm: ReadModel, known: Knowledge, *, lines: bool = False) -> sqlite3.Connection:  # noqa: A001
    """A read-only connection to ``rm``'s file on which the views of ``VIEWS`` answer as known at ``known``.

    The views are TEMP objects of this connection only, on a file opened
    read-only, and the connection is left ``query_only``: nothing done through
    it can change a file. ``lines`` is filled only when asked for (it folds
    every customer's events again); otherwise it is empty.
    """
    conn = sqlite3.connect(read_only_uri(rm.path), uri=True, isolation_level=None)
    try:
        conn.execute(_KNOWLEDGE)
        conn.execute(
            "INSERT INTO temp.knowledge (sequence, known_at, policy) VALUES (?, ?, ?)",
            (known.sequence, known.recorded_at, known.policy.text()),
        )
        conn.execute(_LINES)
        for definition in _DEFINITIONS.values():
            conn.execute(definition)
        if lines:
            _fill_lines(conn, rm, known.policy)
        conn.execute("PRAGMA query_only = ON")  # beside mode=ro: the TEMP objects cannot change either
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _fill_lines(conn: sqlite3.Connection, rm: ReadModel, policy: Policy) -> None:
    """Each subscription line's runs of the same plan, seats, billing months and MRR, as known, after the policy.

    The read models keep no line history, so each customer's events in effect
    at the knowledge sequence are folded again (``ledger.customer``, the fold
    every projection shares), day by day; a line is listed while open, from
    its start to its cancel as the policy recognizes it (SPEC §13: the term end
    under ``term_end``, the day MRR returns after a lapse grace fills); a
    restart is a new run.
    """
    conn.executemany(
        "INSERT INTO temp.lines (customer_id, subscription_id, plan, quantity, billing_months, valid_from, "
        "valid_to, mrr_cents) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        _line_runs(conn, rm, policy),
    )


def _customer_events(conn: sqlite3.Connection) -> Iterator[tuple[str, list]]:
    rows = conn.execute(
        "SELECT e.customer_id, e.record FROM main.events AS e, temp.knowledge AS k "
        "WHERE e.sequence <= k.sequence AND e.type NOT IN (?, ?) ORDER BY e.customer_id, e.sequence",
        ev.LEDGER_TYPES,
    )
    customer, events = None, []
    for customer_id, record in rows:
        if customer_id != customer and events:
            yield customer, events
            events = []
        customer = customer_id
        events.append(event_from_record(json.loads(record)))
    if events:
        yield customer, events


def _line_runs(conn: sqlite3.Connection, rm: ReadModel, policy: Policy) -> Iterator[tuple]:
    for customer_id, events in _customer_events(conn):
        timeline = fold(customer_id, events, rm.settings)
        moved = {(line, contract.isoformat()): recognized.isoformat()
                 for contract, line, recognized in recognized_ends(timeline, policy)}
        replay = Timeline(customer_id, rm.settings)
        open_runs: dict[str, tuple] = {}  # subscription_id -> (terms, valid_from)
        in_effect = timeline.events  # in (effective_date, sequence) order, voided ones removed
        for i, event in enumerate(in_effect):
            replay.add(event, check_claim=False)
            if i + 1 < len(in_effect) and in_effect[i + 1].effective_date == event.effective_date:
                continue  # the end of the day counts (SPEC §4)
            day = event.effective_date.isoformat()
            for sid, line in replay.lines.items():
                terms = (line.plan, line.quantity, line.billing_months, to_cents(line.mrr)) if line.open else None
                running = open_runs.get(sid)
                if running is not None and running[0] == terms:
                    continue
                if running is not None:
                    ends = moved.get((sid, day), day) if terms is None else day
                    yield (customer_id, sid, *running[0][:3], running[1], ends, running[0][3])
                    del open_runs[sid]
                if terms is not None:
                    open_runs[sid] = (terms, day)
        for sid, (terms, valid_from) in sorted(open_runs.items()):
            yield (customer_id, sid, *terms[:3], valid_from, None, terms[3])


def snapshot(conn: sqlite3.Connection, path: str) -> dict[str, int]:
    """Copy every view of ``conn`` into plain tables of a new SQLite file at ``path``; return the rows per view.

    The file holds the views as known at the connection's knowledge sequence,
    with the same names, columns and types, so Datasette, DuckDB's SQLite
    scanner or pandas read them without revledger.
    """
    counts: dict[str, int] = {}
    target = sqlite3.connect(path, isolation_level=None)
    try:
        target.execute("BEGIN")
        for table, view_columns in VIEWS.items():  # constant names: the contract above
            columns = ", ".join(f'"{c.name}" {c.type}' for c in view_columns)
            target.execute(f'CREATE TABLE "{table}" ({columns})')
            columns = ", ".join(f'"{c.name}"' for c in view_columns)
            cursor = conn.execute(f'SELECT {columns} FROM temp."{table}"')
            marks = ", ".join("?" * len(view_columns))
            counts[table] = 0
            while chunk := cursor.fetchmany(10_000):
                target.executemany(f'INSERT INTO "{table}" VALUES ({marks})', chunk)
                counts[table] += len(chunk)
        target.execute("COMMIT")
    finally:
        target.close()
    return counts

