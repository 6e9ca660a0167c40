"""Point-in-time reads (SPEC §4, §5, §11): MRR on a date and movements in a range, as known at a sequence.

Every query takes ``known`` — the last sequence the answer may use — so
"as now known" and "as known at T" are the same query.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ledger import events as ev
from ledger.clock import instant_text
from ledger.customer import fold
from ledger.events import Event, event_from_record
from ledger.money import from_cents, money_text
from ledger.policy import DEFAULT, Policy
from projections import summaries
from projections.derive import DAY, MONTH
from projections.readmodel import ReadModel
from projections.recognition import recognized_lines

VISIBLE = "known_from <= :known AND known_to > :known"


@dataclass(frozen=True, slots=True)
class Knowledge:
    """What an answer is computed from: the log up to ``sequence``, last recorded at ``recorded_at``, under ``policy``.

    ``recorded_at`` (None for an empty log) is what reports print as ``known_at``:
    the same whether the answer was asked for right then or later with ``--known-at``.
    ``policy`` is the recognition policy in force then (SPEC §13), or the one
    previewed with ``--policy`` (``preview``: nothing recorded uses it).
    """

    sequence: int
    recorded_at: str | None
    policy: Policy = DEFAULT
    preview: bool = False


def knowledge(rm: ReadModel, known_at: datetime | None) -> Knowledge:
    """What was known at ``known_at`` (everything when None): whole appends only (SPEC §2), and the policy then."""
    if known_at is None:
        row = rm.db.execute("SELECT sequence, recorded_at FROM events ORDER BY sequence DESC LIMIT 1").fetchone()
    else:
        # An append counts only once its last event is known: the latest append end recorded by then.
        row = rm.db.execute(
            "SELECT sequence, recorded_at FROM events WHERE append_last = sequence AND recorded_at <= ? "
            "ORDER BY recorded_at DESC LIMIT 1",
            (instant_text(known_at),),
        ).fetchone()
    if not row:
        return Knowledge(0, None)
    return Knowledge(row[0], row[1], policy_at(rm, row[0]))


def policy_at(rm: ReadModel, sequence: int) -> Policy:
    """The policy in force once the log up to ``sequence`` is known: the latest ``policy_changed`` by then."""
    row = rm.db.execute(
        "SELECT record FROM events WHERE customer_id = '' AND type = ? AND sequence <= ? ORDER BY sequence DESC LIMIT 1",
        (ev.POLICY_CHANGED, sequence),
    ).fetchone()
    return Policy.from_text(event_from_record(json.loads(row[0])).details or "{}") if row else DEFAULT


def report_header(rm: ReadModel, known: Knowledge) -> dict[str, Any]:
    """What every JSON report opens with: its currency, what it knew, and the policy it was computed under."""
    header: dict[str, Any] = {"currency": rm.settings.currency, "known_at": known.recorded_at, "policy": known.policy.as_json()}
    if known.preview:
        header["preview"] = True
    return header


def customer_mrr_cents(rm: ReadModel, as_of: date, known: int, customer_id: str | None = None) -> dict[str, int]:
    """Each customer's MRR (integer cents) at the end of ``as_of``, as recognized: its last day movement's to_mrr."""
    sql = (
        "SELECT customer_id, max(date), to_cents FROM movements "
        f"WHERE grain = 0 AND {VISIBLE} AND date <= :day" + (" AND customer_id = :customer" if customer_id else "")
        + " GROUP BY customer_id"
    )
    rows = rm.db.execute(sql, {"known": known, "day": as_of.isoformat(), "customer": customer_id})
    return {customer: cents for customer, _, cents in rows}


def mrr_total_cents(rm: ReadModel, as_of: date, known: int) -> tuple[int, int]:
    """(Σ MRR in cents, active customers) at the end of ``as_of``, without visiting every customer.

    The month summaries give the end of the month before ``as_of``'s (the sum of
    every earlier month's net and of its customers gained minus lost); the day
    movements of ``as_of``'s own month up to that day give the rest.
    """
    month = as_of.isoformat()[:7]
    total, active = summaries.closing_before(rm.db, "", month, known)
    # A customer's day movements chain (each starts from the MRR the one before it left), so the
    # sums over its movements telescope to its last to_cents minus its first from_cents: no grouping.
    net, gained = rm.db.execute(
        "SELECT coalesce(sum(to_cents - from_cents), 0), coalesce(sum((to_cents > 0) - (from_cents > 0)), 0) "
        f"FROM movements WHERE grain = 0 AND date >= :first AND date <= :day AND {VISIBLE}",
        {"known": known, "first": as_of.replace(day=1).isoformat(), "day": as_of.isoformat()},
    ).fetchone()
    total += net
    active += gained
    return total, active


def attribute_on(rm: ReadModel, name: str, day: date, known: int) -> dict[str, str]:
    """Each customer's value of attribute ``name`` on ``day`` (latest effective, then latest recorded)."""
    rows = rm.db.execute(
        "SELECT customer_id, value FROM attributes "
        f"WHERE name = :name AND {VISIBLE} AND effective_date <= :day "
        "ORDER BY customer_id, effective_date, event_sequence",
        {"name": name, "known": known, "day": day.isoformat()},
    )
    return dict(rows.fetchall())


def customer_events(rm: ReadModel, customer_id: str, known: int) -> list[Event]:
    rows = rm.db.execute(
        "SELECT record FROM events WHERE customer_id = ? AND sequence <= ? AND type != ? ORDER BY sequence",
        (customer_id, known, ev.PERIOD_CLOSED),
    )
    return [event_from_record(json.loads(r[0])) for r in rows]


def mrr_report(
    rm: ReadModel,
    as_of: date,
    k: Knowledge,
    *,
    customer: str | None = None,
    by: str | None = None,
    top: int | None = None,
) -> dict[str, Any]:
    """MRR, ARR and active customers on ``as_of`` (SPEC §11 `mrr --format json`).

    ``top``: the N customers with the largest MRR on the day, ties by customer id (SPEC §16 ``customers_top``).
    """
    if customer is None and by is None and top is None:
        per_customer: dict[str, int] = {}
        total, active = mrr_total_cents(rm, as_of, k.sequence)
    else:
        per_customer = customer_mrr_cents(rm, as_of, k.sequence, customer)
        total, active = sum(per_customer.values()), sum(1 for cents in per_customer.values() if cents > 0)
    header = report_header(rm, k)
    report: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "known_at": header.pop("known_at"),
        **header,
        "mrr": money_text(from_cents(total)),
        "arr": money_text(from_cents(12 * total)),
        "customers": active,
    }
    if by:
        values = attribute_on(rm, by, as_of, k.sequence)
        groups: dict[str | None, list[int]] = {}
        for customer_id, cents in per_customer.items():
            if cents > 0:
                groups.setdefault(values.get(customer_id), []).append(cents)
        report["groups"] = [
            {
                "group": group,
                "mrr": money_text(from_cents(sum(members))),
                "arr": money_text(from_cents(12 * sum(members))),
                "customers": len(members),
            }
            for group, members in sorted(groups.items(), key=lambda item: (item[0] is None, item[0] or ""))
        ]
    if customer:
        timeline = fold(customer, customer_events(rm, customer, k.sequence), rm.settings)
        report["lines"] = [
            {
                "subscription_id": line.subscription_id,
                "plan": line.plan,
                "quantity": line.quantity,
                "unit_price": _text(line.unit_price),
                "amount": _text(line.amount),
                "billing_months": line.billing_months,
                "discount_pct": _text(line.discount_pct),
                "currency": line.currency,
                "mrr": money_text(line.mrr),
            }
            for line in recognized_lines(timeline, k.policy, as_of)
            if line.open
        ]
    if top is not None:
        ranked = sorted(((c, cents) for c, cents in per_customer.items() if cents > 0), key=lambda item: (-item[1], item[0]))
        report["customers_top"] = [{"customer_id": c, "mrr": money_text(from_cents(cents))} for c, cents in ranked[:top]]
    return report


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


MOVEMENT_SORTS = ("date", "amount", "customer")


def movement_rows(
    rm: ReadModel,
    start: date,
    end: date,
    known: int,
    *,
    customer: str | None = None,
    category: str | None = None,
    grain: int = DAY,
    where: Sequence[tuple[str, str]] = (),
    cause: str | None = None,
    min_amount: Decimal | None = None,
    sort: str = "date",
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Movements dated within [start, end] as known at ``known``, ordered by date, customer (SPEC §11).

    ``grain``: the day movements (the MRR as recognized), or the month movements under ``movement_grain=month``.
    The filters of SPEC §16: ``where`` (attribute, value) pairs, each attribute
    taken as of the movement's date as known at ``known`` (several values of
    one attribute: any of them; different attributes: all of them); ``cause``;
    ``min_amount`` (amount at least that); ``sort`` by date, amount (largest
    first) or customer, ties by date then customer; then the first ``limit``.
    """
    sql = (
        "SELECT customer_id, date, category, cause, from_cents, to_cents, amount_cents, event_ids FROM movements "
        f"WHERE grain = :grain AND {VISIBLE} AND date BETWEEN :start AND :end"
        + (" AND customer_id = :customer" if customer else "")
        + (" AND category = :category" if category else "")
        + (" AND cause = :cause" if cause else "")
        + " ORDER BY date, customer_id"
    )
    params = {
        "known": known, "start": start.isoformat(), "end": end.isoformat(),
        "customer": customer, "category": category, "cause": cause, "grain": grain,
    }
    found = rm.db.execute(sql, params).fetchall()
    if min_amount is not None:
        floor = min_amount * 100
        found = [row for row in found if row[6] >= floor]
    wanted: dict[str, set[str]] = {}
    for name, value in where:
        wanted.setdefault(name, set()).add(value)
    for name, values in wanted.items():
        value_on = _attribute_history(rm, name, end, known)
        found = [row for row in found if value_on(row[0], row[1]) in values]
    if sort == "amount":
        found.sort(key=lambda row: (-row[6], row[1], row[0]))
    elif sort == "customer":
        found.sort(key=lambda row: (row[0], row[1]))
    if limit is not None:
        found = found[:limit]
    return [
        {
            "customer_id": row[0],
            "date": row[1],
            "category": row[2],
            "cause": row[3],
            "from_mrr": money_text(from_cents(row[4])),
            "to_mrr": money_text(from_cents(row[5])),
            "amount": money_text(from_cents(row[6])),
            "event_ids": json.loads(row[7]),
        }
        for row in found
    ]


def _attribute_history(rm: ReadModel, name: str, end: date, known: int) -> Callable[[str, str], str | None]:
    """value_on(customer, day): the customer's attribute ``name`` on ``day`` (ISO text) as known, as ``attribute_on`` reads it."""
    rows = rm.db.execute(
        "SELECT customer_id, effective_date, value FROM attributes "
        f"WHERE name = :name AND {VISIBLE} AND effective_date <= :end "
        "ORDER BY customer_id, effective_date, event_sequence",
        {"name": name, "known": known, "end": end.isoformat()},
    )
    history: dict[str, tuple[list[str], list[str]]] = {}
    for customer_id, day, value in rows:
        days, values = history.setdefault(customer_id, ([], []))
        if days and days[-1] == day:  # the latest recorded setting of a day is the day's
            values[-1] = value
        else:
            days.append(day)
            values.append(value)

    def value_on(customer_id: str, day: str) -> str | None:
        days, values = history.get(customer_id, ((), ()))
        i = bisect_right(days, day)
        return values[i - 1] if i else None

    return value_on


def log_records(rm: ReadModel, known: int, *, customer: str | None = None) -> list[dict[str, Any]]:
    """The events as recorded, in sequence order, with every field (SPEC §3)."""
    sql = "SELECT record FROM events WHERE sequence <= ?" + (" AND customer_id = ?" if customer else "") + " ORDER BY sequence"
    params: tuple = (known, customer) if customer else (known,)
    return [json.loads(r[0]) for r in rm.db.execute(sql, params)]


def movements_report(
    rm: ReadModel,
    start: date,
    end: date,
    known: Knowledge,
    *,
    customer: str | None = None,
    category: str | None = None,
    **filters: Any,
) -> dict[str, Any]:
    """SPEC §11 `movements --format json`: the movement rows under ``"movements"`` (``filters``: see ``movement_rows``)."""
    rows = movement_rows(rm, start, end, known.sequence, customer=customer, category=category, grain=grain_of(known),
                         **filters)
    return {**report_header(rm, known), "movements": rows}


def grain_of(known: Knowledge) -> int:
    """Which movement rows answer for a knowledge: the month movements under ``movement_grain=month``."""
    return MONTH if known.policy.monthly else DAY


def movement_on(rm: ReadModel, customer_id: str, day: date, known: int) -> dict[str, Any] | None:
    rows = movement_rows(rm, day, day, known, customer=customer_id)
    return rows[0] if rows else None


def recorded_movement(rm: ReadModel, event: Event) -> dict[str, Any]:
    """What an event just recorded did: the movement of its customer on the day it moved, before and after it.

    A void moves MRR on its target's day; any other event on its own
    effective day (``after`` is None when that day has no movement listing it).
    """
    day = event.effective_date
    if event.type == ev.VOID:
        target = rm.find([event.target_event_id or ""]).get(event.target_event_id or "")
        day = target.effective_date if target else day
        before = movement_on(rm, event.customer_id, day, event.sequence - 1)
        return {"date": day.isoformat(), "before": before, "after": movement_on(rm, event.customer_id, day, event.sequence)}
    after = movement_on(rm, event.customer_id, day, event.sequence)
    if after is not None and event.event_id not in after["event_ids"]:
        after = None
    return {"date": day.isoformat(), "before": None, "after": after}
