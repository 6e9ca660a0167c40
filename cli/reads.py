"""Point-in-time reads: `log` (the events), `mrr` (MRR on a day) and `movements` (SPEC §3, §4, §5, §11)."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated, Any

import typer

from cli import xlsx
from cli.context import state
from cli.options import (
    NAMED_GROUPS, By, Customer, ExportFormat, ExportFormatOption, From, KnownAt, Opt, OutOption, PolicyOption, To, attribute,
)
from cli.output import about, deliver
from cli.render import Column, known_suffix, table, with_net_change
from ledger import events as ev
from ledger.clock import parse_date
from ledger.customer import CAUSES
from ledger.errors import UsageError
from ledger.money import D, MoneyError
from projections import names, queries
from projections.movements import CATEGORIES

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


def log_keys(records: list[dict]) -> list[str]:
    """Every field the JSON log carries, as CSV columns: the event's own fields in the order files list them
    (so the file imports back as it is), the customer attributes, then what the ledger assigned."""
    custom = sorted({k for r in records for k in r if k.startswith(ev.ATTR_PREFIX)})
    details = ["details"] if any("details" in r for r in records) else []
    return [*ev.CONTENT_FIELDS, *ev.NAMED_ATTRIBUTES, *custom, *details, *ev.RECORD_FIELDS]


def log(
    ctx: typer.Context,
    customer: Annotated[str | None, Opt("--customer", help="Only this customer's events.")] = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
) -> None:
    """The events, in sequence order."""
    rm, k = state(ctx).reading(known_at, policy)
    names.require_customer(rm, customer, k)
    records = queries.log_records(rm, k.sequence, customer=customer)
    title = f"Event log ({len(records):,} events){known_suffix(k)}"
    deliver(
        format.value,
        out,
        json=lambda: records,
        csv=lambda: (records, log_keys(records)),
        table=lambda: table(records, LOG_COLUMNS, title),
        xlsx=lambda: xlsx.log_sheets(records, log_keys(records), title),
        about=lambda: about(ctx, k, customer=customer),
        what=f"{len(records)} events",
    )


MRR_COLUMNS = [Column("mrr", "MRR", "money"), Column("arr", "ARR", "money"), Column("customers", "customers", "count")]
TOP_COLUMNS = [Column("customer_id", "customer"), Column("mrr", "MRR", "money")]
LINE_COLUMNS = [
    Column("subscription_id", "line"), Column("plan", "plan"), Column("quantity", "qty", "count"),
    Column("unit_price", "unit price"), Column("amount", "amount"), Column("billing_months", "months", "count"),
    Column("discount_pct", "discount %"), Column("currency", "cur"), Column("mrr", "MRR", "money"),
]


def mrr(
    ctx: typer.Context,
    as_of: Annotated[str | None, Opt("--as-of", help="The day (default: today, UTC).")] = None,
    customer: Annotated[str | None, Opt("--customer", help="One customer, with its lines.")] = None,
    by: By = None,
    top: Annotated[int | None, Opt("--top", help="Also list the N customers with the largest MRR on the day.")] = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
) -> None:
    """MRR, ARR and active customers on a day."""
    if customer is not None and by is not None:
        raise UsageError("--by and --customer do not go together: --by groups every customer, --customer shows one's lines")
    if customer is not None and top is not None:
        raise UsageError("--top and --customer do not go together: --top ranks every customer, --customer shows one's lines")
    day = parse_date(as_of) if as_of else date.today()
    if top is not None and top < 0:
        raise UsageError(f"--top {top}: a number of customers, 0 or more")
    group = attribute(by)
    rm, k = state(ctx).reading(known_at, policy)
    names.require_customer(rm, customer, k)
    names.require_attribute(rm, group, k)
    report = queries.mrr_report(rm, day, k, customer=customer, by=group, top=top)

    def csv():
        if "customers_top" in report:
            return report["customers_top"], ["customer_id", "mrr"]
        rows = report.get("groups") or report.get("lines") or [report]
        keys = [k for k in rows[0] if k not in ("policy", "preview")] if rows else ["group", "mrr", "arr", "customers"]
        return rows, keys

    def text() -> str:
        out = [table([report], MRR_COLUMNS, f"MRR on {report['as_of']} ({report['currency']}){known_suffix(k)}")]
        if "groups" in report:
            out.append(table(report["groups"], [Column("group", by or "group"), *MRR_COLUMNS]))
        if "lines" in report:
            out.append(table(report["lines"], LINE_COLUMNS))
        if "customers_top" in report:
            out.append(table(report["customers_top"], TOP_COLUMNS, f"Top {top} customers by MRR"))
        return "\n\n".join(out)

    deliver(format.value, out, json=lambda: report, csv=csv, table=text, xlsx=lambda: xlsx.mrr_sheets(report, by),
            about=lambda: about(ctx, k, as_of=report["as_of"], currency=report["currency"]))


MOVEMENT_COLUMNS = [
    Column("date", "date"),
    Column("customer_id", "customer"),
    Column("category", "category"),
    Column("cause", "cause"),
    Column("from_mrr", "from MRR", "money"),
    Column("to_mrr", "to MRR", "money"),
    Column("amount", "amount", "money"),
    Column("net_change", "net change", "change"),
    Column("event_ids", "events"),
]


class Sort(str, Enum):
    """How `movements` lists its rows (SPEC §16): by date (the default), amount (largest first) or customer."""

    date = "date"
    amount = "amount"
    customer = "customer"


def movements(
    ctx: typer.Context,
    from_: From,
    to: To,
    customer: Customer = None,
    category: Annotated[str | None, Opt("--category", help="new, expansion, contraction, churn or reactivation.")] = None,
    where: Annotated[
        list[str] | None,
        Opt("--where", help="Only movements whose customer has ATTR=VALUE (segment, channel, region or attr.NAME) on "
            "the movement's date, as known; one attribute given twice: either value."),
    ] = None,
    cause: Annotated[str | None, Opt("--cause", help=f"Only movements of this cause: {', '.join(CAUSES)}.")] = None,
    min_amount: Annotated[str | None, Opt("--min-amount", help="Only movements of at least this amount.")] = None,
    sort: Annotated[Sort, Opt("--sort", help="date, amount (largest first) or customer; ties by date, then customer.")] = Sort.date,
    limit: Annotated[int | None, Opt("--limit", help="Only the first N rows, after sorting.")] = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
) -> None:
    """Movement rows: one per customer per day its MRR changed."""
    names.require_choice("--category", category, CATEGORIES, "movement category")
    filters = movement_filters(where, cause, min_amount, sort.value, limit)
    rm, k = state(ctx).reading(known_at, policy)
    names.require_customer(rm, customer, k)
    report = queries.movements_report(
        rm, parse_date(from_), parse_date(to), k, customer=customer, category=category, **filters
    )
    rows = report["movements"] = [with_net_change(m) for m in report["movements"]]
    title = f"Movements {from_} – {to} ({rm.settings.currency}){known_suffix(k)}"
    deliver(
        format.value,
        out,
        json=lambda: report,
        csv=lambda: (rows, [c.key for c in MOVEMENT_COLUMNS]),
        table=lambda: table(rows, MOVEMENT_COLUMNS, title),
        xlsx=lambda: xlsx.movements_sheets(rows, title),
        about=lambda: about(ctx, k, range=f"{from_} – {to}", currency=rm.settings.currency),
        what=f"{len(rows)} movements",
    )


def movement_filters(
    where: list[str] | None, cause: str | None, min_amount: str | None, sort: str, limit: int | None
) -> dict[str, Any]:
    """The filters of `movements` (SPEC §16) as ``queries.movement_rows`` takes them; a bad one refused in one line."""
    pairs = []
    for text in where or []:
        name, sep, value = text.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"--where {text!r}: write it as ATTR=VALUE, e.g. segment=Enterprise")
        name = name.strip()
        if name not in NAMED_GROUPS and not (name.startswith("attr.") and len(name) > 5):
            raise UsageError(f"--where {text!r}: {name!r} is not an attribute (segment, channel, region or attr.NAME)")
        pairs.append((name, value.strip()))
    if cause is not None and cause not in CAUSES:
        raise UsageError(f"--cause {cause!r}: one of {', '.join(CAUSES)}")
    amount = None
    if min_amount is not None:
        try:
            amount = D(min_amount)
        except MoneyError as e:
            raise UsageError(f"--min-amount {min_amount!r}: {e}") from None
        if amount < 0:
            raise UsageError(f"--min-amount {min_amount}: an amount, 0 or more (movement amounts are magnitudes)")
    if limit is not None and limit < 0:
        raise UsageError(f"--limit {limit}: a number of rows, 0 or more")
    return {"where": pairs, "cause": cause, "min_amount": amount, "sort": sort, "limit": limit}
