"""The two clocks of SPEC §2: effective dates (calendar days) and recorded instants (UTC, µs)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

ONE_MICROSECOND = timedelta(microseconds=1)


class ClockError(ValueError):
    """A date or instant that cannot be read."""


def parse_date(text: str) -> date:
    """An ISO calendar date ``YYYY-MM-DD``; nothing else is accepted."""
    text = str(text).strip()
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ClockError(f"{text!r} is not a date in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise ClockError(f"{text!r} is not a real date") from e


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant, as UTC. A bare date means the end of that day (SPEC §2)."""
    text = str(text).strip()
    if len(text) == 10:
        day = parse_date(text)
        return datetime.combine(day, time.max, tzinfo=UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as e:
        raise ClockError(f"{text!r} is not an ISO-8601 instant (e.g. 2026-02-01T09:00:00Z)") from e
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def instant_text(value: datetime) -> str:
    """The one text form of a recorded instant: ``2026-02-01T09:00:00.000000Z``.

    Fixed width, so text order is time order (the read models compare it as text).
    """
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_months(day: date, months: int) -> date:
    """The same day of the month ``months`` later, clamped to that month's last day (2025-01-31 + 1 = 2025-02-28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return min(date(year, month, 1) + timedelta(days=day.day - 1), first_of_next - timedelta(days=1))


def utc_now() -> datetime:
    return datetime.now(UTC)
