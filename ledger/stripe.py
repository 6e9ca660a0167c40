"""Stripe API objects to invoice lines (SPEC §14): invoices with their lines, and subscriptions and customers.

Both API shapes are read: the older one (``subscription``, ``subscription_item``,
``proration`` and a ``price`` object on the line item) and the one of API
version 2025-03-31 (``parent.subscription_item_details`` and
``pricing.price_details``, whose ``price`` is only an id). Amounts are integers
in the currency's minor unit. Every error names the file and the JSON path
(``stripe.json: data[3].lines.data[0].period.end: …``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ledger.errors import Problem
from ledger.invoices import ONE_TIME, SUBSCRIPTION, InvoiceLine, Origin, parse_line

# ISO 4217 currencies Stripe bills in, and how many decimals their minor unit has where it is not two.
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BWP BYN BZD CAD CDF CHF
    CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS
    INR ISK JMD JOD JPY KES KGS KHR KMF KRW KWD KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SEK SGD SHP
    SLE SLL SOS SRD STD SZL THB TJS TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VND VUV WST XAF XCD XOF XPF YER ZAR
    ZMW""".split()
)
NEW_SHAPE = "stripe-2025-03-31"
OLD_SHAPE = "stripe"
OBJECTS = ("invoice", "subscription", "customer")


def minor_unit(currency: str) -> Decimal:
    """The size of the currency's minor unit: 0.01 for USD, 1 for JPY (zero-decimal), 0.001 for KWD."""
    if currency in ZERO_DECIMAL:
        return Decimal(1)
    if currency in THREE_DECIMAL:
        return Decimal("0.001")
    return Decimal("0.01")


@dataclass(frozen=True, slots=True)
class StripeFile:
    """What a Stripe export holds, as invoice lines.

    Attributes:
      lines: every line of every invoice that is not a draft.
      drafts: how many lines draft invoices had (left out: a draft bills nothing yet).
      notes: things the reader should know (a list that says it has more pages).
    """

    lines: tuple[InvoiceLine, ...]
    drafts: int = 0
    notes: tuple[str, ...] = ()


class _Where:
    """A place in the file: a JSON Lines line (0 in a JSON document) and a JSON path; problems are told there."""

    def __init__(self, name: str, line: int, path: str, problems: list[Problem]):
        self.name, self.line, self.path, self.problems = name, line, path, problems

    def at(self, key: str | int) -> _Where:
        path = f"{self.path}[{key}]" if isinstance(key, int) else (f"{self.path}.{key}" if self.path else key)
        return _Where(self.name, self.line, path, self.problems)

    def fail(self, message: str) -> None:
        self.problems.append(Problem(self.name, self.line, self.path or "-", message))

    def origin(self, shape: str) -> Origin:
        return Origin(self.name, self.line, self.path, shape)


def read_stripe(path: str, name: str, problems: list[Problem]) -> StripeFile:
    """The invoice lines of a Stripe export: a list object, a JSON array, or JSON Lines of objects."""
    notes: list[str] = []
    objects = list(_objects(path, name, problems, notes))
    customers: dict[str, dict[str, str]] = {}
    cancelled: dict[str, date] = {}
    invoices: list[tuple[_Where, dict[str, Any]]] = []
    for where, obj in objects:
        kind = obj.get("object")
        if kind == "invoice":
            invoices.append((where, obj))
        elif kind == "customer":
            _customer(where, obj, customers)
        elif kind == "subscription":
            _subscription(where, obj, cancelled)
        elif kind is None:
            where.at("object").fail("is missing: a Stripe import reads invoice, subscription and customer objects")
        else:
            where.at("object").fail(f"{kind!r}: a Stripe import reads invoice, subscription and customer objects")
    if not invoices and not problems:
        problems.append(Problem(name, 0, "-", "holds no Stripe invoice objects: nothing to import"))
    raw: list[tuple[_Where, str, dict[str, Any], str | None, str | None]] = []
    drafts = 0
    for where, invoice in invoices:
        found = list(_invoice_lines(where, invoice))
        if invoice.get("status") == "draft":
            drafts += len(found)
            continue
        raw.extend(found)
    _name_the_items(raw)
    lines: list[InvoiceLine] = []
    positions: dict[str, int] = {}
    for where, shape, cells, subscription, _price in raw:
        customer = customers.get(cells.get("customer_id", ""))
        if customer:
            cells.update(customer)
        if cells.get("type") == SUBSCRIPTION and subscription in cancelled:
            cells["cancelled_at"] = cancelled[subscription].isoformat()
        invoice_id = cells.get("invoice_id", "")
        positions[invoice_id] = positions.get(invoice_id, 0) + 1
        line, found = parse_line(cells, where.origin(shape), positions[invoice_id])
        problems.extend(found)
        if line is not None:
            lines.append(line)
    return StripeFile(tuple(lines), drafts, tuple(notes))


# -- the file ----------------------------------------------------------------------------------------


def _objects(path: str, name: str, problems: list[Problem], notes: list[str]) -> Iterator[tuple[_Where, dict[str, Any]]]:
    """Each object with its place: items of a list object (``data[i]``) or an array (``[i]``), or JSON Lines."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        text = data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        problems.append(Problem(name, line, "-", f"is not UTF-8 text (byte 0x{data[e.start]:02x})"))
        return
    lines = [line for line in text.splitlines() if line.strip()]
    jsonl = path.lower().endswith((".jsonl", ".ndjson")) or (
        len(lines) > 1 and all(line.lstrip().startswith("{") and line.rstrip().endswith("}") for line in lines)
    )
    if jsonl:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = _loads(line)
            except ValueError as e:
                problems.append(Problem(name, number, "-", f"is not valid JSON: {_reason(e)}"))
                continue
            where = _Where(name, number, "", problems)
            if isinstance(value, dict):
                yield where, value
            else:
                where.fail(f"is a JSON {type(value).__name__}, not a Stripe object")
        return
    try:
        value = _loads(text)
    except ValueError as e:
        problems.append(Problem(name, getattr(e, "lineno", 0), "-", f"is not valid JSON: {_reason(e)}"))
        return
    root = _Where(name, 0, "", problems)
    if isinstance(value, list):
        items, base = value, root
    elif isinstance(value, dict) and value.get("object") == "list":
        items, base = value.get("data"), root.at("data")
        if value.get("has_more") is True:
            notes.append("the list says has_more: it is one page of a longer list; import the other pages too")
        if not isinstance(items, list):
            base.fail("must be a list of Stripe objects")
            return
    elif isinstance(value, dict):
        yield root, value
        return
    else:
        root.fail(f"is a JSON {type(value).__name__}: a Stripe export is a list object, an array or JSON Lines")
        return
    for i, item in enumerate(items):
        where = base.at(i) if base.path else _Where(name, 0, f"[{i}]", problems)
        if isinstance(item, dict):
            yield where, item
        else:
            where.fail(f"is a JSON {type(item).__name__}, not a Stripe object")


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not a number")


def _reason(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"{e.msg} (column {e.colno})"
    return str(e)


# -- values (in JSON Lines a value may be a number or a string) -----------------------------------------


def _integer(where: _Where, value: Any, what: str) -> int | None:
    if isinstance(value, bool):
        where.fail(f"must be {what}, not {value}")
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    where.fail(f"{value!r} is not {what}")
    return None


def _day(where: _Where, value: Any) -> date | None:
    """A Unix timestamp as its UTC date."""
    seconds = _integer(where, value, "a Unix timestamp")
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC).date()
    except (OverflowError, OSError, ValueError):
        where.fail(f"{value!r} is not a Unix timestamp of a real date")
        return None


def _flag(where: _Where, value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    where.fail(f"{value!r} is not true or false")
    return False


def _id(value: Any) -> str | None:
    """An id, or an expanded object's id."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _get(obj: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


# -- objects -------------------------------------------------------------------------------------------


def _customer(where: _Where, obj: dict[str, Any], customers: dict[str, dict[str, str]]) -> None:
    """A customer's name, and segment, channel and region from its metadata (rule 7)."""
    cid = _id(obj.get("id"))
    if cid is None:
        where.at("id").fail("is required")
        return
    if obj.get("deleted") is True:
        return
    values: dict[str, str] = {}
    if isinstance(obj.get("name"), str) and obj["name"]:
        values["customer_name"] = obj["name"]
    metadata = obj.get("metadata") or {}
    for key in ("segment", "channel", "region"):
        if isinstance(metadata, dict) and isinstance(metadata.get(key), str) and metadata[key]:
            values[key] = metadata[key]
    customers[cid] = values


def _subscription(where: _Where, obj: dict[str, Any], cancelled: dict[str, date]) -> None:
    """A canceled subscription's end: ``ended_at``, else ``canceled_at``. A cancellation only scheduled is not one yet."""
    sid = _id(obj.get("id"))
    if sid is None:
        where.at("id").fail("is required")
        return
    if obj.get("status") != "canceled":
        return
    for key in ("ended_at", "canceled_at"):
        if obj.get(key) is not None:
            day = _day(where.at(key), obj[key])
            if day is not None:
                cancelled[sid] = day
            return
    where.at("status").fail("is canceled, but neither ended_at nor canceled_at says when")


def _invoice_lines(where: _Where, invoice: dict[str, Any]) -> Iterator[tuple[_Where, str, dict[str, Any], str | None, str | None]]:
    """(place, shape, invoice-line cells, Stripe subscription, price id) of each line item of one invoice."""
    invoice_id = _id(invoice.get("id"))
    if invoice_id is None:
        where.at("id").fail("is required")
    customer = _id(invoice.get("customer"))
    if customer is None:
        where.at("customer").fail("is required: the invoice must name its customer")
    created = _day(where.at("created"), invoice.get("created")) if invoice.get("created") is not None else None
    if invoice.get("created") is None:
        where.at("created").fail("is required")
    lines = invoice.get("lines")
    items = lines.get("data") if isinstance(lines, dict) else lines
    if not isinstance(items, list):
        where.at("lines").fail("must be a list object of the invoice's line items")
        return
    if isinstance(lines, dict) and lines.get("has_more") is True:
        where.at("lines.has_more").fail(
            "is true: the invoice holds only its first line items; list them all (GET /v1/invoices/ID/lines) before importing"
        )
        return
    if invoice_id is None or customer is None or created is None:
        return
    base = where.at("lines.data") if isinstance(lines, dict) else where.at("lines")
    for j, item in enumerate(items):
        here = base.at(j)
        if not isinstance(item, dict):
            here.fail(f"is a JSON {type(item).__name__}, not a line item")
            continue
        found = _line(here, item, invoice)
        if found is not None:
            shape, cells, subscription, price = found
            cells.update(customer_id=customer, invoice_id=invoice_id, invoice_date=created.isoformat())
            if invoice.get("status") == "void":
                cells["voided"] = "true"
            yield here, shape, cells, subscription, price


def _line(where: _Where, item: dict[str, Any], invoice: dict[str, Any]) -> tuple[str, dict[str, Any], str | None, str | None] | None:
    """One line item's invoice-line cells, in either shape; None when it cannot be read (the problems say why)."""
    before = len(where.problems)
    newer = "parent" in item or "pricing" in item
    shape = NEW_SHAPE if newer else OLD_SHAPE
    if newer:
        parent = item.get("parent") or {}
        details = _get(parent, "subscription_item_details")
        either = details or _get(parent, "invoice_item_details") or {}
        prefix = "parent.subscription_item_details" if details else "parent.invoice_item_details"
        proration = _flag(where.at(f"{prefix}.proration"), _get(either, "proration"))
        subscription = _id(_get(either, "subscription"))
        item_id = _id(_get(details, "subscription_item")) if details else None
        from_item = details is not None
        price = _get(item, "pricing.price_details.price")
        price_at = where.at("pricing.price_details.price")
    else:
        proration = _flag(where.at("proration"), item.get("proration"))
        subscription = _id(item.get("subscription"))
        item_id = _id(item.get("subscription_item"))
        from_item = item.get("type") == "subscription" or item_id is not None
        price = item.get("price") if item.get("price") is not None else item.get("plan")
        price_at = where.at("price" if item.get("price") is not None else "plan")
    line_id = _id(item.get("id"))
    if line_id is None:
        where.at("id").fail("is required")
    code = item.get("currency") or invoice.get("currency")
    currency = code.upper() if isinstance(code, str) else None
    if currency not in CURRENCIES:
        where.at("currency").fail(f"{code!r} is not a currency Stripe bills in (an ISO 4217 code such as usd)")
    amount = _integer(where.at("amount"), item.get("amount"), "an amount in the currency's minor unit")
    discounts = item.get("discount_amounts") or []
    off = 0
    if isinstance(discounts, list):
        for k, discount in enumerate(discounts):
            value = _integer(where.at("discount_amounts").at(k).at("amount"), _get(discount, "amount"), "an amount")
            off += value or 0
    period = item.get("period") or {}
    start = _day(where.at("period.start"), _get(period, "start"))
    end = _day(where.at("period.end"), _get(period, "end"))
    price_id, months = _price(price_at, price)
    quantity = item.get("quantity")
    if quantity is not None:
        quantity = _integer(where.at("quantity"), quantity, "a whole number of seats")
    if len(where.problems) > before or amount is None or currency is None:
        return None
    recurring = subscription is not None and (proration or from_item)
    cells: dict[str, Any] = {
        "line_id": line_id,
        "type": SUBSCRIPTION if recurring else ONE_TIME,
        "amount": str(Decimal(amount - off) * minor_unit(currency)),
        "currency": currency,
        "service_period_start": start.isoformat() if start else None,
        "service_period_end": end.isoformat() if end else None,
        "prorated": "true" if proration else "false",
        "plan": price_id,
        "quantity": quantity,
        "billing_months": months,
    }
    if recurring:
        cells["subscription_id"] = item_id
    return shape, {k: v for k, v in cells.items() if v is not None}, subscription, price_id


def _price(where: _Where, price: Any) -> tuple[str | None, int | None]:
    """The price's id (the plan) and its interval in months (None: only the id is given, so the period says)."""
    if price is None:
        return None, None
    if isinstance(price, str):
        return price, None
    if not isinstance(price, dict):
        where.fail("must be a price id or a price object")
        return None, None
    price_id = _id(price.get("id"))
    recurring = price.get("recurring")
    if recurring is None and "interval" in price:  # a plan object: its interval sits on it
        recurring = price
    elif recurring is not None:
        where = where.at("recurring")
    if not isinstance(recurring, dict):
        return price_id, None
    interval = recurring.get("interval")
    count = _integer(where.at("interval_count"), recurring.get("interval_count", 1), "a whole number of intervals")
    if count is None:
        return price_id, None
    if interval == "month":
        return price_id, count
    if interval == "year":
        return price_id, 12 * count
    where.at("interval").fail(f"{interval!r}: only monthly and yearly prices can be imported (billing_months counts months)")
    return price_id, None


def _name_the_items(raw: list[tuple[_Where, str, dict[str, Any], str | None, str | None]]) -> None:
    """A proration that names its subscription but not the item takes the item billed for the same price, when one is."""
    items: dict[tuple[str | None, str | None], set[str]] = {}
    for _, _, cells, subscription, price in raw:
        if cells.get("subscription_id"):
            items.setdefault((subscription, price), set()).add(cells["subscription_id"])
    for _, _, cells, subscription, price in raw:
        if cells.get("type") == SUBSCRIPTION and not cells.get("subscription_id"):
            candidates = items.get((subscription, price), set())
            cells["subscription_id"] = next(iter(candidates)) if len(candidates) == 1 else subscription
