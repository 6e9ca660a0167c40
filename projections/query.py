"""Ad-hoc questions (SPEC §16): one read-only SELECT over the documented views, with a time limit and a row limit.

Read-only is enforced in layers. The read models' file is opened read-only
and ``query_only`` (``projections.views``), so no statement can change it.
Only a statement that begins with SELECT or WITH is run (VACUUM INTO, for
one, would write a new file without asking the authorizer). And SQLite's
authorizer refuses, while it compiles the statement, every write, schema
change, ATTACH, transaction, PRAGMA that is not a plain read, and
``load_extension``: the views themselves cannot be changed, and nothing is
attached or loaded. Unqualified names find the views (TEMP objects come
first); the read models' own tables stay reachable as ``main.*``, but their
layout is not the contract and they ignore the knowledge time.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from ledger.errors import UsageError
from ledger.money import cents_text
from projections import views
from projections.queries import Knowledge
from projections.readmodel import ReadModel

MAX_ROWS = 100_000
TIMEOUT_SECONDS = 30
_PROGRESS_STEPS = 10_000  # SQLite VM instructions between looks at the clock

# PRAGMAs that only report (SQLite offers table-valued pragma_* functions only for such):
# every other PRAGMA, and any PRAGMA setting a value, is refused.
READ_PRAGMAS = frozenset({
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "function_list", "collation_list", "pragma_list", "module_list", "compile_options",
})
_FIRST_WORD = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*([A-Za-z]+)", re.S)
_NAMES_LINES = re.compile(r"\blines\b", re.I)
# Every word an SQLite statement can begin with: any other first word is SQLite's syntax error to report.
STATEMENTS = frozenset({
    "ALTER", "ANALYZE", "ATTACH", "BEGIN", "COMMIT", "CREATE", "DELETE", "DETACH", "DROP", "END", "EXPLAIN",
    "INSERT", "PRAGMA", "REINDEX", "RELEASE", "REPLACE", "ROLLBACK", "SAVEPOINT", "SELECT", "UPDATE", "VACUUM",
    "VALUES", "WITH",
})
ONE_READ = "one SELECT (or WITH … SELECT) statement"


class QueryRefused(UsageError):
    """A statement that is not one read of the views, or one that ran out of time or rows."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What a query returned: its column names (duplicates made unique) and its rows, as SQLite gave them."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


def answer(rm: ReadModel, known: Knowledge, sql: str, *, max_rows: int = MAX_ROWS, timeout: float = TIMEOUT_SECONDS) -> Answer:
    """Run ``sql`` over the views as known at ``known``; refuse anything but one read, in one line."""
    statement = check_statement(sql)
    conn = views.open(rm, known, lines=bool(_NAMES_LINES.search(statement)))
    try:
        return run(conn, statement, max_rows=max_rows, timeout=timeout)
    finally:
        conn.close()


def check_statement(sql: str) -> str:
    """``sql`` unless it is another statement than SELECT or WITH … (after comments): those are refused by name.

    (VACUUM INTO, for one, writes a file without asking the authorizer.)
    """
    if not sql.strip():
        raise QueryRefused(f"query: give {ONE_READ}")
    match = _FIRST_WORD.match(sql)
    word = match.group(1).upper() if match else ""
    if word in STATEMENTS and word not in ("SELECT", "WITH"):
        raise QueryRefused(f"query: {word} is refused: the views are read-only; give {ONE_READ}")
    return sql


def run(conn: sqlite3.Connection, sql: str, *, max_rows: int = MAX_ROWS, timeout: float = TIMEOUT_SECONDS) -> Answer:
    """Run one statement on a views connection under the authorizer, the time limit and the row limit."""
    refused: list[str] = []
    conn.set_authorizer(_authorizer(refused))
    deadline = time.monotonic() + timeout
    conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, _PROGRESS_STEPS)
    conn.create_function("money", 1, _money, deterministic=True)
    try:
        cursor = conn.execute(sql)
        rows = cursor.fetchmany(max_rows + 1)
    except sqlite3.Error as e:
        raise _refusal(e, refused, timeout) from None
    finally:
        conn.set_progress_handler(None, 0)
        conn.set_authorizer(None)
    if len(rows) > max_rows:
        raise QueryRefused(
            f"query: more than {max_rows:,} rows (--max-rows): aggregate, add a LIMIT, or raise --max-rows"
        )
    return Answer(unique_names([d[0] for d in cursor.description or ()]), rows)


def _refusal(error: sqlite3.Error, refused: list[str], timeout: float) -> QueryRefused:
    if refused:
        return QueryRefused(f"query: {refused[0]} is refused: the views are read-only")
    text = " ".join(str(error).split())
    if text == "interrupted":
        unit = "second" if timeout == 1 else "seconds"
        return QueryRefused(f"query: stopped after {timeout:g} {unit} (--timeout): narrow the query or raise --timeout")
    if text.startswith("cannot modify "):  # a WITH … INSERT/UPDATE/DELETE on a view, refused before the authorizer
        return QueryRefused(f"query: {text.removeprefix('cannot modify ').split(' because')[0]} is read-only: changing it is refused")
    if isinstance(error, sqlite3.ProgrammingError) and "one statement" in text:
        return QueryRefused("query: one statement only: the text after the first ';' is refused")
    if "user-defined function raised exception" in text:
        return QueryRefused("query: money() takes integer cents (a *_cents column or a sum of them)")
    return QueryRefused(f"query: {text}")


def _authorizer(refused: list[str]):
    """SQLite's compile-time check of every action a statement takes: reads of the views pass, nothing else."""
    allowed = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE}

    def check(action: int, arg1: str | None, arg2: str | None, database: str | None, inner: str | None) -> int:
        if action in allowed:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            if (arg2 or "").lower() == "load_extension":
                refused.append("load_extension()")
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            if (arg1 or "").lower() in READ_PRAGMAS:
                return sqlite3.SQLITE_OK
            setting = f" = {arg2}" if arg2 is not None else ""
            refused.append(f"pragma {arg1}{setting}")
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master" and database == "main" and inner is None:
            # SQLite asks this when it sets up a table-valued function such as json_each; the file
            # is read-only and query_only, and an UPDATE statement never gets this far.
            return sqlite3.SQLITE_OK
        if arg1 in _SCHEMA_TABLES:  # SQLite asks to write its schema table first when a CREATE or DROP compiles
            refused.append("a schema change (CREATE, DROP or ALTER)")
        else:
            refused.append(_ACTIONS.get(action, f"action {action}") + (f" {arg1}" if arg1 and action in _NAMED else ""))
        return sqlite3.SQLITE_DENY

    return check


_ACTIONS = {
    getattr(sqlite3, f"SQLITE_{name}"): text
    for name, text in {
        "INSERT": "INSERT into", "UPDATE": "UPDATE of", "DELETE": "DELETE from", "ATTACH": "ATTACH", "DETACH": "DETACH",
        "TRANSACTION": "a transaction", "SAVEPOINT": "a savepoint", "ANALYZE": "ANALYZE", "REINDEX": "REINDEX",
        "ALTER_TABLE": "ALTER TABLE", "CREATE_INDEX": "CREATE INDEX", "CREATE_TABLE": "CREATE TABLE",
        "CREATE_TEMP_INDEX": "CREATE INDEX", "CREATE_TEMP_TABLE": "CREATE TABLE", "CREATE_TEMP_TRIGGER": "CREATE TRIGGER",
        "CREATE_TEMP_VIEW": "CREATE VIEW", "CREATE_TRIGGER": "CREATE TRIGGER", "CREATE_VIEW": "CREATE VIEW",
        "CREATE_VTABLE": "CREATE VIRTUAL TABLE", "DROP_INDEX": "DROP INDEX", "DROP_TABLE": "DROP TABLE",
        "DROP_TEMP_INDEX": "DROP INDEX", "DROP_TEMP_TABLE": "DROP TABLE", "DROP_TEMP_TRIGGER": "DROP TRIGGER",
        "DROP_TEMP_VIEW": "DROP VIEW", "DROP_TRIGGER": "DROP TRIGGER", "DROP_VIEW": "DROP VIEW",
        "DROP_VTABLE": "DROP VIRTUAL TABLE",
    }.items()
    if hasattr(sqlite3, f"SQLITE_{name}")
}
_NAMED = {getattr(sqlite3, f"SQLITE_{n}") for n in ("INSERT", "UPDATE", "DELETE", "CREATE_TABLE", "CREATE_TEMP_TABLE",
                                                    "DROP_TABLE", "DROP_TEMP_TABLE", "CREATE_VIEW", "CREATE_TEMP_VIEW",
                                                    "DROP_VIEW", "DROP_TEMP_VIEW", "CREATE_INDEX", "DROP_INDEX")}


_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_temp_master", "sqlite_schema", "sqlite_temp_schema"})


def _money(value: Any) -> str | None:
    """money(cents): integer cents as money text with two decimals (exact; SQL's own division would be binary float)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("money() takes integer cents")
    return cents_text(value)


def unique_names(names: list[str]) -> list[str]:
    """Column names as given, a repeated one suffixed ``:1``, ``:2`` … as SQLite names them in CREATE TABLE AS."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        if name in seen:
            seen[name] += 1
            candidate = f"{name}:{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}:{seen[name]}"
            result.append(candidate)
            seen[candidate] = 0
        else:
            seen[name] = 0
            result.append(name)
    return result


def snapshot(rm: ReadModel, known: Knowledge, path: str) -> dict[str, int]:
    """Write every view as known at ``known`` into a new SQLite file (see ``views.snapshot``); the rows per view."""
    conn = views.open(rm, known, lines=True)
    try:
        return views.snapshot(conn, path)
    finally:
        conn.close()
