"""Events as they come in (ledger/inputs.py, SPEC §3): each field's form, each type's fields, the draft event.

Tables of one row each — the cells as a file gives them (text; JSON may give
numbers) — with the exact ``(field, problem)`` pairs the row must be refused
with, or the value it must be read as.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.events import derive_event_id
from ledger.inputs import parse_row, shape_problems, to_event
from ledger.settings import LedgerSettings

USD = LedgerSettings("USD")
WITH_EUR = LedgerSettings("USD", rates=(("EUR", Decimal("1.10")),))

SEAT_CHANGE = {"type": "seat_change", "customer_id": "acme", "effective_date": "2026-02-01", "subscription_id": "s1",
               "quantity": "12"}
START = {"type": "subscription_started", "customer_id": "acme", "effective_date": "2026-02-01", "subscription_id": "s1",
         "plan": "pro", "quantity": "5", "unit_price": "20.00"}
FLAT_START = {"type": "subscription_started", "customer_id": "acme", "effective_date": "2026-02-01",
              "subscription_id": "f1", "plan": "flat", "amount": "99.00"}
UPDATED = {"type": "customer_updated", "customer_id": "acme", "effective_date": "2026-02-01", "segment": "SMB"}
VOID = {"type": "void", "target_event_id": "a1", "reason": "typo"}
CANCEL = {"type": "cancel", "customer_id": "acme", "effective_date": "2026-04-01"}


def problems_of(raw: dict) -> list[tuple[str, str]]:
    """Every problem of a row: its fields' form, or else its type's fields."""
    row, problems = parse_row(raw)
    if row is None:
        assert problems, raw
        return problems
    assert problems == []
    return shape_problems(row, USD)


def but(base: dict, **cells) -> dict:
    """``base`` with some cells changed (None: left out)."""
    return {k: v for k, v in {**base, **cells}.items() if v is not None}


# -- parse_row: one field's form ---------------------------------------------------------------------

FORM = [
    # dates
    ("effective_date", "2026-02-30", "'2026-02-30' is not a real date"),
    ("effective_date", "2025-02-29", "'2025-02-29' is not a real date"),
    ("effective_date", "2026-13-01", "'2026-13-01' is not a real date"),
    ("effective_date", "02/01/2026", "'02/01/2026' is not a date in the form YYYY-MM-DD"),
    ("effective_date", "2026-2-1", "'2026-2-1' is not a date in the form YYYY-MM-DD"),
    ("effective_date", "2026-02-01T00:00:00Z", "'2026-02-01T00:00:00Z' is not a date in the form YYYY-MM-DD"),
    ("effective_date", 20260201, "must be a date written YYYY-MM-DD"),
    # seats
    ("quantity", "-1", "must be 0 or more, not -1"),
    ("quantity", "2.5", "'2.5' is not a whole number of seats"),
    ("quantity", "ten", "'ten' is not a whole number of seats"),
    ("quantity", "1e2", "'1e2' is not a whole number of seats"),
    ("quantity", "9999999999", "'9999999999' is not a whole number of seats"),
    ("quantity", True, "must be a whole number of seats"),
    ("quantity", Decimal("2.5"), "Decimal('2.5') is not a whole number of seats"),
    ("quantity", 2.0, "2.0 is not a whole number of seats"),
    # months
    ("billing_months", "0", "must be 1 or more, not 0"),
    ("billing_months", "-12", "must be 1 or more, not -12"),
    ("billing_months", "1.5", "'1.5' is not a whole number of months"),
    # money
    ("unit_price", "-5.00", "must not be negative, not -5.00"),
    ("unit_price", "-0.01", "must not be negative, not -0.01"),
    ("unit_price", "1,000.00", "'1,000.00' is not a decimal number (write it like 1234.50)"),
    ("unit_price", "1e3", "'1e3' is not a decimal number (write it like 1234.50)"),
    ("unit_price", "NaN", "'NaN' is not a decimal number (write it like 1234.50)"),
    ("unit_price", "$10", "'$10' is not a decimal number (write it like 1234.50)"),
    ("unit_price", 10.5, "must be a decimal number written as text, not a binary float"),
    ("unit_price", Decimal("NaN"), "must be a finite decimal number"),
    ("unit_price", "1234567890123.00", "1234567890123.00 is too large (at most 12 digits before the point)"),
    ("unit_price", "0.0000001", "0.0000001 has more than 6 decimal places"),
    ("amount", "-1", "must not be negative, not -1"),
    # discount
    ("discount_pct", "101", "must be between 0 and 100, not 101"),
    ("discount_pct", "100.01", "must be between 0 and 100, not 100.01"),
    ("discount_pct", "-5", "must not be negative, not -5"),
    ("discount_pct", "50%", "'50%' is not a decimal number (write it like 1234.50)"),
    # currency
    ("currency", "XYZ", "'XYZ' is not an ISO 4217 currency code (e.g. USD, EUR, GBP)"),
    ("currency", "EURO", "'EURO' is not a currency code (three letters, ISO 4217, e.g. USD)"),
    ("currency", " USD", "' USD' is not a currency code (three letters, ISO 4217, e.g. USD)"),
    # identifiers and text
    ("customer_id", " acme", "' acme' has leading or trailing spaces"),
    ("subscription_id", "s1 ", "'s1 ' has leading or trailing spaces"),
    ("event_id", "", "must not be empty"),
    ("customer_id", 42, "must be text, not int"),
    ("customer_id", "c" * 201, "is 201 characters long; an id may have at most 200"),
    ("note", "n" * 20_001, "is 20,001 characters long; a text field may have at most 20,000"),
    ("plan", 7, "must be text, not int"),
    # type
    ("type", "refund", "unknown type 'refund' (one of: subscription_started, subscription_changed, upsell, "
                       "downgrade, seat_change, price_change, usage_change, cancel, customer_updated, void)"),
    ("type", "Upsell", None),
    ("type", "period_closed", "unknown type 'period_closed' (one of: subscription_started, subscription_changed, "
                              "upsell, downgrade, seat_change, price_change, usage_change, cancel, customer_updated, "
                              "void); period_closed is the ledger's own event (`revledger close` or `policy set` "
                              "records it), never imported"),
]


@pytest.mark.parametrize(("field", "value", "message"), FORM, ids=[f"{f}={str(v)[:20]!r}" for f, v, _ in FORM])
def test_a_malformed_field_is_refused_naming_it(field, value, message):
    row, problems = parse_row(but(SEAT_CHANGE, **{field: value}))
    assert row is None
    if message is None:  # the same message as any unknown type, whatever the value
        [(name, text)] = problems
        assert name == field and text.startswith(f"unknown type {value!r} (one of: ")
    else:
        assert problems == [(field, message)]


@pytest.mark.parametrize(
    ("field", "value", "read"),
    [
        ("quantity", "12", 12),
        ("quantity", " 12 ", 12),
        ("quantity", "+3", 3),
        ("quantity", "0", 0),
        ("quantity", 7, 7),
        ("quantity", Decimal("3"), 3),  # a JSON number, read exactly
        ("billing_months", "12", 12),
        ("unit_price", "33.33", Decimal("33.33")),
        ("unit_price", "33.330", Decimal("33.330")),
        ("unit_price", ".5", Decimal("0.5")),
        ("unit_price", "0.000001", Decimal("0.000001")),
        ("unit_price", "999999999999.99", Decimal("999999999999.99")),
        ("unit_price", Decimal("33.33"), Decimal("33.33")),
        ("unit_price", 5, Decimal(5)),
        ("discount_pct", "100", Decimal(100)),
        ("discount_pct", "0", Decimal(0)),
        ("effective_date", "2024-02-29", date(2024, 2, 29)),
        ("effective_date", date(2026, 2, 1), date(2026, 2, 1)),
        ("currency", "EUR", "EUR"),
        ("note", "n" * 20_000, "n" * 20_000),
        ("customer_id", "c" * 200, "c" * 200),
    ],
)
def test_a_well_formed_field_is_read_as_its_value(field, value, read):
    row, problems = parse_row(but(SEAT_CHANGE, **{field: value}))
    assert problems == [] and row is not None
    got = getattr(row, field)
    assert got == read and type(got) is type(read)
    if isinstance(read, Decimal):
        assert str(got) == str(read)  # the digits as given: no float ever came between


def test_money_is_never_a_float():
    row, _ = parse_row(but(START, unit_price="0.10", quantity="3"))
    assert row is not None and isinstance(row.unit_price, Decimal)
    assert row.quantity * row.unit_price == Decimal("0.30")  # 3 × 0.1 as a float would be 0.30000000000000004


def test_unknown_columns_and_bad_attribute_names_are_named():
    assert parse_row(but(UPDATED, colour="red", **{"attr.bad name": "x", "attr.tier": "gold"})) == (None, [
        ("colour", "unknown field 'colour'"),
        ("attr.bad name", "is not a valid attribute name (attr.NAME, letters, digits, _ . -)"),
    ])
    for name in ("attr.", "attr.é", "attr.a;b", "attr." + "x" * 65):
        assert parse_row(but(UPDATED, **{name: "x"}))[1] == [
            (name, "is not a valid attribute name (attr.NAME, letters, digits, _ . -)")]
    for name in ("sequence", "hash", "recorded_at", "actor", "source", "Customer_ID", "append_last"):
        assert parse_row(but(SEAT_CHANGE, **{name: "x"}))[1] == [(name, f"unknown field {name!r}")]


def test_an_attribute_value_is_text_of_bounded_length():
    row, problems = parse_row(but(UPDATED, **{"attr.tier": "gold", "attr.x-y_z.1": "ok"}))
    assert problems == [] and row.attrs == {"attr.tier": "gold", "attr.x-y_z.1": "ok"}
    assert parse_row(but(UPDATED, **{"attr.tier": "t" * 20_001}))[1] == [
        ("attr.tier", "is 20,001 characters long; a text field may have at most 20,000")]


def test_every_problem_of_a_row_is_reported_in_one_pass():
    row, problems = parse_row(
        but(SEAT_CHANGE, type=None, effective_date="2026-02-30", quantity="-1", currency="EURO", colour="red")
    )
    assert row is None
    assert sorted(problems) == sorted([
        ("colour", "unknown field 'colour'"),
        ("type", "is required"),
        ("effective_date", "'2026-02-30' is not a real date"),
        ("quantity", "must be 0 or more, not -1"),
        ("currency", "'EURO' is not a currency code (three letters, ISO 4217, e.g. USD)"),
    ])


# -- shape_problems: which fields a type takes (SPEC §3) --------------------------------------------

SHAPES = [
    # well-formed rows of every type
    (START, []),
    (FLAT_START, []),
    (but(START, billing_months="12", discount_pct="10", currency="USD"), []),
    (SEAT_CHANGE, []),
    (but(SEAT_CHANGE, type="subscription_changed", plan="team", quantity=None), []),
    (but(SEAT_CHANGE, type="upsell", unit_price="30"), []),
    (but(SEAT_CHANGE, type="downgrade", quantity=None, billing_months="12"), []),
    (but(SEAT_CHANGE, type="price_change", quantity=None, discount_pct="10"), []),
    (but(SEAT_CHANGE, type="price_change", quantity=None, unit_price="1", discount_pct="10"), []),
    (but(SEAT_CHANGE, type="usage_change", quantity=None, amount="5.00"), []),
    (CANCEL, []),
    (but(CANCEL, subscription_id="s1", reason="budget"), []),
    (UPDATED, []),
    (but(UPDATED, segment=None, **{"attr.tier": "gold"}), []),
    (VOID, []),
    (but(VOID, customer_id="acme", effective_date="2026-01-01"), []),
    (but(SEAT_CHANGE, note="from the CRM", reason="grew", restatement="late data"), []),
    # what every type requires
    (but(SEAT_CHANGE, customer_id=None), [("customer_id", "is required for seat_change")]),
    (but(CANCEL, effective_date=None), [("effective_date", "is required for cancel")]),
    (but(UPDATED, customer_id=None, effective_date=None),
     [("customer_id", "is required for customer_updated"), ("effective_date", "is required for customer_updated")]),
    (but(SEAT_CHANGE, subscription_id=None), [("subscription_id", "is required for seat_change")]),
    (but(SEAT_CHANGE, quantity=None), [("quantity", "is required for seat_change")]),
    (but(SEAT_CHANGE, type="usage_change", quantity=None), [("amount", "is required for usage_change")]),
    (but(VOID, target_event_id=None), [("target_event_id", "is required for void")]),
    (but(VOID, reason=None), [("reason", "is required for void")]),
    (but(START, plan=None), [("plan", "is required for subscription_started")]),
    # a start's pricing: per seat or by amount
    (but(START, quantity=None), [("quantity", "is required: give quantity and unit_price, or amount")]),
    (but(START, unit_price=None), [("unit_price", "is required: give quantity and unit_price, or amount")]),
    (but(START, quantity=None, unit_price=None), [("quantity", "is required: give quantity and unit_price, or amount")]),
    (but(START, amount="10"),
     [("amount", "a line is priced either per seat (quantity and unit_price) or by amount, not both")]),
    (but(FLAT_START, quantity="3"),
     [("amount", "a line is priced either per seat (quantity and unit_price) or by amount, not both")]),
    # changes
    (but(SEAT_CHANGE, type="subscription_changed", quantity=None),
     [("-", "a subscription_changed must give at least one of plan, quantity, unit_price, amount, billing_months, "
            "discount_pct, currency")]),
    (but(SEAT_CHANGE, type="downgrade", amount="5"),
     [("amount", "a line is priced either per seat (quantity and unit_price) or by amount, not both")]),
    (but(SEAT_CHANGE, plan="team"), [("plan", "a seat_change may change only quantity")]),
    (but(SEAT_CHANGE, unit_price="1", billing_months="12"),
     [("billing_months", "a seat_change may change only quantity"), ("unit_price", "a seat_change may change only quantity")]),
    (but(SEAT_CHANGE, type="price_change"), [("quantity", "a price_change may change only amount, discount_pct, unit_price"),
                                              ("-", "a price_change must give unit_price, amount or discount_pct")]),
    (but(SEAT_CHANGE, type="price_change", unit_price="40.00"),
     [("quantity", "a price_change may change only amount, discount_pct, unit_price")]),
    (but(SEAT_CHANGE, type="price_change", quantity=None),
     [("-", "a price_change must give unit_price, amount or discount_pct")]),
    (but(SEAT_CHANGE, type="price_change", quantity=None, unit_price="1", amount="1"),
     [("amount", "a line is priced either per seat (unit_price) or by amount, not both")]),
    (but(SEAT_CHANGE, type="usage_change", quantity=None, amount="5", plan="x"),
     [("plan", "a usage_change may change only amount")]),
    (but(CANCEL, plan="x"), [("plan", "a cancel may change only no subscription terms")]),
    (but(UPDATED, plan="x"), [("plan", "a customer_updated may change only no subscription terms")]),
    (but(VOID, quantity="3"), [("quantity", "a void may change only no subscription terms")]),
    # fields in the wrong place
    (but(UPDATED, segment=None), [("-", "a customer_updated must set customer_name, segment, channel, region or attr.NAME")]),
    (but(SEAT_CHANGE, segment="SMB"), [("segment", "customer attributes are set by customer_updated, not seat_change")]),
    (but(START, customer_name="Acme", **{"attr.tier": "gold"}),
     [("attr.tier", "customer attributes are set by customer_updated, not subscription_started"),
      ("customer_name", "customer attributes are set by customer_updated, not subscription_started")]),
    (but(UPDATED, subscription_id="s1"), [("subscription_id", "a customer_updated does not name a subscription line")]),
    (but(VOID, subscription_id="s1"), [("subscription_id", "a void does not name a subscription line")]),
    (but(SEAT_CHANGE, target_event_id="a1"), [("target_event_id", "only a void names a target event")]),
    (but(CANCEL, target_event_id="a1"), [("target_event_id", "only a void names a target event")]),
    # currency
    (but(START, currency="EUR"), [("currency", "EUR is not the ledger currency (USD) and the ledger has no rate for it")]),
    (but(SEAT_CHANGE, type="subscription_changed", quantity=None, currency="GBP"),
     [("currency", "GBP is not the ledger currency (USD) and the ledger has no rate for it")]),
]


@pytest.mark.parametrize(("raw", "expected"), SHAPES, ids=[f"{i:02d}-{r['type'] if 'type' in r else '?'}" for i, (r, _) in enumerate(SHAPES)])
def test_each_type_takes_its_own_fields(raw, expected):
    assert problems_of(raw) == expected


def test_an_upsell_without_terms_is_refused_in_plain_english():
    assert problems_of(but(SEAT_CHANGE, type="upsell", quantity=None)) == [
        ("-", "an upsell must give at least one of plan, quantity, unit_price, amount, billing_months, discount_pct, "
              "currency")]


def test_a_currency_with_a_rate_is_accepted():
    row, _ = parse_row(but(START, currency="EUR"))
    assert shape_problems(row, WITH_EUR) == []
    assert shape_problems(row, USD) == [("currency", "EUR is not the ledger currency (USD) and the ledger has no rate for it")]


def test_a_row_with_several_shape_problems_reports_them_all():
    assert problems_of({"type": "seat_change", "plan": "x", "segment": "SMB", "target_event_id": "a1"}) == [
        ("customer_id", "is required for seat_change"),
        ("effective_date", "is required for seat_change"),
        ("subscription_id", "is required for seat_change"),
        ("plan", "a seat_change may change only quantity"),
        ("quantity", "is required for seat_change"),
        ("segment", "customer attributes are set by customer_updated, not seat_change"),
        ("target_event_id", "only a void names a target event"),
    ]


# -- to_event: the draft event -----------------------------------------------------------------------


def draft(raw: dict):
    row, problems = parse_row(raw)
    assert problems == [] and shape_problems(row, USD) == []
    return to_event(row)


def test_a_row_becomes_an_event_with_its_terms_and_no_ledger_fields_yet():
    event = draft(but(START, event_id="a1", billing_months="12", discount_pct="10", note="n", reason="won"))
    assert event.event_id == "a1"
    assert (event.type, event.customer_id, event.effective_date, event.subscription_id) == (
        "subscription_started", "acme", date(2026, 2, 1), "s1")
    assert event.terms() == {"plan": "pro", "quantity": 5, "unit_price": Decimal("20.00"), "billing_months": 12,
                             "discount_pct": Decimal("10")}
    assert (event.note, event.reason, event.target_event_id, event.attributes) == ("n", "won", None, ())
    assert (event.sequence, event.recorded_at, event.actor, event.source, event.hash) == (0, "", "", "", "")


def test_attributes_named_and_custom_are_kept_sorted_by_name():
    event = draft(but(UPDATED, region="EMEA", customer_name="Acme Ltd", **{"attr.tier": "gold", "attr.a": "1"}))
    assert event.attributes == (("attr.a", "1"), ("attr.tier", "gold"), ("customer_name", "Acme Ltd"),
                                ("region", "EMEA"), ("segment", "SMB"))


def test_an_event_without_an_id_gets_one_from_its_content_alone():
    first = draft(SEAT_CHANGE)
    assert first.event_id.startswith("ev-") and len(first.event_id) == 3 + 24
    assert first.event_id == derive_event_id(first.with_record(event_id=""))
    assert draft(dict(reversed(SEAT_CHANGE.items()))).event_id == first.event_id  # the column order does not matter
    assert draft(but(SEAT_CHANGE, quantity="13")).event_id != first.event_id
    assert draft(but(SEAT_CHANGE, note="x")).event_id != first.event_id
    assert draft(but(SEAT_CHANGE, event_id="mine")).event_id == "mine"


def test_a_void_is_left_for_the_ledger_to_complete_from_its_target():
    event = draft(VOID)
    # the customer, the date (by convention the target's) and the id are filled in at staging
    assert (event.event_id, event.customer_id, event.effective_date) == ("", "", date.min)
    assert (event.type, event.target_event_id, event.reason) == ("void", "a1", "typo")
    assert draft(but(VOID, event_id="v1")).event_id == "v1"
