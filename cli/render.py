"""Rendering, one place per format: table (rich: aligned, thousands separators), JSON, CSV.

Tables are drawn with ``rich``. On a terminal they carry colour; anywhere else
(a pipe, a file, a test) they are plain text at a fixed layout, so the same
answer is the same bytes every time. Negative movements (contraction, churn)
are shown with a minus sign and a ▼ marker as well as in red, so they stay
distinct without colour.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from projections.figures import flatten  # noqa: F401 - the CSV form of a report: dotted figure names

FORMATS = ("table", "json", "csv")
NEGATIVE = ("contraction", "churn")
"""Movement categories that lower MRR: shown as negative amounts in tables."""

WIDTH = 1000
"""The widest a table may grow when stdout is not a terminal: fixed, so output never depends on the reader's window."""


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: the row key, its heading, and how to show it.

    ``kind`` is text, money, count or ratio; ``signed`` names a function of the
    row that says whether a money value lowers MRR (shown negative).
    """

    key: str
    heading: str
    kind: str = "text"
    signed: Callable[[dict[str, Any]], bool] | None = None


def lowers_mrr(row: dict[str, Any]) -> bool:
    """A movement row whose amount is a loss of MRR (contraction or churn)."""
    return row.get("category") in NEGATIVE


def money_cell(value: str | Decimal | None) -> str:
    if value is None:
        return ""
    amount = Decimal(value)
    return f"{amount:,.2f}"


def ratio_cell(value: str | Decimal | None) -> str:
    if value is None:
        return "n/a"
    return f"{Decimal(value) * 100:,.2f}%"


def _cell(value: Any, kind: str) -> str:
    if kind == "money":
        return money_cell(value)
    if kind == "ratio":
        return ratio_cell(value)
    if kind == "count":
        return f"{value:,}" if isinstance(value, int) else ("" if value is None else str(value))
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def _styled(row: dict[str, Any], column: Column, colour: bool) -> Text:
    value = row.get(column.key)
    text = _cell(value, column.kind)
    style = ""
    if column.kind == "money" and column.signed is not None and value is not None and column.signed(row):
        if Decimal(value) != 0:
            text = "-" + text if not text.startswith("-") else text
        style = "red"
    elif column.kind == "money" and value is not None and Decimal(value) < 0:
        style = "red"
    elif column.key == "category" and value in NEGATIVE:
        text = f"▼ {text}"
        style = "red"
    elif column.key == "category" and value:
        text = f"▲ {text}"
        style = "green"
    return Text(text, style=style if colour else "")


def colour_wanted(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set."""
    stream = stream or sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and "NO_COLOR" not in os.environ


def console(file: Any, colour: bool) -> Console:
    """A rich console: colours on a terminal, plain otherwise; never narrower than the table.

    A table is never squeezed to the window (that would cut digits off a
    figure): a line wider than the terminal wraps, as any long line does.
    """
    if colour:
        return Console(file=file, force_terminal=True, width=WIDTH, highlight=False, emoji=False, soft_wrap=False)
    return Console(
        file=file, force_terminal=False, color_system=None, no_color=True, width=WIDTH,
        highlight=False, emoji=False, legacy_windows=False, soft_wrap=False, force_jupyter=False,
    )


def table(
    rows: Sequence[dict[str, Any]], columns: Sequence[Column], title: str | None = None, *, colour: bool | None = None
) -> str:
    """An aligned table: numbers right-aligned, text left-aligned, with the title (period, currency, known-at) above."""
    colour = colour_wanted() if colour is None else colour
    grid = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="bold" if colour else "")
    for c in columns:
        numeric = c.kind in ("money", "ratio", "count")
        grid.add_column(c.heading, justify="right" if numeric else "left", no_wrap=True)
    for row in rows:
        grid.add_row(*(_styled(row, c, colour) for c in columns))
    buffer = io.StringIO()
    out = console(buffer, colour)
    if title:
        out.print(Text(title, style="bold" if colour else ""), overflow="ignore", crop=False)
    out.print(grid, crop=False)
    if not rows:
        out.print("(none)")
    lines = [line.rstrip() for line in buffer.getvalue().split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


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


def known_suffix(k: Any) -> str:
    """Every report names what it knew: the recorded time of the last event it used."""
    return f", as known at {k.recorded_at}" if k.recorded_at else ", empty ledger"


def figure_cell(metric: str, value: Any) -> str:
    """A figure of any kind in a table cell: money, count or ratio by its name."""
    from projections.figures import RATIOS

    if metric.endswith("quick_ratio"):  # a multiple, as the metrics table shows it
        return "n/a" if value is None else f"{Decimal(value):,.2f}x"
    if metric.endswith("arpa"):
        return money_cell(value) if value is not None else "n/a"
    if any(metric == r or metric.endswith(f".{r}") for r in RATIOS):
        return ratio_cell(value)
    if isinstance(value, int):
        return f"{value:,}"
    return money_cell(value) if value is not None else "n/a"


def signed_cell(metric: str, value: Any) -> str:
    """A difference: with its sign, + for a rise."""
    text = figure_cell(metric, value)
    return text if text.startswith("-") or text in ("n/a", "") or value in (0, None) else f"+{text}"


def emit(text: str) -> None:
    sys.stdout.write(text + "\n")
