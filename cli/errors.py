"""How errors reach the user: one line on stderr and a non-zero exit status, never a traceback.

revledger's own errors (``ledger.errors``) carry their message and exit 1; a
file refused row by row carries its problems, each ``FILE:LINE: field:
message`` (the first fifty, then the rest counted by kind); an event given on
the command line names its options instead. A command line the framework
cannot read (an unknown option, a value not of its kind, a missing argument)
is one line too, and exits 2.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from ledger.errors import Problem

try:  # typer >= 0.20 carries its own copy of click
    from typer._click import exceptions as framework
except ImportError:  # pragma: no cover - older typer, on click itself
    from click import exceptions as framework  # type: ignore[no-redef]

F = TypeVar("F", bound=Callable[..., Any])

SHOWN_PROBLEMS = 50  # a file refused for 45,000 rows prints these, then the rest counted by kind
SHOWN_KINDS = 5
USAGE_EXIT = 2  # the command line could not be read; 1: it was read, and refused


# Characters that end a line for a terminal or for str.splitlines(), and other controls (a terminal escape):
# a value quoted in a message keeps its line one line, and shows them escaped.
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with line breaks and control characters written as escapes (``\\n``, ``\\x0b``)."""
    return _CONTROLS.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Say what went wrong on stderr, in one line; the caller raises the returned Exit."""
    typer.echo(f"revledger: {one_line(message)}", err=True)
    return typer.Exit(code)


def handled(command: F) -> F:
    """Turn revledger's errors into one line on stderr and exit status 1 — never a traceback."""
    from ledger.clock import ClockError
    from ledger.errors import RejectedError, RevledgerError
    from ledger.money import MoneyError

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RejectedError as e:
            if e.problems and all(p.file == "cli" for p in e.problems):  # record, amend: name the options
                lines = [option_problem(p, getattr(command, "problem_options", {})) for p in e.problems]
                if len(lines) == 1:
                    raise fail(lines[0]) from None
                for line in lines:
                    typer.echo(f"revledger: {one_line(line)}", err=True)
                raise fail(str(e)) from None
            for line in problem_lines(e.problems):
                typer.echo(line, err=True)
            raise fail(str(e)) from None
        except (RevledgerError, ClockError, MoneyError) as e:
            raise fail(str(e)) from None
        except sqlite3.DatabaseError as e:  # a damaged file found mid-query
            raise fail(
                f"database error: {e} (`revledger verify` finds the damaged file; `revledger rebuild` remakes the read models)"
            ) from None

    return wrapper  # type: ignore[return-value]


# -- problems of a refused input --------------------------------------------------------------


def option_problem(problem: Problem, names: dict[str, str] | None = None) -> str:
    """A problem of an event given on the command line, named by its option (``--customer: is required …``).

    ``names`` overrides the option of a field for one command (`amend` names its target EVENT_ID).
    """
    from cli.options import option_of

    option = (names or {}).get(problem.field) or option_of(problem.field)
    if option is None:
        return problem.message if problem.field == "-" else f"{problem.field}: {problem.message}"
    return f"{option}: {problem.message}"


def problem_kind(problem: Problem) -> str:
    """What a problem says without its values: ``effective_date is not a real date``, to count alike ones."""
    message = re.sub(r"'[^']*'|\"[^\"]*\"", "", problem.message)
    message = re.sub(r"\d{4}-\d{2}-\d{2}", "…", message)
    message = " ".join(message.split())
    return f"{problem.field} {message}" if problem.field != "-" else message


def problem_lines(problems: Iterable[Problem]) -> list[str]:
    """The first SHOWN_PROBLEMS problems, one a line; then how many more, counted by kind, most first."""
    problems = list(problems)
    lines = [one_line(str(p)) for p in problems[:SHOWN_PROBLEMS]]
    rest = problems[SHOWN_PROBLEMS:]
    if rest:
        kinds = Counter(problem_kind(p) for p in rest).most_common()
        listed = ", ".join(f"{count:,} × {kind}" for kind, count in kinds[:SHOWN_KINDS])
        if len(kinds) > SHOWN_KINDS:
            listed += f", and {len(kinds) - SHOWN_KINDS:,} other kinds"
        lines.append(one_line(f"… and {len(rest):,} more: {listed}"))
    return lines


# -- a command line the framework could not read ------------------------------------------------


def is_usage_error(error: BaseException) -> bool:
    return isinstance(error, framework.ClickException)


def usage_line(error: Any) -> str:
    """One line for a command line that could not be read: ``--period: 'weekly' is not one of month, quarter, year``."""
    ctx = getattr(error, "ctx", None)
    command = _command_name(ctx)
    if isinstance(error, framework.MissingParameter):
        param = error.param
        if param is None:
            return _sentence(error.format_message())
        if param.param_type_name == "argument":
            return f"{_param_name(param)} is required ({_usage(ctx)})"
        return f"{command or 'revledger'} needs {_param_name(param)}"
    if isinstance(error, framework.BadParameter):
        reason = _reason(error)
        if error.param is not None:
            return f"{_param_name(error.param)}: {reason}"
        if error.param_hint:
            hint = error.param_hint if isinstance(error.param_hint, str) else " / ".join(error.param_hint)
            return f"{hint}: {reason}"
        return reason
    if isinstance(error, framework.NoSuchOption):
        where = f"{command} has" if command else "revledger has"
        known = _option_names(ctx)
        close = get_close_matches(error.option_name, known, n=3) if known else list(error.possibilities or [])
        hint = f"did you mean {' or '.join(close)}?" if close else f"see {_help(ctx)}"
        return f"{where} no option {error.option_name} ({hint})"
    if isinstance(error, framework.BadOptionUsage):
        message = error.message
        if "requires" in message:
            return f"{error.option_name} needs a value"
        if "does not take a value" in message:
            return f"{error.option_name} takes no value"
        return _sentence(message)
    message = error.format_message() if hasattr(error, "format_message") else str(error)
    if m := re.fullmatch(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", message):
        return f"{command or 'revledger'} does not take {m[1]!r} ({_usage(ctx)})"
    if message == "Missing command.":
        return "give a command (revledger --help lists them)"
    return _sentence(message)


def _sentence(message: str) -> str:
    return " ".join(str(message).split()).removesuffix(".")


def _reason(error: Any) -> str:
    """Why a value was refused, in revledger's words rather than the validation library's."""
    cause = error.__cause__
    details = cause.errors() if hasattr(cause, "errors") else []
    if details:
        first = details[0]
        kind, given, limits = first.get("type"), first.get("input"), first.get("ctx") or {}
        if kind in ("int_parsing", "int_from_float", "int_type"):
            return f"{given!r} is not a whole number"
        if kind in ("float_parsing", "float_type", "decimal_parsing"):
            return f"{given!r} is not a number"
        if kind == "greater_than_equal":
            return f"must be {limits.get('ge')} or more, not {given}"
        if kind == "less_than_equal":
            return f"must be {limits.get('le')} or less, not {given}"
        if kind == "greater_than":
            return f"must be more than {limits.get('gt')}, not {given}"
        if kind == "less_than":
            return f"must be less than {limits.get('lt')}, not {given}"
    message = _sentence(error.message).removeprefix("Value error, ")
    if m := re.fullmatch(r"(.*) is not one of (.*)", message):
        choices = ", ".join(choice.strip().strip("'") for choice in m[2].split(","))
        return f"{m[1]} is not one of {choices}"
    return message


def _param_name(param: Any) -> str:
    if param.param_type_name == "argument":
        return (param.metavar or param.name or "ARGUMENT").upper()
    flags = [opt for opt in param.opts if opt.startswith("--")] or list(param.opts)
    return flags[0] if flags else str(param.name)


def _option_names(ctx: Any) -> list[str]:
    if ctx is None:
        return []
    return [opt for param in ctx.command.params for opt in getattr(param, "opts", ()) if opt.startswith("-")
            and param.param_type_name == "option"] + ["--help"]


def _command_name(ctx: Any) -> str:
    if ctx is None or ctx.parent is None:
        return ""
    return ctx.info_name or ""


def _usage(ctx: Any) -> str:
    """``revledger explain METRIC [OPTIONS]``: the command's arguments, for a line that says one is missing."""
    if ctx is None:
        return "revledger --help"
    arguments = [_param_name(p) for p in ctx.command.params if p.param_type_name == "argument"]
    return " ".join([ctx.command_path, *arguments, "[OPTIONS]"])


def _help(ctx: Any) -> str:
    return f"{ctx.command_path} --help" if ctx is not None else "revledger --help"
