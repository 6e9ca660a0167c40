"""A realistic synthetic event file, for demos, tests and the benchmark: deterministic for a seed.

Customers arrive over the months (a third of them already there on the first
day), each with a seat-priced main line and often a flat platform fee or a
usage-priced line, billed monthly or yearly, some at a discount. Month by
month they expand, contract, change seats, prices and plans, buy add-ons,
cancel lines, churn (with and without ``subscription_id``) and come back.
Sales ops record late, backdated corrections and void their own mistakes.

Every row is valid (SPEC §3) when the file is imported in order, by
construction: the generator keeps each line's state as the ledger will fold
it, and only emits an event whose checks hold against that state.

* An upsell or downgrade is labelled by comparing the line's MRR before and
  after, computed exactly as SPEC §4 does (to the cent, half-even); a change
  that does not move MRR the intended way is recorded as
  ``subscription_changed``, which claims nothing.
* A backdated correction is a ``seat_change``/``price_change`` of one field on
  a line open since before its effective date, dated no earlier than the last
  event that set that field, so it opens and closes nothing (no later event
  is stranded) and, folded in, leaves the line's current terms as tracked.
* A void removes a ``customer_updated`` or a ``price_change`` recorded just
  before it with no event of that customer in between, so nothing else was
  checked against the voided event.

Only ``random.Random(seed)`` decides anything, and rows come out month by
month, so the same seed gives the same bytes and the file is never held whole.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import IO

from ledger.clock import add_months
from ledger.events import CONTENT_FIELDS, NAMED_ATTRIBUTES
from ledger.money import from_cents, monthly_mrr, to_cents

# The event fields the generator fills, in the ledger's own column order, then the attributes.
COLUMNS = (
    *(name for name in CONTENT_FIELDS if name not in ("currency", "cause", "restatement")),
    *NAMED_ATTRIBUTES,
    "attr.industry",
)
_INTEGER_COLUMNS = ("quantity", "billing_months")

SEGMENTS = (("SMB", 0.6), ("Mid-Market", 0.3), ("Enterprise", 0.1))
CHANNELS = ("self-serve", "sales", "partner")
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
INDUSTRIES = ("software", "retail", "finance", "health", "education", "media")
_NAME_WORDS = (
    ("Blue", "Bright", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iron", "Juniper", "Lumen", "Maple"),
    ("Analytics", "Bakery", "Capital", "Dynamics", "Logistics", "Health", "Labs", "Media", "Systems", "Works"),
    ("Inc", "LLC", "GmbH", "Ltd", "SA", "Co"),
)

# The seat plans, cheapest first, and their monthly list price per seat, in cents.
SEAT_PLANS = (("starter", 1500), ("growth", 4000), ("scale", 9000), ("enterprise", 15000))
SEATS = {"SMB": (1, 12), "Mid-Market": (10, 60), "Enterprise": (50, 400)}
ANNUAL_MONTHS_CHARGED = 10  # a yearly plan costs ten months of the monthly one
DISCOUNTS = (5, 10, 15, 20, 25)
ADD_ONS = ("analytics", "support", "usage")
CHURN_REASONS = ("budget", "competitor", "no_longer_needed", "non_payment", "merged")

# For a customer with an open line, the chance per month of each kind of change (one at most).
ACTIONS = (
    ("upsell", 0.040),
    ("downgrade", 0.014),
    ("seats", 0.040),
    ("price", 0.012),
    ("billing", 0.008),
    ("cross_sell", 0.016),
    ("cancel_line", 0.010),
    ("churn", 0.016),
    ("attributes", 0.012),
    ("backdated", 0.020),
    ("mistake", 0.006),
)
USAGE_CHANGE_CHANCE = 0.45  # per open usage line per month
REACTIVATION_CHANCE = 0.035  # per churned customer per month
ALREADY_THERE = 0.35  # share of customers already there in the first month


class _Line:
    """A subscription line as the ledger folds it: terms in integer cents, and when each field was last set."""

    __slots__ = (
        "sid",
        "plan",
        "quantity",
        "unit_price",
        "amount",
        "billing_months",
        "discount",
        "open",
        "started",
        "set_quantity",
        "set_unit_price",
        "set_amount",
        "set_discount",
        "usage",
    )

    def __init__(self, sid: str, plan: str, day: int, *, billing_months: int, discount: int, usage: bool = False):
        self.sid = sid
        self.plan = plan
        self.quantity: int | None = None
        self.unit_price: int | None = None
        self.amount: int | None = None
        self.billing_months = billing_months
        self.discount = discount
        self.open = True
        self.started = day
        self.set_quantity = self.set_unit_price = self.set_amount = self.set_discount = day
        self.usage = usage

    @property
    def per_seat(self) -> bool:
        return self.amount is None

    def mrr(self, **terms: int | None) -> int:
        """The line's MRR in cents (SPEC §4), with ``terms`` overriding its own."""
        if not self.open:
            return 0
        quantity = terms.get("quantity", self.quantity)
        unit_price = terms.get("unit_price", self.unit_price)
        amount = terms.get("amount", self.amount)
        discount = terms.get("discount", self.discount)
        months = terms.get("billing_months", self.billing_months)
        base = amount if amount is not None else (quantity or 0) * (unit_price or 0)
        return mrr_cents(base, discount or 0, months or 1)


def mrr_cents(base_cents: int, discount_pct: int, billing_months: int) -> int:
    """A line's MRR in cents, by the ledger's own rule (SPEC §4), so the generator's upsells really raise MRR."""
    return to_cents(monthly_mrr(from_cents(base_cents), Decimal(discount_pct), billing_months))


class _Customer:
    __slots__ = ("cid", "index", "segment", "lines", "count", "pending", "region")

    def __init__(self, cid: str, index: int, segment: str):
        self.cid = cid
        self.index = index
        self.segment = segment
        self.region = ""
        self.lines: dict[str, _Line] = {}
        self.count = 0
        self.pending: list[dict[str, str]] = []  # rows to record first thing next month (voids and their fixes)

    def next_id(self) -> str:
        self.count += 1
        return f"{self.cid}-{self.count:03d}"

    def open_lines(self) -> list[_Line]:
        return [line for line in self.lines.values() if line.open]


def money(value: int) -> str:
    """Integer cents as money text."""
    return f"{value // 100}.{value % 100:02d}"


class Generator:
    """Generates the rows of one synthetic file; see :func:`generate`."""

    def __init__(self, customers: int, months: int, seed: int, start: date):
        if customers < 1 or months < 1:
            raise ValueError("customers and months must be at least 1")
        self.rng = random.Random(seed)
        self.customers = customers
        self.months = months
        self.start = start
        self.width = max(6, len(str(customers)))
        self._iso: dict[int, str] = {}

    def iso(self, ordinal: int) -> str:
        text = self._iso.get(ordinal)
        if text is None:
            text = self._iso[ordinal] = date.fromordinal(ordinal).isoformat()
        return text

    # -- the months --------------------------------------------------------------------

    def rows(self) -> Iterator[dict[str, str]]:
        rng = self.rng
        arrivals: list[list[int]] = [[] for _ in range(self.months)]
        for index in range(self.customers):
            month = 0 if rng.random() < ALREADY_THERE else rng.randrange(self.months)
            arrivals[month].append(index)
        population: list[_Customer] = []
        for month in range(self.months):
            first = add_months(self.start, month).toordinal()
            last = add_months(self.start, month + 1).toordinal() - 1
            recorded: list[tuple[int, int, int, dict[str, str]]] = []
            for customer in population:
                self._month(customer, first, last, recorded)
            for index in arrivals[month]:
                customer = self._arrive(index, first, last, recorded)
                population.append(customer)
            recorded.sort(key=lambda item: item[:3])
            for *_, row in recorded:
                yield row
            arrivals[month] = []

    def _slots(self, count: int, first: int, last: int) -> list[int]:
        """``count`` days of the month in order: when one customer's changes of the month take effect."""
        return sorted(self.rng.randint(first, last) for _ in range(count))

    def _arrive(self, index: int, first: int, last: int, out: list) -> _Customer:
        rng = self.rng
        segment = _weighted(rng, SEGMENTS)
        customer = _Customer(f"C{index:0{self.width}d}", index, segment)
        day = rng.randint(first, last)
        customer.region = rng.choice(REGIONS)
        name = " ".join(rng.choice(words) for words in _NAME_WORDS)
        channel = "self-serve" if segment == "SMB" and rng.random() < 0.7 else rng.choice(CHANNELS)
        emit = _Emitter(self, customer, out)
        emit(
            day,
            day,
            "customer_updated",
            customer_name=name,
            segment=segment,
            channel=channel,
            region=customer.region,
            **{"attr.industry": rng.choice(INDUSTRIES)},
        )
        self._start_main(emit, day, annual=rng.random() < (0.2 if segment == "SMB" else 0.45))
        if rng.random() < 0.3:
            self._start_flat(emit, day, "platform")
        if rng.random() < 0.25:
            self._start_flat(emit, day, "usage")
        return customer

    def _month(self, customer: _Customer, first: int, last: int, out: list) -> None:
        rng = self.rng
        emit = _Emitter(self, customer, out)
        if customer.pending:
            for row in customer.pending:
                emit.row(first, row)
            customer.pending = []
        open_lines = customer.open_lines()
        if not open_lines:
            if rng.random() < REACTIVATION_CHANCE:
                self._reactivate(emit, rng.randint(first, last))
            return
        actions: list[str] = []
        for line in open_lines:
            if line.usage and rng.random() < USAGE_CHANGE_CHANCE:
                actions.append("usage:" + line.sid)
        draw = rng.random()
        for action, chance in ACTIONS:
            if draw < chance:
                if action == "mistake" and first + 31 > self._end():
                    break  # its void would fall after the file ends
                actions.append(action)
                break
            draw -= chance
        if not actions:
            return
        rng.shuffle(actions)
        if "mistake" in actions:  # nothing of this customer may follow it until its void
            actions.remove("mistake")
            actions.append("mistake")
        for day, action in zip(self._slots(len(actions), first, last), actions):
            getattr(self, "_" + action.partition(":")[0])(emit, day, action.partition(":")[2], first)

    def _end(self) -> int:
        return add_months(self.start, self.months).toordinal() - 1

    # -- starting lines ------------------------------------------------------------------

    def _start_main(self, emit: _Emitter, day: int, *, annual: bool, sid: str = "main") -> None:
        rng = self.rng
        customer = emit.customer
        low, high = SEATS[customer.segment]
        top = {"SMB": 2, "Mid-Market": 3, "Enterprise": 4}[customer.segment]
        plan, price = SEAT_PLANS[rng.randrange(max(0, top - 2), top)]
        months = 12 if annual else 1
        discount = rng.choice(DISCOUNTS) if rng.random() < (0.15 if customer.segment == "SMB" else 0.5) else 0
        line = _Line(sid, plan, day, billing_months=months, discount=discount)
        line.quantity = rng.randint(low, high)
        line.unit_price = price * ANNUAL_MONTHS_CHARGED if annual else price
        customer.lines[sid] = line
        emit.started(day, line)

    def _start_flat(self, emit: _Emitter, day: int, kind: str) -> None:
        rng = self.rng
        if kind == "usage":
            line = _Line("usage", "api-usage", day, billing_months=1, discount=0, usage=True)
            line.amount = rng.randint(20, 3000) * 100 + rng.randrange(100)
        elif kind == "platform":
            annual = rng.random() < 0.4
            line = _Line("platform", "platform-fee", day, billing_months=12 if annual else 1, discount=0)
            line.amount = rng.choice((99, 249, 499, 999)) * 100 * (ANNUAL_MONTHS_CHARGED if annual else 1)
        else:  # support
            line = _Line("support", "premium-support", day, billing_months=1, discount=rng.choice((0, 0, 10)))
            line.amount = rng.choice((300, 500, 1200)) * 100
        emit.customer.lines[line.sid] = line
        emit.started(day, line)

    def _cross_sell(self, emit: _Emitter, day: int, _: str, first: int) -> None:
        rng = self.rng
        customer = emit.customer
        choices = [sid for sid in ADD_ONS if sid not in customer.lines or not customer.lines[sid].open]
        if not choices:
            return self._upsell(emit, day, "", first)
        sid = rng.choice(choices)
        if sid == "analytics":
            line = _Line("analytics", "analytics", day, billing_months=1, discount=0)
            line.quantity = max(1, (customer.lines["main"].quantity or 1) // 2) if "main" in customer.lines else 5
            line.unit_price = 1000
            customer.lines[sid] = line
            emit.started(day, line, reason="cross_sell")
        else:
            self._start_flat(emit, day, sid)

    def _reactivate(self, emit: _Emitter, day: int) -> None:
        rng = self.rng
        customer = emit.customer
        main = customer.lines.get("main")
        annual = bool(main and main.billing_months == 12) if rng.random() < 0.7 else rng.random() < 0.3
        self._start_main(emit, day, annual=annual)  # a restart defines the line afresh
        if rng.random() < 0.3:
            self._start_flat(emit, day, "usage")

    # -- changing lines ------------------------------------------------------------------

    def _pick(self, customer: _Customer, *, per_seat: bool | None = None, usage: bool | None = None) -> _Line | None:
        lines = [
            line
            for line in customer.lines.values()
            if line.open and (per_seat is None or line.per_seat == per_seat) and (usage is None or line.usage == usage)
        ]
        return self.rng.choice(lines) if lines else None

    def _usage(self, emit: _Emitter, day: int, sid: str, first: int) -> None:
        line = emit.customer.lines[sid]
        if not line.open:
            return
        amount = max(0, (line.amount or 0) * self.rng.randint(75, 130) // 100)
        emit.change(day, line, "usage_change", amount=amount)

    def _upsell(self, emit: _Emitter, day: int, _: str, first: int) -> None:
        self._move(emit, day, up=True)

    def _downgrade(self, emit: _Emitter, day: int, _: str, first: int) -> None:
        self._move(emit, day, up=False)

    def _move(self, emit: _Emitter, day: int, *, up: bool) -> None:
        """An upsell or downgrade: more or fewer seats, a plan up or down the ladder, or a bigger or smaller fee."""
        rng = self.rng
        line = self._pick(emit.customer, usage=False)
        if line is None:
            return
        terms: dict[str, object] = {}
        if line.per_seat:
            ladder = [name for name, _ in SEAT_PLANS]
            step = 1 if up else -1
            rank = ladder.index(line.plan) if line.plan in ladder else -1
            if rank >= 0 and 0 <= rank + step < len(ladder) and rng.random() < 0.4:
                price = SEAT_PLANS[rank + step][1]
                terms["plan"] = ladder[rank + step]
                terms["unit_price"] = price * ANNUAL_MONTHS_CHARGED if line.billing_months == 12 else price
            else:
                quantity = line.quantity or 0
                change = max(1, quantity * rng.randint(5, 40) // 100)
                terms["quantity"] = quantity + change if up else max(1, quantity - change)
        else:
            amount = line.amount or 0
            terms["amount"] = amount * rng.randint(115, 200) // 100 if up else amount * rng.randint(50, 85) // 100
        before = line.mrr()
        after = line.mrr(**{("discount" if k == "discount_pct" else k): v for k, v in terms.items() if k != "plan"})
        if up and after > before:
            kind = "upsell"
        elif not up and after < before:
            kind = "downgrade"
        else:
            kind = "subscription_changed"  # it would not move MRR the way its type claims
        emit.change(day, line, kind, reason="expansion" if up else "contraction", **terms)

    def _seats(self, emit: _Emitter, day: int, _: str, first: int) -> None:
        line = self._pick(emit.customer, per_seat=True)
        if line is None:
            return
        quantity = line.quantity or 0
        quantity = max(1, quantity + self.rng.choice((-3, -2, -1, 1, 1, 2, 3, 5)))
        if quantity != line.quantity:
            emit.change(day, line, "seat_change", quantity=quantity)

    def _price(self, emit: _Emitter, day: int, _: str, first: int) -> None:
        rng = self.rng
        line = self._pick(emit.customer, usage=False)
        if line is None:
            return
        if rng.random() < 0.5:
            discount = rng.choice((0, *DISCOUNTS))
            if discount != line.discount:
                emit.change(day, line, "price_change", reason="renegotiated", discount_pct=discount)
        elif line.per_seat:
            emit.change(day, line, "price_change", reason="list_price", unit_price=(line.unit_price or 0) * 105 // 100)
        else:
            emit.change(day, line, "price_change", reason="list_price", amount=(line.amount or 0) * 105 // 100)

    def _billing(self, emit: _Emitter, day: int, _: str, first: int) -> None:
        """Switch a line between monthly and yearly billing (price per period changes with it)."""
        line = self._pick(emit.customer, usage=False)
        if line is None:
            return
        to_annual = line.billing_months == 1
        field = "unit_price" if line.per_seat else "amount"
        price = getattr(line, field) or 0
        price = price * ANNUAL_MONTHS_CHARGED if to_annual else price // ANNUAL_MONTHS_CHARGED
        emit.change(
            day, line, "subscription_changed", reason="billing_cycle", billing_months=12 if to_annual else 1, **{field: price}
        )

    def _cancel_line(self, emit: _Emitter, day: int, _: str, first: int) -> None:
        lines = emit.customer.open_lines()
        if len(lines) < 2:
            return
        line = self.rng.choice([line for line in lines if line.sid != "main"] or lines)
        emit.cancel(day, [line], reason="line_removed", name_line=True)

    def _churn(self, emit: _Emitter, day: int, _: str, first: int) -> None:
        lines = emit.customer.open_lines()
        reason = self.rng.choice(CHURN_REASONS)
        if self.rng.random() < 0.5:
            emit.cancel(day, lines, reason=reason, name_line=False)
        else:
            for line in lines:
                emit.cancel(day, [line], reason=reason, name_line=True)

    def _attributes(self, emit: _Emitter, day: int, _: str, first: int) -> None:
        rng = self.rng
        customer = emit.customer
        if customer.segment != "Enterprise" and rng.random() < 0.6:
            customer.segment = "Mid-Market" if customer.segment == "SMB" else "Enterprise"
            emit(day, day, "customer_updated", segment=customer.segment)
        else:
            emit(day, day, "customer_updated", channel=rng.choice(CHANNELS))

    # -- corrections ---------------------------------------------------------------------

    def _backdated(self, emit: _Emitter, day: int, _: str, first: int) -> None:
        """A late correction, effective up to three months back, that strands nothing (see the module doc)."""
        rng = self.rng
        customer = emit.customer
        lines = [line for line in customer.open_lines() if line.started < first and not line.usage]
        if not lines:
            if rng.random() < 0.5:
                earlier = rng.randint(first - 90, first - 1)
                customer.region = rng.choice(REGIONS)
                emit(day, earlier, "customer_updated", note="late correction", region=customer.region)
            return
        line = rng.choice(lines)
        field = "quantity" if line.per_seat and rng.random() < 0.6 else "discount"
        since = max(line.started, getattr(line, "set_" + field), first - 90)
        if since >= first:
            return
        effective = rng.randint(since, first - 1)
        note = "late correction"
        if field == "quantity":
            quantity = max(1, (line.quantity or 0) + rng.choice((-2, -1, 1, 2, 4)))
            if quantity != line.quantity:
                emit.change(day, line, "seat_change", effective=effective, note=note, quantity=quantity)
        else:
            discount = rng.choice((0, *DISCOUNTS))
            if discount != line.discount:
                emit.change(day, line, "price_change", effective=effective, note=note, discount_pct=discount)

    def _mistake(self, emit: _Emitter, day: int, _: str, first: int) -> None:
        """A wrong entry, the customer's last of the month, voided first thing next month."""
        rng = self.rng
        customer = emit.customer
        line = self._pick(customer, usage=False)
        if line is not None and rng.random() < 0.5:
            wrong = rng.choice((50, 60, 75))
            row = emit.row(day, emit.build(day, "price_change", line.sid, reason="renegotiated", discount_pct=wrong))
            reason = "keyed the wrong discount"
        else:
            row = emit(day, day, "customer_updated", region=rng.choice([r for r in REGIONS if r != customer.region]))
            reason = "wrong region"
        void = {
            "event_id": customer.next_id(),
            "type": "void",
            "customer_id": customer.cid,
            "effective_date": row["effective_date"],
            "target_event_id": row["event_id"],
            "reason": reason,
        }
        customer.pending.append(void)


class _Emitter:
    """Writes one customer's rows into the month's batch, keeping the line state in step."""

    def __init__(self, generator: Generator, customer: _Customer, out: list):
        self.generator = generator
        self.customer = customer
        self.out = out

    def row(self, recorded_day: int, row: dict[str, str]) -> dict[str, str]:
        if "event_id" not in row:
            row = {"event_id": self.customer.next_id(), **row}
        self.out.append((recorded_day, self.customer.index, len(self.out), row))
        return row

    def build(self, effective: int, kind: str, sid: str | None = None, **fields: object) -> dict[str, str]:
        row: dict[str, str] = {"type": kind, "customer_id": self.customer.cid, "effective_date": self.generator.iso(effective)}
        if sid is not None:
            row["subscription_id"] = sid
        for name, value in fields.items():
            if value is None:
                continue
            row[name] = money(value) if name in ("unit_price", "amount") else str(value)
        return row

    def __call__(self, recorded_day: int, effective: int, kind: str, **fields: object) -> dict[str, str]:
        return self.row(recorded_day, self.build(effective, kind, **fields))

    def started(self, day: int, line: _Line, reason: str | None = None) -> None:
        self.row(
            day,
            self.build(
                day,
                "subscription_started",
                line.sid,
                plan=line.plan,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                billing_months=line.billing_months if line.billing_months != 1 else None,
                discount_pct=line.discount or None,
                reason=reason,
            ),
        )

    def change(self, day: int, line: _Line, kind: str, *, effective: int | None = None, **fields: object) -> None:
        """Record a change of ``line``'s terms (effective ``effective``, default the day recorded) and fold it in."""
        when = day if effective is None else effective
        self.row(day, self.build(when, kind, line.sid, **fields))
        for name, value in fields.items():
            if name in ("reason", "note"):
                continue
            attribute = "discount" if name == "discount_pct" else name
            setattr(line, attribute, value)
            if hasattr(line, "set_" + attribute):
                setattr(line, "set_" + attribute, max(getattr(line, "set_" + attribute), when))

    def cancel(self, day: int, lines: list[_Line], *, reason: str, name_line: bool) -> None:
        sid = lines[0].sid if name_line else None
        self.row(day, self.build(day, "cancel", sid, reason=reason))
        for line in lines:
            line.open = False


def _weighted(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    draw = rng.random()
    for value, chance in choices:
        if draw < chance:
            return value
        draw -= chance
    return choices[-1][0]


def generate(customers: int, months: int, seed: int, start: date = date(2024, 1, 1)) -> Iterator[dict[str, str]]:
    """The rows of a synthetic event file, in recording order (each a dict of column -> text)."""
    return Generator(customers, months, seed, start).rows()


def write(rows: Iterator[dict[str, str]], handle: IO[str], fmt: str = "csv") -> int:
    """Stream ``rows`` to ``handle`` as CSV or JSON Lines; return how many were written."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    elif fmt == "jsonl":
        for row in rows:
            data: dict[str, object] = {
                k: int(v) if k in _INTEGER_COLUMNS else v for k, v in row.items()
            }
            handle.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
            handle.write("\n")
            count += 1
    else:
        raise ValueError(f"unknown format {fmt!r} (csv or jsonl)")
    return count
