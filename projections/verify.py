"""`verify` (SPEC §9): re-read the whole stored log and check everything that can be recomputed from it.

It trusts nothing it did not recompute: it re-reads the stored log, re-chains
it, re-derives the projections from scratch and compares them with the stored ones.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ledger import events as ev
from ledger.errors import StorageError
from ledger.events import Event, canonical, event_from_record
from ledger.integrity import GENESIS, Checkpoint, first_break
from ledger.settings import LedgerSettings
from ledger.sqlite import read_only_uri
from ledger.store import EventStore, Head
from projections.closes import Close
from projections.metrics import metrics_report
from projections.periods import period_kind
from projections.queries import Knowledge
from projections.readmodel import CURRENT, SCHEMA_VERSION, ReadModel


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


def read_stored_log(raw: Iterable[tuple[int, bytes]]) -> tuple[list[tuple[int, Event]], Finding | None]:
    """Parse the stored events; stop at the first that is not the canonical form of an event."""
    events: list[tuple[int, Event]] = []
    for position, state in raw:
        expected = len(events) + 1
        try:
            event = event_from_record(json.loads(state))
        except (ValueError, TypeError, KeyError) as e:  # bad UTF-8 or JSON, or not an event's fields
            return events, Finding(expected, "stored event", f"stored position {position} cannot be read as an event: {e}")
        if canonical(event.record()).encode() != bytes(state):
            return events, Finding(expected, "stored event", f"stored position {position} is not the canonical form of its event")
        events.append((position, event))
    return events, None


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
    parsed, unreadable = read_stored_log(store.raw_events())
    findings: list[Finding] = [unreadable] if unreadable else []
    chain = first_break(parsed)
    if chain is not None:
        findings.append(Finding(chain.sequence, "hash chain", chain.message))
    intact = [e for _, e in parsed[: (chain.sequence - 1) if chain else len(parsed)]]
    head = Checkpoint(intact[-1].sequence, intact[-1].hash) if intact else Checkpoint(0, GENESIS)
    result = Verification(events=len(parsed) + (1 if unreadable else 0), head=head, findings=findings)
    result.checked.append(f"hash chain and recorded times over {len(intact)} of {result.events} stored events")

    if checkpoint is not None:
        result.findings.extend(_check_head(intact, checkpoint, f"checkpoint {checkpoint.sequence}", len(parsed)))
        result.checked.append(f"checkpoint {checkpoint}")

    with tempfile.TemporaryDirectory(prefix="revledger-verify-") as folder:
        derived, derive_problem = _derive(intact, settings, os.path.join(folder, "derived.db"))
        if derive_problem is not None:
            result.findings.append(derive_problem)
        upto = derived.position()[1]
        result.findings.extend(_check_closes(intact, derived, upto))
        result.checked.append(f"{sum(1 for e in intact if e.type == ev.PERIOD_CLOSED)} period closes")
        origin = _read_model_origin(read_model_path) if read_model_path and os.path.exists(read_model_path) else None
        if origin is None:
            result.checked.append("no stored read models to compare")
        elif origin != UNREADABLE and origin != (settings.ledger_id, SCHEMA_VERSION):
            # revledger throws such read models away and rebuilds them on their next use
            result.checked.append("the stored read models are of another ledger or schema: not compared")
        else:
            result.findings.extend(_check_read_model(read_model_path, derived, upto, len(intact)))  # type: ignore[arg-type]
            result.checked.append(f"stored read models against projections re-derived from {upto} events")
        derived.close()
    return result


def _check_head(events: list[Event], head: Checkpoint, what: str, stored: int) -> list[Finding]:
    """Does the chain still pass through ``head``? A log rewritten and re-chained from scratch does not."""
    if head.sequence == 0:
        if head.hash != GENESIS:
            return [Finding(1, what, f"names the empty log but with hash {head.hash}, not the genesis hash")]
        return []
    if head.sequence > len(events):
        missing = len(events) + 1
        why = "does not hold" if stored >= head.sequence else "is missing"
        return [Finding(missing, what, f"the log must reach sequence {head.sequence}, but event {missing} {why}")]
    found = events[head.sequence - 1].hash
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


def _check_closes(events: list[Event], derived: ReadModel, upto: int) -> list[Finding]:
    """Each close's recorded head is still on the chain, and its figures still come out of the log up to it."""
    findings = []
    for event in events:
        if event.type != ev.PERIOD_CLOSED or event.sequence > upto:
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
        problems = _check_head(events, close.head, what, len(events))
        findings.extend(problems)
        if problems:
            continue
        again = metrics_report(
            derived, close.start, close.end, Knowledge(close.head.sequence, event.recorded_at), period=period_kind(close.period)
        )
        if canonical(again) != canonical(close.metrics):
            findings.append(
                Finding(close.head.sequence, what, "the figures it recorded no longer come out of the log up to its head")
            )
    return findings


class _Replay:
    """A stored log already read and checked, served to a fresh read model as its notifications."""

    def __init__(self, events: list[Event], page: int = 5000):
        self._events = events
        self.page = page
        self.location = "(verify)"

    def head(self) -> Head:
        last = self._events[-1] if self._events else None
        return Head(last.sequence, last.hash, last.recorded_at) if last else Head(0, GENESIS, "")

    def notifications(self, after: int = 0, limit: int = 5000) -> list[tuple[int, Event]]:
        chunk = self._events[after : after + min(limit, self.page)]
        return [(after + i + 1, e) for i, e in enumerate(chunk)]


def _derive(events: list[Event], settings: LedgerSettings, path: str) -> tuple[ReadModel, Finding | None]:
    """Projections from scratch; an event that does not fold is named (replayed one at a time to find it)."""
    replay = _Replay(events)
    derived = ReadModel(path, replay, settings)  # type: ignore[arg-type]
    try:
        derived.catch_up()
        return derived, None
    except StorageError:
        pass
    replay.page = 1
    derived._forget()  # noqa: SLF001 - the failed page was rolled back; so must its cache be
    try:
        derived.catch_up()
    except StorageError as e:
        bad = derived.position()[1] + 1
        return derived, Finding(bad, "projections", str(e).split("; run")[0])
    return derived, None  # pragma: no cover - it failed once, it fails again


# Each table compared as rows of (columns …, known_from, known_to), the versioning clipped at the sequence compared.
_TABLES = {
    "events": ("sequence, event_id, customer_id, type, effective_date, recorded_at, append_last, record", None),
    "movements": (
        "customer_id, date, category, cause, from_cents, to_cents, amount_cents, event_ids, parts, known_from, known_to",
        "known_from",
    ),
    "attributes": ("customer_id, name, value, effective_date, event_sequence, known_from, known_to", "known_from"),
}


def _rows(conn: sqlite3.Connection, table: str, upto: int) -> set[tuple]:
    columns, versioned = _TABLES[table]
    if versioned is None:
        return set(conn.execute(f"SELECT {columns} FROM {table} WHERE sequence <= ?", (upto,)))
    return {
        (*row[:-1], row[-1] if row[-1] <= upto else CURRENT)
        for row in conn.execute(f"SELECT {columns} FROM {table} WHERE known_from <= ?", (upto,))
    }


def _first_sequence(table: str, extra: set[tuple], missing: set[tuple]) -> int:
    """The first log sequence at which two versions of a table answer differently."""
    if table == "events":
        return min(row[0] for row in extra | missing)
    candidates = []
    stems = {"extra": {row[:-1]: row[-1] for row in extra}, "missing": {row[:-1]: row[-1] for row in missing}}
    for row in extra | missing:
        other = stems["missing" if row in extra else "extra"].get(row[:-1])
        if other is not None:  # the same row, superseded at another sequence
            candidates.append(min(row[-1], other))
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


def _check_read_model(path: str, derived: ReadModel, upto: int, log_length: int) -> list[Finding]:
    """The stored read models, as far as they were caught up, against the re-derived ones."""
    try:
        stored = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            tracked = stored.execute("SELECT sequence FROM tracking WHERE id = 1").fetchone()[0]
            findings = []
            if tracked > log_length:
                findings.append(
                    Finding(
                        log_length + 1,
                        "read models",
                        f"were built from {tracked} events, but the log's chain holds only {log_length}",
                    )
                )
            compare_to = min(tracked, upto)
            for table in _TABLES:
                mine = _rows(stored, table, compare_to)
                theirs = _rows(derived.db.conn, table, compare_to)
                if mine != theirs:
                    extra, missing = mine - theirs, theirs - mine
                    findings.append(
                        Finding(
                            _first_sequence(table, extra, missing),
                            "read models",
                            f"table {table}: {len(extra)} stored rows are not derived from the log, "
                            f"{len(missing)} derived rows are not stored",
                        )
                    )
            return findings
        finally:
            stored.close()
    except sqlite3.DatabaseError as e:
        return [Finding(1, "read models", f"cannot read {path}: {e}")]

