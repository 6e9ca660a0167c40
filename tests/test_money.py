"""Money has one constructor and one rounding rule; floats never get in."""

from decimal import Decimal

import pytest

from ledger.money import D, MoneyError, cents, cents_text, from_cents, money_text, monthly_mrr, ratio, ratio_text, to_cents


@pytest.mark.parametrize(
    "text, expected",
    [("12.50", Decimal("12.50")), ("0", Decimal("0")), (" 7 ", Decimal("7")), ("-3.25", Decimal("-3.25")), (".5", Decimal(".5"))],
)
def test_plain_decimals_are_read_exactly(text, expected):
    assert D(text) == expected


@pytest.mark.parametrize("text", ["1,000.00", "NaN", "nan", "Infinity", "1e3", "12.5.1", "", "$10", "ten", "1 000"])
def test_anything_else_is_refused(text):
    with pytest.raises(MoneyError):
        D(text)


def test_binary_floats_are_refused():
    with pytest.raises(MoneyError, match="binary float"):
        D(0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value, expected",
    [("0.125", "0.12"), ("0.135", "0.14"), ("2.675", "2.68"), ("-0.125", "-0.12"), ("833.335", "833.34")],
)
def test_cents_round_half_even(value, expected):
    assert str(cents(Decimal(value))) == expected


def test_storage_form_round_trips():
    for text in ("0.00", "0.01", "1010000.00", "-2500.00", "99999999999.99"):
        amount = Decimal(text)
        assert from_cents(to_cents(amount)) == amount
        assert money_text(amount) == text
        assert cents_text(to_cents(amount)) == text


def test_fractions_of_a_cent_are_not_stored_silently():
    with pytest.raises(MoneyError):
        to_cents(Decimal("0.005"))


def test_ratios_have_six_places_or_none():
    assert ratio_text(ratio(Decimal("1000000"), Decimal("1010000"))) == "0.990099"
    assert ratio_text(ratio(Decimal("60000"), Decimal("1010000"))) == "0.059406"
    assert ratio_text(ratio(1, 0)) is None


@pytest.mark.parametrize(
    "base, discount, months, expected",
    [
        (100_000, 0, 1, 100_000),  # 1,000.00 a month
        (100_000, 0, 12, 8_333),  # 8,333.333… -> 8,333
        (100_000, 0, 3, 33_333),
        (1, 50, 1, 0),  # half a cent rounds to even: 0
        (3, 50, 1, 2),  # 1.5 cents -> 2
        (5, 50, 1, 2),  # 2.5 cents -> 2
        (48_000, 25, 12, 3_000),  # 480.00 a year at 25% off -> 30.00 a month
    ],
)
def test_monthly_mrr_is_quantized_once_half_even(base, discount, months, expected):
    assert to_cents(monthly_mrr(from_cents(base), Decimal(discount), months)) == expected
