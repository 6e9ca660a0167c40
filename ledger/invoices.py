"""Invoice lines (SPEC §14): read and checked at the boundary.

Billing systems keep invoices for ever, so history comes in as invoice lines,
each with its service period. ``ledger/invoice_mapping.py`` maps them to
contract events by rules 1–9; ``ledger/invoice_import.py`` appends the
differences of each import.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from ledger.clock import add_months
from ledger.errors import Problem
from ledger.files import read_csv, read_jsonl
from ledger.inputs import MAX_INTEGER_DIGITS, Currency, Day, Identifier, Months, Seats, Text
from ledger.money import D

SUBSCRIPTION = "subscription"
ONE_TIME = "one_time"
LINE_TYPES = (SUBSCRIPTION, ONE_TIME)
COLUMNS = (
    "customer_id",
    "invoice_id",
    "invoice_date",
    "line_id",
    "type",
    "subscription_id",
    "plan",
    "quantity",
    "amount",
    "currency",
    "service_period_start",
    "service_period_end",
    "prorated",
    "billing_months",
    "cancelled_at",
    "voided",
    "customer_name",
    "segment",
    "channel",
    "region",
)
ATTRIBUTE_COLUMNS = ("customer_name", "segment", "channel", "region")
# Every event an invoice import makes has an id that starts so: the import compares only these with its mapping.
EVENT_ID_PREFIX = "inv:"
MAX_KEY = 160

# Why a line makes no event (the import's summary counts them).
LEFT_ONE_TIME = "one-time"
LEFT_VOID = "void"
LEFT_CREDIT = "credit proration"
LEFT_UNMATCHED = "unmatched proration"
LEFT_DRAFT = "draft"
LEFT_OUT_REASONS = (LEFT_ONE_TIME, LEFT_VOID, LEFT_CREDIT, LEFT_UNMATCHED, LEFT_DRAFT)

# What made an event (rules of §14): the summary counts inferred cancels by it.
START, CHANGE, GAP, CANCELLED, LAPSED, ATTRIBUTES = "start", "change", "gap", "cancelled", "lapsed", "attributes"

# Where an invoice-line field sits in a Stripe invoice line item, per API shape, so errors name the JSON path.
_FIELD_PATHS = {
    "stripe": {
        "line_id": "id",
        "service_period_start": "period.start",
        "service_period_end": "period.end",
        "plan": "price.id",
        "billing_months": "price.recurring",
        "subscription_id": "subscription_item",
        "prorated": "proration",
    },
    "stripe-2025-03-31": {
        "line_id": "id",
        "service_period_start": "period.start",
        "service_period_end": "period.end",
        "plan": "pricing.price_details.price",
        "billing_months": "period.end",  # the price is only an id here: the period says how many months
        "subscription_id": "parent.subscription_item_details.subscription_item",
        "prorated": "parent.subscription_item_details.proration",
    },
}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an invoice line came from, so that every error and every event's ``source`` can name it.

    Attributes:
      file: the file's name as given to ``import``.
      line: its line in that file (0 for a JSON document, where ``path`` says where).
      path: the JSON path of a Stripe line item (``data[3].lines.data[0]``), empty for a CSV row.
      shape: ``invoices``, or the Stripe API shape it was read in (``stripe``, ``stripe-2025-03-31``).
    """

    file: str
    line: int = 0
    path: str = ""
    shape: str = "invoices"

    @property
    def source(self) -> str:
        """``FILE:LINE``, ``FILE:PATH`` or ``FILE:LINE:PATH`` (SPEC §3's ``source``)."""
        parts = [self.file]
        if self.line:
            parts.append(str(self.line))
        if self.path:
            parts.append(self.path)
        return ":".join(parts)

    def at(self, field: str) -> str:
        """The field's name as this file spells it (a column, or a JSON path below the line item)."""
        name = _FIELD_PATHS.get(self.shape, {}).get(field, field)
        return f"{self.path}.{name}" if self.path else name

    def problem(self, field: str, message: str) -> Problem:
        return Problem(self.file, self.line, self.at(field), message)


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One invoice line, as the billing system states it (SPEC §14's columns).

    Attributes:
      customer_id, invoice_id, invoice_date: whose invoice, which, and when it was issued.
      line_id: the line's own id (None: the line is known by its place in the invoice, ``position``).
      type: ``subscription`` or ``one_time`` (one-time lines make no event).
      subscription_id: the line of the contract it bills (required on subscription lines).
      plan, quantity: what is billed; quantity only names the cause of a change (seats).
      amount: money for the service period, after discounts, before tax (a credit is negative).
      currency: its code (None: the ledger currency).
      service_period_start, service_period_end: the period billed; the end is the first day no longer covered.
      prorated: a proration (it only dates the change the next regular line makes).
      billing_months: how many months the amount pays for (None: the whole months of the period).
      cancelled_at: the subscription was cancelled with effect from that day.
      voided: the invoice was voided (its lines make no event).
      customer_name, segment, channel, region: the customer's attributes as this line states them.
      position: the line's place among its invoice's lines in its file (1, 2, …).
      origin: where it was read.
    """

    customer_id: str
    invoice_id: str
    invoice_date: date
    amount: Decimal
    origin: Origin
    line_id: str | None = None
    type: str = SUBSCRIPTION
    subscription_id: str | None = None
    plan: str | None = None
    quantity: int | None = None
    currency: str | None = None
    service_period_start: date | None = None
    service_period_end: date | None = None
    prorated: bool = False
    billing_months: int | None = None
    cancelled_at: date | None = None
    voided: bool = False
    customer_name: str | None = None
    segment: str | None = None
    channel: str | None = None
    region: str | None = None
    position: int = 1

    @property
    def line_key(self) -> str:
        return self.line_id if self.line_id is not None else f"#{self.position}"

    @property
    def day(self) -> date:
        """The day the line speaks for: its service period's start, else its invoice's date."""
        return self.service_period_start or self.invoice_date

    def attributes(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in ATTRIBUTE_COLUMNS if getattr(self, name) is not None}

    def record(self) -> dict[str, Any]:
        """The line as plain JSON values: the form the ledger keeps beside the log (SPEC §14 rule 8)."""
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "origin":
                data["origin"] = [value.file, value.line, value.path, value.shape]
            elif value is not None:
                data[f.name] = str(value) if isinstance(value, Decimal) else value.isoformat() if isinstance(value, date) else value
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> InvoiceLine:
        values = dict(data)
        file, line, path, shape = values.pop("origin")
        for name in ("invoice_date", "service_period_start", "service_period_end", "cancelled_at"):
            if name in values:
                values[name] = date.fromisoformat(values[name])
        values["amount"] = Decimal(values["amount"])
        return cls(origin=Origin(file, line, path, shape), **values)


# -- reading ---------------------------------------------------------------------------------------


def _signed_money(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("must be a decimal number")
    amount = D(value)
    if abs(amount).adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"{value} is too large (at most {MAX_INTEGER_DIGITS} digits before the point)")
    if -amount.as_tuple().exponent > 6:  # type: ignore[operator]
        raise ValueError(f"{value} has more than 6 decimal places")
    return amount


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{value!r} is not true or false")


def _line_type(value: Any) -> str:
    if value not in LINE_TYPES:
        raise ValueError(f"{value!r} is not a line type (subscription or one_time)")
    return value


SignedMoney = Annotated[Decimal, BeforeValidator(_signed_money)]
Flag = Annotated[bool, BeforeValidator(_flag)]
LineType = Annotated[str, BeforeValidator(_line_type)]


class InvoiceLineRow(BaseModel):
    """One invoice line as a file gives it, each field checked for its form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: Identifier
    invoice_id: Identifier
    invoice_date: Day
    line_id: Identifier | None = None
    type: LineType = SUBSCRIPTION
    subscription_id: Identifier | None = None
    plan: Text | None = None
    quantity: Seats | None = None
    amount: SignedMoney
    currency: Currency | None = None
    service_period_start: Day | None = None
    service_period_end: Day | None = None
    prorated: Flag = False
    billing_months: Months | None = None
    cancelled_at: Day | None = None
    voided: Flag = False
    customer_name: Text | None = None
    segment: Text | None = None
    channel: Text | None = None
    region: Text | None = None


def parse_line(cells: dict[str, Any], origin: Origin, position: int = 1) -> tuple[InvoiceLine | None, list[Problem]]:
    """Check one line's columns (SPEC §14 rule 9: a missing or malformed column); return it or its problems."""
    problems = [
        origin.problem(key, f"unknown column for --format invoices (expected {', '.join(COLUMNS)})")
        for key in cells
        if key not in COLUMNS
    ]
    try:
        row = InvoiceLineRow.model_validate({k: v for k, v in cells.items() if k in COLUMNS})
    except ValidationError as e:
        for error in e.errors():
            name = str(error["loc"][0]) if error["loc"] else "-"
            message = "is required" if error["type"] == "missing" else error["msg"].removeprefix("Value error, ")
            problems.append(origin.problem(name, message))
        return None, problems
    if row.type == SUBSCRIPTION:
        for name in ("subscription_id", "service_period_start", "service_period_end"):
            if getattr(row, name) is None:
                problems.append(origin.problem(name, "is required on a subscription line"))
        if row.plan is None and not row.prorated:
            problems.append(origin.problem("plan", "is required on a subscription line"))
        start, end = row.service_period_start, row.service_period_end
        if start is not None and end is not None and end <= start:
            problems.append(origin.problem("service_period_end", f"{end} is not after the service period's start {start}"))
    if problems:
        return None, problems
    return InvoiceLine(origin=origin, position=position, **row.model_dump()), []


def read_invoice_lines(path: str, name: str, problems: list[Problem]) -> list[InvoiceLine]:
    """The lines of an invoice-line file: CSV, or JSON Lines when the name ends in ``.jsonl``."""
    if path.lower().endswith((".jsonl", ".ndjson")):
        rows = read_jsonl(path, name, problems, booleans=True)
    else:
        rows = read_csv(path, name, problems)
    lines: list[InvoiceLine] = []
    positions: dict[str, int] = {}
    for number, cells in rows:
        invoice = str(cells.get("invoice_id", ""))
        positions[invoice] = positions.get(invoice, 0) + 1
        line, found = parse_line(cells, Origin(name, number), positions[invoice])
        problems.extend(found)
        if line is not None:
            lines.append(line)
    return lines


def check_file(lines: Sequence[InvoiceLine], problems: list[Problem]) -> None:
    """Within one file, a line is stated once and an invoice belongs to one customer."""
    seen: dict[tuple[str, str], InvoiceLine] = {}
    owner: dict[str, InvoiceLine] = {}
    for line in lines:
        first = seen.setdefault((line.invoice_id, line.line_key), line)
        if first is not line:
            problems.append(line.origin.problem("line_id", f"invoice {line.invoice_id} has line {line.line_key} "
                                                           f"twice (also at {first.origin.source})"))
        holder = owner.setdefault(line.invoice_id, line)
        if holder.customer_id != line.customer_id:
            problems.append(line.origin.problem("customer_id", f"invoice {line.invoice_id} belongs to "
                                                               f"{holder.customer_id} (at {holder.origin.source})"))


def merge(kept: Sequence[InvoiceLine], new: Sequence[InvoiceLine]) -> list[InvoiceLine]:
    """Every line as now known: an invoice in the new file replaces all its kept lines (a later export is its current state)."""
    replaced = {line.invoice_id for line in new}
    return [line for line in kept if line.invoice_id not in replaced] + list(new)


def default_as_of(lines: Iterable[InvoiceLine]) -> date | None:
    """SPEC §14 rule 6: the latest invoice_date of a subscription line of a non-voided invoice."""
    return max((l.invoice_date for l in lines if l.type == SUBSCRIPTION and not l.voided), default=None)


def whole_months(start: date, end: date) -> int | None:
    """k when ``end`` is ``start`` plus k calendar months (k >= 1), else None.

    Billing systems anchor a period on a day of the month and clamp it to the
    months that lack it (Jan 31 → Feb 28 → Mar 31), so a period between two
    clamped anchor days is whole months too.
    """
    months = (end.year - start.year) * 12 + end.month - start.month
    if months < 1:
        return None
    if end == add_months(start, months):
        return months
    last_of_month = (start + timedelta(days=1)).day == 1
    if last_of_month and end.day > start.day and end.replace(day=start.day) == add_months(start, months):
        return months
    return None
