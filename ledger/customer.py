"""The customer aggregate: a customer's contract folded over the effective clock.

Events are folded per line in ``(effective_date, sequence)`` order (SPEC §3);
the fold yields, for every day with events, the customer's MRR at the end of
that day and what each event did to it. The same fold validates new events
(whole-timeline consistency and the type claims) and feeds the projections,
so what the ledger accepts and what it reports can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from ledger import events as ev
from ledger.events import Event
from ledger.money import ZERO, monthly_mrr
from ledger.settings import LedgerSettings

# A customer's MRR is stored as integer cents in 64-bit columns and summed across
# customers; refuse, at entry, a contract whose MRR could overflow them.
MAX_MRR = Decimal(10) ** 13
_PRICING = ("quantity", "unit_price", "amount", "billing_months", "discount_pct", "currency")

CROSS_SELL = "cross_sell"
LINE_REMOVED = "line_removed"
PLAN = "plan"
SEATS = "seats"
PRICE = "price"
USAGE = "usage"
MIXED = "mixed"
CAUSES = (CROSS_SELL, LINE_REMOVED, PLAN, SEATS, PRICE, USAGE, MIXED)


class Line(NamedTuple):
    """One subscription line's terms, and its MRR (SPEC §4), quantized once."""

    subscription_id: str
    plan: str | None
    quantity: int | None
    unit_price: Decimal | None
    amount: Decimal | None
    billing_months: int
    discount_pct: Decimal
    currency: str
    open: bool
    mrr: Decimal
    anchor: date = date.min  # the day its billing terms were last anchored: its start, or a change of billing_months

    @property
    def per_seat(self) -> bool:
        return self.amount is None

    def base(self) -> Decimal:
        if self.per_seat:
            return Decimal(self.quantity or 0) * (self.unit_price or ZERO)
        return self.amount or ZERO


def line_mrr(line: Line, settings: LedgerSettings) -> Decimal:
    """base × (1 − discount/100) / billing_months, in the ledger currency, to the cent."""
    if not line.open:
        return ZERO
    rate = settings.rate(line.currency)
    if rate is None:
        raise ValueError(f"no rate for {line.currency}")
    return monthly_mrr(line.base(), line.discount_pct, line.billing_months, rate)


def _priced(line: Line, settings: LedgerSettings, **changes: object) -> Line:
    draft = line._replace(**changes)
    return draft._replace(mrr=line_mrr(draft, settings))


class Effect(NamedTuple):
    """What one event did to one line's MRR: the change and its cause (SPEC §5).

    Attributes:
      event: the event (its effective_date is the day of the effect as the contract reads).
      line: the subscription line whose MRR changed.
      cause: the event's cause (§5, or the cause it states, §3).
      delta: the line's MRR after minus before.
      anchor, months: for a cancel, the line's billing anchor and billing_months then,
        from which the end of its term in progress follows (SPEC §13 ``term_end``).
    """

    event: Event
    line: str
    cause: str
    delta: Decimal
    anchor: date | None = None
    months: int = 0


@dataclass(slots=True)
class Day:
    """A day with events: the customer's MRR at its end, and what moved it."""

    date: date
    events: list[Event] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    ended: list[Effect] = field(default_factory=list)  # lines a cancel ended that earned nothing (for term_end)
    mrr: Decimal = ZERO
    active_before: bool = False  # MRR > 0 at the end of some earlier day

    @property
    def ever_active(self) -> bool:
        """MRR > 0 at the end of this day or of an earlier one (never mid-day: SPEC §5 compares days)."""
        return self.active_before or self.mrr > 0


LineChange = tuple[Line | None, Line]


class Timeline:
    """A customer's whole contract timeline as known: the events in effect, folded."""

    def __init__(self, customer_id: str, settings: LedgerSettings):
        self.customer_id = customer_id
        self.settings = settings
        self.events: list[Event] = []  # in (effective_date, sequence) order, voided ones removed
        self.voids: dict[str, Event] = {}  # target event id -> the void that removed it
        self.void_events: dict[str, Event] = {}
        self.lines: dict[str, Line] = {}
        self.days: list[Day] = []
        self.changed_from: date | None = None  # earliest day the last add() changed

    # -- reading -----------------------------------------------------------------

    def event(self, event_id: str) -> Event | None:
        for e in self.events:
            if e.event_id == event_id:
                return e
        return None

    def mrr_on(self, day: date) -> Decimal:
        """The customer's MRR at the end of ``day``."""
        result = ZERO
        for d in self.days:
            if d.date > day:
                break
            result = d.mrr
        return result

    def lines_on(self, day: date) -> list[Line]:
        """Every line as it stands at the end of ``day`` (open or cancelled)."""
        replay = Timeline(self.customer_id, self.settings)
        for e in self.events:
            if e.effective_date > day:
                break
            replay._apply(e, check_claim=False)
        return sorted(replay.lines.values(), key=lambda line: line.subscription_id)

    # -- changing ------------------------------------------------------------------

    def add(self, event: Event, *, check_claim: bool = True) -> list[tuple[str, str]]:
        """Fold ``event`` in where it belongs; return the problems, and change nothing if any.

        An event effective on or after every other applies at the end of the
        fold; a backdated event or a void refolds the whole timeline, so every
        later change is checked again against the contract as it now reads.
        """
        if event.type == ev.VOID:
            return self._void(event)
        if not self.events and not self.voids and (event.type in ev.CHANGE_TYPES or event.type == ev.CANCEL):
            return [("customer_id", f"no customer {self.customer_id}: its first event must start a line "
                     f"(subscription_started) or describe it (customer_updated), not {event.type}")]
        if self.days and event.effective_date < self.days[-1].date:
            return self._refold([*self.events, event], changed=event.effective_date, new=event)
        problems = self._apply(event, check_claim=check_claim)
        if not problems:
            self.changed_from = event.effective_date
        return problems

    def _void(self, void: Event) -> list[tuple[str, str]]:
        target_id = void.target_event_id or ""
        if target_id in self.voids:
            return [("target_event_id", f"event {target_id} was already voided by {self.voids[target_id].event_id}")]
        if target_id in self.void_events:
            return [("target_event_id", f"event {target_id} is itself a void; a void cannot be voided")]
        target = self.event(target_id)
        if target is None:
            return [("target_event_id", f"customer {self.customer_id} has no event {target_id}")]
        remaining = [e for e in self.events if e is not target]
        problems = self._refold(remaining, changed=target.effective_date, new=None)
        if problems:
            return [("target_event_id", f"voiding {target_id} would leave the timeline inconsistent: {problems[0][1]}")]
        self.voids[target_id] = void
        self.void_events[void.event_id] = void
        return []

    def _refold(self, events: list[Event], *, changed: date, new: Event | None) -> list[tuple[str, str]]:
        replay = Timeline(self.customer_id, self.settings)
        for e in sorted(events, key=lambda x: (x.effective_date, x.sequence)):
            problems = replay._apply(e, check_claim=e is new)
            if problems:
                if e is new:
                    return problems
                assert new is None or new.sequence, "a new event must carry its sequence to be placed"
                field_name, message = problems[0]
                culprit = "this backdated event" if new is not None else "that"
                return [
                    (
                        "effective_date",
                        f"{culprit} would make {e.type} {e.event_id} effective {e.effective_date} invalid: {message}",
                    )
                ]
        self.events, self.lines, self.days = replay.events, replay.lines, replay.days
        self.changed_from = changed
        return []

    def _apply(self, event: Event, *, check_claim: bool) -> list[tuple[str, str]]:
        """Apply ``event`` at the end of the fold (its date is on or after every other)."""
        changes, problems = self._line_changes(event, check_claim)
        if problems:
            return problems
        if changes and self._mrr_after(changes) > MAX_MRR:
            given = [name for name in _PRICING if getattr(event, name) is not None]
            return [(given[0] if given else "-", f"would bring customer {self.customer_id}'s MRR above "
                     f"{MAX_MRR:,}, more than revledger keeps")]
        day = self.days[-1] if self.days and self.days[-1].date == event.effective_date else None
        if day is None:
            previous = self.days[-1] if self.days else None
            day = Day(
                event.effective_date,
                mrr=previous.mrr if previous else ZERO,
                active_before=previous.ever_active if previous else False,
            )
            self.days.append(day)
        self.events.append(event)
        day.events.append(event)
        moved = False
        cause = None
        for old, new in changes:
            self.lines[new.subscription_id] = new
            old_mrr = old.mrr if old is not None and old.open else ZERO
            if new.mrr != old_mrr:
                cause = cause or _cause(event, changes)
                if event.type == ev.CANCEL:
                    effect = Effect(event, new.subscription_id, cause, new.mrr - old_mrr, old.anchor, old.billing_months)
                else:
                    effect = Effect(event, new.subscription_id, cause, new.mrr - old_mrr)
                day.effects.append(effect)
                moved = True
            elif event.type == ev.CANCEL:  # a zero-priced line: no MRR moves, but the cancel still has a term end
                day.ended.append(Effect(event, new.subscription_id, LINE_REMOVED, ZERO, old.anchor, old.billing_months))
        if moved:
            day.mrr = sum((line.mrr for line in self.lines.values()), ZERO)
        return []

    def _mrr_after(self, changes: list[LineChange]) -> Decimal:
        current = self.days[-1].mrr if self.days else ZERO
        return current + sum(((new.mrr - (old.mrr if old is not None and old.open else ZERO)) for old, new in changes), ZERO)

    def _line_changes(self, event: Event, check_claim: bool) -> tuple[list[LineChange], list[tuple[str, str]]]:
        """The (old line, new line) pairs ``event`` makes, and its problems (then no pairs)."""
        kind = event.type
        sid = event.subscription_id
        when = event.effective_date
        if kind == ev.SUBSCRIPTION_STARTED:
            old = self.lines.get(sid or "")
            if old is not None and old.open:
                return [], [("subscription_id", f"line {sid} is already open on {when}")]
            draft = Line(
                subscription_id=sid or "",
                plan=event.plan,
                quantity=event.quantity,
                unit_price=event.unit_price,
                amount=event.amount,
                billing_months=event.billing_months or 1,
                discount_pct=event.discount_pct if event.discount_pct is not None else ZERO,
                currency=event.currency or self.settings.currency,
                open=True,
                mrr=ZERO,
                anchor=when,
            )
            return [(old, draft._replace(mrr=line_mrr(draft, self.settings)))], []
        if kind in ev.CHANGE_TYPES:
            old = self.lines.get(sid or "")
            if old is None or not old.open:
                return [], [("subscription_id", f"line {sid} is not open on {when}")]
            if old.per_seat and event.amount is not None:
                return [], [("amount", f"line {sid} is priced per seat (quantity × unit_price), not by amount")]
            if not old.per_seat and (event.quantity is not None or event.unit_price is not None):
                field_name = "quantity" if event.quantity is not None else "unit_price"
                return [], [(field_name, f"line {sid} is priced by amount (flat or usage), not per seat")]
            new = _priced(old, self.settings, **event.terms())
            if new.billing_months != old.billing_months:
                new = new._replace(anchor=when)
            if check_claim and kind == ev.UPSELL and not new.mrr > old.mrr:
                return [], [("type", f"an upsell must raise line {sid}'s MRR, but it goes from {old.mrr} to {new.mrr}")]
            if check_claim and kind == ev.DOWNGRADE and not new.mrr < old.mrr:
                return [], [("type", f"a downgrade must lower line {sid}'s MRR, but it goes from {old.mrr} to {new.mrr}")]
            return [(old, new)], []
        if kind == ev.CANCEL:
            if sid:
                old = self.lines.get(sid)
                if old is None or not old.open:
                    return [], [("subscription_id", f"line {sid} is not open on {when}")]
                targets = [old]
            else:
                targets = [line for line in self.lines.values() if line.open]
                if not targets:
                    return [], [("subscription_id", f"customer {self.customer_id} has no open line on {when}")]
            return [(old, old._replace(open=False, mrr=ZERO)) for old in targets], []
        return [], []  # customer_updated (and ledger events) change no line


def _cause(event: Event, changes: list[LineChange]) -> str:
    """The cause of one event that changed some line's MRR (SPEC §5)."""
    kind = event.type
    if kind == ev.SUBSCRIPTION_STARTED:
        return CROSS_SELL
    if kind == ev.CANCEL:
        return LINE_REMOVED
    if kind == ev.USAGE_CHANGE:
        return USAGE
    if event.cause is not None:  # stated by the source system (SPEC §3)
        return event.cause
    old, new = changes[0]
    assert old is not None and old.open
    if new.plan != old.plan:
        return PLAN
    if new.quantity != old.quantity:
        return SEATS
    return PRICE


class FoldError(ValueError):
    """A recorded event that does not fold into its customer's timeline (the log was tampered with)."""

    def __init__(self, event: Event, message: str):
        self.sequence = event.sequence
        super().__init__(f"event {event.sequence} ({event.event_id}) does not fold into its customer's timeline: {message}")


def fold(customer_id: str, events: list[Event], settings: LedgerSettings) -> Timeline:
    """A timeline from a customer's log events (sequence order), voids applied; events must be valid."""
    timeline = Timeline(customer_id, settings)
    for e in events:
        problems = timeline.add(e, check_claim=False)
        if problems:
            raise FoldError(e, problems[0][1])
    return timeline
