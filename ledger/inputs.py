"""Events as they come in from outside — a file row or command-line options — validated at the boundary.

Pydantic checks each field's form; :func:`shape_problems` checks which fields
an event type takes. Every problem is a value naming its field, collected so a
whole file's mistakes are reported in one pass.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal

from typing_extensions import TypedDict

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, TypeAdapter, ValidationError

from ledger import events as ev
from ledger.clock import parse_date
from ledger.currencies import currency_code
from ledger.events import Event, derive_event_id
from ledger.money import D
from ledger.settings import LedgerSettings

MAX_ID = 200
MAX_TEXT = 20_000
MAX_INTEGER_DIGITS = 12

_ATTR_NAME = re.compile(r"attr\.[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def _text(limit: int, what: str):
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be text, not {type(value).__name__}")
        if len(value) > limit:
            raise ValueError(f"is {len(value):,} characters long; {what} may have at most {limit:,}")
        return value

    return check


def _identifier(value: Any) -> str:
    value = _text(MAX_ID, "an id")(value)
    if value != value.strip() or not value:
        raise ValueError(f"{value!r} has leading or trailing spaces" if value else "must not be empty")
    return value


def _day(value: Any) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a date written YYYY-MM-DD")
    return parse_date(value)


def _whole(minimum: int, unit: str):
    def check(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"must be a whole number of {unit}")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,9}", value.strip()):
            number = int(value)
        elif isinstance(value, Decimal) and value == value.to_integral_value() and value.is_finite():
            number = int(value)
        else:
            raise ValueError(f"{value!r} is not a whole number of {unit}")
        if number < minimum:
            raise ValueError(f"must be {minimum} or more, not {number}")
        return number

    return check


def _money(value: Any) -> Decimal:
    amount = D(value)
    if amount < 0:
        raise ValueError(f"must not be negative, not {value}")
    if amount.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"{value} is too large (at most {MAX_INTEGER_DIGITS} digits before the point)")
    if -amount.as_tuple().exponent > 6:  # type: ignore[operator]
        raise ValueError(f"{value} has more than 6 decimal places")
    return amount


def _percent(value: Any) -> Decimal:
    pct = _money(value)
    if pct > 100:
        raise ValueError(f"must be between 0 and 100, not {value}")
    return pct


def _currency(value: Any) -> str:
    return currency_code(value)  # upper-cased: usd is USD


def _stated_cause(value: Any) -> str:
    if value not in ev.STATED_CAUSES:
        raise ValueError(f"{value!r} is not a cause (one of: {', '.join(ev.STATED_CAUSES)})")
    return value


def _event_type(value: Any) -> str:
    if value not in ev.EVENT_TYPES:
        why = (f"; {value} is the ledger's own event (`revledger close` or `policy set` records it), never imported"
               if value in ev.LEDGER_TYPES else "")
        raise ValueError(f"unknown type {value!r} (one of: {', '.join(ev.EVENT_TYPES)}){why}")
    return value


Identifier = Annotated[str, BeforeValidator(_identifier)]
Text = Annotated[str, BeforeValidator(_text(MAX_TEXT, "a text field"))]
Day = Annotated[date, BeforeValidator(_day)]
Seats = Annotated[int, BeforeValidator(_whole(0, "seats"))]
Months = Annotated[int, BeforeValidator(_whole(1, "months"))]
Money = Annotated[Decimal, BeforeValidator(_money)]
Percent = Annotated[Decimal, BeforeValidator(_percent)]
Currency = Annotated[str, BeforeValidator(_currency)]
EventType = Annotated[str, BeforeValidator(_event_type)]
Cause = Annotated[str, BeforeValidator(_stated_cause)]


class EventRow(BaseModel):
    """One event as given: a file row or the options of `revledger record`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Identifier | None = None
    type: EventType
    customer_id: Identifier | None = None
    effective_date: Day | None = None
    subscription_id: Identifier | None = None
    plan: Text | None = None
    quantity: Seats | None = None
    unit_price: Money | None = None
    amount: Money | None = None
    billing_months: Months | None = None
    discount_pct: Percent | None = None
    currency: Currency | None = None
    cause: Cause | None = None
    reason: Text | None = None
    note: Text | None = None
    target_event_id: Identifier | None = None
    restatement: Text | None = None
    customer_name: Text | None = None
    segment: Text | None = None
    channel: Text | None = None
    region: Text | None = None
    attrs: dict[str, Text] = {}


FIELD_NAMES = tuple(name for name in EventRow.model_fields if name != "attrs")
_PRICE_FIELDS = {"unit_price", "amount", "discount_pct"}
_ONLY = {
    ev.SEAT_CHANGE: {"quantity"},
    ev.PRICE_CHANGE: _PRICE_FIELDS,
    ev.USAGE_CHANGE: {"amount"},
    ev.CANCEL: set(),
    ev.CUSTOMER_UPDATED: set(),
    ev.VOID: set(),
}


_LOGGED = frozenset({"sequence", "recorded_at", "actor", "source", "hash"})
_STATES_CAUSE = (ev.SUBSCRIPTION_CHANGED, ev.UPSELL, ev.DOWNGRADE, ev.PRICE_CHANGE)


def parse_row(raw: dict[str, Any]) -> tuple[EventRow | None, list[tuple[str, str]]]:
    """Validate one raw row (empty cells and nulls already dropped); return it or its problems."""
    data: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    logged = _LOGGED <= raw.keys()  # a row of `log --format csv`; one of these columns alone is an unknown field
    for key, value in raw.items():
        if key.startswith(ev.ATTR_PREFIX):
            if not _ATTR_NAME.fullmatch(key):
                problems.append((key, "is not a valid attribute name (attr.NAME, letters, digits, _ . -)"))
            else:
                attrs[key] = value
        elif key in FIELD_NAMES:
            data[key] = value
        elif logged and key in ev.RECORD_FIELDS:
            continue  # what the exporting ledger assigned at append: this ledger assigns its own
        else:
            problems.append((key, f"unknown field {key!r}"))
    if attrs:
        data["attrs"] = attrs
    try:
        row = EventRow.model_validate(data)
    except ValidationError as e:
        for error in e.errors():
            loc = [str(part) for part in error["loc"]]
            name = loc[-1] if loc and loc[0] == "attrs" else (loc[0] if loc else "-")
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "missing":
                message = "is required"
            problems.append((name, message))
        return None, problems
    if problems:
        return None, problems
    return row, []


def article(word: str) -> str:
    """'an upsell', 'a usage_change', 'a seat_change': the article English puts before a type's name (by sound)."""
    return "an" if word[:1] in "aeio" or word.startswith("up") else "a"


def shape_problems(row: EventRow, settings: LedgerSettings) -> list[tuple[str, str]]:
    """Which fields this event type requires and refuses (SPEC §3)."""
    given = frozenset(name for name in FIELD_NAMES if getattr(row, name) is not None)
    return list(_shape(row.type, given, frozenset(row.attrs), row.currency, row.cause, settings))


@lru_cache(maxsize=4096)
def _shape(
    kind: str, given: frozenset[str], attrs: frozenset[str], currency: str | None, cause: str | None,
    settings: LedgerSettings,
) -> tuple[tuple[str, str], ...]:
    """The shape rules of SPEC §3, which depend only on which fields are given (and the currency and cause):
    a file's rows share a few shapes, so each is judged once."""
    terms = given & set(ev.TERM_FIELDS)
    attributes = (given & set(ev.NAMED_ATTRIBUTES)) | attrs
    problems: list[tuple[str, str]] = []

    def require(*names: str) -> None:
        for name in names:
            if name not in given:
                problems.append((name, f"is required for {kind}"))

    if kind != ev.VOID:
        require("customer_id", "effective_date")
    if kind == ev.VOID:
        require("target_event_id", "reason")
    elif kind == ev.CUSTOMER_UPDATED:
        if not attributes:
            problems.append(("-", "a customer_updated must set customer_name, segment, channel, region or attr.NAME"))
    elif kind != ev.CANCEL:
        require("subscription_id")

    if kind == ev.SUBSCRIPTION_STARTED:
        require("plan")
        per_seat = {"quantity", "unit_price"} & given
        if "amount" in given and per_seat:
            problems.append(("amount", "a line is priced either per seat (quantity and unit_price) or by amount, not both"))
        elif "amount" not in given and per_seat != {"quantity", "unit_price"}:
            missing = "unit_price" if "quantity" in given else "quantity"
            problems.append((missing, "is required: give quantity and unit_price, or amount"))
    elif kind in (ev.SUBSCRIPTION_CHANGED, ev.UPSELL, ev.DOWNGRADE):
        if not terms:
            problems.append(("-", f"{article(kind)} {kind} must give at least one of {', '.join(ev.TERM_FIELDS)}"))
        if "amount" in given and {"quantity", "unit_price"} & given:
            problems.append(("amount", "a line is priced either per seat (quantity and unit_price) or by amount, not both"))
    elif kind in _ONLY:
        allowed = _ONLY[kind]
        for name in sorted(terms - allowed):
            what = ", ".join(sorted(allowed)) if allowed else "no subscription terms"
            problems.append((name, f"{article(kind)} {kind} may change only {what}"))
        if kind == ev.SEAT_CHANGE:
            require("quantity")
        if kind == ev.USAGE_CHANGE:
            require("amount")
        if kind == ev.PRICE_CHANGE and not terms & allowed:
            problems.append(("-", "a price_change must give unit_price, amount or discount_pct"))
        if kind == ev.PRICE_CHANGE and {"unit_price", "amount"} <= given:
            problems.append(("amount", "a line is priced either per seat (unit_price) or by amount, not both"))

    if cause is not None:
        if kind not in _STATES_CAUSE:
            problems.append(("cause", f"only {', '.join(_STATES_CAUSE)} state a cause, not {kind}"))
        elif kind == ev.PRICE_CHANGE and cause != "price":
            problems.append(("cause", f"a price_change changes the price, so its cause can only be price, not {cause}"))
    if attributes and kind != ev.CUSTOMER_UPDATED:
        for name in sorted(attributes):
            problems.append((name, f"customer attributes are set by customer_updated, not {kind}"))
    if kind in (ev.CUSTOMER_UPDATED, ev.VOID) and "subscription_id" in given:
        problems.append(("subscription_id", f"{article(kind)} {kind} does not name a subscription line"))
    if kind != ev.VOID and "target_event_id" in given:
        problems.append(("target_event_id", "only a void names a target event"))
    if currency is not None and settings.rate(currency) is None:
        problems.append(
            ("currency", f"{currency} is not the ledger currency ({settings.currency}) and the ledger has no rate for it")
        )
    return tuple(problems)


def to_event(row: EventRow) -> Event:
    """The draft event of a valid row (ledger fields are assigned at append)."""
    attributes = {name: getattr(row, name) for name in ev.NAMED_ATTRIBUTES if getattr(row, name) is not None}
    attributes.update(row.attrs)
    event = Event(
        event_id=row.event_id or "",
        type=row.type,
        customer_id=row.customer_id or "",
        effective_date=row.effective_date or date.min,
        subscription_id=row.subscription_id,
        plan=row.plan,
        quantity=row.quantity,
        unit_price=row.unit_price,
        amount=row.amount,
        billing_months=row.billing_months,
        discount_pct=row.discount_pct,
        currency=row.currency,
        cause=row.cause,
        reason=row.reason,
        note=row.note,
        target_event_id=row.target_event_id,
        restatement=row.restatement,
        attributes=tuple(sorted(attributes.items())),
    )
    if not event.event_id and row.type != ev.VOID:
        event = event.with_record(event_id=derive_event_id(event))
    return event


# -- the fast path ---------------------------------------------------------------------------
#
# Most rows are well formed. pydantic checks their form natively (patterns and lengths, no
# Python per field), the shape rules come from the cache above, and the event is built
# directly. The path is stricter than the detailed one: any row it does not accept goes through
# ``parse_row`` and ``shape_problems``, which decide, and name every problem.

_FastId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID, pattern=r"^\S(?:.*\S)?$")]
_FastText = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
_FastDay = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
_FastMoney = Annotated[str, StringConstraints(pattern=r"^\d{1,12}(?:\.\d{0,6})?$")]
_FastWhole = Annotated[str, StringConstraints(pattern=r"^\d{1,9}$")]


class _FastRow(TypedDict, total=False):
    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc] - attr.NAME columns, checked below

    event_id: _FastId
    type: Literal[ev.EVENT_TYPES]  # type: ignore[valid-type]
    customer_id: _FastId
    effective_date: _FastDay
    subscription_id: _FastId
    plan: _FastText
    quantity: _FastWhole
    unit_price: _FastMoney
    amount: _FastMoney
    billing_months: _FastWhole
    discount_pct: _FastMoney
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    cause: Literal[ev.STATED_CAUSES]  # type: ignore[valid-type]
    reason: _FastText
    note: _FastText
    target_event_id: _FastId
    restatement: _FastText
    customer_name: _FastText
    segment: _FastText
    channel: _FastText
    region: _FastText


_FAST = TypeAdapter(_FastRow)
_KNOWN = frozenset(FIELD_NAMES)
_HUNDRED = Decimal(100)


def fast_event(cells: dict[str, Any], settings: LedgerSettings, shapes: dict | None = None) -> Event | None:
    """The draft event of a well-formed row, or None: then ``parse_row`` decides, and says why.

    ``shapes`` caches whether each shape of row (its type and which fields it gives) is well formed.
    """
    try:
        data = _FAST.validate_python(cells)
    except ValidationError:
        return None
    get = data.get
    kind = get("type")
    if kind is None:
        return None
    extra = data.keys() - _KNOWN
    attributes: list[tuple[str, str]] = []
    if extra:
        for key in extra:
            value = data[key]
            if not (type(value) is str and len(value) <= MAX_TEXT and _ATTR_NAME.fullmatch(key)):
                return None
            attributes.append((key, value))
        given = frozenset(data.keys() - extra)
    else:
        given = frozenset(data)
    key = (kind, given, frozenset(extra), get("currency"), get("cause"))
    ok = shapes.get(key) if shapes is not None else None
    if ok is None:
        ok = not _shape(kind, given, key[2], key[3], key[4], settings)
        if shapes is not None:
            shapes[key] = ok
    if not ok:
        return None
    day = get("effective_date")
    try:
        day = date.fromisoformat(day) if day is not None else date.min
    except ValueError:
        return None
    quantity = get("quantity")
    months = get("billing_months")
    if months is not None:
        months = int(months)
        if months < 1:
            return None
    discount = get("discount_pct")
    if discount is not None:
        discount = Decimal(discount)
        if discount > _HUNDRED:
            return None
    unit_price = get("unit_price")
    amount = get("amount")
    for name in ev.NAMED_ATTRIBUTES:
        if name in data:
            attributes.append((name, data[name]))
    if len(attributes) > 1:
        attributes.sort()
    event = Event(
        get("event_id", ""), kind, get("customer_id", ""), day, get("subscription_id"), get("plan"),
        None if quantity is None else int(quantity),
        None if unit_price is None else Decimal(unit_price),
        None if amount is None else Decimal(amount),
        months, discount, get("currency"), get("cause"), get("reason"), get("note"), get("target_event_id"),
        get("restatement"), tuple(attributes),
    )
    if not event.event_id and kind != ev.VOID:
        event = event._replace(event_id=derive_event_id(event))
    return event
