"""Importing invoice lines incrementally (SPEC §14 rule 8): map every line imported so far, append the differences.

The ledger keeps the lines it imported, and the ``--as-of``, beside the log. A
new file's lines join them (an invoice in the new file replaces its kept
lines: a later export is the invoice's current state), all are mapped as one
file, and the mapping is compared with the events recorded. Only events not
yet recorded are appended; a recorded event that the mapping changes or no
longer makes is voided first, its reason naming the invoice, so the change is
a visible restatement that ``diff`` between two knowledge times shows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from ledger import events as ev
from ledger.clock import ClockError, parse_date
from ledger.customer import Timeline
from ledger.errors import Problem, RejectedError, UsageError
from ledger.events import Event, canonical
from ledger.files import check_format
from ledger.inputs import parse_row, shape_problems, to_event
from ledger.invoice_mapping import Made, map_lines
from ledger.invoices import (
    EVENT_ID_PREFIX,
    LAPSED,
    LEFT_DRAFT,
    LEFT_OUT_REASONS,
    SUBSCRIPTION,
    InvoiceLine,
    Origin,
    check_file,
    default_as_of,
    merge,
    read_invoice_lines,
)
from ledger.settings import LedgerSettings
from ledger.store import EventStore
from ledger.stripe import read_stripe

if TYPE_CHECKING:
    from ledger.history import History

FORMATS = ("invoices", "stripe")
LINES_KEY = "invoices.lines"
AS_OF_KEY = "invoices.as_of"
_NOTE = re.compile(r"^invoice (?P<invoice>.+) line (?P<line>.+)$")


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an invoice import made, for the person who ran it.

    Attributes:
      file: the file imported.
      lines, customers, subscriptions: how many invoice lines it holds, of how many customers and subscriptions.
      as_of: the date after which a subscription whose invoices stop is taken to have ended (rule 6).
      made: the events it appends, by type (voids included).
      left_out: the file's lines that make no event, by reason (one-time, void, credit proration, …).
      inferred_cancels: the inferred cancels the invoices make, as now known (rule 6).
      restated: recorded events voided because the invoices as now known change them.
      already_recorded: events the invoices make that were already in the log.
      notes: anything else worth knowing (a Stripe list that has more pages).
    """

    file: str
    lines: int
    customers: int
    subscriptions: int
    as_of: date | None
    made: tuple[tuple[str, int], ...]
    left_out: tuple[tuple[str, int], ...]
    inferred_cancels: int
    restated: int
    already_recorded: int
    notes: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        """The summary as lines of text (the command line prints them after its own line)."""
        as_of = f"; as of {self.as_of}" if self.as_of else ""
        out = [
            f"{self.file}: {_count(self.lines, 'invoice line')} of {_count(self.customers, 'customer')} and "
            f"{_count(self.subscriptions, 'subscription')}{as_of}"
        ]
        out.append("events: " + (", ".join(f"{n} {kind}" for kind, n in self.made) or "none new"))
        out.append("left out: " + (", ".join(f"{n} {reason}" for reason, n in self.left_out) or "none"))
        if self.inferred_cancels:
            out.append(f"inferred cancels: {self.inferred_cancels} (subscriptions whose invoices stop on or before "
                       "the as-of date with no cancellation stated)")
        else:
            out.append("inferred cancels: none")
        if self.restated:
            out.append(f"restated: {_count(self.restated, 'recorded event')} voided, each void naming the invoice "
                       "(diff --known-at BEFORE --known-at NOW shows the change)")
        out.extend(self.notes)
        return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What an invoice import appends, with what it keeps beside the log.

    Attributes:
      name: the file's name; the rows are staged under it, numbered 1, 2, … in order.
      rows: the event rows (voids first), as (row number, cells).
      origins: the invoice line each row comes from (its ``source``, and where its problems are told).
      state: the lines imported so far and the as-of, kept with the append (or alone when nothing is new).
      summary: what it made, for the person who ran it.
      head: the log's head sequence the mapping was compared with.
    """

    name: str
    rows: tuple[tuple[int, dict[str, Any]], ...]
    origins: tuple[Origin, ...]
    state: dict[str, str]
    summary: ImportSummary
    head: int

    @property
    def sources(self) -> list[str]:
        return [origin.source for origin in self.origins]

    def locate(self, problems: Sequence[Problem]) -> list[Problem]:
        """The staged rows' problems (named by row number) told at the invoice line each row comes from."""
        located = []
        for p in problems:
            if p.file != self.name or not 1 <= p.line <= len(self.rows):
                located.append(p)
                continue
            cells = self.rows[p.line - 1][1]
            what = f"the {cells.get('type')} it makes"
            if "effective_date" in cells:
                what += f" effective {cells['effective_date']}"
            if cells.get("type") == ev.VOID:
                what = f"the void of {cells.get('target_event_id')}"
            located.append(self.origins[p.line - 1].problem(p.field, f"{what}: {p.message}"))
        return located


def plan_import(
    path: str, fmt: str, *, store: EventStore, history: History, settings: LedgerSettings, as_of: date | None = None
) -> ImportPlan:
    """Read the file, map it with every line imported so far, and compare with the log (SPEC §14 rule 8)."""
    check_format(path, fmt)
    name = path
    problems: list[Problem] = []
    drafts, notes = 0, ()
    if fmt == "stripe":
        exported = read_stripe(path, name, problems)
        new, drafts, notes = list(exported.lines), exported.drafts, exported.notes
    else:
        new = read_invoice_lines(path, name, problems)
    check_file(new, problems)
    if problems:
        raise RejectedError(problems)
    head = history.catch_up()
    kept = _kept_lines(store)
    kept_as_of = _kept_as_of(store)
    if as_of is not None and kept_as_of is not None and as_of < kept_as_of:
        raise UsageError(f"--as-of {as_of} is before {kept_as_of}, the as-of of an earlier import: it never moves back")
    lines = merge(kept, new)
    chosen = max((d for d in (kept_as_of, as_of if as_of is not None else default_as_of(lines)) if d), default=None)
    mapping = map_lines(lines, as_of=chosen, settings=settings)
    if mapping.problems:
        raise RejectedError(list(mapping.problems))
    diff = _differences(mapping.made, lines, history, settings, head)
    first_new = len(lines) - len(new)
    left = Counter(reason for index, reason in mapping.left_out if index >= first_new)
    if drafts:
        left[LEFT_DRAFT] += drafts
    made = Counter(cells["type"] for _, cells in diff.rows)
    summary = ImportSummary(
        file=name,
        lines=len(new) + drafts,
        customers=len({line.customer_id for line in new}),
        subscriptions=len({(l.customer_id, l.subscription_id) for l in new if l.type == SUBSCRIPTION}),
        as_of=chosen,
        made=tuple((kind, made[kind]) for kind in ev.EVENT_TYPES if made[kind]),
        left_out=tuple((reason, left[reason]) for reason in LEFT_OUT_REASONS if left[reason]),
        inferred_cancels=sum(1 for m in mapping.made if m.rule == LAPSED),
        restated=made[ev.VOID],
        already_recorded=diff.matched,
        notes=tuple(notes),
    )
    state = {LINES_KEY: canonical([line.record() for line in lines]), AS_OF_KEY: chosen.isoformat() if chosen else ""}
    rows = tuple((n, cells) for n, (_, cells) in enumerate(diff.rows, start=1))
    origins = tuple(origin for origin, _ in diff.rows)
    return ImportPlan(name, rows, origins, state, summary, head)


def _kept_lines(store: EventStore) -> list[InvoiceLine]:
    text = store.import_state(LINES_KEY)
    return [InvoiceLine.from_record(record) for record in json.loads(text)] if text else []


def _kept_as_of(store: EventStore) -> date | None:
    text = store.import_state(AS_OF_KEY)
    try:
        return parse_date(text) if text else None
    except ClockError:
        return None


# -- comparing the mapping with the log -------------------------------------------------------------


@dataclass(slots=True)
class _Differences:
    rows: list[tuple[Origin, dict[str, Any]]]
    matched: int


def _differences(
    made: Sequence[Made], lines: Sequence[InvoiceLine], history: History, settings: LedgerSettings, head: int
) -> _Differences:
    """The rows to append, customer by customer: voids of what the mapping no longer makes, then what is new."""
    by_customer: dict[str, list[Made]] = {}
    for m in made:
        by_customer.setdefault(m.customer_id, []).append(m)
    voided_invoices = {line.invoice_id for line in lines if line.voided}
    lines_of: dict[str, list[InvoiceLine]] = {}
    for line in lines:
        lines_of.setdefault(line.customer_id, []).append(line)
    customers = sorted(lines_of)
    rows: list[tuple[Origin, dict[str, Any]]] = []
    matched = 0
    for customer in customers:

        def fresh(customer: str = customer) -> Timeline:
            return history.timeline(customer) if head else Timeline(customer, settings)

        plan = _Customer(by_customer.get(customer, []), fresh(), history, settings)
        if not plan.consistent(fresh(), head):
            plan.restate_from_first_difference()
        matched += plan.matched_count()
        theirs = lines_of[customer]
        for event in plan.removals():
            reason, origin = _void_reason(event, plan, theirs, voided_invoices)
            rows.append((origin or theirs[-1].origin, {"type": ev.VOID, "target_event_id": event.event_id, "reason": reason}))
        for i in plan.additions():
            rows.append((plan.mine[i].origin, {"event_id": plan.ids[i][0], **plan.mine[i].row()}))
    return _Differences(rows, matched)


class _Customer:
    """One customer's comparison: which made events are recorded, which are new, which recorded ones go."""

    def __init__(self, mine: list[Made], timeline: Timeline, history: History, settings: LedgerSettings):
        self.mine = mine
        self.history = history
        self.in_effect = {e.event_id: e for e in timeline.events}
        self.voided = set(timeline.voids)
        self.recorded = [e for e in timeline.events if e.event_id.startswith(EVENT_ID_PREFIX)]
        self.events = [_as_event(m, settings) for m in mine]
        self.texts = [_content(e) if e is not None else None for e in self.events]
        self.dropping: set[str] = set()
        self.ids: list[tuple[str, bool]] = []  # per made event: (its id, already recorded)
        self._pick_all()

    def _pick_all(self) -> None:
        foreign: set[str] = set()
        while True:
            taken: set[str] = set()
            self.ids = [self._pick(i, taken, foreign) for i in range(len(self.mine))]
            fresh_ids = [event_id for event_id, known in self.ids if not known]
            elsewhere = set(self.history.find(fresh_ids)) if fresh_ids else set()
            if not elsewhere - foreign:
                return
            foreign |= elsewhere  # an id another customer holds: take the next one

    def _pick(self, i: int, taken: set[str], foreign: set[str]) -> tuple[str, bool]:
        for candidate in _candidates(self.mine[i], self.texts[i]):
            if candidate in taken or candidate in self.voided or candidate in self.dropping or candidate in foreign:
                continue
            recorded = self.in_effect.get(candidate)
            if recorded is not None:
                if self.texts[i] is not None and _content(recorded) == self.texts[i]:
                    taken.add(candidate)
                    return candidate, True
                continue  # recorded with other content: it is voided, and this gets the next id
            taken.add(candidate)
            return candidate, False
        raise AssertionError("unreachable: candidates never end")

    def matched_count(self) -> int:
        return sum(1 for _, known in self.ids if known)

    def additions(self) -> list[int]:
        """The made events not yet recorded (their indices), in the order they apply."""
        return [i for i, (_, known) in enumerate(self.ids) if not known]

    def removals(self) -> list[Event]:
        """Recorded invoice-made events no longer made, latest first (so each void leaves a consistent timeline)."""
        kept = {event_id for event_id, known in self.ids if known}
        gone = [e for e in self.recorded if e.event_id not in kept]
        return sorted(gone, key=lambda e: (e.effective_date, e.sequence), reverse=True)

    def consistent(self, timeline: Timeline, head: int) -> bool:
        """Whether voiding the removals one by one, then adding the additions, keeps every step consistent (SPEC §3)."""
        sequence = head
        for target in self.removals():
            sequence += 1
            void = Event(event_id=f"check-{sequence}", type=ev.VOID, customer_id=target.customer_id,
                         effective_date=target.effective_date, target_event_id=target.event_id, reason="check",
                         sequence=sequence)
            if timeline.add(void):
                return False
        for i in self.additions():
            event = self.events[i]
            if event is None:
                return True  # a malformed row: staging reports it where it belongs
            sequence += 1
            if timeline.add(event.with_record(event_id=self.ids[i][0], sequence=sequence)):
                return False
        return True

    def restate_from_first_difference(self) -> None:
        """Void and re-append a subscription's events from the first day its mapping differs.

        Voiding single events can leave a line inconsistent on the way (a cancel
        voided before the restart that follows it); from the first difference on,
        a line's events are voided latest first and made again in order, which
        keeps every step consistent.
        """
        cut: dict[str, date] = {}
        for m in (self.mine[i] for i in self.additions()):
            if m.subscription_id is not None:
                cut[m.subscription_id] = min(m.effective_date, cut.get(m.subscription_id, m.effective_date))
        for e in self.removals():
            if e.subscription_id is not None:
                cut[e.subscription_id] = min(e.effective_date, cut.get(e.subscription_id, e.effective_date))
        for (event_id, known), m in zip(self.ids, self.mine):
            if known and m.subscription_id in cut and m.effective_date >= cut[m.subscription_id]:
                self.dropping.add(event_id)
        self._pick_all()


def _as_event(m: Made, settings: LedgerSettings) -> Event | None:
    """The event a made row is, read as staging reads it (None when it is malformed: staging reports it)."""
    row, _ = parse_row(m.row())
    if row is None or shape_problems(row, settings):
        return None
    return to_event(row)


def _content(event: Event) -> str:
    """What decides whether a recorded event is the one the mapping makes (a restatement reason aside)."""
    return canonical({k: v for k, v in event.content().items() if k != "restatement"})


def _candidates(m: Made, text: str | None) -> Iterator[str]:
    """The ids a made event may take: its base id, then (for a replacement) ids that include its content."""
    yield m.key
    digest = hashlib.sha256((text or canonical(m.row())).encode()).hexdigest()[:10]
    yield f"{m.key}~{digest}"
    n = 2
    while True:
        yield f"{m.key}~{digest}~{n}"
        n += 1


def _void_reason(
    event: Event, plan: _Customer, lines: Sequence[InvoiceLine], voided_invoices: set[str]
) -> tuple[str, Origin | None]:
    """Why a recorded event is voided, naming the invoice that changes it; and that invoice line."""
    what = f"{event.type} of {event.subscription_id}" if event.subscription_id else event.type
    what += f" effective {event.effective_date}"
    note = _NOTE.match(event.note or "")
    own = note["invoice"] if note else None
    if own is not None and own in voided_invoices:
        origin = next((l.origin for l in lines if l.invoice_id == own), None)
        return f"invoice {own} was voided: its {what} is removed", origin
    same_line = [l for l in lines if l.subscription_id == event.subscription_id and not l.voided and l.type == SUBSCRIPTION]
    if event.type == ev.CANCEL and (event.reason or "").startswith("inferred"):
        follower = next((l for l in sorted(same_line, key=lambda l: l.service_period_start or l.invoice_date)
                         if not l.prorated and l.service_period_start == event.effective_date), None)
        if follower is not None:
            return (f"invoice {follower.invoice_id} continues subscription {event.subscription_id} from "
                    f"{event.effective_date}: the inferred cancel is removed", follower.origin)
        stated = next((l for l in same_line if l.cancelled_at is not None), None)
        if stated is not None:
            return (f"invoice {stated.invoice_id} states subscription {event.subscription_id} was cancelled "
                    f"from {stated.cancelled_at}: the inferred cancel is replaced", stated.origin)
    near = [plan.mine[i] for i in plan.additions() if plan.mine[i].subscription_id == event.subscription_id]
    if near:
        m = min(near, key=lambda m: abs((m.effective_date - event.effective_date).days))
        return f"restated by invoice {m.invoice_id}: the {what} is replaced", m.origin
    return f"the invoice lines as now known no longer make the {what} (it came from invoice {own})", None
