"""`verify`, `checkpoint` and `rebuild`: the log proves itself, and the read models are replayed from it (SPEC §9, §12)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import render
from cli.closes import ReportFormat
from cli.context import state
from cli.errors import fail
from cli.options import Opt
from cli.progress import progress
from ledger.errors import UsageError
from ledger.integrity import Checkpoint
from projections.readmodel import rebuild as rebuild_read_models
from projections.verify import sorted_findings, verify as verify_ledger


def checkpoint(ctx: typer.Context) -> None:
    """Print the log head, SEQUENCE:HASH, to keep elsewhere: `verify --checkpoint` proves the log still extends it."""
    head = state(ctx).store.head()
    typer.echo(f"{head.sequence}:{head.hash}")


def verify(
    ctx: typer.Context,
    checkpoint: Annotated[
        str | None, Opt("--checkpoint", help="A head kept earlier (SEQUENCE:HASH): prove the log still extends it.")
    ] = None,
    format: Annotated[ReportFormat, Opt("--format", help="Output format.")] = ReportFormat.table,
) -> None:
    """Re-read the whole log: re-chain it, re-derive the projections and compare; exit 0 only when all holds."""
    try:
        head = Checkpoint.parse(checkpoint) if checkpoint is not None else None
    except ValueError as e:
        raise UsageError(f"--checkpoint: {e}") from None
    st = state(ctx)
    result = verify_ledger(st.store, st.cache, st.store.settings(), head)
    if format is ReportFormat.json:
        render.emit(render.as_json(result.as_dict()))
    else:
        for line in result.checked:
            typer.echo(f"checked: {line}")
        for finding in sorted_findings(result):
            typer.echo(f"FAILED: {finding}")
        if result.ok:
            typer.echo(f"ok: {result.events} events, head {result.head}")
    if not result.ok:
        raise fail(f"the ledger fails verification; the first difference is at {sorted_findings(result)[0]}")


def rebuild(ctx: typer.Context) -> None:
    """Throw the read models away and replay them from the log."""
    st = state(ctx)
    with progress("rebuilding the read models", total=st.store.head().sequence) as tick:
        sequence = rebuild_read_models(st.cache, st.store, on_page=tick)
    typer.echo(f"rebuilt the read models from {sequence} events")
