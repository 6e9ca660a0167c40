"""Rendering, one place per format: table (aligned, thousands separators), JSON, CSV."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

FORMATS = ("table", "json", "csv")


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: the row key, its heading, and how to show it (text, money, count, ratio)."""

    key: str
    heading: str
    kind: str = "text"


def money_cell(value: str | None) -> str:
    if value is None:
        return ""
    amount = Decimal(value)
    return f"{amount:,.2f}"


def ratio_cell(value: str | None) -> str:
    if value is None:
        return "n/a"
    return f"{Decimal(value) * 100:,.2f}%"


def _cell(value: Any, kind: str) -> str:
    if kind == "money":
        return money_cell(value)
    if kind == "ratio":
        return ratio_cell(value)
    if kind == "count":
        return f"{value:,}" if isinstance(value, int) else str(value)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column], title: str | None = None) -> str:
    """A plain aligned text table: numbers right-aligned, text left-aligned."""
    cells = [[_cell(row.get(c.key), c.kind) for c in columns] for row in rows]
    widths = [max([len(c.heading)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    right = [c.kind in ("money", "ratio", "count") for c in columns]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)]
        return "  ".join(parts).rstrip()

    out = []
    if title:
        out.append(title)
    out.append(line([c.heading for c in columns]))
    out.append(line(["-" * w for w in widths]))
    out.extend(line(r) for r in cells)
    if not rows:
        out.append("(none)")
    return "\n".join(out)


def as_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def as_csv(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(keys)
    for row in rows:
        writer.writerow([_csv_value(row.get(k)) for k in keys])
    return buffer.getvalue().rstrip("\n")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def emit(text: str) -> None:
    sys.stdout.write(text + "\n")


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (``bridge.expansion``): the CSV form of a JSON report."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
