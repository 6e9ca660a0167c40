"""Reporting periods (SPEC §6): calendar months, quarters and years, clipped to a range."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from ledger.clock import parse_date
from ledger.errors import UsageError

PERIODS = ("month", "quarter", "year")
MAX_PERIODS = 1200  # 100 years by month
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-[Qq]([1-4])")
_YEAR = re.compile(r"(\d{4})")


def month_end(day: date) -> date:
    """The last day of ``day``'s month (9999-12 included: nothing past the calendar's end is computed)."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period_count(start: date, end: date, period: str) -> int:
    """How many calendar periods (months, quarters or years) [start, end] touches."""
    if period == "year":
        return end.year - start.year + 1
    if period == "quarter":
        return end.year * 4 + (end.month - 1) // 3 - (start.year * 4 + (start.month - 1) // 3) + 1
    return end.year * 12 + end.month - (start.year * 12 + start.month) + 1


def require_periods(start: date, end: date, period: str = "month", what: str = "") -> None:
    """Refuse a range of more than MAX_PERIODS periods: no report of centuries of months is an answer anyone reads.

    (``--to 9999-12-31`` is how "until forever" gets typed; it is 95,000 months from now.)
    """
    count = period_count(start, end, period)
    if count > MAX_PERIODS:
        longer = " or use a longer --period" if period != "year" and not what else ""
        raise UsageError(
            f"--from {start} --to {end} is {count:,} {period}s{what}; revledger answers at most "
            f"{MAX_PERIODS:,} at once: narrow the range{longer}"
        )


def period_end(day: date, period: str) -> date:
    """The last day of the calendar ``period`` (month, quarter or year) containing ``day``."""
    if period == "month":
        return month_end(day)
    if period == "quarter":
        return month_end(day.replace(month=(day.month - 1) // 3 * 3 + 3, day=1))
    if period == "year":
        return day.replace(month=12, day=31)
    raise UsageError(f"unknown period {period!r} (use one of: {', '.join(PERIODS)})")


def parse_period(text: str) -> tuple[date, date]:
    """A named period as its first and last day: ``2026-03`` (month), ``2026-Q1`` (quarter), ``2026`` (year)."""
    value = str(text).strip()
    if (m := _MONTH.fullmatch(value) or _QUARTER.fullmatch(value) or _YEAR.fullmatch(value)) and int(m[1]) < 1:
        raise UsageError(f"{text!r} is not a period: the calendar starts in year 0001")
    if m := _MONTH.fullmatch(value):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise UsageError(f"{text!r} is not a period: month {month} does not exist")
        first = date(year, month, 1)
        return first, month_end(first)
    if m := _QUARTER.fullmatch(value):
        first = date(int(m[1]), (int(m[2]) - 1) * 3 + 1, 1)
        return first, period_end(first, "quarter")
    if m := _YEAR.fullmatch(value):
        first = date(int(m[1]), 1, 1)
        return first, date(first.year, 12, 31)
    raise UsageError(f"{text!r} is not a period (write 2026-03, 2026-Q1 or 2026)")


def split(start: date, end: date, period: str = "month") -> list[tuple[date, date]]:
    """The calendar periods covering [start, end], the first and last clipped to the range."""
    if end < start:
        raise UsageError(f"the range ends ({end}) before it starts ({start})")
    require_periods(start, end, period)
    result = []
    while True:
        last = min(period_end(start, period), end)
        result.append((start, last))
        if last == end:
            return result
        start = last + timedelta(days=1)


def parse_range(start: str, end: str) -> tuple[date, date]:
    """``--from``/``--to`` as an inclusive range of dates."""
    first, last = parse_date(start), parse_date(end)
    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    return first, last


def period_kind(label: str) -> str:
    """``month``, ``quarter`` or ``year``: the metrics period a close label names (``2026-03``, ``2026-Q1``, ``2026``)."""
    parse_period(label)  # refuses what is not a period
    text = label.strip()
    if re.fullmatch(r"\d{4}", text):
        return "year"
    if re.fullmatch(r"\d{4}-[Qq][1-4]", text):
        return "quarter"
    return "month"


def period_name(label: str) -> str:
    """The canonical spelling of a period label (``2026-q1`` → ``2026-Q1``)."""
    return label.strip().upper()


def period_label(start: str, end: str) -> str:
    """``2026-01`` for a whole month, ``2026-Q1`` for a whole quarter, ``2026`` for a whole year, else the range."""
    s, e = date.fromisoformat(start), date.fromisoformat(end)
    if s.day == 1 and e == month_end(e):
        months = (e.year - s.year) * 12 + e.month - s.month + 1
        if months == 1:
            return start[:7]
        if months == 3 and s.month % 3 == 1:
            return f"{s.year}-Q{(s.month + 2) // 3}"
        if months == 12 and s.month == 1:
            return str(s.year)
    return f"{start}..{end}"


def require_whole_months(start: date, end: date, policy) -> None:
    """Under ``movement_grain=month`` a range must be whole months (SPEC §13): --from a first day, --to a last day."""
    if not policy.monthly:
        return
    if start.day != 1:
        raise UsageError(f"--from {start}: movements are netted per month (movement_grain=month), so --from must be a month's first day")
    if end != month_end(end):
        raise UsageError(f"--to {end}: movements are netted per month (movement_grain=month), so --to must be a month's last day")
