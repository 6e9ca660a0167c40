"""Where a command's answer goes: stdout, or a file given with ``--out``, in the format asked for.

One place for every command, so ``--out`` means the same everywhere. A
command offers builders for the formats it has; only the one asked for is
built, and a format it does not offer is refused in one line. A file is
written whole or not at all: into a temporary file beside it, then renamed
into place, so a failed or interrupted export leaves the old file (or none),
never half a file.
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

# What a file name ending says it holds: a name that says one format and a --format that says another is refused.
EXTENSIONS = {".csv": "csv", ".json": "json", ".xlsx": "xlsx"}
SQLITE_MAGIC = b"SQLite format 3\x00"


def deliver(
    format: str,
    out: str | None = None,
    *,
    table: Callable[[], str] | None = None,
    json: Callable[[], Any] | None = None,
    csv: Callable[[], Rows] | None = None,
    xlsx: Callable[[], Sequence[Any]] | None = None,
    about: Callable[[], Sequence[tuple[str, Any]]] | None = None,
    what: str = "",
) -> None:
    """Render the answer in ``format``, to stdout or (with ``out``) to that file, whole or not at all.

    ``about`` gives the lines of a workbook's first sheet (ledger, read, range,
    known at, policy): an xlsx file handed on says where its figures come from.
    """
    builders = {"table": table, "json": json, "csv": csv, "xlsx": xlsx}
    build = builders.get(format)
    if build is None:
        offered = ", ".join(name for name, b in builders.items() if b is not None)
        raise UsageError(f"--format {format}: this command writes {offered}")
    if out is not None:
        check_out(out, format)
    if format == "xlsx":
        if not out:
            raise UsageError("--format xlsx writes a workbook: give it a file with --out FILE.xlsx")
        from cli import xlsx as workbook

        sheets = list(build())
        if about is not None:
            sheets.insert(0, workbook.about_sheet(about()))
        write_atomically(out, lambda path: workbook.write(path, sheets))
        names = ", ".join(s.name for s in sheets)
        typer.echo(f"wrote {what + ' to ' if what else ''}{out} ({len(sheets)} sheet{'s' if len(sheets) != 1 else ''}: {names})")
        return
    with render.plain(out is not None):  # a file never gets a terminal's colours
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


def check_out(out: str, format: str) -> None:
    """Refuse, before any work, an ``--out`` whose name says another format than ``--format``."""
    if os.path.isdir(out):
        return  # write_atomically says it is a folder
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise UsageError(f"--out {out}: no such folder {folder}")
    extension = os.path.splitext(out)[1].lower()
    named = EXTENSIONS.get(extension)
    if named is not None and named != format:
        raise UsageError(f"--out {out}: the name says {named} but --format is {format}; give --format {named}")
    if format == "xlsx" and extension != ".xlsx":
        raise UsageError(f"--out {out}: a workbook's name ends in .xlsx (Excel refuses to open it otherwise)")


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def write_atomically(out: str, write: Callable[[str], None]) -> None:
    """Write a file by ``write(path)`` into a temporary file beside ``out``, then rename it into place.

    Refused in one line: ``out`` is a folder, its folder does not exist or
    cannot be written, or it is a SQLite database (a ledger or its read models:
    an export must never overwrite the ledger). The file gets the permissions
    any new file gets (the umask), not the temporary file's private ones.
    """
    if not out.strip():
        raise UsageError("--out is empty: give a file name")
    target = os.path.abspath(out)
    folder = os.path.dirname(target)
    if os.path.isdir(target):
        raise UsageError(f"--out {out}: is a folder; give a file name")
    if not os.path.isdir(folder):
        raise UsageError(f"--out {out}: no such folder {folder}")
    if _is_database(target):
        raise UsageError(f"--out {out}: is a SQLite database (a ledger?); revledger will not overwrite it")
    try:
        handle, temporary = tempfile.mkstemp(prefix=".revledger-", suffix=os.path.splitext(target)[1], dir=folder)
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write in {folder}: {e.strerror or e}") from None
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, _new_file_mode())
        os.replace(temporary, target)
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write: {e.strerror or e}") from None
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _is_database(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def about(ctx: typer.Context, known: Any, **lines: Any) -> list[tuple[str, Any]]:
    """The provenance of an export: the ledger, the command that reproduces it, and what it knew, under which policy.

    ``lines`` adds the read's own (``range="2026-01-01 – 2026-03-31"``), shown by their names.
    """
    from cli.context import state

    location = state(ctx).location
    rows: list[tuple[str, Any]] = [("ledger", location), ("command", reproduce(ctx, known.recorded_at))]
    rows += [(name.replace("_", " "), value) for name, value in lines.items() if value is not None]
    rows.append(("known at", known.recorded_at or "(empty ledger)"))
    policy = known.policy.as_json()
    rows.append(("policy", ", ".join(f"{k}={v}" for k, v in policy.items()) + (" (preview: nothing recorded uses it)" if known.preview else "")))
    return rows


def reproduce(ctx: typer.Context, known_at: str | None = None) -> str:
    """The command line that prints the same answer again: its options as given, and --known-at the answer's own time."""
    parts = [ctx.info_name or ""]
    if known_at and ctx.params.get("known_at") is None:
        parts.append(f"--known-at {known_at}")
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or param.name in ("format", "out") or value is False:
            continue
        if getattr(param, "param_type_name", "") == "argument":
            parts.append(_quoted(value))
            continue
        flag = max(param.opts, key=len)
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            v = getattr(v, "value", v)
            if v is True:
                parts.append(flag)
            elif param.default is not None and v == getattr(param.default, "value", param.default):
                continue
            else:
                parts.append(f"{flag} {_quoted(v)}")
    return "revledger " + " ".join(parts)


def _quoted(value: Any) -> str:
    import shlex

    return shlex.quote(str(getattr(value, "value", value)))
