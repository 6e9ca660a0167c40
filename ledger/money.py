"""Money: one constructor, one rounding rule, one text form.

Never use binary floating point in an accounting system: every amount is a
``Decimal`` built by :func:`D`, quantized to cents (ROUND_HALF_EVEN) only
where SPEC §4 says so, and stored as text or integer cents.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

CENT = Decimal("0.01")
RATIO_PLACES = Decimal("0.000001")
ZERO = Decimal("0.00")

# A plain decimal: optional sign, digits, optional fraction. No exponents,
# thousands separators, NaN or infinities: such cells are input mistakes.
_PLAIN_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


class MoneyError(ValueError):
    """A value that is not a plain decimal number."""


def D(value: str | int | Decimal) -> Decimal:
    """Return ``value`` as a Decimal; refuse floats and anything not plainly decimal."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError("must be a finite decimal number")
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError("must be a decimal number written as text, not a binary float")
    if isinstance(value, int):
        return Decimal(value)
    text = str(value).strip()
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise MoneyError(f"{value!r} is not a decimal number (write it like 1234.50)")
    try:
        return Decimal(text)
    except InvalidOperation as e:  # pragma: no cover - the pattern already excludes these
        raise MoneyError(f"{value!r} is not a decimal number") from e


def cents(amount: Decimal) -> Decimal:
    """Quantize to cents, ROUND_HALF_EVEN: the one rounding rule for money."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def to_cents(amount: Decimal) -> int:
    """Integer cents of an amount already quantized to cents (the storage form)."""
    q = cents(amount)
    if q != amount:
        raise MoneyError(f"{amount} has fractions of a cent")
    return int(q * 100)


def from_cents(value: int) -> Decimal:
    """The Decimal amount of integer cents."""
    return (Decimal(value) / 100).quantize(CENT)


def money_text(amount: Decimal) -> str:
    """Money as text with exactly two decimals: ``"1010000.00"``."""
    return f"{cents(amount):.2f}"


def cents_text(value: int) -> str:
    """Integer cents as money text: 101000000 -> ``"1010000.00"``."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 100)
    return f"{sign}{whole}.{frac:02d}"


HUNDRED = Decimal(100)


def monthly_mrr(base: Decimal, discount_pct: Decimal, billing_months: int, rate: Decimal = Decimal(1)) -> Decimal:
    """SPEC §4: base × (1 − discount/100) / billing_months, converted at ``rate``, quantized to cents once."""
    return cents(base * (1 - discount_pct / HUNDRED) / billing_months * rate)


def ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    """numerator / denominator to six places (ROUND_HALF_EVEN), or None when the denominator is 0."""
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN)


def ratio_text(value: Decimal | None) -> str | None:
    """A ratio as SPEC §6 prints it: six decimals, or null."""
    return None if value is None else f"{value:.6f}"
