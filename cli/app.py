"""`revledger`: the command registry. Each command parses its options, calls one library function, and renders.

Every command is listed once, here, with the module that defines it. A
command's module is imported only when that command runs (or its help is
asked for), so `revledger --help` and a quick read start without loading
what they do not use.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup

from cli.options import CacheOption, DbOption


@dataclass(frozen=True, slots=True)
class Entry:
    """A command: the module and function that define it, and its one-line summary for `--help`.

    The summary repeats the first line of the function's docstring (a test keeps them equal),
    so that listing the commands needs no module imported.
    """

    module: str
    function: str
    summary: str


COMMANDS: dict[str, Entry] = {
    "init": Entry("cli.writes", "init", "Create a ledger. Appends nothing to the log: its settings live beside it."),
    "import": Entry("cli.writes", "import_", "Validate every row of a file, then append them all — or nothing."),
    "record": Entry("cli.writes", "record", "Append one event, with the same validation as an import."),
    "amend": Entry(
        "cli.writes", "amend",
        "Correct an event: void it and record the corrected one, in one append. Nothing is edited or deleted.",
    ),
    "log": Entry("cli.reads", "log", "The events, in sequence order."),
    "mrr": Entry("cli.reads", "mrr", "MRR, ARR and active customers on a day."),
    "movements": Entry("cli.reads", "movements", "Movement rows: one per customer per day its MRR changed."),
    "metrics": Entry("cli.metrics", "metrics", "MRR bridge, retention, customer counts and causes per period (and group)."),
    "cohorts": Entry(
        "cli.metrics", "cohorts",
        "Cohorts by month of first `new` movement: MRR, NRR, active logos and contraction per month offset.",
    ),
    "explain": Entry(
        "cli.metrics", "explain", "The customers, movements and events that make up one figure of one period (the range)."
    ),
    "retention": Entry(
        "cli.analytics", "retention",
        "Trailing N-month NRR (with its band), GRR and the retention rates, for each month ending in the range.",
    ),
    "durability": Entry(
        "cli.analytics", "durability",
        "Does growth last: expansion later lost, contraction turning into churn, and the time to first expansion.",
    ),
    "close": Entry(
        "cli.closes", "close",
        "Record the period's figures as they stand, with the log head they come from, as an event in the log.",
    ),
    "restatements": Entry(
        "cli.closes", "restatements",
        "Every closed period whose figures as now known differ from those recorded at its close, and the events why.",
    ),
    "diff": Entry("cli.diff", "diff", "The same read at two knowledge times (or under the policy in force and a preview): what differs, and why."),
    "verify": Entry(
        "cli.integrity", "verify",
        "Re-read the whole log: re-chain it, re-derive the projections and compare; exit 0 only when all holds.",
    ),
    "checkpoint": Entry(
        "cli.integrity", "checkpoint",
        "Print the log head, SEQUENCE:HASH, to keep elsewhere: `verify --checkpoint` proves the log still extends it.",
    ),
    "query": Entry(
        "cli.query", "query",
        "Read-only SQL over the documented views (events, movements, customer_mrr, attributes, closes), as known at any time.",
    ),
    "rebuild": Entry("cli.integrity", "rebuild", "Throw the read models away and replay them from the log."),
    "report": Entry(
        "cli.report", "report",
        "Write one self-contained HTML report: bridge, MRR/ARR, NRR/GRR, causes, cohorts, top movers, restatements.",
    ),
    "policy": Entry(
        "cli.policy", "app",
        "The recognition policy in force (churn recognition, reactivation grace, movement grain), and its changes.",
    ),
    "generate": Entry(
        "cli.generate", "generate",
        "Write a realistic synthetic event file (about 10 events per customer over 36 months), valid in file order.",
    ),
}


def command_function(name: str) -> Any:
    """The function behind a registered command (its module imported now)."""
    entry = COMMANDS[name]
    return getattr(importlib.import_module(entry.module), entry.function)


class Registry(TyperGroup):
    """The commands of COMMANDS, each built (and its module imported) only when it is needed."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in COMMANDS:
            return None
        from typer.main import get_command_from_info
        from typer.models import CommandInfo

        from cli.errors import handled

        function = command_function(name)
        if isinstance(function, typer.Typer):  # a command with subcommands of its own (`policy`, `policy set`)
            group = typer.main.get_command(function)
            group.name = name
            return group
        info = CommandInfo(name=name, callback=handled(function))
        return get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=None)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0]
        if name not in COMMANDS and not name.startswith("-") and not ctx.resilient_parsing:
            from cli.errors import framework

            close = difflib.get_close_matches(name, COMMANDS, n=3)
            hint = f"did you mean {' or '.join(close)}?" if close else "revledger --help lists them"
            raise framework.UsageError(f"no such command {name!r} ({hint})", ctx)
        return super().resolve_command(ctx, args)

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        """Run a command; a command line the framework cannot read is one line on stderr and exit status 2.

        The framework would print a usage block and an ``Error:`` line; in-process
        runners (tests) and the console script both come through here.
        """
        from cli.errors import USAGE_EXIT, framework, one_line, usage_line

        try:
            outcome = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except framework.NoArgsIsHelpError as e:  # `revledger` alone: the help, as asked for
            e.show()
            code = USAGE_EXIT
        except framework.ClickException as e:
            typer.echo(f"revledger: {one_line(usage_line(e))}", err=True)
            code = e.exit_code
        except typer.Abort:
            typer.echo("revledger: aborted", err=True)
            code = 1
        else:
            code = outcome if isinstance(outcome, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, COMMANDS[name].summary) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="revledger",
    cls=Registry,
    help="An event-sourced revenue ledger: MRR, movements and metrics, as now known or as known at any past moment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def main_options(ctx: typer.Context, db: DbOption = "./revledger.db", cache: CacheOption = None) -> None:
    """revledger: an event-sourced revenue ledger."""
    from cli.context import State

    ctx.obj = State(db, cache)


def main() -> None:
    """The console script: no traceback ever reaches the user."""
    try:
        app(prog_name="revledger")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("revledger: interrupted\n")
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - the last line of defence against tracebacks
        if os.environ.get("REVLEDGER_DEBUG"):
            raise
        sys.stderr.write(f"revledger: internal error: {type(e).__name__}: {e} (set REVLEDGER_DEBUG=1 for details)\n")
        sys.exit(70)
