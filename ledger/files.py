"""Reading event files (SPEC §10): CSV, JSON Lines, and subscription periods.

Files are read as bytes and decoded line by line, so an encoding mistake is
reported at its own line and the rest of the file is still checked.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from ledger.clock import ClockError, parse_date
from ledger.errors import Problem
from ledger.money import MoneyError, D

FORMATS = ("csv", "jsonl", "periods")
PERIOD_COLUMNS = ("customer_id", "start_date", "end_date", "monthly_amount", "subscription_id")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def guess_format(path: str) -> str | None:
    return _EXTENSIONS.get(os.path.splitext(path)[1].lower())


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


def read_jsonl(path: str, name: str, problems: list[Problem]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, object) of each non-blank line; nulls are left out (not given)."""
    with open(path, "rb") as handle:
        for number, text in enumerate(_decoded_lines(handle, name, problems), start=1):
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
            bad = [k for k, v in value.items() if isinstance(v, (dict, list, bool))]
            for key in bad:
                problems.append(Problem(name, number, key, "must be a plain value (text or number)"))
            if bad:
                continue
            yield number, {k: v for k, v in value.items() if v is not None and v != ""}


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not a number")


def read_periods(
    path: str, name: str, problems: list[Problem], *, end_exclusive: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Subscription periods as (line, event cells): a flat-priced start, and a cancel if the period ends."""
    used: dict[tuple[str, str], int] = {}
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
        customer = cells["customer_id"]
        line_id = cells.get("subscription_id")
        if line_id is None:
            key = (customer, start.isoformat())
            used[key] = used.get(key, 0) + 1
            line_id = f"period-{start.isoformat()}" + (f"-{used[key]}" if used[key] > 1 else "")
        yield line, {
            "type": "subscription_started",
            "customer_id": customer,
            "effective_date": start.isoformat(),
            "subscription_id": line_id,
            "plan": "period",
            "amount": cells["monthly_amount"],
        }
        if "end_date" in cells:
            try:
                end = parse_date(cells["end_date"])
            except ClockError as e:
                problems.append(Problem(name, line, "end_date", str(e)))
                continue
            first_day_without = end if end_exclusive else end + timedelta(days=1)
            if first_day_without <= start:
                problems.append(Problem(name, line, "end_date", f"{end} ends the period before it starts ({start})"))
                continue
            yield line, {
                "type": "cancel",
                "customer_id": customer,
                "effective_date": first_day_without.isoformat(),
                "subscription_id": line_id,
            }


def read_file(path: str, fmt: str, problems: list[Problem], *, end_exclusive: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    name = path
    if fmt == "csv":
        return read_csv(path, name, problems)
    if fmt == "jsonl":
        return read_jsonl(path, name, problems)
    return read_periods(path, name, problems, end_exclusive=end_exclusive)
