"""Invoice lines to contract events (SPEC §14, rules 1–9).

The mapping is pure — every invoice line imported so far in, event rows out —
so a later import maps the kept lines and the new ones as one file, and only
the differences are appended (``ledger/invoice_import.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ledger.errors import Problem
from ledger.events import canonical
from ledger.invoices import (
    ATTRIBUTES,
    CANCELLED,
    CHANGE,
    EVENT_ID_PREFIX,
    GAP,
    LAPSED,
    LEFT_CREDIT,
    LEFT_ONE_TIME,
    LEFT_UNMATCHED,
    LEFT_VOID,
    MAX_KEY,
    ONE_TIME,
    START,
    SUBSCRIPTION,
    InvoiceLine,
    Origin,
    whole_months,
)
from ledger.money import monthly_mrr
from ledger.settings import LedgerSettings


@dataclass(frozen=True, slots=True)
class Made:
    """One event the mapping makes.

    Attributes:
      key: its base event id, from the invoice and line that made it and what it is.
      cells: the event's fields as a file row gives them (no event_id), as (name, text) pairs.
      origin: the invoice line it comes from (errors and the event's ``source`` name it).
      invoice_id: that line's invoice.
      customer_id, subscription_id: whose line (subscription_id None for a customer_updated).
      effective_date: when it takes effect.
      rule: what made it: start, change, gap, cancelled, lapsed (an inferred cancel, rule 6) or attributes.
    """

    key: str
    cells: tuple[tuple[str, str], ...]
    origin: Origin
    invoice_id: str
    customer_id: str
    subscription_id: str | None
    effective_date: date
    rule: str

    def row(self) -> dict[str, str]:
        return dict(self.cells)

    @property
    def type(self) -> str:
        return self.row()["type"]


@dataclass(frozen=True, slots=True)
class Mapping:
    """What a set of invoice lines makes.

    Attributes:
      made: the events, per customer in effective order (a subscription's in the order they apply).
      left_out: (index of the line, reason) for every line that makes no event.
      problems: why the lines cannot be mapped (rule 9); nothing is made when there are any.
    """

    made: tuple[Made, ...]
    left_out: tuple[tuple[int, str], ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class _Terms:
    """A line's terms (rule 1): flat-priced."""

    amount: Decimal
    plan: str | None
    currency: str
    billing_months: int


def event_key(line: InvoiceLine, what: str) -> str:
    """The base event id of what ``line`` makes: its invoice, its line and what (rule 8: re-importing is a no-op)."""
    key = f"{EVENT_ID_PREFIX}{line.invoice_id}/{line.line_key}/{what}"
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(canonical({"invoice": line.invoice_id, "line": line.line_key}).encode()).hexdigest()
    return f"{EVENT_ID_PREFIX}{digest[:32]}/{what}"


def map_lines(lines: Sequence[InvoiceLine], *, as_of: date | None, settings: LedgerSettings) -> Mapping:
    """SPEC §14 rules 1–7 and 9: every line imported so far to the events they make, in one pass."""
    made: list[Made] = []
    left_out: list[tuple[int, str]] = []
    problems: list[Problem] = []
    customers: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        if line.voided:
            left_out.append((index, LEFT_VOID))
            continue
        customers.setdefault(line.customer_id, []).append(index)
        if line.type == ONE_TIME:
            left_out.append((index, LEFT_ONE_TIME))
    for customer in sorted(customers):
        indices = customers[customer]
        mine: list[Made] = list(_attributes(lines, indices))
        subscriptions: dict[str, list[int]] = {}
        for i in indices:
            if lines[i].type == SUBSCRIPTION:
                subscriptions.setdefault(lines[i].subscription_id or "", []).append(i)
        for sid in sorted(subscriptions):
            mine.extend(_subscription(lines, subscriptions[sid], as_of, settings, left_out, problems))
        mine.sort(key=lambda m: m.effective_date)  # stable: a subscription's events keep the order they apply in
        made.extend(mine)
    if problems:
        return Mapping((), tuple(sorted(left_out)), tuple(problems))
    return Mapping(tuple(made), tuple(sorted(left_out)), ())


def _attributes(lines: Sequence[InvoiceLine], indices: list[int]) -> Iterator[Made]:
    """Rule 7: a customer_updated wherever a line states attribute values other than the customer's line before it."""
    state: dict[str, str] = {}
    for i in sorted(indices, key=lambda i: (lines[i].day, i)):
        line = lines[i]
        changed = {k: v for k, v in line.attributes().items() if state.get(k) != v}
        if not changed:
            continue
        state.update(changed)
        cells = {"type": "customer_updated", "customer_id": line.customer_id, "effective_date": line.day.isoformat(),
                 **changed, "note": _note(line)}
        yield _made(line, ATTRIBUTES, cells, line.day, None)


def _subscription(
    lines: Sequence[InvoiceLine],
    indices: list[int],
    as_of: date | None,
    settings: LedgerSettings,
    left_out: list[tuple[int, str]],
    problems: list[Problem],
) -> list[Made]:
    """Rules 1–6 and 9 for one subscription's lines."""
    order = sorted(indices, key=lambda i: (lines[i].service_period_start, i))
    regular = [i for i in order if not lines[i].prorated]
    found = len(problems)
    terms: dict[int, _Terms] = {}
    for i in regular:
        line = lines[i]
        start, end = line.service_period_start, line.service_period_end
        assert start is not None and end is not None
        months = line.billing_months or whole_months(start, end)
        if months is None:
            problems.append(line.origin.problem(
                "billing_months", f"the service period {start} to {end} is not a whole number of months; "
                                  "give billing_months for a line billed for another length of time"))
            continue
        terms[i] = _Terms(line.amount, line.plan, line.currency or settings.currency, months)
    widest: int | None = None
    for i in regular:
        if widest is not None and lines[i].service_period_start < lines[widest].service_period_end:  # type: ignore[operator]
            other = lines[widest]
            problems.append(lines[i].origin.problem(
                "service_period_start", f"the period {lines[i].service_period_start} to {lines[i].service_period_end} "
                f"overlaps the period {other.service_period_start} to {other.service_period_end} of the same "
                f"subscription {other.subscription_id} at {other.origin.source} (invoice {other.invoice_id})"))
        if widest is None or lines[i].service_period_end > lines[widest].service_period_end:  # type: ignore[operator]
            widest = i
    if len(problems) > found:
        return []

    made: list[Made] = []
    previous: int | None = None
    pending: list[int] = []  # positive prorations since the previous regular line, earliest first
    for i in order:
        line = lines[i]
        if line.prorated:
            if line.amount <= 0:
                left_out.append((i, LEFT_CREDIT))
            else:
                pending.append(i)
            continue
        start = line.service_period_start
        assert start is not None
        if previous is None:
            when = _dated(lines, pending, start)
            made.append(_start(line, terms[i], when))
        else:
            before = lines[previous]
            if start == before.service_period_end:
                if terms[i] == terms[previous]:
                    left_out.extend((p, LEFT_UNMATCHED) for p in pending)
                else:
                    when = _dated(lines, pending, start)
                    made.append(_change(before, terms[previous], line, terms[i], when, settings))
            else:
                stop = before.service_period_end
                assert stop is not None
                made.append(_cancel(before, stop, GAP))
                usable = [p for p in pending if lines[p].service_period_start >= stop]  # type: ignore[operator]
                left_out.extend((p, LEFT_UNMATCHED) for p in pending if p not in usable)
                made.append(_start(line, terms[i], _dated(lines, usable, start)))
        previous, pending = i, []
    left_out.extend((p, LEFT_UNMATCHED) for p in pending)
    if previous is None:
        return made
    last = lines[previous]
    stated = [lines[i] for i in order if lines[i].cancelled_at is not None]
    if stated:
        giver = stated[-1]
        assert giver.cancelled_at is not None
        latest = made[-1].effective_date
        if giver.cancelled_at < latest:
            problems.append(giver.origin.problem(
                "cancelled_at", f"{giver.cancelled_at} is before {latest}, when subscription {last.subscription_id}'s "
                                f"{made[-1].type} from {made[-1].origin.source} takes effect"))
            return []
        made.append(_cancel(last, giver.cancelled_at, CANCELLED, origin=giver.origin))
    elif as_of is not None and last.service_period_end is not None and last.service_period_end <= as_of:
        made.append(_cancel(last, last.service_period_end, LAPSED))
    return made


def _dated(lines: Sequence[InvoiceLine], prorations: list[int], start: date) -> date:
    """Rule 4: the earliest positive proration before a regular line dates what that line makes."""
    days = [lines[p].service_period_start for p in prorations]
    return min([start, *days])  # type: ignore[type-var]


def _note(line: InvoiceLine) -> str:
    return f"invoice {line.invoice_id} line {line.line_key}"


def _made(line: InvoiceLine, rule: str, cells: dict[str, Any], when: date, sid: str | None, origin: Origin | None = None) -> Made:
    what = {GAP: "lapsed"}.get(rule, rule)  # a gap's cancel and an inferred one are the same event: the line stops
    text = tuple((k, str(v)) for k, v in cells.items() if v is not None)
    return Made(event_key(line, what), text, origin or line.origin, line.invoice_id, line.customer_id, sid, when, rule)


def _start(line: InvoiceLine, terms: _Terms, when: date) -> Made:
    """Rules 2 and 5: a line starts (or restarts after a gap)."""
    cells = {
        "type": "subscription_started",
        "customer_id": line.customer_id,
        "effective_date": when.isoformat(),
        "subscription_id": line.subscription_id,
        "plan": terms.plan,
        "amount": terms.amount,
        "billing_months": terms.billing_months,
        "currency": line.currency,
        "note": _note(line),
    }
    return _made(line, START, cells, when, line.subscription_id)


def _change(
    before: InvoiceLine, old: _Terms, line: InvoiceLine, new: _Terms, when: date, settings: LedgerSettings
) -> Made:
    """Rule 3: the next line's terms differ — an upsell, downgrade or subscription_changed, with its cause."""
    old_mrr, new_mrr = _mrr(old, settings), _mrr(new, settings)
    kind = "upsell" if new_mrr > old_mrr else "downgrade" if new_mrr < old_mrr else "subscription_changed"
    if new.plan != old.plan:
        cause = "plan"
    elif before.quantity is not None and line.quantity is not None and before.quantity != line.quantity:
        cause = "seats"
    else:
        cause = "price"
    cells: dict[str, Any] = {
        "type": kind,
        "customer_id": line.customer_id,
        "effective_date": when.isoformat(),
        "subscription_id": line.subscription_id,
    }
    for name in ("plan", "amount", "billing_months", "currency"):
        if getattr(new, name) != getattr(old, name):
            cells[name] = getattr(new, name)
    cells["cause"] = cause
    cells["note"] = _note(line)
    return _made(line, CHANGE, cells, when, line.subscription_id)


def _cancel(line: InvoiceLine, when: date, rule: str, *, origin: Origin | None = None) -> Made:
    """Rules 5 and 6: the line stops — after a gap, by its stated cancellation, or inferred when invoices stop."""
    if rule == CANCELLED:
        reason = "cancelled in the billing system (cancelled_at)"
    else:  # the same words for a gap and a lapse: a gap later filled or restarted leaves this event as it is
        reason = f"inferred: no invoice line covers {when}"
    cells = {
        "type": "cancel",
        "customer_id": line.customer_id,
        "effective_date": when.isoformat(),
        "subscription_id": line.subscription_id,
        "reason": reason,
        "note": _note(line),
    }
    return _made(line, rule, cells, when, line.subscription_id, origin)


def _mrr(terms: _Terms, settings: LedgerSettings) -> Decimal:
    rate = settings.rate(terms.currency) or Decimal(1)
    return monthly_mrr(terms.amount, Decimal(0), terms.billing_months, rate)
