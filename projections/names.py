"""The names a question may use, checked against what the ledger knows: customers, attributes, a group's values, metrics.

A name the ledger does not know is refused, with the known ones listed,
closest first, instead of answering a typo with an empty group or 0.00.
Everything is as known at the answer's knowledge sequence: a name that was
unknown then is refused, as the ledger would have refused it then.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from difflib import get_close_matches

from ledger.customer import CAUSES, CROSS_SELL, LINE_REMOVED
from ledger.errors import UsageError
from projections.queries import VISIBLE, Knowledge, attribute_on
from projections.readmodel import ReadModel

NAMED_ATTRIBUTES = ("segment", "channel", "region", "customer_name")  # SPEC §3: any ledger may group by these
LISTED = 8  # known values shown in a refusal


def closest(value: str, known: Iterable[str], limit: int = LISTED) -> list[str]:
    """Up to ``limit`` of ``known``, the closest to ``value`` first, then the rest in order."""
    known = sorted(set(known))
    folded: dict[str, list[str]] = {}
    for k in known:
        folded.setdefault(k.casefold(), []).append(k)
    near = [k for f in get_close_matches(value.casefold(), folded, n=limit, cutoff=0.5) for k in folded[f]]
    return (near + [k for k in known if k not in near])[:limit]


def listing(value: str, known: Iterable[str], noun: str) -> str:
    """``acme, acme-eu, … (3,204 customers)``: the known values for a refusal, closest first."""
    known = sorted(set(known))
    if not known:
        return f"there are no {noun} yet"
    shown = closest(value, known)
    more = f", … ({len(known):,} {noun})" if len(known) > len(shown) else ""
    return f"known {noun}, closest first: {', '.join(shown)}{more}"


# -- what the ledger knows ---------------------------------------------------------------------


def has_customer(rm: ReadModel, customer_id: str, known: int) -> bool:
    """Whether any event of ``customer_id`` is known at ``known``."""
    row = rm.db.execute("SELECT 1 FROM events WHERE customer_id = ? AND sequence <= ? LIMIT 1", (customer_id, known))
    return row.fetchone() is not None


def customer_ids(rm: ReadModel, known: int) -> list[str]:
    """Every customer with an event known at ``known``."""
    rows = rm.db.execute("SELECT DISTINCT customer_id FROM events WHERE sequence <= ? AND customer_id != ''", (known,))
    return sorted(r[0] for r in rows)


def has_attribute(rm: ReadModel, name: str, known: int) -> bool:
    """Whether some customer was given attribute ``name`` by an event known at ``known``."""
    row = rm.db.execute(f"SELECT 1 FROM attributes WHERE name = :name AND {VISIBLE} LIMIT 1", {"name": name, "known": known})
    return row.fetchone() is not None


def attribute_names(rm: ReadModel, known: int) -> list[str]:
    """Every attribute some customer was given by an event known at ``known`` (``attr.`` names included)."""
    rows = rm.db.execute(f"SELECT DISTINCT name FROM attributes WHERE {VISIBLE}", {"known": known})
    return sorted(r[0] for r in rows)


def group_values(rm: ReadModel, name: str, day: date, known: int) -> list[str]:
    """The values customers have for attribute ``name`` on ``day``, as known at ``known``."""
    return sorted(set(attribute_on(rm, name, day, known).values()))


# -- refusals ----------------------------------------------------------------------------------


def require_customer(rm: ReadModel, customer_id: str | None, k: Knowledge, option: str = "--customer") -> None:
    """Refuse a customer the ledger has no event of (as known at ``k``)."""
    if customer_id is None or has_customer(rm, customer_id, k.sequence):
        return
    raise UsageError(
        f"{option} {customer_id}: no such customer{as_known(rm, k)}; "
        f"{listing(customer_id, customer_ids(rm, k.sequence), 'customers')}"
    )


def require_attribute(rm: ReadModel, name: str | None, k: Knowledge, option: str = "--by") -> None:
    """Refuse an ``attr.NAME`` no customer was ever given (as known at ``k``); SPEC's own attributes always exist."""
    if name is None or name in NAMED_ATTRIBUTES or has_attribute(rm, name, k.sequence):
        return
    known = attribute_names(rm, k.sequence)
    raise UsageError(
        f"{option} {name}: no customer has that attribute{as_known(rm, k)}; "
        f"{listing(name, set(known) | set(NAMED_ATTRIBUTES), 'attributes')}"
    )


def require_group(rm: ReadModel, name: str, group: str | None, day: date, k: Knowledge) -> None:
    """Refuse a ``--group`` that no customer's ``name`` is on ``day`` (the day groups are taken, SPEC §6)."""
    if group is None:
        return
    values = group_values(rm, name, day, k.sequence)
    if group in values:
        return
    raise UsageError(
        f"--group {group}: no customer's {name} is {group!r} on {day}{as_known(rm, k)}; "
        f"{listing(group, values, f'{name} values')}"
    )


def require_metric(metric: str) -> None:
    """Refuse a metric name `explain` does not know, the known ones closest first (ratios are left to explain)."""
    from projections.explain import (
        COUNT_METRICS, DURABILITY_COUNTS, DURABILITY_MONEY, MONEY_METRICS, PERCENTILE_METRICS, RATIOS,
    )

    causes = [f"causes.expansion.{c}" for c in CAUSES if c != LINE_REMOVED]
    causes += [f"causes.contraction.{c}" for c in CAUSES if c != CROSS_SELL]
    known = [*MONEY_METRICS, *COUNT_METRICS, *causes, *DURABILITY_COUNTS, *DURABILITY_MONEY, *PERCENTILE_METRICS]
    if metric in known or metric in RATIOS:
        return
    raise UsageError(f"cannot explain {metric!r}; {listing(metric, [*known, *RATIOS], 'metrics')}")


def require_choice(option: str, value: str | None, choices: Iterable[str], noun: str) -> None:
    """Refuse a value outside a fixed list (a movement category, a cause), the list closest first."""
    choices = list(choices)
    if value is None or value in choices:
        return
    raise UsageError(f"{option} {value}: not a {noun}; one of, closest first: {', '.join(closest(value, choices, len(choices)))}")


def as_known(rm: ReadModel, k: Knowledge) -> str:
    """`` as known at T`` when the question is asked of an earlier knowledge time than the log's head, else nothing."""
    row = rm.db.execute("SELECT max(sequence) FROM events").fetchone()
    if not row or not row[0] or k.sequence >= row[0]:
        return ""
    return f" as known at {k.recorded_at}" if k.recorded_at else " as known then (before the first event)"
