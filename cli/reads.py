"""Point-in-time reads: `log` (the events), `mrr` (MRR on a day) and `movements` (SPEC §3, §4, §5, §11)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from cli import xlsx
from cli.context import state
from cli.options import PolicyOption, By, Customer, ExportFormat, ExportFormatOption, Format, FormatOption, From, KnownAt, Opt, OutOption, To, attribute
from cli.output import deliver
from cli.render import Column, known_suffix, lowers_mrr, table
from ledger.clock import parse_date
from ledger.errors import UsageError
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
LOG_CSV_KEYS = ["sequence", "event_id", "type", "customer_id", "effective_date", "subscription_id", "plan",
                "quantity", "unit_price", "amount", "billing_months", "discount_pct", "currency", "reason",
                "note", "target_event_id", "recorded_at", "actor", "source", "hash"]


def log(
    ctx: typer.Context,
    customer: Annotated[str | None, Opt("--customer", help="Only this customer's events.")] = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: FormatOption = Format.table,
    out: OutOption = None,
) -> None:
    """The events, in sequence order."""
    rm, k = state(ctx).reading(known_at, policy)
    names.require_customer(rm, customer, k)
    records = queries.log_records(rm, k.sequence, customer=customer)
    deliver(
        format.value,
        out,
        json=lambda: records,
        csv=lambda: (records, LOG_CSV_KEYS),
        table=lambda: table(records, LOG_COLUMNS, f"Event log ({len(records):,} events){known_suffix(k)}"),
    )


MRR_COLUMNS = [Column("mrr", "MRR", "money"), Column("arr", "ARR", "money"), Column("customers", "customers", "count")]
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
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: FormatOption = Format.table,
    out: OutOption = None,
) -> None:
    """MRR, ARR and active customers on a day."""
    if customer is not None and by is not None:
        raise UsageError("--by and --customer do not go together: --by groups every customer, --customer shows one's lines")
    day = parse_date(as_of) if as_of else date.today()
    group = attribute(by)
    rm, k = state(ctx).reading(known_at, policy)
    names.require_customer(rm, customer, k)
    names.require_attribute(rm, group, k)
    report = queries.mrr_report(rm, day, k, customer=customer, by=group)

    def csv():
        rows = report.get("groups") or report.get("lines") or [report]
        return rows, (list(rows[0].keys()) if rows else ["group", "mrr", "arr", "customers"])

    def text() -> str:
        out = [table([report], MRR_COLUMNS, f"MRR on {report['as_of']} ({report['currency']}){known_suffix(k)}")]
        if "groups" in report:
            out.append(table(report["groups"], [Column("group", by or "group"), *MRR_COLUMNS]))
        if "lines" in report:
            out.append(table(report["lines"], LINE_COLUMNS))
        return "\n\n".join(out)

    deliver(format.value, out, json=lambda: report, csv=csv, table=text)


MOVEMENT_COLUMNS = [
    Column("date", "date"),
    Column("customer_id", "customer"),
    Column("category", "category"),
    Column("cause", "cause"),
    Column("from_mrr", "from MRR", "money"),
    Column("to_mrr", "to MRR", "money"),
    Column("amount", "amount", "money", lowers_mrr),
    Column("event_ids", "events"),
]


def movements(
    ctx: typer.Context,
    from_: From,
    to: To,
    customer: Customer = None,
    category: Annotated[str | None, Opt("--category", help="new, expansion, contraction, churn or reactivation.")] = None,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: ExportFormatOption = ExportFormat.table,
    out: OutOption = None,
) -> None:
    """Movement rows: one per customer per day its MRR changed."""
    names.require_choice("--category", category, CATEGORIES, "movement category")
    rm, k = state(ctx).reading(known_at, policy)
    names.require_customer(rm, customer, k)
    report = queries.movements_report(rm, parse_date(from_), parse_date(to), k, customer=customer, category=category)
    rows = report["movements"]
    title = f"Movements {from_} – {to} ({rm.settings.currency}){known_suffix(k)}"
    deliver(
        format.value,
        out,
        json=lambda: report,
        csv=lambda: (rows, [c.key for c in MOVEMENT_COLUMNS]),
        table=lambda: table(rows, MOVEMENT_COLUMNS, title),
        xlsx=lambda: [xlsx.Sheet("movements", rows, MOVEMENT_COLUMNS, [title])],
        what=f"{len(rows)} movements",
    )
