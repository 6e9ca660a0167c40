"""What every command shares: the Typer app, the ledger a command works on, options and error handling."""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ledger.clock import ClockError, parse_instant
from ledger.errors import RejectedError, RevledgerError
from ledger.money import MoneyError
from ledger.location import open_store
from ledger.store import EventStore
from projections import queries
from projections.readmodel import ReadModel, default_path

if TYPE_CHECKING:
    from ledger.application import Ledger

app = typer.Typer(
    name="revledger",
    help="An event-sourced revenue ledger: MRR, movements and metrics, as now known or as known at any past moment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

F = TypeVar("F", bound=Callable[..., Any])


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class FileFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"
    periods = "periods"
    invoices = "invoices"
    stripe = "stripe"


class State:
    """The ledger a command works on, opened on first use."""

    def __init__(self, location: str, cache: str | None):
        self.location = location
        self._cache = cache
        self._store: EventStore | None = None
        self._read_model: ReadModel | None = None

    @property
    def cache(self) -> str:
        """The read models' file: --cache, or the default for the ledger's location."""
        if self._cache is None:
            self._cache = default_cache(self.location)
        return self._cache

    @property
    def store(self) -> EventStore:
        if self._store is None:
            self._store = open_store(self.location)
        return self._store

    @property
    def read_model(self) -> ReadModel:
        """The read models, caught up with the log."""
        if self._read_model is None:
            self._read_model = ReadModel(self.cache, self.store)
            self._read_model.catch_up()
        return self._read_model

    def ledger(self, actor: str | None) -> Ledger:
        from ledger.application import Ledger  # the write side (and pydantic) only when writing

        return Ledger(self.store, self.read_model, actor=actor)


def default_cache(location: str) -> str:
    """Where the read models live when --cache is not given.

    Beside a SQLite ledger; for a PostgreSQL ledger, in this machine's cache
    folder ($XDG_CACHE_HOME/revledger, default ~/.cache/revledger), one file
    per server, port, database and schema: each analyst's own fast copy.
    """
    if not location.startswith(("postgresql://", "postgres://")):
        return default_path(location)
    from ledger.postgres import parse_url

    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(root, "revledger")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"{parse_url(location).cache_name()}.projections.db")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"revledger: {message}", err=True)
    return typer.Exit(code)


def handled(func: F) -> F:
    """Turn revledger's errors into one line on stderr and exit status 1 — never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RejectedError as e:
            for problem in e.problems:
                typer.echo(str(problem), err=True)
            raise fail(str(e)) from None
        except (RevledgerError, ClockError, MoneyError) as e:
            raise fail(str(e)) from None
        except sqlite3.DatabaseError as e:  # a damaged file found mid-query
            raise fail(
                f"database error: {e} (`revledger verify` finds the damaged file; `revledger rebuild` remakes the read models)"
            ) from None

    return wrapper  # type: ignore[return-value]


def state(ctx: typer.Context) -> State:
    return ctx.obj


def known_suffix(k: queries.Knowledge) -> str:
    """Every report names what it knew: the recorded time of the last event it used."""
    return f", as known at {k.recorded_at}" if k.recorded_at else ", empty ledger"


def known_at_option(text: str | None):
    return None if text is None else parse_instant(text)


DbOption = Annotated[
    str,
    typer.Option("--db", envvar="REVLEDGER_DB", help="Ledger location: a SQLite file path or a postgresql:// URL."),
]
KnownAt = Annotated[
    str | None,
    typer.Option("--known-at", help="Answer as the ledger would have at this instant (ISO-8601; a bare date means its end, UTC)."),
]
FormatOption = Annotated[Format, typer.Option("--format", help="Output format.")]


class ExportFormat(str, Enum):
    """Formats of the commands whose tables also go to a spreadsheet (metrics, movements, cohorts, explain)."""

    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


ExportFormatOption = Annotated[ExportFormat, typer.Option("--format", help="Output format (xlsx needs --out).")]
OutOption = Annotated[str | None, typer.Option("--out", help="Write to this file instead of stdout (required for xlsx).")]


def xlsx_target(format: ExportFormat, out: str | None) -> str | None:
    """The workbook path when ``--format xlsx`` was asked for, refusing xlsx without ``--out``."""
    if format is not ExportFormat.xlsx:
        return None
    if not out:
        raise fail("--format xlsx writes a workbook: give it a file with --out FILE.xlsx")
    return out


def given_cells(cells: dict[str, Any], attr: list[str] | None) -> dict[str, Any]:
    """An event's fields from command-line options: the ones given, plus each ``--attr NAME=VALUE``."""
    from ledger.errors import UsageError

    cells = dict(cells)
    for pair in attr or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--attr {pair!r}: write it as NAME=VALUE")
        cells[f"attr.{key}"] = value
    return {k: v for k, v in cells.items() if v is not None and v != ""}
