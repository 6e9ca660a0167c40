"""The ledger's write side: validate events against the timelines they join, then append.

An import is all or nothing: every row is checked (its form, its type's
fields, and its place in the customer's whole timeline) before anything is
appended, and all of a file's problems are reported together.
"""

from __future__ import annotations

import gc
import getpass
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ledger import events as ev
from ledger.clock import instant_text, parse_instant
from ledger.closes import refuse_close
from ledger.customer import Timeline
from ledger.errors import Problem, RejectedError, StorageError, UsageError
from ledger.events import Event, canonical, derive_event_id, event_from_record, record_fragments, same_content
from ledger.files import read_file
from ledger.history import History, Projection
from ledger.inputs import fast_event, parse_row, shape_problems, to_event
from ledger.locks import PeriodLock, lock_on, period_locks
from ledger.policy import Policy
from ledger.retry import Retry, with_retries
from ledger.integrity import chain_text
from ledger.sealing import RecordedClock, first_instant, requested_time, seal
from ledger.settings import LedgerSettings
from ledger.staging import Draft, Drafts, Sealable, StagedDrafts
from ledger.store import EventStore, Head

if TYPE_CHECKING:
    from ledger.invoice_import import ImportPlan, ImportSummary

Batch = TypeVar("Batch", bound=Drafts)


KEEP_EVENTS = 10_000  # a batch this small is handed back whole; a larger one by its count and ends


@dataclass(frozen=True, slots=True)
class Admitted:
    """The outcome of an import, record or amend.

    Attributes:
      count: how many events were appended (or would be, on a dry run).
      skipped: rows whose event_id was already recorded with the same content.
      dry_run: nothing was appended.
      first, last: the first and last event appended (None on a dry run or when nothing was new).
      events: every event appended, numbered and chained, when there are at most KEEP_EVENTS.
      unprojected: why the read models could not be updated after the log took the append (None when they were).
      summary: what an invoice or Stripe import made (SPEC §14), None for other appends.
    """

    count: int
    skipped: int
    dry_run: bool
    first: Event | None = None
    last: Event | None = None
    events: tuple[Event, ...] = ()
    unprojected: str | None = None
    summary: ImportSummary | None = None


class StaleImport(Exception):
    """The log moved on after an invoice import was compared with it: map the lines again."""


def _amendment_id(event: Event, target_id: str) -> str:
    """The corrected event's id: its content and the event it replaces, so amending back to old terms is new."""
    digest = hashlib.sha256(canonical({**event.content(), "amends": target_id}).encode()).hexdigest()
    return f"ev-{digest[:24]}"


_PER_SEAT = ("quantity", "unit_price")


def _same_row(recorded: Event, row: Event) -> bool:
    """A row re-imported is the recorded event, even when only the recorded one carries a restatement."""
    if row.restatement is None and recorded.restatement is not None:
        row = row.with_record(restatement=recorded.restatement)
    return same_content(recorded, row)


@contextmanager
def without_cycle_collection():
    """An import makes millions of small tuples and no reference cycles: the cyclic collector would only rescan them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


class Ledger:
    """The event log with its validation rules: the one way events get in."""

    def __init__(self, store: EventStore, history: History, *, actor: str | None = None):
        self.store = store
        self.history = history
        self.actor = actor or default_actor()
        self.settings: LedgerSettings = store.settings()

    # -- entry points ------------------------------------------------------------------

    def import_file(
        self,
        path: str,
        fmt: str,
        *,
        dry_run: bool = False,
        recorded_at: str | None = None,
        end_exclusive: bool = False,
        restatement: str | None = None,
        as_of: date | None = None,
    ) -> Admitted:
        """Validate every row of a file, then append them all (or none).

        ``restatement`` lets in rows effective in a locked period, and is recorded on each of them.
        Invoice lines and Stripe exports (SPEC §14) are mapped with every line imported so
        far (``as_of`` dates inferred cancels); their rows pass the same validation.
        """
        with without_cycle_collection():
            return self._import(path, fmt, dry_run, recorded_at, end_exclusive, restatement, as_of)

    def _import(self, path, fmt, dry_run, recorded_at, end_exclusive, restatement, as_of) -> Admitted:
        at = parse_instant(recorded_at) if recorded_at is not None else None
        if fmt in ("invoices", "stripe"):
            from ledger.invoice_import import plan_import

            def remap() -> Admitted:
                plan = plan_import(path, fmt, store=self.store, history=self.history, settings=self.settings, as_of=as_of)
                found: list[Problem] = []
                with StagedDrafts() as drafts:
                    self._stage(plan.rows, plan.name, found, drafts, sources=plan.sources)
                    try:
                        return self._admit(drafts, plan.name, dry_run=dry_run, recorded_at=at, problems=found,
                                           restatement=restatement, plan=plan)
                    except RejectedError as e:
                        raise RejectedError(plan.locate(e.problems)) from None
                    except StaleImport:
                        raise Retry from None

            return with_retries(remap)
        problems: list[Problem] = []
        with StagedDrafts() as drafts:
            self._stage(read_file(path, fmt, problems, end_exclusive=end_exclusive), path, problems, drafts)
            return self._admit(drafts, path, dry_run=dry_run, recorded_at=at, problems=problems, restatement=restatement)

    def record(self, cells: dict[str, Any], *, dry_run: bool = False) -> Admitted:
        """Validate and append one event given on the command line."""
        problems: list[Problem] = []
        drafts = self._stage([(0, cells)], "cli", problems, Drafts())
        return self._admit(drafts, "cli", dry_run=dry_run, recorded_at=None, problems=problems)

    def amend(
        self, target_id: str, changes: dict[str, Any], *, reason: str, restatement: str | None = None, dry_run: bool = False
    ) -> Admitted:
        """Void an event and record its corrected form in one append (SPEC §7).

        The corrected event is the original with ``changes`` applied (customer,
        type, date and terms not given keep their value); nothing is edited or
        deleted, so ``--known-at`` before the amendment still shows the old answer.
        """
        self.history.catch_up()
        target = self.history.find([target_id]).get(target_id)
        if target is None:
            raise UsageError(f"there is no event {target_id} in the ledger")
        if target.type == ev.VOID or target.type in ev.LEDGER_TYPES:
            raise UsageError(f"event {target_id} is a {target.type}; only contract events can be amended")
        original = {k: v for k, v in target.content().items() if k != "restatement"}
        cells = dict(original)
        if "amount" in changes:  # a line is priced per seat or by amount, never both
            cells = {k: v for k, v in cells.items() if k not in _PER_SEAT}
        if set(_PER_SEAT) & changes.keys():
            cells.pop("amount", None)
        cells.update(changes)
        void = {"type": ev.VOID, "target_event_id": target_id, "reason": reason}
        if restatement:
            void["restatement"] = cells["restatement"] = restatement
        problems: list[Problem] = []
        drafts = self._stage([(0, void), (0, cells)], "cli", problems, Drafts())
        corrected = drafts.find_position(1)
        if corrected is not None:
            if canonical(corrected.event.with_record(restatement=None).content()) == canonical(original):
                raise UsageError(f"nothing to amend: give the corrected fields of {target_id}")
            if "event_id" not in changes:
                event = corrected.event.with_record(event_id=_amendment_id(corrected.event, target_id))
                drafts.replace(Draft(corrected.position, corrected.source, corrected.line, event))
        return self._admit(drafts, "cli", dry_run=dry_run, recorded_at=None, problems=problems)

    def close_period(
        self,
        period: str,
        start: date,
        end: date,
        *,
        lock: bool,
        figures: Callable[[Head, str], dict[str, Any]],
        force: str | None = None,
    ) -> Event:
        """Append a ``period_closed`` event holding the period's figures and the log head they were computed from.

        ``figures(head, recorded_at)`` computes them from the log up to ``head``, as
        reported at the close's own recorded time, so ``--known-at`` that time
        reproduces them exactly. A period that has not ended is closed only with
        ``force`` (the reason, recorded); a period closed already only to lock it.
        """

        def attempt() -> Event:
            head = self._head_as_known()
            refuse_close(period, start, end, lock, force, self.history.closes())
            at = first_instant(1, head, None)
            details = {
                "period": period,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "lock": lock,
                "head": {"sequence": head.sequence, "hash": head.hash},
                **({"force": force} if force else {}),
                **figures(head, instant_text(at)),
            }
            draft = Event(event_id="", type=ev.PERIOD_CLOSED, customer_id="", effective_date=end, details=canonical(details))
            draft = draft._replace(event_id=derive_event_id(draft), source="cli")
            (close,) = seal([draft], 1, head, at, self.actor)
            self.store.append([close])
            return close

        return with_retries(attempt)

    def change_policy(
        self, policy: Policy, *, reason: str, restatement: str | None = None, recorded_at: str | None = None
    ) -> Event:
        """Append a ``policy_changed`` event carrying the whole policy after the change (SPEC §13).

        From its recorded time on, every answer uses it; ``--known-at`` an earlier
        time still answers under the policy in force then.
        """
        at = parse_instant(recorded_at) if recorded_at is not None else None

        def attempt() -> Event:
            head = self._head_as_known()
            when = requested_time(instant_text(at), head) if at is not None else None
            start = first_instant(1, head, when)
            draft = Event(event_id="", type=ev.POLICY_CHANGED, customer_id="", effective_date=start.date(),
                          reason=reason, restatement=restatement, details=policy.text())
            draft = draft._replace(event_id=derive_event_id(draft), source="cli")
            (change,) = seal([draft], 1, head, start, self.actor)
            self.store.append([change])
            return change

        return with_retries(attempt)

    def _head_as_known(self) -> Head:
        """The log's head, once the history has caught up with it (else retry: a writer appended meanwhile)."""
        head_sequence = self.history.catch_up()
        head = self.store.head()
        if head.sequence != head_sequence:
            raise Retry
        return head

    # -- validation ----------------------------------------------------------------------

    def _stage(
        self,
        rows: Iterable[tuple[int, dict[str, Any]]],
        name: str,
        problems: list[Problem],
        drafts: Batch,
        sources: Sequence[str] | None = None,
    ) -> Batch:
        """Check each row's form and stage it; a void takes its customer and date from its target here.

        ``sources`` gives each row's ``source`` when it is not ``NAME:LINE`` (an invoice import's rows).
        """
        self.history.catch_up()
        settings = self.settings
        shapes: dict = {}
        for position, (line, cells) in enumerate(rows):
            event = fast_event(cells, settings, shapes)
            found: list[tuple[str, str]] = []
            if event is None:  # not plainly well formed: the detailed check decides, naming every problem
                row, found = parse_row(cells)
                if row is not None:
                    found = shape_problems(row, settings)
                if not found:
                    event = to_event(row)
            if not found and event is not None and event.type == ev.VOID:
                event = self._fill_void(event, drafts, found)
            if found:
                problems.extend(Problem(name, line, field, message) for field, message in found)
                continue
            source = sources[position] if sources else "cli" if name == "cli" else f"{name}:{line}"
            drafts.add(Draft(position, source, line, event))
        drafts.finish()
        return drafts

    def _fill_void(self, void: Event, drafts: Drafts, found: list[tuple[str, str]]) -> Event:
        """A void takes its customer and (by convention) its date from its target."""
        target_id = void.target_event_id or ""
        staged = drafts.find(target_id)
        target = staged.event if staged else self.history.find([target_id]).get(target_id)
        if target is None:
            found.append(("target_event_id", f"there is no event {target_id} in the ledger"))
            return void
        if void.customer_id and void.customer_id != target.customer_id:
            found.append(("customer_id", f"names {void.customer_id}, but event {target_id} belongs to {target.customer_id}"))
            return void
        void = void.with_record(
            customer_id=target.customer_id,
            effective_date=target.effective_date if void.effective_date == void.effective_date.min else void.effective_date,
        )
        if not void.event_id:
            void = void.with_record(event_id=derive_event_id(void))
        return void

    def _admit(
        self,
        drafts: Drafts,
        name: str,
        *,
        dry_run: bool,
        recorded_at: datetime | None,
        problems: list[Problem],
        restatement: str | None = None,
        plan: ImportPlan | None = None,
    ) -> Admitted:
        """Place the drafts in the log and append them; with any problem at all, append nothing.

        Rows whose form was already refused are left out, but every other row is
        still placed in its timeline, so a file's problems are all found in one pass.
        Each customer's rows are folded once: the fold that checks them is the one
        the read models are written from, in the same process, committed right
        after the log (a crash between the two commits is caught up from the log).
        An invoice import's ``plan`` state is kept with the append, or alone when nothing is new.
        """
        summary = plan.summary if plan is not None else None
        state = plan.state if plan is not None else None

        def attempt() -> Admitted:
            head_sequence = self.history.catch_up()
            if plan is not None and head_sequence != plan.head:
                raise StaleImport
            locks = period_locks(self.history.closes()) if head_sequence else []
            found = list(problems)
            self._skip_repeats(drafts, name, head_sequence, found)
            count = drafts.number(head_sequence)
            skipped = drafts.skipped()
            if dry_run or not count:
                self._place(drafts, name, head_sequence, found, locks, restatement, None)
                would_be = [d.event for chunk in drafts.in_order() for d in chunk] if count <= KEEP_EVENTS else []
                if state is not None and not dry_run:
                    if self.store.head().sequence != head_sequence:
                        raise Retry
                    self.store.keep_import_state(state)
                return Admitted(count, skipped, dry_run, events=tuple(would_be), summary=summary)
            last = head_sequence + count
            sealed: Sealing | None = None
            try:
                with self.history.appending(head_sequence, last) as projection:
                    self._place(drafts, name, head_sequence, found, locks, restatement, projection)
                    head = self.store.head()
                    if head.sequence != head_sequence:
                        raise Retry  # appended to meanwhile: validate again against what is there now
                    at = requested_time(instant_text(recorded_at), head) if recorded_at is not None else None
                    sealed = Sealing(head, count, at, self.actor, keep=count <= KEEP_EVENTS)
                    position = self.store.append_texts(sealed.texts(drafts.sealable(), projection), state=state)
                    sealed.appended = True
                    projection.commit(position)
            except StorageError as e:
                if sealed is None or not sealed.appended:
                    raise
                # The log has the append; the read models could not follow (they catch up on their next use).
                return Admitted(count, skipped, False, sealed.first, sealed.last, tuple(sealed.kept), str(e), summary)
            return Admitted(count, skipped, False, sealed.first, sealed.last, tuple(sealed.kept), None, summary)

        return with_retries(attempt)

    def _skip_repeats(self, drafts: Drafts, name: str, head_sequence: int, problems: list[Problem]) -> None:
        """Rows already in the batch or the log with the same content are skipped (re-importing is a no-op)."""
        for first, later in drafts.duplicates():
            if _same_row(first.event, later.event):
                drafts.skip(later.position)
            else:
                problems.append(Problem(name, later.line, "event_id",
                                        f"{later.event.event_id} is also used at {first.source} with other content"))
        if not head_sequence:
            return
        repeated: set[str] = set()
        for chunk in drafts.ids(500):
            recorded = self.history.find(chunk)
            if not recorded:
                continue
            for draft in (drafts.find(event_id) for event_id in recorded):
                if draft is None:
                    continue
                known = recorded[draft.event.event_id]
                if _same_row(known, draft.event):
                    repeated.add(known.event_id)
                else:
                    problems.append(Problem(name, draft.line, "event_id",
                                            f"{known.event_id} is already recorded with other content "
                                            f"(sequence {known.sequence}, from {known.source})"))
        drafts.skip_ids(repeated)

    def _place(
        self,
        drafts: Drafts,
        name: str,
        head_sequence: int,
        problems: list[Problem],
        locks: list[PeriodLock],
        restatement: str | None,
        projection: Projection | None,
    ) -> None:
        """Fold each draft into its customer's timeline, one customer at a time; raise with every problem.

        An event effective in a locked period (a void: whose target is) gets in
        only as a restatement: its own, or the one given for the whole import.
        With a ``projection``, each customer's rows are written from the fold
        that checked it, and each event's record fragments are kept for sealing.
        """

        def refuse(draft: Draft, field: str, message: str) -> None:
            problems.append(Problem(name, draft.line, field, message))

        # Under a grace, an event after a locked period can still change its figures, by filling a
        # lapse that began in it (SPEC §13): such an event needs --restate like one effective in it.
        policy = self.history.policy_at(head_sequence) if locks else None
        grace = policy if policy is not None and policy.reactivation_grace_days else None
        for customer_id, group in drafts.by_customer():
            timeline = self.history.timeline(customer_id) if head_sequence else Timeline(customer_id, self.settings)
            existed = bool(timeline.events or timeline.void_events)
            refused = False
            checked = grace is not None and existed and not all(d.event.restatement for d in group)
            before = self.history.recognized_mrr(timeline, grace) if checked else None
            placed: list[tuple[Draft, Event]] = []
            for draft in group:
                event = draft.event
                if locks and not event.restatement:
                    effective = event.effective_date
                    if event.type == ev.VOID:
                        target = timeline.event(event.target_event_id or "")
                        effective = target.effective_date if target else effective
                    lock = lock_on(effective, locks)
                    if lock is not None:
                        if not restatement:
                            what = "its target is effective" if event.type == ev.VOID else "it is effective"
                            refuse(draft, "effective_date", lock.refusal(what, effective))
                            refused = True
                            continue
                        event = event._replace(restatement=restatement)
                found = timeline.add(event._replace(source=draft.source, actor=self.actor))
                for field, message in found:
                    refuse(draft, field, message)
                refused = refused or bool(found)
                placed.append((draft, event))
            if before is not None and not refused:
                assert grace is not None
                through = _lock_moved(locks, before, self.history.recognized_mrr(timeline, grace))
                if through is not None and not restatement:
                    draft = next(d for d, e in placed if not e.restatement)
                    refuse(draft, "effective_date",
                           f"it changes the figures of period {through.period}, locked at {through.locked_at} by "
                           f"{through.actor}, through reactivation_grace_days={grace.reactivation_grace_days} (it ends "
                           'a lapse that began in it); to record it as a restatement, give --restate "reason"')
                    refused = True
                elif through is not None:  # let in as a restatement: the reason is recorded on each event
                    placed = [(d, e if e.restatement else e._replace(restatement=restatement)) for d, e in placed]
            if projection is not None:
                for draft, event in placed:
                    drafts.keep_fragments(draft.position, record_fragments(event))
            if projection is not None and not refused and not problems:
                projection.customer(timeline, existed)
        if problems:
            raise RejectedError(sorted(problems, key=lambda p: p.line))


def _lock_moved(locks: list[PeriodLock], before: list[tuple[date, int]], after: list[tuple[date, int]]) -> PeriodLock | None:
    """The first locked period whose recognized MRR differs between the two series, if any."""
    for lock in locks:
        if _mrr_within(before, lock.start, lock.end) != _mrr_within(after, lock.start, lock.end):
            return lock
    return None


def _mrr_within(series: list[tuple[date, int]], start: date, end: date) -> tuple[int, tuple[tuple[date, int], ...]]:
    """A recognized MRR series seen from ``start``'s eve to ``end``: the MRR then, and each change inside."""
    opening, changes, current = 0, [], 0
    for day, mrr in series:
        if day > end:
            break
        if day < start:
            opening = current = mrr
        elif mrr != current:
            changes.append((day, mrr))
            current = mrr
    return opening, tuple(changes)


class Sealing:
    """An append sealed in log order: numbered, timed and chained from its record fragments (SPEC §2, §9)."""

    def __init__(self, head: Head, count: int, at: datetime | None, actor: str, *, keep: bool):
        self.head = head
        self.count = count
        self.last_sequence = head.sequence + count
        self.start = first_instant(count, head, at)
        self.actor = actor
        self.keep = keep
        self.appended = False
        self.kept: list[Event] = []
        self.first: Event | None = None
        self.last: Event | None = None

    def texts(self, placed: Iterable[Sealable], projection: Projection) -> Iterator[tuple[int, str]]:
        """(sequence, stored text) of each event in log order; the read models get each event's index row."""
        clock = RecordedClock(self.start)
        previous = self.head.hash
        index: list[tuple] = []
        text = ""
        for item in placed:
            recorded = clock.text(item.sequence - self.head.sequence - 1)
            previous, text = chain_text(
                item.fragments, previous, sequence=item.sequence, append_last=self.last_sequence,
                recorded_at=recorded, actor=self.actor, source=item.source,
            )
            index.append((item.sequence, item.event_id, item.customer_id, item.type, item.effective_date, recorded,
                          self.last_sequence, text))
            if len(index) >= 5000:
                projection.indexed(index)
                index = []
            if self.keep or self.first is None:
                event = event_from_record(json.loads(text))
                self.first = self.first or event
                if self.keep:
                    self.kept.append(event)
            yield item.sequence, text
        projection.indexed(index)
        if text:
            self.last = event_from_record(json.loads(text))


def init_ledger(store: EventStore, settings: LedgerSettings) -> None:
    """Create a ledger: its settings only; the log starts empty (SPEC §2)."""
    store.initialise(settings)  # type: ignore[attr-defined]
