"""The commands that write to the ledger: `init`, `import`, `record` and `amend` (SPEC §2, §3, §7, §10)."""

from __future__ import annotations

import os
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import typer

from cli import render
from cli.context import state
from cli.errors import fail
from cli.options import Actor, DryRun, Opt, cells, event_fields
from cli.progress import progress
from ledger.errors import RejectedError, UsageError
from ledger.events import EVENT_TYPES
from ledger.location import open_store
from ledger.money import D, MoneyError
from ledger.settings import LedgerSettings
from projections import queries

Restate = Annotated[str | None, Opt("--restate", help="Why an event effective in a locked period is let in (recorded on it).")]


def init(
    ctx: typer.Context,
    currency: Annotated[str, Opt(help="The ledger currency (ISO 4217).")] = "USD",
    rate: Annotated[
        list[str] | None,
        Opt(help="A fixed rate into the ledger currency, CODE=RATE (e.g. EUR=1.085); repeatable."),
    ] = None,
) -> None:
    """Create a ledger. Appends nothing to the log: its settings live beside it."""
    from ledger.application import init_ledger

    settings = LedgerSettings.new(currency, _rates(rate or []))
    location = state(ctx).location
    init_ledger(open_store(location, create=True), settings)
    typer.echo(f"created a ledger at {location} (currency {settings.currency})")


def _rates(pairs: list[str]) -> list[tuple[str, Decimal]]:
    rates = []
    for pair in pairs:
        code, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--rate {pair!r}: write it as CODE=RATE, e.g. EUR=1.085")
        try:
            rates.append((code, D(value)))
        except MoneyError as e:
            raise UsageError(f"--rate {pair}: {e}") from None
    return rates


class FileFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"
    periods = "periods"
    invoices = "invoices"
    stripe = "stripe"


def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="The file: events (CSV or JSON Lines), periods, invoice lines or a Stripe export.")],
    format: Annotated[
        FileFormat | None, Opt("--format", help="File format (guessed from the contents and extension when not given).")
    ] = None,
    dry_run: DryRun = False,
    recorded_at: Annotated[
        str | None, Opt("--recorded-at", help="Record the import at this past instant (migrating history).")
    ] = None,
    end_exclusive: Annotated[bool, Opt("--end-exclusive", help="periods: end_date is the first day without revenue.")] = False,
    actor: Actor = None,
    errors: Annotated[str, Opt("--errors", help="How to print problems: text or json.")] = "text",
    restate: Annotated[
        str | None, Opt("--restate", help="Let in rows effective in a locked period, recording this reason on each.")
    ] = None,
    as_of: Annotated[
        str | None,
        Opt("--as-of", help="invoices, stripe: a subscription whose invoices stop on or before this date ended "
                            "(default: the latest invoice date; it never moves back)."),
    ] = None,
) -> None:
    """Validate every row of a file, then append them all — or nothing."""
    from ledger.clock import ClockError, parse_date
    from ledger.files import guess_format

    if os.path.isdir(file):
        raise UsageError(f"{file}: is a folder; import its files one at a time")
    if errors not in ("text", "json"):
        raise UsageError(f"--errors {errors}: one of text, json")
    if not os.path.isfile(file):
        raise UsageError(f"{file}: no such file")
    fmt = format.value if format else guess_format(file)
    if fmt is None:
        raise UsageError(f"{file}: cannot tell the format from its name; pass --format csv|jsonl|periods|invoices|stripe")
    if as_of is not None and fmt not in ("invoices", "stripe"):
        raise UsageError(f"--as-of applies to --format invoices and stripe only, not {fmt}")
    try:
        as_of_date = parse_date(as_of) if as_of is not None else None
    except ClockError as e:
        raise UsageError(f"--as-of: {e}") from None
    st = state(ctx)
    ledger = st.ledger(actor)
    try:
        with progress(f"importing {os.path.basename(file)}"):
            result = ledger.import_file(
                file, fmt, dry_run=dry_run, recorded_at=recorded_at, end_exclusive=end_exclusive, restatement=restate,
                as_of=as_of_date,
            )
    except RejectedError as e:
        if errors == "json":
            render.emit(render.as_json([p.as_dict() for p in e.problems]))
            raise fail(str(e)) from None
        raise
    summary = result.summary.describe() if result.summary else []
    skipped = result.skipped + (result.summary.already_recorded if result.summary else 0)
    if dry_run:
        typer.echo(f"{file}: {result.count} events valid, {skipped} already recorded; nothing written (dry run)")
    elif not result.count:
        typer.echo(f"{file}: nothing new; all {skipped} events were already recorded")
    else:
        first, last = result.first, result.last
        assert first is not None and last is not None
        span = (f"sequence {first.sequence}, recorded {first.recorded_at}" if result.count == 1 else
                f"sequence {first.sequence}–{last.sequence}, recorded {first.recorded_at} – {last.recorded_at}")
        typer.echo(
            f"{file}: appended {result.count} event{'s' if result.count != 1 else ''} ({span})"
            + (f"; {skipped} already recorded" if skipped else "")
        )
    for line in summary:
        typer.echo(line)
    if result.count and not dry_run:
        if result.unprojected:
            raise fail(f"{result.unprojected}; the log has the events, and the read models catch up on their next use")


EventType = Enum("EventType", {name: name for name in EVENT_TYPES}, type=str)  # type: ignore[misc]


@event_fields
def record(
    ctx: typer.Context,
    type: Annotated[EventType, typer.Argument(help="The event type (SPEC §3).")],
    customer: Annotated[str | None, Opt("--customer", help="customer_id")] = None,
    date_: Annotated[str | None, Opt("--date", help="effective_date, YYYY-MM-DD")] = None,
    reason: Annotated[str | None, Opt(help="reason (required for a void)")] = None,
    event: Annotated[str | None, Opt("--event", help="target_event_id (for a void)")] = None,
    event_id: Annotated[str | None, Opt("--event-id", help="event_id (derived from the content when not given)")] = None,
    restate: Restate = None,
    actor: Actor = None,
    dry_run: DryRun = False,
    **fields: Any,
) -> None:
    """Append one event, with the same validation as an import."""
    given = cells(fields, type=type.value, customer_id=customer, effective_date=date_, reason=reason,
                  target_event_id=event, event_id=event_id, restatement=restate)
    st = state(ctx)
    result = st.ledger(actor).record(given, dry_run=dry_run)
    if not result.count:
        typer.echo("nothing new: that event is already recorded")
        return
    recorded = result.events[0]
    if dry_run:
        typer.echo(f"valid: would be {recorded.event_id}; nothing written (dry run)")
        return
    typer.echo(f"recorded {recorded.event_id} as sequence {recorded.sequence} at {recorded.recorded_at}")
    if result.unprojected:
        raise fail(f"{result.unprojected}; the log has the event, and the read models catch up on their next use")
    rm = st.read_model
    outcome = queries.recorded_movement(rm, recorded)
    if recorded.type == "void":
        typer.echo(f"movement on {outcome['date']}: was {_movement_text(outcome['before'])}; now {_movement_text(outcome['after'])}")
    elif outcome["after"] is not None:
        typer.echo(f"movement: {outcome['date']} {_movement_text(outcome['after'])}")
    else:
        typer.echo("movement: none (MRR unchanged that day)")


def _movement_text(moved: dict[str, Any] | None) -> str:
    if moved is None:
        return "none"
    cause = f" ({moved['cause']})" if moved["cause"] else ""
    return (
        f"{moved['customer_id']} {moved['category']}{cause} "
        f"{render.money_cell(moved['from_mrr'])} -> {render.money_cell(moved['to_mrr'])}"
    )


@event_fields
def amend(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(help="The event to correct.")],
    reason: Annotated[str, Opt("--reason", help="Why it is corrected (recorded on the void).")],
    type: Annotated[str | None, Opt("--type", help="type (default: the original's)")] = None,
    customer: Annotated[str | None, Opt("--customer", help="customer_id (default: the original's)")] = None,
    date_: Annotated[str | None, Opt("--date", help="effective_date (default: the original's)")] = None,
    event_reason: Annotated[
        str | None, Opt("--event-reason", help="the corrected event's own reason (default: the original's)")
    ] = None,
    new_id: Annotated[str | None, Opt("--event-id", help="the corrected event's event_id (derived when not given)")] = None,
    restate: Restate = None,
    actor: Actor = None,
    dry_run: DryRun = False,
    **fields: Any,
) -> None:
    """Correct an event: void it and record the corrected one, in one append. Nothing is edited or deleted."""
    changes = cells(fields, type=type, customer_id=customer, effective_date=date_, reason=event_reason, event_id=new_id)
    st = state(ctx)
    result = st.ledger(actor).amend(event_id, changes, reason=reason, restatement=restate, dry_run=dry_run)
    if dry_run:
        typer.echo(f"valid: would void {event_id} and record {result.events[-1].event_id}; nothing written (dry run)")
        return
    if not result.events:
        typer.echo(f"nothing new: {event_id} was already amended that way")
        return
    void, corrected = result.events
    typer.echo(f"voided {event_id} by {void.event_id} (sequence {void.sequence}, reason: {reason})")
    typer.echo(f"recorded {corrected.event_id} as sequence {corrected.sequence} at {corrected.recorded_at}")
    if result.unprojected:
        raise fail(f"{result.unprojected}; the log has the events, and the read models catch up on their next use")


amend.problem_options = {"target_event_id": "EVENT_ID"}  # type: ignore[attr-defined]  # its argument, not --event
