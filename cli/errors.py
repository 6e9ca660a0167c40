"""How errors reach the user: one line on stderr and a non-zero exit status, never a traceback.

revledger's own errors (``ledger.errors``) carry their message; a file refused
row by row carries its problems, each ``FILE:LINE: field: message``.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from ledger.clock import ClockError
from ledger.errors import RejectedError, RevledgerError
from ledger.money import MoneyError

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> typer.Exit:
    """Say what went wrong on stderr, in one line; the caller raises the returned Exit."""
    typer.echo(f"revledger: {message}", err=True)
    return typer.Exit(code)


def handled(command: F) -> F:
    """Turn revledger's errors into one line on stderr and exit status 1 — never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
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
