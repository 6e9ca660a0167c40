"""Reading event files (SPEC §10): CSV, JSON Lines and subscription periods; and telling formats apart.

Files are read as bytes and decoded line by line, so an encoding mistake is
reported at its own line and the rest of the file is still checked. Before a
file is read, :func:`check_format` looks at its first bytes: a file of another
format gets one line saying what it looks like and which ``--format`` to use,
not an error for every row.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledger.clock import ClockError, parse_date
from ledger.errors import Problem, RejectedError, UsageError
from ledger.money import MoneyError, D, cents

FORMATS = ("csv", "jsonl", "periods", "invoices", "stripe")
PERIOD_COLUMNS = ("customer_id", "start_date", "end_date", "monthly_amount", "subscription_id")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_SNIFF_BYTES = 64 * 1024


# -- what a file looks like ----------------------------------------------------------------

# What a file looks like, as the one line that names it and the --format that reads it.
_LOOKS = {
    "stripe": ("Stripe JSON (invoice, subscription and customer objects)", "stripe"),
    "jsonl": ("JSON Lines of events", "jsonl"),
    "invoices-jsonl": ("JSON Lines of invoice lines (invoice_id, service_period_start, …)", "invoices"),
    "csv": ("an event CSV (its header has type, customer_id, effective_date, …)", "csv"),
    "periods": ("a periods CSV (its header has customer_id, start_date, end_date, monthly_amount)", "periods"),
    "invoices": ("an invoice-line CSV (its header has invoice_id, service_period_start, …)", "invoices"),
}
_STRIPE_OBJECT = re.compile(r'"object"\s*:\s*"(list|invoice|subscription|customer)"')


def looks_like(path: str) -> str | None:
    """What the file's first bytes say it is: a key of ``_LOOKS``, ``utf-16``, ``semicolons``, ``tabs``, or None."""
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) > 3 and b"\x00" in head[:2]):
        return "utf-16"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        return None
    if first[0] in "[{":
        if _STRIPE_OBJECT.search(text):
            return "stripe"
        try:
            value = json.loads(first)
        except ValueError:
            return None
        if isinstance(value, dict) and "invoice_id" in value:
            return "invoices-jsonl"
        if isinstance(value, dict) and "type" in value:
            return "jsonl"
        return None
    if "," not in first and first.count(";") >= 2:
        return "semicolons"
    if "," not in first and first.count("\t") >= 2:
        return "tabs"
    try:
        header = {cell.strip().lower() for cell in next(csv.reader([first]))}
    except (csv.Error, StopIteration):
        return None
    if "invoice_id" in header:
        return "invoices"
    if {"start_date", "monthly_amount"} <= header:
        return "periods"
    if "type" in header and ({"effective_date", "customer_id"} & header):
        return "csv"
    return None


def guess_format(path: str) -> str | None:
    """The format of a file given without ``--format``: its contents when they say, else its extension."""
    looks = looks_like(path) if os.path.isfile(path) else None
    if looks in ("stripe", "periods", "invoices", "invoices-jsonl"):
        return _LOOKS[looks][1]
    return _EXTENSIONS.get(os.path.splitext(path)[1].lower())


def check_format(path: str, fmt: str) -> None:
    """Refuse, in one line, a file that is plainly of another format than ``fmt``, or that has a header and no rows."""
    name = path
    looks = looks_like(path)
    if looks == "utf-16":  # one problem, at line 1, not one per line of bytes that do not decode
        raise RejectedError(
            [Problem(name, 1, "-", "is not UTF-8 text: the file is UTF-16; save it as UTF-8 (in Excel: CSV UTF-8) and import it again")]
        )
    if looks in ("semicolons", "tabs"):
        what = "semicolons" if looks == "semicolons" else "tabs"
        raise UsageError(
            f"{name}: this looks like CSV separated by {what}; revledger reads comma-separated CSV: "
            "save it with commas (in Excel: CSV UTF-8 (Comma delimited))"
        )
    expected = _expected_looks(path, fmt)
    if looks is not None and looks not in expected:
        what, right = _LOOKS[looks]
        raise UsageError(f"{name}: this looks like {what}, not --format {fmt}: import it with --format {right}")
    if fmt in ("csv", "periods") or (fmt == "invoices" and not _is_jsonl(path)):
        if _header_only(path):
            raise UsageError(f"{name}: the file has a header row but no rows: nothing to import")


def _is_jsonl(path: str) -> bool:
    return path.lower().endswith((".jsonl", ".ndjson"))


def _expected_looks(path: str, fmt: str) -> tuple[str, ...]:
    if fmt == "invoices":
        return ("invoices-jsonl",) if _is_jsonl(path) else ("invoices",)
    return (fmt,)


def _header_only(path: str) -> bool:
    with open(path, "rb") as handle:
        lines = (raw for raw in handle if raw.strip())
        return next(lines, None) is not None and next(lines, None) is None


# -- CSV and JSON Lines ----------------------------------------------------------------------


def _decoded_lines(handle, name: str, problems: list[Problem]) -> Iterator[str]:
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as e:
            problems.append(Problem(name, number, "-", f"is not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1})"))
            yield raw.decode("utf-8", errors="replace")


def read_csv(path: str, name: str, problems: list[Problem]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, cells) of each row; empty cells are left out (SPEC §10: empty = not given)."""
    with open(path, "rb") as handle:
        lines = _decoded_lines(handle, name, problems)
        reader = csv.reader(lines, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            problems.append(Problem(name, 1, "-", "the file is empty (a CSV needs a header row)"))
            return
        except csv.Error as e:
            problems.append(Problem(name, 1, "-", f"the header row is not valid CSV: {e}"))
            return
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        header = [h.strip() for h in header]
        seen: set[str] = set()
        for column in header:
            if column in seen:
                problems.append(Problem(name, 1, column or "-", "this column appears twice in the header"))
            seen.add(column)
        line = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                problems.append(Problem(name, line, "-", f"is not valid CSV: {e}"))
                return
            start, line = line, reader.line_num + 1
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if len(cells) != len(header):
                problems.append(
                    Problem(name, start, "-", f"has {len(cells)} cells but the header has {len(header)} columns")
                )
                continue
            yield start, {column: value for column, value in zip(header, cells) if value != ""}


def read_jsonl(
    path: str, name: str, problems: list[Problem], *, booleans: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, object) of each non-blank line; nulls are left out (not given).

    Values must be plain (text or number); ``booleans`` also lets through true and
    false (an invoice line's ``prorated``, ``voided``).
    """
    plain_only = (dict, list) if booleans else (dict, list, bool)
    with open(path, "rb") as handle:
        for number, text in enumerate(_decoded_lines(handle, name, problems), start=1):
            if number == 1:
                text = text.lstrip("\ufeff")
            if not text.strip():
                continue
            try:
                value = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
            except (json.JSONDecodeError, ValueError) as e:
                problems.append(Problem(name, number, "-", f"is not a JSON object: {e}"))
                continue
            if not isinstance(value, dict):
                problems.append(Problem(name, number, "-", f"is a JSON {type(value).__name__}, not an object"))
                continue
            bad = [k for k, v in value.items() if isinstance(v, plain_only)]
            for key in bad:
                problems.append(Problem(name, number, key, "must be a plain value (text or number)"))
            if bad:
                continue
            yield number, {k: v for k, v in value.items() if v is not None and v != ""}


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not a number")


# -- subscription periods --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """One row of a periods file, read.

    Attributes:
      line: its line in the file.
      customer_id, subscription_id: whose line (subscription_id None when the row gives none).
      start: its first day with revenue.
      end: ``end_date`` as written (None: open-ended).
      stop: the first day without revenue, under the chosen end convention (None: open-ended).
      amount: ``monthly_amount`` as written.
    """

    line: int
    customer_id: str
    subscription_id: str | None
    start: date
    end: date | None
    stop: date | None
    amount: str


def _read_period_rows(path: str, name: str, problems: list[Problem], end_exclusive: bool) -> list[Period]:
    periods: list[Period] = []
    for line, cells in read_csv(path, name, problems):
        unknown = sorted(set(cells) - set(PERIOD_COLUMNS))
        for column in unknown:
            problems.append(Problem(name, line, column, f"unknown column for --format periods (expected {', '.join(PERIOD_COLUMNS)})"))
        missing = [c for c in ("customer_id", "start_date", "monthly_amount") if c not in cells]
        for column in missing:
            problems.append(Problem(name, line, column, "is required"))
        if unknown or missing:
            continue
        try:
            start = parse_date(cells["start_date"])
        except ClockError as e:
            problems.append(Problem(name, line, "start_date", str(e)))
            continue
        try:
            D(cells["monthly_amount"])
        except MoneyError as e:
            problems.append(Problem(name, line, "monthly_amount", str(e)))
            continue
        end = stop = None
        if "end_date" in cells:
            try:
                end = parse_date(cells["end_date"])
            except ClockError as e:
                problems.append(Problem(name, line, "end_date", str(e)))
                continue
            stop = end if end_exclusive else end + timedelta(days=1)
            if stop <= start:
                problems.append(Problem(name, line, "end_date", f"{end} ends the period before it starts ({start})"))
                continue
        sid = cells.get("subscription_id")
        periods.append(Period(line, cells["customer_id"], sid, start, end, stop, cells["monthly_amount"]))
    return periods


def read_periods(
    path: str, name: str, problems: list[Problem], *, end_exclusive: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Subscription periods as (line, event cells) (SPEC §10).

    A row without ``subscription_id`` is a line of its own: a flat-priced start,
    and a cancel if it ends. The periods of one ``subscription_id`` are one line:
    a period that begins the day the previous one stops is a change of its
    amount (an upsell or downgrade with stated cause price; equal amounts, no
    event), a later one a cancel and a restart; overlapping periods are refused.
    """
    periods = _read_period_rows(path, name, problems, end_exclusive)
    groups: dict[tuple[str, str], list[Period]] = {}
    made: list[tuple[tuple[int, int], int, dict[str, Any]]] = []
    used: dict[tuple[str, str], int] = {}
    for p in periods:
        if p.subscription_id is not None:
            groups.setdefault((p.customer_id, p.subscription_id), []).append(p)
            continue
        key = (p.customer_id, p.start.isoformat())
        used[key] = used.get(key, 0) + 1
        line_id = f"period-{p.start.isoformat()}" + (f"-{used[key]}" if used[key] > 1 else "")
        made.append(((p.line, 0), p.line, _start(p, line_id)))
        if p.stop is not None:
            made.append(((p.line, 1), p.line, _cancel(p, line_id)))
    if _follow_one_another(groups, name, problems, end_exclusive):
        for group in groups.values():
            first = group[0].line
            for n, (line, cells) in enumerate(_one_line(group)):
                made.append(((first, n), line, cells))
    made.sort(key=lambda item: item[0])
    for _, line, cells in made:
        yield line, cells


def _follow_one_another(
    groups: dict[tuple[str, str], list[Period]], name: str, problems: list[Problem], end_exclusive: bool
) -> bool:
    """Sort each subscription's periods and check they follow one another; False when refused.

    When no period touches the next under the chosen end convention but some do
    under the other, the file was read with the wrong one: one line says so.
    """
    touching = other_touching = other_overlapping = 0
    overlaps: list[Problem] = []
    for (customer, sid), group in groups.items():
        group.sort(key=lambda p: (p.start, p.line))
        for a, b in zip(group, group[1:]):
            if a.stop is None or b.start < a.stop:
                overlaps.append(
                    Problem(name, b.line, "start_date", f"{b.start} is inside the period of subscription {sid} at line "
                            f"{a.line} ({a.start} to {a.end or 'open-ended'}): periods of one subscription must not overlap")
                )
            touching += b.start == a.stop
            if a.stop is not None:
                other_stop = a.stop + timedelta(days=1) if end_exclusive else a.stop - timedelta(days=1)
                other_touching += b.start == other_stop
                other_overlapping += b.start < other_stop
    if other_touching and not touching and not other_overlapping:
        periods_end = f"{other_touching} periods end" if other_touching > 1 else "1 period ends"
        their = "their" if other_touching > 1 else "its"
        if end_exclusive:
            hint = (f"{periods_end} the day before the next period of {their} subscription begins, "
                    "as when end_date is the last day with revenue: try without --end-exclusive")
        else:
            hint = (f"{periods_end} on the day the next period of {their} subscription begins, "
                    "as when end_date is the first day without revenue: try --end-exclusive")
        problems.append(Problem(name, 0, "end_date", hint))
        return False
    problems.extend(overlaps)
    return not overlaps


def _one_line(group: list[Period]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The events of one subscription's periods, in date order (they follow one another)."""
    sid = group[0].subscription_id or ""
    previous: Period | None = None
    for p in group:
        if previous is None:
            yield p.line, _start(p, sid)
        elif p.start == previous.stop:
            change = _change(previous, p, sid)
            if change is not None:
                yield p.line, change
        else:
            yield previous.line, _cancel(previous, sid)
            yield p.line, _start(p, sid)
        previous = p
    if previous is not None and previous.stop is not None:
        yield previous.line, _cancel(previous, sid)


def _start(p: Period, line_id: str) -> dict[str, Any]:
    return {
        "type": "subscription_started",
        "customer_id": p.customer_id,
        "effective_date": p.start.isoformat(),
        "subscription_id": line_id,
        "plan": "period",
        "amount": p.amount,
    }


def _cancel(p: Period, line_id: str) -> dict[str, Any]:
    assert p.stop is not None
    return {"type": "cancel", "customer_id": p.customer_id, "effective_date": p.stop.isoformat(), "subscription_id": line_id}


def _change(before: Period, after: Period, line_id: str) -> dict[str, Any] | None:
    """The new amount of a line whose next period begins as the last one stops (None when it is the same)."""
    old, new = D(before.amount), D(after.amount)
    if old == new:
        return None
    kind = "upsell" if cents(new) > cents(old) else "downgrade" if cents(new) < cents(old) else "subscription_changed"
    return {
        "type": kind,
        "customer_id": after.customer_id,
        "effective_date": after.start.isoformat(),
        "subscription_id": line_id,
        "amount": after.amount,
        "cause": "price",
    }


def read_file(path: str, fmt: str, problems: list[Problem], *, end_exclusive: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of an event file of format ``fmt``; a file plainly of another format is refused first, in one line."""
    check_format(path, fmt)
    name = path
    if fmt == "csv":
        return read_csv(path, name, problems)
    if fmt == "jsonl":
        return read_jsonl(path, name, problems)
    return read_periods(path, name, problems, end_exclusive=end_exclusive)
