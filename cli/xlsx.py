"""Excel workbooks: one sheet per table, every figure a real number in the format its kind calls for.

Any table command can offer a workbook: give ``deliver(xlsx=...)`` a list of
``Sheet``s, each rows (dicts of SPEC JSON values) and ``cli.render.Column``s
whose ``kind`` says how a value is stored and shown (``render.KINDS``):
money ``#,##0.00``, a signed change ``+#,##0.00``, a ratio ``0.00%``, a
multiple such as the quick ratio ``0.00"x"``, a count ``#,##0``, a date
``yyyy-mm-dd``, text. ``totals`` are rows shown in bold under the table: the
read's own figures for the whole (a total is computed by the read, never by
summing cells that do not add up, such as ratios). ``deliver(about=...)``
puts a first sheet saying which ledger, read, range, knowledge time and
policy the figures come from.

Workbooks are streamed: each row's XML goes into the file as it is read,
so time and memory grow with the rows, not their square (a 500,000-row
export takes seconds; see docs/performance.md). Money (SPEC: text with two
decimals) is written as the number it spells, so no binary float touches a
figure on the way into the file. Text is always stored as text, so a
customer name that starts with ``=`` is never a formula.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from cli.render import Column, figure_kind, with_net_change
from ledger.customer import CAUSES
from projections.figures import flatten
from projections.periods import period_label

MONEY_FORMAT = "#,##0.00"
CHANGE_FORMAT = "+#,##0.00;-#,##0.00;0.00"
RATIO_FORMAT = "0.00%"
MULTIPLE_FORMAT = '0.00"x"'
COUNT_FORMAT = "#,##0"
DATE_FORMAT = "yyyy-mm-dd"
NUMERIC = frozenset({"money", "change", "ratio", "multiple", "decimal"})
WIDTH_SAMPLE = 500  # rows looked at to size the columns: the widths need no second pass over a large table


@dataclass
class Sheet:
    """One table: a sheet name, its rows and columns, lines of context above it, and total rows below it."""

    name: str
    rows: Sequence[dict[str, Any]]
    columns: Sequence[Column]
    notes: Sequence[str] = field(default_factory=tuple)
    totals: Sequence[dict[str, Any]] = field(default_factory=tuple)


# -- the writer ----------------------------------------------------------------------------------
#
# SpreadsheetML written directly, row by row, into the zip: each value becomes its XML as it is
# read, so time and memory grow with the rows (500,000 movements in seconds, where a cell object
# per value costs minutes). openpyxl reads the files back in the tests: an independent check.

KIND_ORDER = ("text", "money", "change", "ratio", "multiple", "count", "decimal", "date")
_NUMBER_FORMATS = {"money": (164, MONEY_FORMAT), "change": (165, CHANGE_FORMAT), "ratio": (166, RATIO_FORMAT),
                   "multiple": (167, MULTIPLE_FORMAT), "count": (168, COUNT_FORMAT), "date": (169, DATE_FORMAT)}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EXCEL_EPOCH = date(1899, 12, 30).toordinal()
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"


def _style(kind: str, bold: bool) -> int:
    return 2 * KIND_ORDER.index(kind) + (1 if bold else 0)


def _escape(text: str) -> str:
    text = _NOT_XML.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _text_cell(ref: str, value: Any, style: int) -> str:
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = ", ".join(f"{k}={v}" for k, v in value.items())
    # Always an inline string: text is never read as a number or a formula, whatever it starts with.
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t xml:space="preserve">{_escape(str(value))}</t></is></c>'


def _cell(ref: str, value: Any, kind: str, style: int) -> str:
    """One cell's XML: a number in its kind's format, a date as Excel's day number, or text."""
    if kind in NUMERIC or kind == "count":
        if isinstance(value, str):
            if _NUMBER.fullmatch(value) and (kind != "count" or "." not in value):
                return f'<c r="{ref}" s="{style}"><v>{value}</v></c>'
        elif isinstance(value, Decimal) and value.is_finite():
            return f'<c r="{ref}" s="{style}"><v>{value:f}</v></c>'
        elif isinstance(value, int) and not isinstance(value, bool):
            return f'<c r="{ref}" s="{style}"><v>{value}</v></c>'
    elif kind == "date":
        day = value if isinstance(value, date) else None
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                day = None
        if day is not None:
            return f'<c r="{ref}" s="{style}"><v>{day.toordinal() - _EXCEL_EPOCH}</v></c>'
    return _text_cell(ref, value, style)


def _columns(n: int) -> list[str]:
    letters = []
    for i in range(1, n + 1):
        name = ""
        while i:
            i, rest = divmod(i - 1, 26)
            name = chr(65 + rest) + name
        letters.append(name)
    return letters


def _sheet_rows(sheet: Sheet) -> Iterable[str]:
    """The ``<row>`` elements of a sheet: notes, a blank line, the bold header, the rows, the bold totals."""
    letters = _columns(max(len(sheet.columns), 1))
    number = 0

    def row(cells: str) -> str:
        return f'<row r="{number}">{cells}</row>'

    for note in sheet.notes:
        number += 1
        yield row(_text_cell(f"A{number}", str(note), _style("text", False)))
    if sheet.notes:
        number += 1
    number += 1
    yield row("".join(_text_cell(f"{letters[i]}{number}", c.heading, _style("text", True)) for i, c in enumerate(sheet.columns)))
    for rows, bold in ((sheet.rows, False), (sheet.totals, True)):
        plans = [(c.key, letters[i], c.kind, c.kind_of, _style(c.kind, bold)) for i, c in enumerate(sheet.columns)]
        for values in rows:
            number += 1
            cells = []
            for key, letter, kind, kind_of, style in plans:
                value = values.get(key)
                if value is None or value == "":
                    continue
                if kind_of is not None:
                    kind = kind_of(values)
                    style = _style(kind, bold)
                cells.append(_cell(f"{letter}{number}", value, kind, style))
            yield row("".join(cells))


def header_row(sheet: Sheet) -> int:
    """The row number of a sheet's header (the rows below it are frozen under it)."""
    return len(sheet.notes) + (1 if sheet.notes else 0) + 1


def _worksheet(sheet: Sheet, write: Any) -> None:
    top = header_row(sheet)
    last = f"{_columns(max(len(sheet.columns), 1))[-1]}{top + len(sheet.rows) + len(sheet.totals)}"
    write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN}">'
          f'<dimension ref="A1:{last}"/><sheetViews><sheetView workbookViewId="0"><pane ySplit="{top}" topLeftCell="A{top + 1}" activePane="bottomLeft" '
          f'state="frozen"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>')
    if sheet.columns:
        write("<cols>" + "".join(f'<col min="{i}" max="{i}" width="{_width(sheet, c)}" customWidth="1"/>'
                                 for i, c in enumerate(sheet.columns, start=1)) + "</cols>")
    write("<sheetData>")
    chunk: list[str] = []
    for row in _sheet_rows(sheet):
        chunk.append(row)
        if len(chunk) >= 2000:
            write("".join(chunk))
            chunk.clear()
    write("".join(chunk) + "</sheetData></worksheet>")


def _styles() -> str:
    formats = "".join(f'<numFmt numFmtId="{i}" formatCode="{_escape(code)}"/>' for i, code in _NUMBER_FORMATS.values())
    xfs = []
    for kind in KIND_ORDER:
        number_format = _NUMBER_FORMATS.get(kind, (0, ""))[0]
        for bold in (0, 1):
            applied = (' applyNumberFormat="1"' if number_format else "") + (' applyFont="1"' if bold else "")
            xfs.append(f'<xf numFmtId="{number_format}" fontId="{bold}" fillId="0" borderId="0" xfId="0"{applied}/>')
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{MAIN}">'
            f'<numFmts count="{len(_NUMBER_FORMATS)}">{formats}</numFmts>'
            '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


def write(path: str, sheets: Sequence[Sheet]) -> None:
    """Write ``sheets`` to an .xlsx file at ``path``: notes, a bold header row, the rows, then the totals in bold."""
    import zipfile

    sheets = list(sheets) or [Sheet("empty", [], [])]
    taken: set[str] = set()
    names = [_sheet_name(s.name, taken) for s in sheets]
    declaration = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as package:
        package.writestr("[Content_Types].xml", declaration + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                      'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                      for i in range(1, len(sheets) + 1)) + "</Types>"))
        package.writestr("_rels/.rels", declaration + (
            f'<Relationships xmlns="{PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'))
        package.writestr("xl/workbook.xml", declaration + (
            f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><sheets>'
            + "".join(f'<sheet name="{_escape(name)}" sheetId="{i}" r:id="rId{i}"/>' for i, name in enumerate(names, start=1))
            + "</sheets></workbook>"))
        package.writestr("xl/_rels/workbook.xml.rels", declaration + (
            f'<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">'
            + "".join(f'<Relationship Id="rId{i}" Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                      for i in range(1, len(sheets) + 1))
            + f'<Relationship Id="rId{len(sheets) + 1}" Type="{RELATIONSHIPS}/styles" Target="styles.xml"/></Relationships>'))
        package.writestr("xl/styles.xml", _styles())
        for i, sheet in enumerate(sheets, start=1):
            with package.open(f"xl/worksheets/sheet{i}.xml", "w", force_zip64=True) as stream:
                _worksheet(sheet, lambda text: stream.write(text.encode("utf-8")))


def _width(sheet: Sheet, column: Column) -> int:
    sample = [column.heading] + [str(row.get(column.key) or "") for row in sheet.rows[:WIDTH_SAMPLE]]
    sample += [str(row.get(column.key) or "") for row in sheet.totals]
    return min(max(max(len(s) for s in sample) + 3, 8), 60)


def _sheet_name(name: str, taken: set[str]) -> str:
    cleaned = re.sub(r"[\[\]:*?/\\]", "-", name)[:31] or "sheet"
    unique, n = cleaned, 2
    while unique.lower() in taken:
        unique = f"{cleaned[:28]}-{n}"
        n += 1
    taken.add(unique.lower())
    return unique


# -- generic helpers -----------------------------------------------------------------------------


def about_sheet(lines: Iterable[tuple[str, Any]]) -> Sheet:
    """The first sheet of an export: where its figures come from (ledger, read, range, known at, policy)."""
    rows = [{"item": label, "value": value} for label, value in lines]
    return Sheet("about", rows, [Column("item", "about this workbook"), Column("value", "value")])


def sum_row(rows: Sequence[dict[str, Any]], columns: Sequence[Column], label: tuple[str, str]) -> dict[str, Any]:
    """A total row summing the columns whose figures add up (money, changes, counts); ``label`` = (key, text)."""
    total: dict[str, Any] = {label[0]: label[1]}
    for c in columns:
        if c.kind_of is None and c.kind in ("money", "change", "count") and c.key != label[0]:
            values = [row.get(c.key) for row in rows if row.get(c.key) not in (None, "")]
            if c.kind == "count":
                total[c.key] = sum(int(v) for v in values)
            else:
                total[c.key] = f"{sum((Decimal(v) for v in values), Decimal(0)):.2f}"
    return total


def infer_columns(rows: Sequence[dict[str, Any]]) -> list[Column]:
    """Columns for rows of SPEC JSON figures, each kind from the figure's name (quick_ratio is a multiple)."""
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    return [Column(k, k, _kind(k, [row.get(k) for row in rows])) for k in keys]


_MONEY = re.compile(r"-?\d+\.\d{2}")
_RATIO = re.compile(r"-?\d+\.\d{6}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _kind(key: str, values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "text"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "count"
    if all(isinstance(v, str) and _DATE.fullmatch(v) for v in present):
        return "date"
    if all(isinstance(v, str) and (_MONEY.fullmatch(v) or _RATIO.fullmatch(v)) for v in present):
        return figure_kind(key)
    return "text"


def context(title: str, currency: str | None, known_at: str | None) -> list[str]:
    """The lines above a table: what it is, in which currency, as known when."""
    lines = [title]
    if currency:
        lines.append(f"currency: {currency}")
    lines.append(f"known at: {known_at}" if known_at else "known at: (empty ledger)")
    return lines


SIGNS = (
    "amount: the size of the movement, always positive (its category says which way); "
    "net_change: to_mrr - from_mrr, negative for contraction and churn"
)


# -- the reads' sheets ---------------------------------------------------------------------------

MOVEMENT_COLUMNS = [
    Column("date", "date", "date"),
    Column("customer_id", "customer_id"),
    Column("category", "category"),
    Column("cause", "cause"),
    Column("from_mrr", "from_mrr", "money"),
    Column("to_mrr", "to_mrr", "money"),
    Column("amount", "amount", "money"),
    Column("net_change", "net_change", "change"),
    Column("event_ids", "event_ids"),
]


def movement_totals(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One total per category present (its movements' amount and net change), then the net change of all."""
    sums: dict[str, list[Decimal]] = {}
    for row in rows:
        amount, change = Decimal(row["amount"]), Decimal(row["net_change"])
        entry = sums.setdefault(row["category"], [Decimal(0), Decimal(0), 0])  # type: ignore[list-item]
        entry[0] += amount
        entry[1] += change
        entry[2] += 1
    from projections.movements import CATEGORIES

    totals = [
        {"date": "total", "customer_id": f"{int(sums[c][2]):,} movements", "category": c,
         "amount": f"{sums[c][0]:.2f}", "net_change": f"{sums[c][1]:.2f}"}
        for c in CATEGORIES if c in sums
    ]
    net = sum((s[1] for s in sums.values()), Decimal(0))
    totals.append({"date": "total", "customer_id": f"{len(rows):,} movements", "category": "all",
                   "net_change": f"{net:.2f}"})
    return totals


def movements_sheets(rows: Sequence[dict[str, Any]], title: str) -> list[Sheet]:
    """`movements`: one row per movement, SPEC §11 fields and its signed ``net_change``, totals per category."""
    signed = [r if "net_change" in r else with_net_change(r) for r in rows]
    return [Sheet("movements", signed, MOVEMENT_COLUMNS, [title, SIGNS], movement_totals(signed))]


def metric_columns(by: str | None = None) -> list[Column]:
    """Every figure of a metrics period (SPEC §11) in report order, each cause of both kinds in one fixed order."""
    from projections.movements import CHURN, CONTRACTION, EXPANSION, NEW, REACTIVATION

    columns = [Column("start", "start", "date"), Column("end", "end", "date"), Column("group", by or "group"),
               Column("opening_mrr", "opening_mrr", "money"), Column("closing_mrr", "closing_mrr", "money"),
               Column("arr", "arr", "money")]
    columns += [Column(f"bridge.{c}", f"bridge.{c}", "money")
                for c in (NEW, EXPANSION, CONTRACTION, CHURN, REACTIVATION, "net_new")]
    columns += [Column(f"retention.{c}", f"retention.{c}", "money") for c in ("expansion", "contraction", "churn")]
    columns += [Column(f"retention.{c}", f"retention.{c}", "ratio")
                for c in ("nrr", "grr", "expansion_rate", "contraction_rate", "churn_rate")]
    columns += [Column(f"customers.{c}", f"customers.{c}", "count")
                for c in ("opening", "closing", "new", "reactivated", "churned")]
    columns.append(Column("customers.logo_churn_rate", "customers.logo_churn_rate", "ratio"))
    columns += [Column(f"causes.{kind}.{cause}", f"causes.{kind}.{cause}", "money")
                for kind in (EXPANSION, CONTRACTION) for cause in CAUSES]
    columns += [Column("arpa", "arpa", "money"), Column("quick_ratio", "quick_ratio", "multiple"),
                Column("expansion_share", "expansion_share", "ratio")]
    return columns


def metric_row(period: dict[str, Any]) -> dict[str, Any]:
    """A metrics period flattened to dotted names, every cause present (0.00 when none moved for it)."""
    row = flatten(period)
    for kind in ("expansion", "contraction"):
        for cause in CAUSES:
            row.setdefault(f"causes.{kind}.{cause}", "0.00")
    return row


def metrics_sheets(
    report: dict[str, Any], *, by: str | None = None, totals: Sequence[dict[str, Any]] = (),
    whole: dict[str, Any] | None = None,
) -> list[Sheet]:
    """`metrics`: one row per period (and group); ``totals`` (each period for all groups) and ``whole`` (the range) below."""
    columns = [Column("period", "period"), *metric_columns(by)]

    def labelled(period: dict[str, Any], label: str | None = None, group: str | None = None) -> dict[str, Any]:
        row = metric_row(period)
        row["period"] = label or period_label(period["start"], period["end"])
        if group is not None:
            row["group"] = group
        return row

    rows = [labelled(p) for p in report.get("periods", [])]
    total_rows = [labelled(p, group="(all)") for p in totals]
    if whole is not None:
        total_rows.append(labelled(whole, "whole range", "(all)" if by else None))
    notes = context("Period metrics", report.get("currency"), report.get("known_at"))
    notes.append("money in " + str(report.get("currency")) + "; ratios as percentages; quick_ratio as a multiple")
    return [Sheet("metrics", rows, columns, notes, total_rows)]


COHORT_COLUMNS = [
    Column("cohort", "cohort"), Column("customers", "customers", "count"), Column("mrr_0", "mrr_0", "money"),
    Column("k", "k", "count"), Column("month", "month"), Column("as_of", "as_of", "date"),
    Column("mrr", "mrr", "money"), Column("nrr", "nrr", "ratio"), Column("active", "active", "count"),
    Column("logo_retention", "logo_retention", "ratio"), Column("contraction", "contraction", "money"),
    Column("contraction_rate", "contraction_rate", "ratio"),
]


def cohorts_sheets(report: dict[str, Any]) -> list[Sheet]:
    """`cohorts`: one row per cohort and month offset."""
    rows = []
    for cohort in report.get("cohorts", []):
        head = {k: v for k, v in cohort.items() if not isinstance(v, (list, dict))}
        for offset in cohort.get("offsets", []):
            rows.append({**head, **flatten(offset)})
    notes = context("Cohorts", report.get("currency"), report.get("known_at"))
    return [Sheet("cohorts", rows, COHORT_COLUMNS, notes)]


def explain_sheets(report: dict[str, Any]) -> list[Sheet]:
    """`explain`: the figure, its customers (totalling it), their movements and the events behind them (SPEC §8)."""
    kind = figure_kind(report.get("metric", ""))
    amount_kind = "count" if kind == "count" else "money"
    value = report.get("value")
    summary = [{k: v for k, v in report.items() if not isinstance(v, (list, dict))}]
    figure_columns = [Column("metric", "metric"), Column("start", "start", "date"), Column("end", "end", "date"),
                      Column("group", "group"), Column("value", "value", amount_kind),
                      Column("currency", "currency"), Column("known_at", "known_at")]
    if amount_kind == "count" and value is not None:
        summary[0]["value"] = int(value)
    customers, movements, events = [], [], []
    for item in report.get("items", []):
        amount = item.get("amount")
        customers.append({"customer_id": item.get("customer_id"), "amount": int(amount) if amount_kind == "count" else amount})
        for m in item.get("movements", []):
            movements.append({"customer_id": item.get("customer_id"), **with_net_change({k: v for k, v in m.items() if k != "events"}),
                              "parts": ", ".join(f"{c} {a}" for c, a in (m.get("parts") or {}).items()),
                              "event_ids": [e.get("event_id") for e in m.get("events", [])]})
            for e in m.get("events", []):
                events.append({"customer_id": item.get("customer_id"), "movement_date": m.get("date"), **e})
    customer_columns = [Column("customer_id", "customer_id"), Column("amount", "amount", amount_kind)]
    movement_columns = [Column("customer_id", "customer_id"), *MOVEMENT_COLUMNS[:1], *MOVEMENT_COLUMNS[2:8],
                        Column("parts", "parts (mixed cause)"), MOVEMENT_COLUMNS[8]]
    event_columns = [Column("customer_id", "customer_id"), Column("movement_date", "movement_date", "date"),
                     Column("event_id", "event_id"), Column("sequence", "sequence", "count"),
                     Column("effective_date", "effective_date", "date"), Column("recorded_at", "recorded_at"),
                     Column("actor", "actor"), Column("source", "source")]
    notes = context(f"Explain {report.get('metric')}", report.get("currency"), report.get("known_at"))
    return [
        Sheet("figure", summary, figure_columns, notes),
        Sheet("customers", customers, customer_columns, [f"{len(customers):,} customers; their amounts add up to the figure"],
              [sum_row(customers, customer_columns, ("customer_id", "total"))]),
        Sheet("movements", movements, movement_columns, [SIGNS]),
        Sheet("events", events, event_columns),
    ]


def mrr_sheets(report: dict[str, Any], by: str | None) -> list[Sheet]:
    """`mrr`: the total on the day; with --by a row per group, with --customer its lines, each with the total below."""
    columns = [Column("as_of", "as_of", "date"), Column("mrr", "mrr", "money"), Column("arr", "arr", "money"),
               Column("customers", "customers", "count")]
    notes = context(f"MRR on {report.get('as_of')}", report.get("currency"), report.get("known_at"))
    sheets = [Sheet("mrr", [report], columns, notes)]
    total = {"mrr": report.get("mrr"), "arr": report.get("arr"), "customers": report.get("customers")}
    if "groups" in report:
        group_columns = [Column("group", by or "group"), *columns[1:]]
        sheets.append(Sheet("groups", report["groups"], group_columns, [f"MRR on {report.get('as_of')} by {by}"],
                            [{"group": "total", **total}]))
    if "lines" in report:
        line_columns = [Column("subscription_id", "subscription_id"), Column("plan", "plan"),
                        Column("quantity", "quantity", "count"), Column("unit_price", "unit_price", "decimal"),
                        Column("amount", "amount", "decimal"), Column("billing_months", "billing_months", "count"),
                        Column("discount_pct", "discount_pct", "decimal"), Column("currency", "currency"),
                        Column("mrr", "mrr", "money")]
        sheets.append(Sheet("lines", report["lines"], line_columns, [f"open lines on {report.get('as_of')}"],
                            [{"subscription_id": "total", "mrr": report.get("mrr")}]))
    return sheets


LOG_KINDS = {"sequence": "count", "append_last": "count", "effective_date": "date", "quantity": "count",
             "billing_months": "count", "unit_price": "decimal", "amount": "decimal", "discount_pct": "decimal"}


def log_sheets(records: Sequence[dict[str, Any]], keys: Sequence[str], title: str) -> list[Sheet]:
    """`log`: every event with every field, in sequence order."""
    columns = [Column(k, k, LOG_KINDS.get(k, "text")) for k in keys]
    return [Sheet("log", records, columns, [title])]


def _figure_kind(row: dict[str, Any]) -> str:
    kind = figure_kind(str(row.get("metric", "")))
    return "count" if isinstance(row.get("closed", row.get("before")), int) and kind == "money" else kind


def _difference_kind(row: dict[str, Any]) -> str:
    kind = _figure_kind(row)
    return "change" if kind == "money" else kind


def restatements_sheets(rows: Sequence[dict[str, Any]], title: str) -> list[Sheet]:
    """`restatements`: a row per figure of each restated period: as closed, as now known, the difference, the events."""
    columns = [Column("period", "period"), Column("closed_at", "closed_at"), Column("metric", "metric"),
               Column("closed", "closed", kind_of=_figure_kind), Column("now", "now", kind_of=_figure_kind),
               Column("difference", "difference", kind_of=_difference_kind), Column("events", "events")]
    return [Sheet("restatements", rows, columns, [title])]


def diff_sheets(report: dict[str, Any], figure_rows: Sequence[dict[str, Any]] | None,
                movement_rows: Sequence[dict[str, Any]] | None, title: str) -> list[Sheet]:
    """`diff`: the figures (or movements) that differ between two knowledge times, and the events recorded between."""
    sheets = []
    if figure_rows is not None:
        columns = ([Column("start", "start", "date"), Column("end", "end", "date")] if report.get("read") == "metrics" else [])
        columns += [Column("group", "group"), Column("metric", "metric"),
                    Column("before", "before", kind_of=_figure_kind), Column("after", "after", kind_of=_figure_kind),
                    Column("difference", "difference", kind_of=_difference_kind)]
        sheets.append(Sheet("figures", figure_rows, columns, [title]))
    if movement_rows is not None:
        columns = [Column("change", "change"), *MOVEMENT_COLUMNS[:8], Column("before", "before"), MOVEMENT_COLUMNS[8]]
        sheets.append(Sheet("movements", movement_rows, columns, [title, SIGNS]))
    event_columns = [Column("sequence", "sequence", "count"), Column("event_id", "event_id"), Column("type", "type"),
                     Column("customer_id", "customer_id"), Column("effective_date", "effective_date", "date"),
                     Column("recorded_at", "recorded_at"), Column("actor", "actor"), Column("source", "source"),
                     Column("reason", "reason")]
    sheets.append(Sheet("events", report.get("events", []), event_columns, ["Events recorded in between"]))
    return sheets
