"""The two clocks' helpers: calendar months added the way billing terms count them."""

from datetime import date

import pytest

from ledger.clock import add_months


@pytest.mark.parametrize(
    "day, months, expected",
    [(date(2024, 1, 31), 1, date(2024, 2, 29)), (date(2024, 1, 1), 36, date(2027, 1, 1)), (date(2023, 12, 15), 1, date(2024, 1, 15))],
)
def test_add_months_clamps_to_the_month_end(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    "day, months, expected",
    [(date(2025, 1, 31), 2, date(2025, 3, 31)), (date(2025, 3, 10), 12, date(2026, 3, 10)), (date(2024, 2, 29), 12, date(2025, 2, 28)),
     (date(2025, 11, 30), 3, date(2026, 2, 28)), (date(2025, 5, 5), 0, date(2025, 5, 5))],
)
def test_add_months_counts_from_the_day_itself(day, months, expected):
    assert add_months(day, months) == expected
