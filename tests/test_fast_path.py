"""The fast path of row validation accepts only what the detailed one accepts, and builds the same event.

Rows come from outside (SPEC §3, §10): most are well formed and take the fast
path; anything it does not accept takes the detailed path, which names every
problem. So the fast path must never accept a row the detailed one refuses,
nor build a different event from it.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import IN_CI
from ledger.events import EVENT_TYPES
from ledger.inputs import fast_event, parse_row, shape_problems, to_event
from ledger.settings import LedgerSettings
from decimal import Decimal

SETTINGS = LedgerSettings("USD", rates=(("EUR", Decimal("1.08")),))
EDGES = {
    "event_id": ["e1", " e1", "e1 ", "", "x" * 200, "x" * 201, "a\nb", "ev-1"],
    "type": [*EVENT_TYPES, "Upsell", "period_closed", "refund"],
    "customer_id": ["acme", " acme", "", "x" * 201, "Ünïcødé"],
    "effective_date": ["2026-01-31", "2026-02-30", "2026-1-5", "20260105", "2026-13-01", "0001-01-01", "9999-12-31", "2026-02-28 "],
    "subscription_id": ["s1", "", " s1"],
    "plan": ["pro", "", "x" * 20_001],
    "quantity": ["0", "10", "-1", "1.5", "+3", "999999999", "1000000000", "01", "١٢"],
    "unit_price": ["0", "12.50", "-1", "1e3", ".5", "5.", "123456789012", "1234567890123", "0.1234567", "0.123456", "NaN"],
    "amount": ["0", "99.99", "-0", "+5", "1,000.00", "12.345678", "000000000000001"],
    "billing_months": ["1", "0", "12", "36", "-12", "x"],
    "discount_pct": ["0", "10", "100", "100.000001", "101", "12.5"],
    "currency": ["USD", "EUR", "usd", "GBP", "US"],
    "cause": ["plan", "seats", "price", "usage", "mixed", "Price"],
    "reason": ["budget", "x" * 20_001],
    "note": ["n"],
    "target_event_id": ["e1", ""],
    "restatement": ["late"],
    "customer_name": ["Acme", ""],
    "segment": ["SMB"],
    "attr.industry": ["retail"],
    "attr.bad name": ["x"],
    "bogus": ["1"],
}


# A valid row of each kind: the strategy changes, adds or drops a few fields, so most rows stay close to valid.
VALID = [
    {"type": "subscription_started", "customer_id": "acme", "effective_date": "2026-01-01", "subscription_id": "s1",
     "plan": "pro", "quantity": "10", "unit_price": "100.00"},
    {"type": "subscription_started", "customer_id": "acme", "effective_date": "2026-01-01", "subscription_id": "u1",
     "plan": "usage", "amount": "49.50", "billing_months": "12", "discount_pct": "10"},
    {"type": "upsell", "customer_id": "acme", "effective_date": "2026-02-01", "subscription_id": "s1", "quantity": "12"},
    {"type": "price_change", "customer_id": "acme", "effective_date": "2026-02-01", "subscription_id": "s1",
     "unit_price": "90", "cause": "price"},
    {"type": "seat_change", "customer_id": "acme", "effective_date": "2026-02-01", "subscription_id": "s1", "quantity": "3"},
    {"type": "usage_change", "customer_id": "acme", "effective_date": "2026-02-01", "subscription_id": "u1", "amount": "7"},
    {"type": "cancel", "customer_id": "acme", "effective_date": "2026-03-01", "reason": "budget"},
    {"type": "customer_updated", "customer_id": "acme", "effective_date": "2026-01-01", "segment": "SMB"},
    {"type": "void", "target_event_id": "e1", "reason": "typo"},
]


@st.composite
def rows(draw):
    row = dict(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(sorted(EDGES)))
        if draw(st.integers(0, 4)) == 0:
            row.pop(name, None)
        else:
            row[name] = draw(st.sampled_from(EDGES[name]))
    return {k: v for k, v in row.items() if v != ""}  # empty cells are never given (SPEC §10)


@settings(max_examples=5000 if IN_CI else 1500, deadline=None)
@given(rows())
def test_the_fast_path_accepts_nothing_the_detailed_path_refuses(cells):
    fast = fast_event(cells, SETTINGS)
    row, problems = parse_row(cells)
    if row is not None:
        problems = shape_problems(row, SETTINGS)
    if fast is None:
        return
    assert problems == [], (cells, problems)
    assert fast == to_event(row)


def test_every_valid_template_takes_the_fast_path():
    for row in VALID:
        assert fast_event(row, SETTINGS) is not None, row


def test_well_formed_rows_take_the_fast_path():
    started = {"event_id": "a1", "type": "subscription_started", "customer_id": "acme", "effective_date": "2026-01-01",
               "subscription_id": "s1", "plan": "pro", "quantity": "10", "unit_price": "100.00", "currency": "EUR"}
    assert fast_event(started, SETTINGS) is not None
    updated = {"type": "customer_updated", "customer_id": "acme", "effective_date": "2026-01-01", "segment": "SMB",
               "attr.industry": "retail"}
    event = fast_event(updated, SETTINGS)
    assert event is not None and event.attributes == (("attr.industry", "retail"), ("segment", "SMB"))
    assert event.event_id.startswith("ev-")  # derived from the content, as the detailed path derives it
