"""Excel workbooks: one sheet per table, money and ratios as real numbers.

Money (SPEC: text with two decimals) becomes a Decimal cell with a ``#,##0.00``
number format; ratios (six decimals) a Decimal cell with a percentage format;
counts integers. openpyxl writes a Decimal as the number it spells, so no
binary float ever touches the figures on the way into the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from cli.render import Column, flatten

MONEY_FORMAT = "#,##0.00"
RATIO_FORMAT = "0.00%"
COUNT_FORMAT = "#,##0"
_MONEY = re.compile(r"-?\d+\.\d{2}")
_RATIO = re.compile(r"-?\d+\.\d{6}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATE_FORMAT = "yyyy-mm-dd"


@dataclass
class Sheet:
    """One table: a sheet name, its rows and columns, and lines of context shown above it."""

    name: str
    rows: Sequence[dict[str, Any]]
    columns: Sequence[Column]
    notes: Sequence[str] = field(default_factory=tuple)


def infer_columns(rows: Sequence[dict[str, Any]]) -> list[Column]:
    """Columns for rows of SPEC JSON values: two decimals are money, six a ratio, integers counts."""
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    return [Column(k, k, _kind(k, [row.get(k) for row in rows])) for k in keys]


def _kind(key: str, values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "text"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "count"
    if all(isinstance(v, str) and _MONEY.fullmatch(v) for v in present):
        return "money"
    if all(isinstance(v, str) and _RATIO.fullmatch(v) for v in present):
        return "ratio"
    return "text"


def _value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind in ("money", "ratio"):
        return Decimal(value)
    if isinstance(value, str) and _DATE.fullmatch(value):
        return date.fromisoformat(value)
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return value


def write(path: str, sheets: Sequence[Sheet]) -> None:
    """Write ``sheets`` to an .xlsx file at ``path``: notes, then a bold header row, then the rows."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        ws = book.create_sheet(_sheet_name(sheet.name))
        for note in sheet.notes:
            ws.append([note])
        if sheet.notes:
            ws.append([])
        ws.append([c.heading for c in sheet.columns])
        header = ws.max_row
        for cell in ws[header]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            ws.append([_value(row.get(c.key), c.kind) for c in sheet.columns])
            for cell, c in zip(ws[ws.max_row], sheet.columns):
                if c.kind == "money":
                    cell.number_format = MONEY_FORMAT
                elif c.kind == "ratio":
                    cell.number_format = RATIO_FORMAT
                elif c.kind == "count":
                    cell.number_format = COUNT_FORMAT
                elif isinstance(cell.value, date):
                    cell.number_format = DATE_FORMAT
        ws.freeze_panes = f"A{header + 1}"
        for i, c in enumerate(sheet.columns, start=1):
            width = max([len(c.heading)] + [len(str(row.get(c.key) or "")) for row in sheet.rows[:500]])
            ws.column_dimensions[get_column_letter(i)].width = min(max(width + 3, 8), 60)
    book.save(path)


def _sheet_name(name: str) -> str:
    cleaned = re.sub(r"[\[\]:*?/\\]", "-", name)
    return cleaned[:31] or "sheet"


def context(title: str, currency: str | None, known_at: str | None) -> list[str]:
    """The lines above a table: what it is, in which currency, as known when."""
    lines = [title]
    if currency:
        lines.append(f"currency: {currency}")
    lines.append(f"known at: {known_at}" if known_at else "known at: (empty ledger)")
    return lines


def metrics_sheets(report: dict[str, Any]) -> list[Sheet]:
    """`metrics`: one row per period (and group), every SPEC §11 figure a column."""
    rows = [flatten(p) for p in report.get("periods", [])]
    notes = context("Period metrics", report.get("currency"), report.get("known_at"))
    return [Sheet("metrics", rows, infer_columns(rows), notes)]


def cohorts_sheets(report: dict[str, Any]) -> list[Sheet]:
    """`cohorts`: one row per cohort and month offset."""
    rows = []
    for cohort in report.get("cohorts", []):
        head = {k: v for k, v in cohort.items() if not isinstance(v, (list, dict))}
        for offset in cohort.get("offsets", []):
            rows.append({**head, **flatten(offset)})
    notes = context("Cohorts", report.get("currency"), report.get("known_at"))
    return [Sheet("cohorts", rows, infer_columns(rows), notes)]


def explain_sheets(report: dict[str, Any]) -> list[Sheet]:
    """`explain`: the figure, its customers, their movements and the events behind them (SPEC §8)."""
    summary = [{k: v for k, v in report.items() if not isinstance(v, (list, dict))}]
    customers, movements, events = [], [], []
    for item in report.get("items", []):
        customers.append({k: v for k, v in item.items() if not isinstance(v, (list, dict))})
        for m in item.get("movements", []):
            movements.append({"customer_id": item.get("customer_id"),
                              **{k: v for k, v in m.items() if k != "events"},
                              "event_ids": [e.get("event_id") for e in m.get("events", [])]})
            for e in m.get("events", []):
                events.append({"customer_id": item.get("customer_id"), "movement_date": m.get("date"), **e})
    notes = context(f"Explain {report.get('metric')}", report.get("currency"), report.get("known_at"))
    return [
        Sheet("figure", summary, infer_columns(summary), notes),
        Sheet("customers", customers, infer_columns(customers)),
        Sheet("movements", movements, infer_columns(movements)),
        Sheet("events", events, infer_columns(events)),
    ]


def save(path: str, sheets: Sequence[Sheet]) -> None:
    """Write the workbook and say so on stdout (the tables themselves are in the file)."""
    write(path, sheets)
    names = ", ".join(s.name for s in sheets)
    print(f"wrote {path} ({len(sheets)} sheet{'s' if len(sheets) != 1 else ''}: {names})")
