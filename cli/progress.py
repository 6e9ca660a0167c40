"""Progress bars for long work (import, rebuild, generate, verify): on stderr, and only when stderr is a terminal.

    with progress("importing", total=len(rows)) as tick:
        for row in rows:
            ...
            tick()          # or tick(n)

Anywhere else (a pipe, a log file, a test) it is silent, so output stays
byte-for-byte reproducible. ``total=None`` shows a spinner and elapsed time
for work whose size is not known in advance.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Tick = Callable[..., None]


def _quiet(advance: int = 1) -> None:
    return None


def wanted(stream=None) -> bool:
    """Draw progress only for a person watching: stderr is a terminal and REVLEDGER_NO_PROGRESS is unset."""
    stream = stream or sys.stderr
    try:
        return stream.isatty() and not os.environ.get("REVLEDGER_NO_PROGRESS")
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Tick]:
    """A progress bar named ``description`` over ``total`` steps; yields ``tick(advance=1)``."""
    if not wanted():
        yield _quiet
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)

        def tick(advance: int = 1) -> None:
            bar.advance(task, advance)

        yield tick
