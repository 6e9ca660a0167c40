"""Events: the canonical record encoded once, with the ledger's fields spliced in, is exactly canonical(record())."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.events import Event, canonical, event_from_record, record_fragments, sealed_text

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@st.composite
def events(draw) -> Event:
    money = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False)
    maybe = lambda s: st.none() | s  # noqa: E731
    attributes = draw(st.dictionaries(st.sampled_from(["customer_name", "segment", "region", "attr.industry", "attr.a-b"]), TEXT))
    return Event(
        event_id=draw(TEXT.filter(bool)),
        type=draw(st.sampled_from(["subscription_started", "upsell", "cancel", "customer_updated", "void"])),
        customer_id=draw(TEXT.filter(bool)),
        effective_date=draw(st.dates(date(1990, 1, 1), date(2100, 12, 31))),
        subscription_id=draw(maybe(TEXT)),
        plan=draw(maybe(TEXT)),
        quantity=draw(maybe(st.integers(0, 10**6))),
        unit_price=draw(maybe(money)),
        amount=draw(maybe(money)),
        billing_months=draw(maybe(st.integers(1, 36))),
        discount_pct=draw(maybe(st.decimals(min_value=0, max_value=100, places=3, allow_nan=False))),
        currency=draw(maybe(st.sampled_from(["USD", "EUR"]))),
        cause=draw(maybe(st.sampled_from(["plan", "seats", "price", "usage"]))),
        reason=draw(maybe(TEXT)),
        note=draw(maybe(TEXT)),
        target_event_id=draw(maybe(TEXT)),
        restatement=draw(maybe(TEXT)),
        attributes=tuple(sorted(attributes.items())),
        details=draw(maybe(TEXT)),
    )


@settings(max_examples=400)
@given(events(), st.integers(1, 10**9), st.integers(0, 10**9), TEXT, TEXT, st.booleans())
def test_sealed_text_is_the_canonical_record(event, sequence, extra, actor, source, hashed):
    digest = "ab" * 32 if hashed else ""
    append_last = sequence + extra if extra else 0
    sealed = event._replace(sequence=sequence, append_last=append_last, recorded_at="2026-01-01T00:00:00.000001Z",
                            actor=actor, source=source, hash=digest)
    text = sealed_text(record_fragments(event), sequence=sequence, append_last=append_last,
                       recorded_at="2026-01-01T00:00:00.000001Z", actor=actor, source=source, hash=digest or None)
    assert text == canonical(sealed.record())
    assert event_from_record(__import__("json").loads(text)) == sealed


def test_a_ledger_event_without_a_customer_splices_the_same_way():
    close = Event(event_id="ev-1", type="period_closed", customer_id="", effective_date=date(2026, 1, 31),
                  details='{"lock":true}', amount=Decimal("0.50"))
    text = sealed_text(record_fragments(close), sequence=7, append_last=7, recorded_at="2026-02-01T00:00:00.000000Z",
                       actor="ana", source="cli", hash="f" * 64)
    assert text == canonical(close._replace(sequence=7, append_last=7, recorded_at="2026-02-01T00:00:00.000000Z",
                                            actor="ana", source="cli", hash="f" * 64).record())
