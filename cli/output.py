"""Where a command's answer goes: stdout, or a file given with ``--out``, in the format asked for.

One place for every command, so ``--out`` means the same everywhere. A
command offers builders for the formats it has; only the one asked for is
built. A file is written whole or not at all: into a temporary file beside
it, then renamed into place.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import typer

from cli import render
from ledger.errors import UsageError

Rows = tuple[Sequence[dict[str, Any]], Sequence[str]]


def deliver(
    format: str,
    out: str | None = None,
    *,
    table: Callable[[], str] | None = None,
    json: Callable[[], Any] | None = None,
    csv: Callable[[], Rows] | None = None,
    xlsx: Callable[[], Sequence[Any]] | None = None,
    what: str = "",
) -> None:
    """Render the answer in ``format``, to stdout or (with ``out``) to that file, whole or not at all."""
    builders = {"table": table, "json": json, "csv": csv, "xlsx": xlsx}
    build = builders.get(format)
    if build is None:
        offered = ", ".join(name for name, b in builders.items() if b is not None)
        raise UsageError(f"--format {format}: this command writes {offered}")
    if format == "xlsx":
        if not out:
            raise UsageError("--format xlsx writes a workbook: give it a file with --out FILE.xlsx")
        from cli import xlsx as workbook

        sheets = build()
        write_atomically(out, lambda path: workbook.write(path, sheets))
        names = ", ".join(s.name for s in sheets)
        typer.echo(f"wrote {what + ' to ' if what else ''}{out} ({len(sheets)} sheet{'s' if len(sheets) != 1 else ''}: {names})")
        return
    if format == "json":
        text = render.as_json(build())
    elif format == "csv":
        rows, keys = build()
        text = render.as_csv(rows, keys)
    else:
        text = build()
    if out is None:
        render.emit(text)
        return
    write_atomically(out, lambda path: _write_text(path, text + "\n"))
    typer.echo(f"wrote {out}" + (f" ({what})" if what else ""))


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def write_atomically(out: str, write: Callable[[str], None]) -> None:
    """Write a file by ``write(path)`` into a temporary file beside ``out``, then rename it into place."""
    if not out.strip():
        raise UsageError("--out is empty: give a file name")
    target = os.path.abspath(out)
    folder = os.path.dirname(target)
    if os.path.isdir(target):
        raise UsageError(f"--out {out}: is a folder; give a file name")
    if not os.path.isdir(folder):
        raise UsageError(f"--out {out}: no such folder {folder}")
    try:
        handle, temporary = tempfile.mkstemp(prefix=".revledger-", suffix=os.path.splitext(target)[1], dir=folder)
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write in {folder}: {e.strerror or e}") from None
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, target)
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write: {e.strerror or e}") from None
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
