"""The audit trail of SPEC §7 and §9: period closes, restatements, diffs between knowledge times, and verify.

Every past answer is reproducible because the read models are versioned on
the log axis: a close records the figures as known at a log head, and the
same figures come back from ``--known-at`` its recorded time, forever. A
restatement is then a plain comparison of two knowledge times, and so is a
diff. ``verify`` trusts nothing it did not recompute: it re-reads the stored
log, re-chains it, re-derives the projections from scratch and compares.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ledger import events as ev
from ledger.errors import StorageError
from ledger.events import Event, canonical, event_from_record
from ledger.integrity import GENESIS, Checkpoint, first_break
from ledger.settings import LedgerSettings
from ledger.sqlite import read_only_uri
from ledger.store import EventStore, Head
from projections.metrics import Figures, figures_json, metrics_report
from projections.periods import parse_period
from projections.queries import Knowledge, customer_mrr_cents, movement_rows
from projections.readmodel import CURRENT, SCHEMA_VERSION, ReadModel

# Figures that are ratios: absent (a group or cause that did not exist) means undefined, not zero.
RATIOS = frozenset(
    {
        "retention.nrr",
        "retention.grr",
        "retention.expansion_rate",
        "retention.contraction_rate",
        "retention.churn_rate",
        "customers.logo_churn_rate",
        "quick_ratio",
        "expansion_share",
        "arpa",
    }
)
# What identifies a period entry, not a figure of it.
_ENTRY_KEYS = ("start", "end", "group")
# What the audit lists of each event.
EVENT_KEYS = (
    "sequence",
    "event_id",
    "type",
    "customer_id",
    "effective_date",
    "recorded_at",
    "actor",
    "source",
    "reason",
    "restatement",
    "target_event_id",
)


def period_kind(label: str) -> str:
    """``month``, ``quarter`` or ``year``: the metrics period a close label names (``2026-03``, ``2026-Q1``, ``2026``)."""
    parse_period(label)  # refuses what is not a period
    text = label.strip()
    if re.fullmatch(r"\d{4}", text):
        return "year"
    if re.fullmatch(r"\d{4}-[Qq][1-4]", text):
        return "quarter"
    return "month"


def period_name(label: str) -> str:
    """The canonical spelling of a period label (``2026-q1`` → ``2026-Q1``)."""
    return label.strip().upper()


# -- close -------------------------------------------------------------------------------------


def close_figures(rm: ReadModel, label: str, head: Head, recorded_at: str) -> dict[str, Any]:
    """What a close records beside its head: the period's metrics document as known at that head.

    It is reported as known at the close's own recorded time, which is exactly
    what ``metrics --known-at`` that time prints (the close adds no movement).
    """
    start, end = parse_period(label)
    known = Knowledge(head.sequence, recorded_at)
    return {"metrics": metrics_report(rm, start, end, known, period=period_kind(label))}


@dataclass(frozen=True, slots=True)
class Close:
    """A recorded period close.

    Attributes:
      period, start, end: what was closed.
      lock: whether this close locked it.
      head: the log head the figures were computed from.
      metrics: the metrics document recorded (SPEC §11 shape, one period).
      event: the ``period_closed`` event itself (sequence, recorded_at, actor …).
    """

    period: str
    start: date
    end: date
    lock: bool
    head: Checkpoint
    metrics: dict[str, Any]
    event: Event

    @classmethod
    def of(cls, event: Event) -> Close:
        details = json.loads(event.details or "{}")
        return cls(
            period=details["period"],
            start=date.fromisoformat(details["start"]),
            end=date.fromisoformat(details["end"]),
            lock=bool(details["lock"]),
            head=Checkpoint(int(details["head"]["sequence"]), details["head"]["hash"]),
            metrics=in_report_order(details["metrics"]),
            event=event,
        )

    def summary(self) -> dict[str, Any]:
        """The close as `close --format json` and `restatements` print it."""
        return {
            "period": self.period,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "lock": self.lock,
            "event_id": self.event.event_id,
            "sequence": self.event.sequence,
            "recorded_at": self.event.recorded_at,
            "actor": self.event.actor,
            "head": {"sequence": self.head.sequence, "hash": self.head.hash},
        }


def _ordered(data: Any, template: Any) -> Any:
    if not isinstance(data, dict):
        return data
    keys = [k for k in template if k in data] + sorted(k for k in data if k not in template)
    return {k: _ordered(data[k], template.get(k, {})) for k in keys}


def in_report_order(document: dict[str, Any]) -> dict[str, Any]:
    """A metrics document read back from its canonical (sorted) form, in the order `metrics` prints it.

    So the figures a close recorded print byte for byte as ``metrics --known-at`` its time does.
    """
    entry = figures_json(date.min, date.min, None, Figures())
    return {
        **_ordered({k: v for k, v in document.items() if k != "periods"}, {"currency": 0, "known_at": 0}),
        "periods": [_ordered(p, entry) for p in document.get("periods", [])],
    }


def closes(rm: ReadModel, known: Knowledge) -> list[Close]:
    """Every period close recorded as of ``known``, in log order."""
    rows = rm.db.execute(
        "SELECT record FROM events WHERE type = ? AND sequence <= ? ORDER BY sequence", (ev.PERIOD_CLOSED, known.sequence)
    )
    return [Close.of(event_from_record(json.loads(r[0]))) for r in rows]


# -- comparing figures ---------------------------------------------------------------------------


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A report's nested figures as dotted names (``bridge.expansion``), the names `explain` takes."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _absent(metric: str, present: Any) -> Any:
    """The value of a figure that is not there at all: nothing (zero), or undefined for a ratio."""
    if metric in RATIOS:
        return None
    if isinstance(present, int):
        return 0
    return "0.00"


def difference(before: Any, after: Any) -> Any:
    """after − before, in the figure's own form (whole counts, or decimals to the same places); None if undefined."""
    if before is None or after is None:
        return None
    if isinstance(before, int) and isinstance(after, int):
        return after - before
    delta = Decimal(after) - Decimal(before)
    places = max(-Decimal(before).as_tuple().exponent, -Decimal(after).as_tuple().exponent)  # type: ignore[operator]
    return f"{delta:.{places}f}"


def compare_figures(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The figures of two entries (a period and group, or an MRR report) that differ, in report order."""
    old = {k: v for k, v in flatten(before or {}).items() if k not in _ENTRY_KEYS}
    new = {k: v for k, v in flatten(after or {}).items() if k not in _ENTRY_KEYS}
    rows = []
    for metric in list(new) + [k for k in old if k not in new]:
        a = old.get(metric, _absent(metric, new.get(metric)))
        b = new.get(metric, _absent(metric, a))
        if a != b:
            rows.append({"metric": metric, "before": a, "after": b, "difference": difference(a, b)})
    return rows


def event_summary(event: Event | dict[str, Any]) -> dict[str, Any]:
    record = event.record() if isinstance(event, Event) else event
    return {key: record.get(key) for key in EVENT_KEYS}


def events_recorded(rm: ReadModel, after: int, upto: int) -> list[dict[str, Any]]:
    """The events recorded after sequence ``after`` up to ``upto``, as the audit lists them."""
    rows = rm.db.execute("SELECT record FROM events WHERE sequence > ? AND sequence <= ? ORDER BY sequence", (after, upto))
    return [event_summary(json.loads(r[0])) for r in rows]


# -- restatements --------------------------------------------------------------------------------


def _contributions(rm: ReadModel, start: date, end: date, known: int) -> dict[str, tuple]:
    """Each customer's part in a period's (ungrouped) figures: opening and closing MRR, and its movements in it.

    A movement counts by category, cause and amount, not by day: moving a
    change within the period changes no figure, so it is not a cause.
    """
    opening = customer_mrr_cents(rm, date.fromordinal(start.toordinal() - 1), known)
    closing = customer_mrr_cents(rm, end, known)
    moved: dict[str, list] = {}
    for row in movement_rows(rm, start, end, known):
        moved.setdefault(row["customer_id"], []).append((row["category"], row["cause"] or "", row["amount"]))
    customers = set(opening) | set(closing) | set(moved)
    return {c: (opening.get(c, 0), closing.get(c, 0), tuple(sorted(moved.get(c, ())))) for c in customers}


def causing_events(rm: ReadModel, start: date, end: date, since: int, known: int) -> list[dict[str, Any]]:
    """The events recorded after ``since`` that changed the period's figures as known at ``known``.

    Those of the customers whose part in the period changed, effective on or
    before its last day (a void: whose target is) — an event effective before
    the period changes its opening MRR as surely as one inside it.
    """
    before, after = _contributions(rm, start, end, since), _contributions(rm, start, end, known)
    changed = {c for c in set(before) | set(after) if before.get(c, (0, 0, ())) != after.get(c, (0, 0, ()))}
    if not changed:
        return []
    rows = rm.db.execute(
        "SELECT record FROM events WHERE sequence > ? AND sequence <= ? AND type != ? ORDER BY sequence",
        (since, known, ev.PERIOD_CLOSED),
    )
    found = []
    for (record,) in rows:
        event = event_from_record(json.loads(record))
        if event.customer_id not in changed:
            continue
        effective = event.effective_date
        if event.type == ev.VOID:
            target = rm.find([event.target_event_id or ""]).get(event.target_event_id or "")
            effective = target.effective_date if target else effective
        if effective <= end:
            found.append(event_summary(event))
    return found


def restatements(rm: ReadModel, known: Knowledge, *, period: str | None = None) -> list[dict[str, Any]]:
    """Every closed period whose figures as known at ``known`` differ from those recorded at its (latest) close."""
    wanted = parse_period(period) if period else None
    latest: dict[tuple[date, date], Close] = {}
    locked: set[tuple[date, date]] = set()
    for close in closes(rm, known):
        latest[(close.start, close.end)] = close
        if close.lock:
            locked.add((close.start, close.end))
    found = []
    for key, close in sorted(latest.items()):
        if wanted is not None and key != wanted:
            continue
        closed = close.metrics["periods"][0]
        now = metrics_report(rm, close.start, close.end, known, period=period_kind(close.period))["periods"][0]
        figures = [
            {"metric": f["metric"], "closed": f["before"], "now": f["after"], "difference": f["difference"]}
            for f in compare_figures(closed, now)
        ]
        if not figures:
            continue
        found.append(
            {
                **close.summary(),
                "locked": key in locked,
                "figures": figures,
                "events": causing_events(rm, close.start, close.end, close.event.sequence, known.sequence),
            }
        )
    return found


# -- diff ----------------------------------------------------------------------------------------


def diff_metrics(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Figure by figure, per period and group, two `metrics` documents."""
    entries_a = {tuple(e[k] for k in _ENTRY_KEYS): e for e in before["periods"]}
    entries_b = {tuple(e[k] for k in _ENTRY_KEYS): e for e in after["periods"]}
    keys = list(entries_a) + [k for k in entries_b if k not in entries_a]
    keys.sort(key=lambda k: (k[0], k[1], k[2] is None, k[2] or ""))
    rows = []
    for key in keys:
        for figure in compare_figures(entries_a.get(key), entries_b.get(key)):
            rows.append({"start": key[0], "end": key[1], "group": key[2], **figure})
    return rows


def diff_mrr(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Figure by figure, two `mrr` reports: the totals, each group, each line."""

    def parts(report: dict[str, Any]) -> dict[tuple[str, Any], dict[str, Any]]:
        out: dict[tuple[str, Any], dict[str, Any]] = {
            ("total", None): {k: report[k] for k in ("mrr", "arr", "customers")}
        }
        for g in report.get("groups", []):
            out[("group", g["group"])] = {k: g[k] for k in ("mrr", "arr", "customers")}
        for line in report.get("lines", []):
            out[("line", line["subscription_id"])] = {k: v for k, v in line.items() if k != "subscription_id"}
        return out

    a, b = parts(before), parts(after)
    rows = []
    for key in list(a) + [k for k in b if k not in a]:
        for figure in compare_figures(a.get(key), b.get(key)):
            metric = f"lines[{key[1]}].{figure['metric']}" if key[0] == "line" else figure["metric"]
            rows.append({"group": key[1] if key[0] == "group" else None, **figure, "metric": metric})
    return rows


def diff_movements(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Movement rows added, removed and changed between two `movements` reads (keyed by customer and day)."""
    a = {(m["customer_id"], m["date"]): m for m in before}
    b = {(m["customer_id"], m["date"]): m for m in after}
    order = sorted(set(a) | set(b), key=lambda k: (k[1], k[0]))
    return {
        "added": [b[k] for k in order if k not in a],
        "removed": [a[k] for k in order if k not in b],
        "changed": [
            {"customer_id": k[0], "date": k[1], "before": a[k], "after": b[k]}
            for k in order
            if k in a and k in b and a[k] != b[k]
        ],
    }


# -- verify --------------------------------------------------------------------------------------


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
    "events": ("sequence, event_id, customer_id, type, effective_date, recorded_at, record", None),
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
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
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

