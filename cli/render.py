"""Rendering, one place per format: table (aligned, thousands separators), JSON, CSV.

Tables are laid out as ``rich`` lays them out (drawn directly, for speed). On a terminal they carry colour; anywhere else
(a pipe, a file, a test) they are plain text at a fixed layout, so the same
answer is the same bytes every time.

One sign convention in every format: a movement's ``amount`` is its size,
always positive, and its ``category`` says which way it went (SPEC §5); the
signed change is a column of its own, ``net_change`` (to_mrr − from_mrr:
negative for contraction and churn). Losses carry a ▼ marker and, on a
terminal, red, so they stay distinct without colour.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich.cells import cell_len


FORMATS = ("table", "json", "csv")
NEGATIVE = ("contraction", "churn")
"""Movement categories that lower MRR: shown as negative amounts in tables."""

WIDTH = 1000
"""The widest a table may grow when stdout is not a terminal: fixed, so output never depends on the reader's window."""


KINDS = ("text", "money", "change", "ratio", "multiple", "count", "decimal", "date")
"""How a column's values are shown, in a table and in a workbook alike:

* money: SPEC money text (two decimals), 1,234.56;
* change: signed money (a difference), +1,234.56 / -1,234.56;
* ratio: six decimals shown as a percentage, 99.01%;
* multiple: a ratio quoted as a multiple, 1.74x (the quick ratio);
* count: a whole number, 1,234;
* decimal: an event's own decimal (a unit price, a discount), as given;
* date: an ISO date; text: anything else, as it is.
"""

MULTIPLES = frozenset({"quick_ratio"})
"""Figures that are ratios quoted as multiples ("1.74x"), not percentages."""


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: the row key, its heading, and how to show it.

    ``kind`` is one of KINDS. ``kind_of`` (optional) gives a row's own kind
    instead, for a column whose rows hold different figures (a restatement's
    old and new values: money on one row, a ratio on the next).
    """

    key: str
    heading: str
    kind: str = "text"
    kind_of: Callable[[dict[str, Any]], str] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.key}: kind {self.kind!r} is not one of {', '.join(KINDS)}")

    def kind_for(self, row: dict[str, Any]) -> str:
        return self.kind_of(row) if self.kind_of is not None else self.kind


def lowers_mrr(row: dict[str, Any]) -> bool:
    """A movement row that is a loss of MRR (contraction or churn)."""
    return row.get("category") in NEGATIVE


def net_change(movement: dict[str, Any]) -> str:
    """A movement's signed change, to_mrr − from_mrr, as SPEC money text (negative for contraction and churn)."""
    return f"{Decimal(movement['to_mrr']) - Decimal(movement['from_mrr']):.2f}"


def with_net_change(movement: dict[str, Any]) -> dict[str, Any]:
    """The movement with ``net_change`` added after ``amount`` (the SPEC's fields kept as they are)."""
    out: dict[str, Any] = {}
    for key, value in movement.items():
        out[key] = value
        if key == "amount":
            out["net_change"] = net_change(movement)
    out.setdefault("net_change", net_change(movement))
    return out


def figure_kind(metric: str) -> str:
    """The kind of a figure by its dotted name (SPEC §6, §11): a count, a ratio, a multiple or money."""
    from projections.figures import RATIOS

    name = metric.rsplit(".", 1)[-1]
    if name in MULTIPLES:
        return "multiple"
    if metric.endswith("arpa") or metric in ("mrr", "arr"):
        return "money"
    if metric in RATIOS or any(metric.endswith(f".{r}") for r in RATIOS):
        return "ratio"
    if metric.startswith("customers.") or metric in ("customers",):
        return "count"
    return "money"


def money_cell(value: str | Decimal | None) -> str:
    if value is None:
        return ""
    amount = Decimal(value)
    return f"{amount:,.2f}"


def change_cell(value: str | Decimal | None) -> str:
    """A signed difference: +1,234.56 for a rise, -1,234.56 for a fall, 0.00 for none."""
    if value is None:
        return ""
    amount = Decimal(value)
    return f"+{amount:,.2f}" if amount > 0 else f"{amount:,.2f}"


def ratio_cell(value: str | Decimal | None) -> str:
    if value is None:
        return "n/a"
    return f"{Decimal(value) * 100:,.2f}%"


def multiple_cell(value: str | Decimal | None) -> str:
    """A ratio quoted as a multiple, as finance quotes a quick ratio: 1.74x."""
    return "n/a" if value is None else f"{Decimal(value):,.2f}x"


def _cell(value: Any, kind: str) -> str:
    if kind == "money":
        return money_cell(value)
    if kind == "change":
        return change_cell(value)
    if kind == "ratio":
        return ratio_cell(value)
    if kind == "multiple":
        return multiple_cell(value)
    if kind == "count":
        return f"{value:,}" if isinstance(value, int) else ("" if value is None else str(value))
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def _styled(row: dict[str, Any], column: Column, colour: bool) -> Any:
    """A rich Text of the cell, for the tables rich draws."""
    from rich.text import Text

    text, style = _styled_text(row, column, colour)
    return Text(text, style=style if colour else "")


_PLAIN = [False]


@contextlib.contextmanager
def plain(wanted: bool = True) -> Iterator[None]:
    """Tables drawn inside are plain text whatever stdout is (a table written to a file gets no colour codes)."""
    before = _PLAIN[0]
    _PLAIN[0] = before or wanted
    try:
        yield
    finally:
        _PLAIN[0] = before


def colour_wanted(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set or the table goes to a file."""
    if _PLAIN[0]:
        return False
    stream = stream or sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and "NO_COLOR" not in os.environ


def console(file: Any, colour: bool) -> Any:
    """A rich console: colours on a terminal, plain otherwise; never narrower than the table.

    A table is never squeezed to the window (that would cut digits off a
    figure): a line wider than the terminal wraps, as any long line does.
    """
    from rich.console import Console

    if colour:
        return Console(file=file, force_terminal=True, width=WIDTH, highlight=False, emoji=False, soft_wrap=False)
    return Console(
        file=file, force_terminal=False, color_system=None, no_color=True, width=WIDTH,
        highlight=False, emoji=False, legacy_windows=False, soft_wrap=False, force_jupyter=False,
    )


def table(
    rows: Sequence[dict[str, Any]], columns: Sequence[Column], title: str | None = None, *, colour: bool | None = None
) -> str:
    """An aligned table: numbers right-aligned, text left-aligned, with the title (period, currency, known-at) above.

    Drawn directly (columns three spaces apart, a rule under the headings):
    a report of ten thousand movements is written in a fraction of a second.
    A cell rich must sanitise (a control character, a line break) sends the
    whole table through rich instead, which draws the same layout.
    """
    colour = colour_wanted() if colour is None else colour
    numeric = [c.kind in NUMERIC for c in columns]
    grid = [[_styled_text(row, c, colour) for c in columns] for row in rows]
    if not all(text.isprintable() for cells in grid for text, _ in cells) or not all(
        c.heading.isprintable() for c in columns
    ) or (title is not None and not title.isprintable()):
        return _rich_table(rows, columns, title, colour)
    widths = [_width(c.heading) for c in columns]
    lengths = [[_width(text) for text, _ in cells] for cells in grid]
    for cells in lengths:
        for i, n in enumerate(cells):
            if n > widths[i]:
                widths[i] = n
    bold, reset = ("\x1b[1m", "\x1b[0m") if colour else ("", "")
    lines = [f"{bold}{title}{reset}".rstrip() if colour else title.rstrip()] if title else []

    def line(cells: list[tuple[str, str]], sizes: list[int], style_all: str = "") -> str:
        parts = []
        for i, (text, style) in enumerate(cells):
            pad = " " * (widths[i] - sizes[i])
            style = style_all or style
            shown = f"{_ANSI[style]}{text}\x1b[0m" if colour and style else text
            parts.append(pad + shown if numeric[i] else shown + pad)
        return "   ".join(parts).rstrip()

    headings = [(c.heading, "bold") for c in columns]
    lines.append(line(headings, [_width(c.heading) for c in columns], "bold" if colour else ""))
    lines.append("─" * (sum(widths) + 3 * (len(widths) - 1)))
    for cells, sizes in zip(grid, lengths):
        lines.append(line(cells, sizes))
    if not rows:
        lines.append("(none)")
    return "\n".join(lines)


def _width(text: str) -> int:
    """Terminal cells a text takes (a wide character two, as rich counts them)."""
    return len(text) if text.isascii() else cell_len(text)


NUMERIC = frozenset({"money", "change", "ratio", "multiple", "count", "decimal"})
_ANSI = {"red": "\x1b[31m", "green": "\x1b[32m", "bold": "\x1b[1m"}


def _styled_text(row: dict[str, Any], column: Column, colour: bool) -> tuple[str, str]:
    """A cell's text and its style (red for a loss, green for a gain, "" for none)."""
    value = row.get(column.key)
    kind = column.kind_for(row)
    text = _cell(value, kind)
    if kind in ("money", "change") and value is not None and Decimal(value) < 0:
        return text, "red"
    if column.key == "category" and value in NEGATIVE:
        return f"▼ {text}", "red"
    if column.key == "category" and value:
        return f"▲ {text}", "green"
    return text, ""


def _rich_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column], title: str | None, colour: bool) -> str:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    grid = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="bold" if colour else "")
    for c in columns:
        grid.add_column(c.heading, justify="right" if c.kind in NUMERIC else "left", no_wrap=True)
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
    """``json.dumps(data, indent=2, ensure_ascii=False)``, byte for byte, without its slow pure-Python indenting.

    (json indents only in Python; a report of ten thousand movements spent half its time there.)
    """
    return _indented(data, "\n")


_JSON_CONSTANTS = {None: "null", True: "true", False: "false"}
_encode_string = json.encoder.encode_basestring  # type: ignore[attr-defined]  (C: as ensure_ascii=False writes)


def _indented(value: Any, newline: str) -> str:
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if kind is dict:
        if not value:
            return "{}"
        inner = newline + "  "
        return "{" + ",".join(f"{inner}{_key(k)}: {_indented(v, inner)}" for k, v in value.items()) + newline + "}"
    if kind is list or kind is tuple:
        if not value:
            return "[]"
        inner = newline + "  "
        return "[" + ",".join(inner + _indented(v, inner) for v in value) + newline + "]"
    if kind is int:
        return int.__repr__(value)
    if value is None or kind is bool:
        return _JSON_CONSTANTS[value]
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", newline)  # anything else, as json does


def _key(key: Any) -> str:
    if type(key) is str:
        return _encode_string(key)
    return _encode_string(json.dumps(key) if key is None or isinstance(key, (bool, float)) else str(key))


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
    """Every report names what it knew (the recorded time of the last event it used), and a previewed policy."""
    known = f", as known at {k.recorded_at}" if k.recorded_at else ", empty ledger"
    if getattr(k, "preview", False):
        p = k.policy
        known += (f", PREVIEW under churn_recognition={p.churn_recognition} reactivation_grace_days="
                  f"{p.reactivation_grace_days} movement_grain={p.movement_grain} (nothing recorded)")
    return known


def figure_cell(metric: str, value: Any) -> str:
    """A figure of any kind in a table cell: money, count, ratio or multiple by its name."""
    kind = figure_kind(metric)
    if value is None:
        return "n/a"
    if isinstance(value, int) or kind == "count":
        return f"{value:,}" if isinstance(value, int) else str(value)
    return _cell(value, kind)


def signed_cell(metric: str, value: Any) -> str:
    """A difference: with its sign, + for a rise."""
    text = figure_cell(metric, value)
    return text if text.startswith("-") or text in ("n/a", "") or value in (0, None) else f"+{text}"


def emit(text: str) -> None:
    sys.stdout.write(text + "\n")
