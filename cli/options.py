"""Options shared by the commands, declared once (as sqlite-utils' cli.py does).

A command declares a shared option by its annotation (``from_: From``); the
event fields of `record` and `amend` are added to both by ``event_fields``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

import typer

Opt = typer.Option


class Format(str, Enum):
    """What every read prints: an aligned table, JSON or CSV."""

    table = "table"
    json = "json"
    csv = "csv"


class ExportFormat(str, Enum):
    """Formats of the reads whose tables also go to a spreadsheet."""

    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


class Period(str, Enum):
    """Reporting periods (SPEC §6)."""

    month = "month"
    quarter = "quarter"
    year = "year"


DbOption = Annotated[
    str,
    Opt("--db", envvar="REVLEDGER_DB", help="Ledger location: a SQLite file path or a postgresql:// URL."),
]
CacheOption = Annotated[str | None, Opt("--cache", help="Where the read models live (default: beside a SQLite ledger).")]
KnownAt = Annotated[
    str | None,
    Opt(
        "--known-at",
        help="Answer as the ledger would have at this instant (ISO-8601; a bare date means its end, UTC; `now`).",
    ),
]
PolicyOption = Annotated[
    list[str] | None,
    Opt(
        "--policy",
        help="Preview the answer under this recognition policy setting, KEY=VALUE (repeatable); nothing is recorded.",
    ),
]
FormatOption = Annotated[Format, Opt("--format", help="Output format.")]
ExportFormatOption = Annotated[ExportFormat, Opt("--format", help="Output format (xlsx needs --out).")]
OutOption = Annotated[str | None, Opt("--out", help="Write to this file instead of stdout (required for xlsx).")]
From = Annotated[str, Opt("--from", help="First day, YYYY-MM-DD.")]
To = Annotated[str, Opt("--to", help="Last day, YYYY-MM-DD (inclusive).")]
PeriodOption = Annotated[Period, Opt("--period", help="Period size; the first and last are clipped to the range.")]
By = Annotated[str | None, Opt("--by", help="Group by segment, channel, region or attr.NAME.")]
Customer = Annotated[str | None, Opt("--customer", help="Only this customer.")]
Actor = Annotated[str | None, Opt(help="Who is appending (default: your login name).")]
DryRun = Annotated[bool, Opt("--dry-run", help="Validate only; write nothing.")]


# -- the event fields of `record` and `amend` ------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventField:
    """A command-line option that gives one event field (SPEC §3)."""

    param: str
    flag: str
    field: str
    help: str
    repeatable: bool = False


EVENT_FIELDS = (
    EventField("subscription", "--subscription", "subscription_id", "subscription_id"),
    EventField("plan", "--plan", "plan", "plan"),
    EventField("quantity", "--quantity", "quantity", "quantity (seats)"),
    EventField("unit_price", "--unit-price", "unit_price", "unit_price per seat per billing period"),
    EventField("amount", "--amount", "amount", "amount per billing period (flat or usage lines)"),
    EventField("billing_months", "--billing-months", "billing_months", "billing_months"),
    EventField("discount", "--discount", "discount_pct", "discount_pct, 0–100"),
    EventField("currency", "--currency", "currency", "currency"),
    EventField("cause", "--cause", "cause", "the cause stated for a change: plan, seats, price or usage"),
    EventField("note", "--note", "note", "note"),
    EventField("name", "--name", "customer_name", "customer_name"),
    EventField("segment", "--segment", "segment", "segment"),
    EventField("channel", "--channel", "channel", "channel"),
    EventField("region", "--region", "region", "region"),
    EventField("attr", "--attr", "attr.", "a custom attribute NAME=VALUE; repeatable", repeatable=True),
)


def event_fields(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command`` one option per event field; it receives them as ``**fields`` (see ``cells``)."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    added = [
        inspect.Parameter(
            f.param,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[list[str] | None if f.repeatable else str | None, Opt(f.flag, help=f.help)],
        )
        for f in EVENT_FIELDS
    ]
    parameters = [*own, *added]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return command(*args, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


def cells(fields: dict[str, Any], **named: Any) -> dict[str, Any]:
    """The event fields given on the command line, by their SPEC names; ``named`` adds the command's own.

    Options not given are left out, so the event keeps (or is validated without) them.
    """
    from ledger.errors import UsageError

    result: dict[str, Any] = dict(named)
    for f in EVENT_FIELDS:
        value = fields.get(f.param)
        if f.repeatable:
            for pair in value or []:
                key, sep, text = pair.partition("=")
                if not sep:
                    raise UsageError(f"{f.flag} {pair!r}: write it as NAME=VALUE")
                result[f"{f.field}{key}"] = text
        else:
            result[f.field] = value
    return {k: v for k, v in result.items() if v is not None and v != ""}


def option_of(field: str) -> str | None:
    """The command-line option that gives an event field (``customer_id`` → ``--customer``), for messages."""
    for f in EVENT_FIELDS:
        if f.field == field or (f.repeatable and field.startswith(f.field)):
            return f.flag
    return {"customer_id": "--customer", "effective_date": "--date", "target_event_id": "--event",
            "event_id": "--event-id", "restatement": "--restate", "type": "TYPE"}.get(field)


# -- reading option values ---------------------------------------------------------------------


def instant(text: str | None):
    """``--known-at``: None (everything recorded so far), ``now`` (the current time), or an ISO-8601 instant."""
    from ledger.clock import parse_instant, utc_now

    if text is None:
        return None
    if text.strip().lower() == "now":
        return utc_now()
    return parse_instant(text)


NAMED_GROUPS = ("segment", "channel", "region", "customer_name")


def attribute(by: str | None, option: str = "--by") -> str | None:
    """A customer attribute to group by: segment, channel, region, customer_name or attr.NAME."""
    from ledger.errors import UsageError

    if by is None:
        return None
    if by in NAMED_GROUPS or (by.startswith("attr.") and len(by) > 5):
        return by
    raise UsageError(f"{option} {by!r}: group by segment, channel, region or attr.NAME")
