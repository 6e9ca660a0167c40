"""`revledger generate`: a synthetic event file for demos, tests and benchmarks."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated

import typer

from ledger.clock import parse_date
from ledger.errors import UsageError
from cli.synthetic import generate as synthetic_rows
from cli.synthetic import write
from cli.output import write_atomically


class GeneratedFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"


def generate(
    customers: Annotated[int, typer.Option("--customers", min=1, help="How many customers.")],
    months: Annotated[int, typer.Option("--months", min=1, help="How many months of history.")],
    out: Annotated[str, typer.Option("--out", help="The file to write (replaced if it exists).")],
    seed: Annotated[int, typer.Option("--seed", help="The same seed writes the same file, byte for byte.")] = 1,
    start: Annotated[str, typer.Option("--start", help="The first day of the first month.")] = "2024-01-01",
    format: Annotated[GeneratedFormat, typer.Option("--format", help="File format.")] = GeneratedFormat.csv,
) -> None:
    """Write a realistic synthetic event file (about 10 events per customer over 36 months), valid in file order."""
    first: date = parse_date(start)
    if first.year * 12 + first.month + months + 36 > 9999 * 12:  # the history, and the terms it runs into, must fit
        raise UsageError(f"--start {first} and --months {months} run past the calendar's end (9999-12): start earlier")
    counted: list[int] = []

    def write_file(path: str) -> None:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            counted.append(write(synthetic_rows(customers, months, seed, first), handle, format.value))

    write_atomically(out, write_file)  # the same --out rules as every command: whole or not at all
    count = counted[0]
    typer.echo(f"{out}: wrote {count} events for {customers} customers over {months} months (seed {seed})")
