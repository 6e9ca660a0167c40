"""`revledger`: each command parses its options, calls one library function, and renders."""

from __future__ import annotations

import os
import sys
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import typer

from cli import render, xlsx
from cli.common import (
    given_cells,
    DbOption,
    ExportFormat,
    ExportFormatOption,
    FileFormat,
    Format,
    FormatOption,
    KnownAt,
    State,
    app,
    fail,
    handled,
    known_at_option,
    known_suffix,
    OutOption,
    state,
    xlsx_target,
)
from cli.progress import progress
from cli.render import Column
from ledger.clock import parse_date
from ledger.errors import RejectedError, UsageError
from ledger.money import D
from ledger.settings import LedgerSettings
from ledger.location import open_store
from projections import queries
from projections.readmodel import ReadModel, default_path

@app.callback()
def main_options(
    ctx: typer.Context,
    db: DbOption = "./revledger.db",
    cache: Annotated[
        str | None, typer.Option("--cache", help="Where the read models live (default: beside a SQLite ledger).")
    ] = None,
) -> None:
    """revledger: an event-sourced revenue ledger."""
    ctx.obj = State(db, cache)


@app.command()
@handled
def init(
    ctx: typer.Context,
    currency: Annotated[str, typer.Option(help="The ledger currency (ISO 4217).")] = "USD",
    rate: Annotated[
        list[str] | None,
        typer.Option(help="A fixed rate into the ledger currency, CODE=RATE (e.g. EUR=1.085); repeatable."),
    ] = None,
) -> None:
    """Create a ledger. Appends nothing to the log: its settings live beside it."""
    settings = LedgerSettings(currency=currency, rates=tuple(sorted(_rates(rate or [], currency))))
    location = state(ctx).location
    from ledger.application import init_ledger

    init_ledger(open_store(location, create=True), settings)
    typer.echo(f"created a ledger at {location} (currency {currency})")


def _rates(pairs: list[str], currency: str) -> list[tuple[str, Decimal]]:
    rates = []
    for pair in pairs:
        code, sep, value = pair.partition("=")
        if not sep or len(code) != 3 or not code.isupper():
            raise UsageError(f"--rate {pair!r}: write it as CODE=RATE, e.g. EUR=1.085")
        amount = D(value)
        if amount <= 0:
            raise UsageError(f"--rate {pair!r}: a rate must be positive")
        if code == currency:
            raise UsageError(f"--rate {pair!r}: {code} is the ledger currency")
        rates.append((code, amount))
    return rates


@app.command("import")
@handled
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="The file: events (CSV or JSON Lines), periods, invoice lines or a Stripe export.")],
    format: Annotated[
        FileFormat | None, typer.Option("--format", help="File format (guessed from the contents and extension when not given).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only; write nothing.")] = False,
    recorded_at: Annotated[
        str | None,
        typer.Option("--recorded-at", help="Record the import at this past instant (migrating history)."),
    ] = None,
    end_exclusive: Annotated[
        bool, typer.Option("--end-exclusive", help="periods: end_date is the first day without revenue.")
    ] = False,
    actor: Annotated[str | None, typer.Option(help="Who is appending (default: your login name).")] = None,
    errors: Annotated[str, typer.Option("--errors", help="How to print problems: text or json.")] = "text",
    restate: Annotated[
        str | None,
        typer.Option("--restate", help="Let in rows effective in a locked period, recording this reason on each."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="invoices, stripe: a subscription whose invoices stop on or before this date ended "
                                     "(default: the latest invoice date; it never moves back)."),
    ] = None,
) -> None:
    """Validate every row of a file, then append them all — or nothing."""
    if os.path.isdir(file):
        raise UsageError(f"{file}: is a folder; import its files one at a time")
    if not os.path.isfile(file):
        raise UsageError(f"{file}: no such file")
    from ledger.files import guess_format

    fmt = format.value if format else guess_format(file)
    if fmt is None:
        raise UsageError(f"{file}: cannot tell the format from its name; pass --format csv|jsonl|periods|invoices|stripe")
    if as_of is not None and fmt not in ("invoices", "stripe"):
        raise UsageError(f"--as-of applies to --format invoices and stripe only, not {fmt}")
    from ledger.clock import ClockError

    try:
        as_of_date = parse_date(as_of) if as_of is not None else None
    except ClockError as e:
        raise UsageError(f"--as-of: {e}") from None
    ledger = state(ctx).ledger(actor)
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
        typer.echo(
            f"{file}: appended {result.count} events (sequence {first.sequence}–{last.sequence}, "
            f"recorded {first.recorded_at} – {last.recorded_at})"
            + (f"; {skipped} already recorded" if skipped else "")
        )
    for line in summary:
        typer.echo(line)
    if result.count and not dry_run:
        with progress("updating the read models", total=result.count) as tick:
            state(ctx).read_model.catch_up(on_page=tick)


class EventType(str, Enum):
    subscription_started = "subscription_started"
    subscription_changed = "subscription_changed"
    upsell = "upsell"
    downgrade = "downgrade"
    seat_change = "seat_change"
    price_change = "price_change"
    usage_change = "usage_change"
    cancel = "cancel"
    customer_updated = "customer_updated"
    void = "void"


Opt = typer.Option


@app.command()
@handled
def record(
    ctx: typer.Context,
    type: Annotated[EventType, typer.Argument(help="The event type (SPEC §3).")],
    customer: Annotated[str | None, Opt("--customer", help="customer_id")] = None,
    date_: Annotated[str | None, Opt("--date", help="effective_date, YYYY-MM-DD")] = None,
    subscription: Annotated[str | None, Opt("--subscription", help="subscription_id")] = None,
    plan: Annotated[str | None, Opt(help="plan")] = None,
    quantity: Annotated[str | None, Opt(help="quantity (seats)")] = None,
    unit_price: Annotated[str | None, Opt("--unit-price", help="unit_price per seat per billing period")] = None,
    amount: Annotated[str | None, Opt(help="amount per billing period (flat or usage lines)")] = None,
    billing_months: Annotated[str | None, Opt("--billing-months", help="billing_months")] = None,
    discount: Annotated[str | None, Opt("--discount", help="discount_pct, 0–100")] = None,
    currency: Annotated[str | None, Opt(help="currency")] = None,
    reason: Annotated[str | None, Opt(help="reason (required for a void)")] = None,
    note: Annotated[str | None, Opt(help="note")] = None,
    name: Annotated[str | None, Opt("--name", help="customer_name")] = None,
    segment: Annotated[str | None, Opt(help="segment")] = None,
    channel: Annotated[str | None, Opt(help="channel")] = None,
    region: Annotated[str | None, Opt(help="region")] = None,
    attr: Annotated[list[str] | None, Opt("--attr", help="a custom attribute NAME=VALUE; repeatable")] = None,
    event: Annotated[str | None, Opt("--event", help="target_event_id (for a void)")] = None,
    event_id: Annotated[str | None, Opt("--event-id", help="event_id (derived from the content when not given)")] = None,
    restate: Annotated[str | None, Opt("--restate", help="why an event effective in a locked period is let in")] = None,
    actor: Annotated[str | None, Opt(help="Who is appending (default: your login name).")] = None,
    dry_run: Annotated[bool, Opt("--dry-run", help="Validate only; write nothing.")] = False,
) -> None:
    """Append one event, with the same validation as an import."""
    cells: dict[str, Any] = {
        "type": type.value,
        "customer_id": customer,
        "effective_date": date_,
        "subscription_id": subscription,
        "plan": plan,
        "quantity": quantity,
        "unit_price": unit_price,
        "amount": amount,
        "billing_months": billing_months,
        "discount_pct": discount,
        "currency": currency,
        "reason": reason,
        "note": note,
        "customer_name": name,
        "segment": segment,
        "channel": channel,
        "region": region,
        "target_event_id": event,
        "event_id": event_id,
        "restatement": restate,
    }
    cells = given_cells(cells, attr)
    st = state(ctx)
    result = st.ledger(actor).record(cells, dry_run=dry_run)
    if not result.count:
        typer.echo("nothing new: that event is already recorded")
        return
    recorded = result.events[0]
    if dry_run:
        typer.echo(f"valid: would be {recorded.event_id}; nothing written (dry run)")
        return
    typer.echo(f"recorded {recorded.event_id} as sequence {recorded.sequence} at {recorded.recorded_at}")
    rm = st.read_model
    rm.catch_up()
    if recorded.type == "void":
        # A void moves MRR on its target's day: say what that day's movement was, and is now.
        target = rm.find([recorded.target_event_id or ""]).get(recorded.target_event_id or "")
        day = target.effective_date if target else recorded.effective_date
        was = queries.movement_on(rm, recorded.customer_id, day, recorded.sequence - 1)
        now = queries.movement_on(rm, recorded.customer_id, day, recorded.sequence)
        typer.echo(f"movement on {day}: was {_movement_text(was)}; now {_movement_text(now)}")
        return
    moved = queries.movement_on(rm, recorded.customer_id, recorded.effective_date, recorded.sequence)
    if moved and recorded.event_id in moved["event_ids"]:
        typer.echo(f"movement: {moved['date']} {_movement_text(moved)}")
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


LOG_COLUMNS = [
    Column("sequence", "seq", "count"),
    Column("event_id", "event_id"),
    Column("type", "type"),
    Column("customer_id", "customer"),
    Column("effective_date", "effective"),
    Column("subscription_id", "line"),
    Column("recorded_at", "recorded_at"),
    Column("actor", "actor"),
    Column("source", "source"),
]


@app.command()
@handled
def log(
    ctx: typer.Context,
    customer: Annotated[str | None, Opt("--customer", help="Only this customer's events.")] = None,
    known_at: KnownAt = None,
    format: FormatOption = Format.table,
) -> None:
    """The events, in sequence order."""
    rm = state(ctx).read_model
    k = queries.knowledge(rm, known_at_option(known_at))
    records = queries.log_records(rm, k.sequence, customer=customer)
    if format is Format.json:
        render.emit(render.as_json(records))
    elif format is Format.csv:
        keys = ["sequence", "event_id", "type", "customer_id", "effective_date", "subscription_id", "plan",
                "quantity", "unit_price", "amount", "billing_months", "discount_pct", "currency", "reason",
                "note", "target_event_id", "recorded_at", "actor", "source", "hash"]
        render.emit(render.as_csv(records, keys))
    else:
        title = f"Event log ({len(records):,} events){known_suffix(k)}"
        render.emit(render.table(records, LOG_COLUMNS, title))


@app.command()
@handled
def mrr(
    ctx: typer.Context,
    as_of: Annotated[str | None, Opt("--as-of", help="The day (default: today, UTC).")] = None,
    customer: Annotated[str | None, Opt("--customer", help="One customer, with its lines.")] = None,
    by: Annotated[str | None, Opt("--by", help="Group by segment, channel, region or attr.NAME.")] = None,
    known_at: KnownAt = None,
    format: FormatOption = Format.table,
) -> None:
    """MRR, ARR and active customers on a day."""
    rm = state(ctx).read_model
    day = parse_date(as_of) if as_of else date.today()
    k = queries.knowledge(rm, known_at_option(known_at))
    report = queries.mrr_report(rm, day, k, customer=customer, by=_attribute(by))
    if format is Format.json:
        render.emit(render.as_json(report))
        return
    if format is Format.csv:
        rows = report.get("groups") or report.get("lines") or [report]
        keys = list(rows[0].keys()) if rows else ["group", "mrr", "arr", "customers"]
        render.emit(render.as_csv(rows, keys))
        return
    title = f"MRR on {report['as_of']} ({report['currency']}){known_suffix(k)}"
    summary = [Column("mrr", "MRR", "money"), Column("arr", "ARR", "money"), Column("customers", "customers", "count")]
    out = [render.table([report], summary, title)]
    if "groups" in report:
        out.append(render.table(report["groups"], [Column("group", by or "group"), *summary]))
    if "lines" in report:
        out.append(render.table(report["lines"], [
            Column("subscription_id", "line"), Column("plan", "plan"), Column("quantity", "qty", "count"),
            Column("unit_price", "unit price"), Column("amount", "amount"), Column("billing_months", "months", "count"),
            Column("discount_pct", "discount %"), Column("currency", "cur"), Column("mrr", "MRR", "money"),
        ]))
    render.emit("\n\n".join(out))


def _attribute(by: str | None) -> str | None:
    if by is None:
        return None
    if by in ("segment", "channel", "region", "customer_name") or (by.startswith("attr.") and len(by) > 5):
        return by
    raise UsageError(f"--by {by!r}: group by segment, channel, region or attr.NAME")


MOVEMENT_COLUMNS = [
    Column("date", "date"),
    Column("customer_id", "customer"),
    Column("category", "category"),
    Column("cause", "cause"),
    Column("from_mrr", "from MRR", "money"),
    Column("to_mrr", "to MRR", "money"),
    Column("amount", "amount", "money", render.lowers_mrr),
    Column("event_ids", "events"),
]


@app.command()
@handled
def movements(
    ctx: typer.Context,
    from_: Annotated[str, Opt("--from", help="First day, YYYY-MM-DD.")],
    to: Annotated[str, Opt("--to", help="Last day, YYYY-MM-DD (inclusive).")],
    customer: Annotated[str | None, Opt("--customer", help="Only this customer.")] = None,
    category: Annotated[str | None, Opt("--category", help="new, expansion, contraction, churn or reactivation.")] = None,
    known_at: KnownAt = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
) -> None:
    """Movement rows: one per customer per day its MRR changed."""
    from projections.movements import CATEGORIES

    if category is not None and category not in CATEGORIES:
        raise UsageError(f"--category {category!r}: one of {', '.join(CATEGORIES)}")
    rm = state(ctx).read_model
    k = queries.knowledge(rm, known_at_option(known_at))
    rows = queries.movement_rows(rm, parse_date(from_), parse_date(to), k.sequence, customer=customer, category=category)
    title = f"Movements {from_} – {to} ({rm.settings.currency}){known_suffix(k)}"
    if workbook := xlsx_target(format, out):
        xlsx.write(workbook, [xlsx.Sheet("movements", rows, MOVEMENT_COLUMNS, [title])])
        typer.echo(f"wrote {len(rows)} movements to {workbook}")
    elif format is ExportFormat.json:
        render.emit(render.as_json(rows))
    elif format is ExportFormat.csv:
        render.emit(render.as_csv(rows, [c.key for c in MOVEMENT_COLUMNS]))
    else:
        render.emit(render.table(rows, MOVEMENT_COLUMNS, title))


@app.command()
@handled
def rebuild(ctx: typer.Context) -> None:
    """Throw the read models away and replay them from the log."""
    st = state(ctx)
    path = st.cache or default_path(st.location)
    st.store.settings()  # refuse before deleting anything if there is no ledger
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    with progress("rebuilding the read models", total=st.store.head().sequence) as tick:
        sequence = ReadModel(path, st.store).catch_up(on_page=tick)
    typer.echo(f"rebuilt the read models from {sequence} events")


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


# Commands defined in their own modules register themselves on `app` when imported.
from cli import extra_commands  # noqa: E402,F401
