"""What the read models keep of one customer, derived from its folded timeline under the policy.

One function, used by every path that writes read models (an append in the
writer's own process, a catch-up from the log, a rebuild, verify), so they
cannot disagree:

* movement rows: the day movements (the customer's MRR as recognized, SPEC
  §13) and, under ``movement_grain=month``, the month movements;
* attribute rows: one per attribute set by a ``customer_updated`` in effect;
* contributions: one per month in which the customer has a movement (at the
  policy's grain) or moves between groups while it has MRR: its MRR at the
  end of the month before and of the month, its movements' sums by category
  and cause, and its groups then. Period metrics over whole months are sums
  of contributions (``projections.metrics``).

Each row set is keyed, so an append changes only the rows whose values differ.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, timedelta

from ledger import events as ev
from ledger.customer import CAUSES, Timeline
from ledger.policy import Policy
from projections.movements import CATEGORIES, CHURN, CONTRACTION, EXPANSION, NEW, REACTIVATION, Movement
from projections.periods import month_end
from projections.recognition import day_movements, month_movements, points

DAY, MONTH = 0, 1  # movements.grain
GROUPED = ("segment", "channel", "region")  # the attributes contributions carry, for metrics --by
# A contribution's values, in column order (see Contribution).
CONTRIBUTION_COLUMNS = (
    "cohort", "opening_cents", "closing_cents",
    *(f"{c}_cents" for c in CATEGORIES),
    *(f"expansion_{c}_cents" for c in CAUSES),
    *(f"contraction_{c}_cents" for c in CAUSES),
    "had_new", "had_reactivation", "had_churn", "moved",
    *GROUPED, *(f"{g}_before" for g in GROUPED),
)

MovementKey = tuple[int, str]  # (grain, date)
AttributeKey = tuple[str, int]  # (name, event sequence)


@dataclass(slots=True)
class CustomerRows:
    """A customer's rows, keyed: what the read models hold for it as of one log position and policy."""

    movements: dict[MovementKey, tuple] = field(default_factory=dict)
    attributes: dict[AttributeKey, tuple] = field(default_factory=dict)
    contributions: dict[str, tuple] = field(default_factory=dict)


_encode_text = json.encoder.encode_basestring  # type: ignore[attr-defined]


def movement_values(m: Movement) -> tuple:
    """(category, cause, from_cents, to_cents, amount_cents, event_ids, parts), as stored.

    event_ids and parts are JSON text written directly (as json.dumps writes them, keys sorted).
    """
    parts = ", ".join(f'"{cause}": {cents}' for cause, cents in m.parts)  # parts are sorted by cause
    return (
        m.category,
        m.cause,
        m.from_cents,
        m.to_cents,
        abs(m.to_cents - m.from_cents),
        "[" + ", ".join(map(_encode_text, m.event_ids)) + "]",
        "{" + parts + "}",
    )


def derive(timeline: Timeline, policy: Policy) -> CustomerRows:
    """Every row the read models keep for this customer, under ``policy``."""
    rows = CustomerRows()
    series = points(timeline, policy)
    days = day_movements(timeline, policy, series)
    months = month_movements(timeline, policy, series) if policy.monthly else None
    moves = rows.movements
    for m in days:
        moves[(DAY, m.date.isoformat())] = movement_values(m)
    for m in months or ():
        moves[(MONTH, m.date.isoformat())] = movement_values(m)
    changes: dict[str, list[tuple[date, int, str]]] = {}
    for e in timeline.events:
        if e.type == ev.CUSTOMER_UPDATED:
            for name, value in e.attributes:
                rows.attributes[(name, e.sequence)] = (value, e.effective_date.isoformat())
                if name in GROUPED:
                    changes.setdefault(name, []).append((e.effective_date, e.sequence, value))
    for values in changes.values():
        values.sort()
    rows.contributions = contributions(months if months is not None else days, changes)
    return rows


def _value_on(changes: list[tuple[date, int, str]] | None, day: date) -> str | None:
    """The attribute's value at the end of ``day``: the latest setting effective by then (then the latest recorded)."""
    if not changes:
        return None
    i = bisect_right(changes, (day, 2**63, ""))
    return changes[i - 1][2] if i else None


_CATEGORY_AT = {c: 3 + i for i, c in enumerate(CATEGORIES)}
_CAUSE_AT = {
    **{(EXPANSION, c): 3 + len(CATEGORIES) + i for i, c in enumerate(CAUSES)},
    **{(CONTRACTION, c): 3 + len(CATEGORIES) + len(CAUSES) + i for i, c in enumerate(CAUSES)},
}
_FLAGS_AT = 3 + len(CATEGORIES) + 2 * len(CAUSES)  # had_new, had_reactivation, had_churn, moved
_FLAG_OF = {NEW: _FLAGS_AT, REACTIVATION: _FLAGS_AT + 1, CHURN: _FLAGS_AT + 2}
_WIDTH = _FLAGS_AT + 4


def contributions(moves: list[Movement], changes: dict[str, list[tuple[date, int, str]]]) -> dict[str, tuple]:
    """The customer's contribution to each month's figures (see the module docstring), keyed by ``YYYY-MM``.

    MRR changes only on a movement's day, so a month's opening MRR is its first movement's from,
    its closing the last one's to; a month without movements keeps the MRR of the last one before.
    """
    if not moves and not changes:
        return {}
    cohort = next((m.date.isoformat()[:7] for m in moves if m.category == NEW), None)
    by_month: dict[str, list[Movement]] = {}
    for m in moves:
        by_month.setdefault(m.date.isoformat()[:7], []).append(m)
    months = set(by_month)
    for values in changes.values():
        months.update(d.isoformat()[:7] for d, _, _ in values)
    result: dict[str, tuple] = {}
    mrr = 0  # the MRR at the end of the month before the one being looked at
    for month in sorted(months):
        moved = by_month.get(month)
        o = mrr
        c = moved[-1].to_cents if moved else o
        mrr = c
        first = date.fromisoformat(month + "-01")
        if changes:
            last = month_end(first)
            before = first - timedelta(days=1)
            groups = tuple(_value_on(changes.get(g), last) for g in GROUPED)
            groups_before = tuple(_value_on(changes.get(g), before) for g in GROUPED)
        else:
            groups = groups_before = (None, None, None)
        if not moved and (o == 0 or groups == groups_before):
            continue  # nothing moved, and no MRR changed group
        values: list = [0] * _WIDTH
        values[0], values[1], values[2] = cohort, o, c
        for m in moved or ():
            amount = abs(m.to_cents - m.from_cents)
            values[_CATEGORY_AT[m.category]] += amount
            at = _CAUSE_AT.get((m.category, m.cause))
            if at is not None:
                values[at] += amount
            flag = _FLAG_OF.get(m.category)
            if flag is not None:
                values[flag] = 1
        values[_FLAGS_AT + 3] = int(bool(moved))
        result[month] = (*values, *groups, *groups_before)
    return result
