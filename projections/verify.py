"""`verify` (SPEC §9): re-read the whole stored log and check everything that can be recomputed from it.

It trusts nothing it did not recompute: it re-reads the stored log, re-chains
it, re-derives the projections from scratch into a temporary file and compares
them, table by table, with the stored ones. The log is read as a stream, so
memory does not grow with it; the comparison runs inside SQLite.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from typing import Any

from ledger import events as ev
from ledger.customer import FoldError
from ledger.errors import StorageError
from ledger.events import Event, canonical, event_from_record
from ledger.integrity import GENESIS, Checkpoint, event_hash
from ledger.settings import LedgerSettings
from ledger.sqlite import read_only_uri
from ledger.store import EventStore, Head
from projections.closes import Close
from projections.derive import CONTRIBUTION_COLUMNS
from projections.summaries import FIELDS as SUMMARY_FIELDS
from projections.metrics import metrics_report
from projections.periods import period_kind
from projections.queries import Knowledge
from projections.readmodel import SCHEMA_VERSION, ReadModel
from projections.versioning import CURRENT


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing `verify` found wrong, at the first sequence it concerns."""

    sequence: int
    check: str
    message: str

    def __str__(self) -> str:
        return f"sequence {self.sequence}: {self.check}: {self.message}"


@dataclass(slots=True)
class Verification:
    """What `verify` checked and found.

    Attributes:
      events: how many events the stored log holds.
      head: the last event's sequence and hash (the chain's, where it holds).
      checked: each check that ran, with what it covered.
      findings: everything that does not hold, first sequence first.
    """

    events: int
    head: Checkpoint
    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad_sequence(self) -> int | None:
        return min((f.sequence for f in self.findings), default=None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head": str(self.head),
            "first_bad_sequence": self.first_bad_sequence,
            "checked": self.checked,
            "findings": [{"sequence": f.sequence, "check": f.check, "message": f.message} for f in sorted_findings(self)],
        }


def sorted_findings(v: Verification) -> list[Finding]:
    return sorted(v.findings, key=lambda f: f.sequence)


@dataclass(slots=True)
class _Chain:
    """What one streaming pass over the stored log found: how far it holds, and the closes in it."""

    stored: int = 0
    intact: int = 0
    whole: int = 0  # the last append wholly inside the intact part
    whole_recorded: str = ""
    head: Checkpoint = Checkpoint(0, GENESIS)
    last_recorded: str = ""
    closes: list[Event] = field(default_factory=list)
    broken: Finding | None = None
    appends: list[Finding] = field(default_factory=list)  # events whose append marker does not hold (SPEC §2)
    open_append: int = 0  # the last sequence of the append under way


def _chain(store: EventStore) -> _Chain:
    """Walk the stored events from the start: each must be the canonical form of an event, in place, chained, later."""
    chain = _Chain()
    previous = GENESIS
    for position, state in store.raw_events():
        chain.stored += 1
        if chain.broken is not None:
            continue
        expected = chain.intact + 1
        try:
            text = bytes(state).decode()
            event = event_from_record(json.loads(text))
        except (ValueError, TypeError, KeyError) as e:  # bad UTF-8 or JSON, or not an event's fields
            chain.broken = Finding(expected, "stored event", f"stored position {position} cannot be read as an event: {e}")
            continue
        if canonical(event.record()) != text:
            chain.broken = Finding(expected, "stored event", f"stored position {position} is not the canonical form of its event")
        elif position != expected or event.sequence != expected:
            chain.broken = Finding(
                expected, "hash chain", f"expected event {expected}, found stored position {position} holding sequence {event.sequence}"
            )
        elif event_hash(previous, event) != event.hash:
            chain.broken = Finding(expected, "hash chain", "hash does not match the event's content and the previous hash")
        elif event.recorded_at <= chain.last_recorded:
            chain.broken = Finding(
                expected, "hash chain", f"recorded_at {event.recorded_at} is not later than the previous event's {chain.last_recorded}"
            )
        if chain.broken is not None:
            continue
        previous, chain.last_recorded = event.hash, event.recorded_at
        chain.intact = expected
        chain.head = Checkpoint(event.sequence, event.hash)
        _check_append(chain, event)
        if chain.open_append == 0:
            chain.whole, chain.whole_recorded = event.sequence, event.recorded_at
        if event.type == ev.PERIOD_CLOSED:
            chain.closes.append(event)
    if chain.open_append and chain.broken is None:
        chain.appends.append(Finding(chain.intact + 1, "append", f"the log ends inside an append that should end at sequence {chain.open_append}"))
    return chain


def _check_append(chain: _Chain, event: Event) -> None:
    """Appends are whole (SPEC §2): each event names the last sequence of its append, the same for all of it."""
    marker = event.append_last or event.sequence  # logs written before appends were marked: one event each
    if chain.open_append == 0:
        if marker < event.sequence:
            chain.appends.append(Finding(event.sequence, "append", f"its append is said to end at sequence {marker}, before it"))
            marker = event.sequence  # taken as an append of its own, so the rest is still checked
        chain.open_append = marker
    elif marker != chain.open_append:
        chain.appends.append(
            Finding(event.sequence, "append", f"its append is said to end at sequence {marker}, not {chain.open_append}")
        )
    if event.sequence == chain.open_append:
        chain.open_append = 0


class _Prefix:
    """The stored log up to a sequence, in the chain's order, as a read model's store: what a derivation reads.

    It never reads past that sequence, so a damaged event after it is not decoded.
    """

    def __init__(self, store: EventStore, upto: int, recorded_at: str):
        self.store = store
        self.upto = upto
        self._head = Head(upto, "", recorded_at)
        self.location = store.location

    def head(self) -> Head:
        return self._head

    def notifications(self, after: int = 0, limit: int = 5000) -> list[tuple[int, Event, str]]:
        page = []
        for version, state in self.store.raw_events(after):
            if version > self.upto or len(page) >= limit:
                break
            text = bytes(state).decode()
            page.append((version, event_from_record(json.loads(text)), text))
        return page


def verify(
    store: EventStore, read_model_path: str | None, settings: LedgerSettings, checkpoint: Checkpoint | None = None
) -> Verification:
    """Re-read the whole stored log and check everything that can be recomputed from it (SPEC §9).

    The hash chain and the recorded clock; every close's recorded head and
    figures; the checkpoint, if given; and the stored read models against
    projections re-derived from scratch into a temporary file. The stored read
    models are only read (never caught up or rebuilt), so what they hold is
    evidence too.
    """
    chain = _chain(store)
    result = Verification(events=chain.stored, head=chain.head, findings=[chain.broken] if chain.broken else [])
    result.checked.append(f"hash chain and recorded times over {chain.intact} of {chain.stored} stored events")
    with tempfile.TemporaryDirectory(prefix="revledger-verify-") as folder:
        path = os.path.join(folder, "derived.db")
        derived = ReadModel(path, _Prefix(store, chain.whole, chain.whole_recorded), settings)  # type: ignore[arg-type]
        try:
            derived.catch_up()
        except StorageError as e:
            failure = e.__cause__
            sequence = failure.sequence if isinstance(failure, FoldError) else derived.position()[1] + 1
            result.findings.append(Finding(sequence, "projections", str(e).split("; run")[0]))
        upto = derived.position()[1]
        if checkpoint is not None:
            result.findings.extend(_check_head(derived, checkpoint, f"checkpoint {checkpoint.sequence}", chain))
            result.checked.append(f"checkpoint {checkpoint}")
        result.findings.extend(_check_closes(chain, derived, upto))
        result.checked.append(f"{len(chain.closes)} period closes")
        origin = _read_model_origin(read_model_path) if read_model_path and os.path.exists(read_model_path) else None
        if origin is None:
            result.checked.append("no stored read models to compare")
        elif origin != UNREADABLE and origin != (settings.ledger_id, SCHEMA_VERSION):
            # revledger throws such read models away and rebuilds them on their next use
            result.checked.append("the stored read models are of another ledger or schema: not compared")
        else:
            derived.close()
            result.findings.extend(_check_read_model(read_model_path, path, upto, chain.intact))  # type: ignore[arg-type]
            result.checked.append(f"stored read models against projections re-derived from {upto} events")
        derived.close()
    result.findings.extend(chain.appends)
    return result


def _hash_at(derived: ReadModel, sequence: int) -> str | None:
    row = derived.db.execute("SELECT record FROM events WHERE sequence = ?", (sequence,)).fetchone()
    return json.loads(row[0])["hash"] if row else None


def _check_head(derived: ReadModel, head: Checkpoint, what: str, chain: _Chain) -> list[Finding]:
    """Does the chain still pass through ``head``? A log rewritten and re-chained from scratch does not."""
    if head.sequence == 0:
        if head.hash != GENESIS:
            return [Finding(1, what, f"names the empty log but with hash {head.hash}, not the genesis hash")]
        return []
    if head.sequence > chain.intact:
        missing = chain.intact + 1
        why = "does not hold" if chain.stored >= head.sequence else "is missing"
        return [Finding(missing, what, f"the log must reach sequence {head.sequence}, but event {missing} {why}")]
    found = _hash_at(derived, head.sequence)
    if found != head.hash:
        return [
            Finding(
                head.sequence,
                what,
                f"event {head.sequence} has hash {found}, not {head.hash}: "
                f"the log up to sequence {head.sequence} is not the one it was taken from",
            )
        ]
    return []


def _check_closes(chain: _Chain, derived: ReadModel, upto: int) -> list[Finding]:
    """Each close's recorded head is still on the chain, and its figures still come out of the log up to it."""
    findings = []
    for event in chain.closes:
        if event.sequence > upto:
            continue
        try:
            close = Close.of(event)
        except (KeyError, TypeError, ValueError) as e:
            findings.append(Finding(event.sequence, "period close", f"its details are not a period close's: {e!r}"))
            continue
        what = f"close of {close.period} (sequence {event.sequence})"
        if close.head.sequence >= event.sequence:
            findings.append(Finding(event.sequence, what, f"records head {close.head.sequence}, not before itself"))
            continue
        problems = _check_head(derived, close.head, what, chain)
        findings.extend(problems)
        if problems:
            continue
        known = Knowledge(close.head.sequence, event.recorded_at, derived.policy_at(close.head.sequence))
        again = metrics_report(derived, close.start, close.end, known, period=period_kind(close.period))
        if canonical(again) != canonical(close.metrics):
            findings.append(
                Finding(close.head.sequence, what, "the figures it recorded no longer come out of the log up to its head")
            )
    return findings


# Each table compared as rows of (columns …[, known_from, known_to]), the versioning clipped at the sequence compared.
_TABLES = {
    "events": ("sequence, event_id, customer_id, type, effective_date, recorded_at, append_last, record", False),
    "movements": ("customer_id, grain, date, category, cause, from_cents, to_cents, amount_cents, event_ids, parts", True),
    "attributes": ("customer_id, name, value, effective_date, event_sequence", True),
    "contributions": ("customer_id, month, " + ", ".join(CONTRIBUTION_COLUMNS), True),
    "summaries": ("month, dimension, value, " + ", ".join(SUMMARY_FIELDS), True),
}


def _select(schema: str, table: str) -> str:
    columns, versioned = _TABLES[table]
    if not versioned:
        return f"SELECT {columns} FROM {schema}.{table} WHERE sequence <= :upto"
    return (
        f"SELECT {columns}, known_from, CASE WHEN known_to > :upto THEN {CURRENT} ELSE known_to END "
        f"FROM {schema}.{table} WHERE known_from <= :upto"
    )


def _except(first: str, second: str, table: str) -> str:
    return _select(first, table) + " EXCEPT " + _select(second, table)


def _differences(conn: sqlite3.Connection, table: str, upto: int) -> tuple[list[tuple], list[tuple]]:
    """Rows of ``table`` stored but not derived, and derived but not stored (a few of each)."""
    extra = conn.execute(_except("stored", "main", table) + " LIMIT 1000", {"upto": upto}).fetchall()
    missing = conn.execute(_except("main", "stored", table) + " LIMIT 1000", {"upto": upto}).fetchall()
    return extra, missing


def _count(conn: sqlite3.Connection, table: str, direction: tuple[str, str], upto: int) -> int:
    return conn.execute("SELECT count(*) FROM (" + _except(*direction, table) + ")", {"upto": upto}).fetchone()[0]


def _first_sequence(table: str, extra: list[tuple], missing: list[tuple]) -> int:
    """The first log sequence at which two versions of a table answer differently."""
    if table == "events":
        return min(row[0] for row in extra + missing)
    candidates = []
    stems = {"extra": {row[:-2]: row[-2:] for row in extra}, "missing": {row[:-2]: row[-2:] for row in missing}}
    for side, rows in (("extra", extra), ("missing", missing)):
        other = stems["missing" if side == "extra" else "extra"]
        for row in rows:
            bounds = other.get(row[:-2])
            if bounds is not None and bounds[0] == row[-2]:  # the same row, superseded at another sequence
                candidates.append(min(row[-1], bounds[1]))
            else:
                candidates.append(row[-2])  # known_from
    return min(candidates)


UNREADABLE = ("", -1)


def _read_model_origin(path: str) -> tuple[str, int] | None:
    """(ledger_id, schema) the stored read models were built for; UNREADABLE if they cannot be read."""
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            row = conn.execute("SELECT ledger_id, schema FROM tracking WHERE id = 1").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return UNREADABLE  # compared all the same, so that it is reported
    return (row[0], row[1]) if row else None


def _check_read_model(path: str, derived_path: str, upto: int, log_length: int) -> list[Finding]:
    """The stored read models, as far as they were caught up, against the re-derived ones, inside SQLite."""
    try:
        conn = sqlite3.connect(read_only_uri(derived_path), uri=True)
        try:
            conn.execute("ATTACH DATABASE ? AS stored", (read_only_uri(path),))
            tracked = conn.execute("SELECT sequence FROM stored.tracking WHERE id = 1").fetchone()[0]
            findings = []
            if tracked > log_length:
                findings.append(
                    Finding(log_length + 1, "read models",
                            f"were built from {tracked} events, but the log's chain holds only {log_length}")
                )
            compare_to = min(tracked, upto)
            for table in _TABLES:
                extra, missing = _differences(conn, table, compare_to)
                if extra or missing:
                    stored_only = _count(conn, table, ("stored", "main"), compare_to)
                    derived_only = _count(conn, table, ("main", "stored"), compare_to)
                    findings.append(
                        Finding(
                            _first_sequence(table, extra, missing),
                            "read models",
                            f"table {table}: {stored_only} stored rows are not derived from the log, "
                            f"{derived_only} derived rows are not stored",
                        )
                    )
            return findings
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        return [Finding(1, "read models", f"cannot read {path}: {e}")]

