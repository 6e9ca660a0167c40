"""`query`: one read-only SQL SELECT over the documented views (SPEC §16), as known at any time."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

import typer

from cli import xlsx
from cli.context import state
from cli.options import ExportFormat, ExportFormatOption, KnownAt, Opt, OutOption, PolicyOption
from cli.output import deliver, write_atomically
from cli.render import Column, known_suffix, table
from ledger.errors import UsageError
from projections import query as adhoc
from projections.queries import report_header

MONEY_TEXT = re.compile(r"-?\d+\.\d{2}")  # what money() returns

Sql = Annotated[
    str | None,
    typer.Argument(
        help="One SELECT (or WITH … SELECT) over the views events, movements, customer_mrr, attributes, "
        "closes, lines and knowledge (docs/query.md).",
        show_default=False,
    ),
]
MaxRows = Annotated[int, Opt("--max-rows", help="Refuse an answer of more rows than this.")]
Timeout = Annotated[int, Opt("--timeout", help="Stop a query that runs longer than this many seconds.")]
Snapshot = Annotated[
    str | None,
    Opt("--snapshot", help="Instead of a query: copy every view, as known at --known-at, into this new SQLite file "
        "(for Datasette, DuckDB or pandas)."),
]


def query(
    ctx: typer.Context,
    sql: Sql = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
    max_rows: MaxRows = adhoc.MAX_ROWS,
    timeout: Timeout = adhoc.TIMEOUT_SECONDS,
    snapshot: Snapshot = None,
) -> None:
    """Read-only SQL over the documented views (events, movements, customer_mrr, attributes, closes), as known at any time."""
    if max_rows < 1:
        raise UsageError(f"--max-rows {max_rows}: at least 1")
    if timeout < 1:
        raise UsageError(f"--timeout {timeout}: at least 1 second")
    if snapshot is not None:
        if sql is not None or out is not None:
            raise UsageError("--snapshot copies the views whole into its own file: give it without a query or --out")
        return _snapshot(ctx, snapshot, known_at, policy)
    if sql is None:
        raise UsageError('query: give one SELECT, e.g. revledger query "SELECT count(*) FROM movements"')
    adhoc.check_statement(sql)  # before the ledger is opened: a refused statement touches nothing
    rm, k = state(ctx).reading(known_at, policy)
    found = adhoc.answer(rm, k, sql, max_rows=max_rows, timeout=timeout)
    rows = [dict(zip(found.columns, (_plain(v) for v in row))) for row in found.rows]
    columns = [Column(name, name, _kind([row[name] for row in rows])) for name in found.columns]
    header = {key: value for key, value in report_header(rm, k).items() if key != "currency"}  # SPEC §16's shape
    title = f"Query ({len(rows):,} row{'s' if len(rows) != 1 else ''}){known_suffix(k)}"
    deliver(
        format.value,
        out,
        json=lambda: {**header, "columns": found.columns, "rows": [[row[c] for c in found.columns] for row in rows]},
        csv=lambda: (rows, found.columns),
        table=lambda: table(rows, columns, title),
        xlsx=lambda: [xlsx.Sheet("query", rows, columns, [title, " ".join(sql.split())])],
        what=f"{len(rows)} rows",
    )


def _snapshot(ctx: typer.Context, path: str, known_at: str | None, policy: list[str] | None) -> None:
    if os.path.exists(path):
        raise UsageError(f"--snapshot {path}: the file exists; give a new file name (nothing is overwritten)")
    rm, k = state(ctx).reading(known_at, policy)
    counts: dict[str, int] = {}
    write_atomically(path, lambda temporary: counts.update(adhoc.snapshot(rm, k, temporary)))
    listed = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    known = f"as known at {k.recorded_at}" if k.recorded_at else "of the empty ledger"
    typer.echo(f"wrote {path} (views {known}: {listed})")


def _plain(value: Any) -> Any:
    """A value SQLite returned, as JSON and CSV can carry it (a blob as hex text)."""
    return value.hex() if isinstance(value, bytes) else value


def _kind(values: list[Any]) -> str:
    """Integers (cents, counts, sequences) right-aligned with separators; money() text as money; anything else as text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "count"
    if present and all(isinstance(v, str) and MONEY_TEXT.fullmatch(v) for v in present):
        return "money"
    return "text"
