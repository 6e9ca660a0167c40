"""The audit trail of a figure (SPEC §8): the customers, movements and events that make it up.

The figure itself comes from the metrics (``metrics.report_for`` over the range
as one period); the items are gathered separately, customer by customer, and
must add up to it exactly, or the answer is an error rather than a wrong trail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.errors import UsageError
from ledger.money import cents_text
from projections.durability import WITHIN_DAYS, Grain, Signals, signals
from projections.metrics import Figures, ReconciliationError, figures_json, report_for
from projections.movements import CHURN, CONTRACTION, EXPANSION, NEW, REACTIVATION
from projections.periods import require_whole_months
from projections.queries import VISIBLE, Knowledge, attribute_on, grain_of, report_header
from projections.readmodel import ReadModel

MONEY_METRICS = (
    "opening_mrr",
    "closing_mrr",
    "arr",
    *(f"bridge.{c}" for c in (NEW, EXPANSION, CONTRACTION, CHURN, REACTIVATION, "net_new")),
    "retention.expansion",
    "retention.contraction",
    "retention.churn",
)
COUNT_METRICS = tuple(f"customers.{c}" for c in ("opening", "closing", "new", "reactivated", "churned"))
CAUSE_PREFIXES = ("causes.expansion.", "causes.contraction.")
# SPEC §15: the durability signals' counts and amounts (the rates and the percentiles are not sums).
DURABILITY_COUNTS = (
    "durability.expansion.customers",
    "durability.expansion.followed",
    "durability.contraction.customers",
    "durability.contraction.churned",
    "durability.contraction.repeated",
    "durability.first_expansion.customers",
    "durability.first_expansion.expanded",
    *(f"durability.first_expansion.within_{days}" for days in WITHIN_DAYS),
)
DURABILITY_MONEY = ("durability.expansion.expansion_amount", "durability.expansion.lost_amount")
PERCENTILE_METRICS = tuple(f"durability.first_expansion.{name}" for name in ("median_days", "p25_days", "p75_days"))
# Ratios are not sums of customers' amounts; their parts are explained instead.
RATIOS = {
    "retention.nrr": "opening_mrr, retention.expansion, retention.contraction and retention.churn",
    "retention.grr": "opening_mrr, retention.contraction and retention.churn",
    "retention.expansion_rate": "retention.expansion and opening_mrr",
    "retention.contraction_rate": "retention.contraction and opening_mrr",
    "retention.churn_rate": "retention.churn and opening_mrr",
    "customers.logo_churn_rate": "customers.opening and customers.churned",
    "arpa": "closing_mrr and customers.closing",
    "quick_ratio": "bridge.new, bridge.expansion, bridge.reactivation, bridge.contraction and bridge.churn",
    "expansion_share": "bridge.expansion and bridge.new",
    "durability.expansion.rate": "durability.expansion.followed and durability.expansion.customers",
    "durability.contraction.churn_rate": "durability.contraction.churned and durability.contraction.customers",
}
_CATEGORY_OF = {"new": NEW, "reactivated": REACTIVATION, "churned": CHURN}


@dataclass(frozen=True, slots=True)
class _Move:
    date: str
    category: str
    cause: str | None
    from_cents: int
    to_cents: int
    event_ids: tuple[str, ...]
    parts: str

    @property
    def amount(self) -> int:
        return abs(self.to_cents - self.from_cents)

    @property
    def signed(self) -> int:
        return self.to_cents - self.from_cents


@dataclass(slots=True)
class _Customer:
    """A customer's movements up to the end of the range: the last before it, and those inside it."""

    before: _Move | None = None
    inside: list[_Move] | None = None

    @property
    def opening(self) -> int:
        return self.before.to_cents if self.before else 0

    @property
    def last(self) -> _Move | None:
        return self.inside[-1] if self.inside else self.before

    @property
    def closing(self) -> int:
        last = self.last
        return last.to_cents if last else 0


def metric_names() -> list[str]:
    """Every metric `explain` can trace (plus causes.expansion.CAUSE and causes.contraction.CAUSE)."""
    return [*MONEY_METRICS, *COUNT_METRICS, *DURABILITY_MONEY, *DURABILITY_COUNTS]


def is_count(metric: str) -> bool:
    """A figure that counts customers: each item's amount is 1."""
    return metric in COUNT_METRICS or metric in DURABILITY_COUNTS


def _check_name(metric: str) -> None:
    if metric in PERCENTILE_METRICS:
        raise UsageError(
            f"{metric} is a percentile of the days to first expansion, not a sum over customers: "
            "explain durability.first_expansion.expanded instead (each item gives its customer's days)"
        )
    if metric in RATIOS:
        raise UsageError(f"{metric} is a ratio, not a sum over customers: explain its parts instead ({RATIOS[metric]})")
    if metric in MONEY_METRICS or metric in COUNT_METRICS or metric in DURABILITY_MONEY or metric in DURABILITY_COUNTS:
        return
    if any(metric.startswith(p) and len(metric) > len(p) for p in CAUSE_PREFIXES):
        return
    raise UsageError(
        f"cannot explain {metric!r}: use one of {', '.join(metric_names())}, causes.expansion.CAUSE or causes.contraction.CAUSE"
    )


def _value(entry: dict[str, Any], metric: str) -> Any:
    if metric.startswith("causes."):
        _, kind, cause = metric.split(".", 2)
        return entry["causes"][kind].get(cause, "0.00")
    value: Any = entry
    for key in metric.split("."):
        value = value[key]
    return value


MOVE_COLUMNS = "customer_id, date, category, cause, from_cents, to_cents, event_ids, parts"
# The figures that take every customer active at an end of the range, not only those that moved inside it.
WHOLE_BOOK = ("opening_mrr", "customers.opening", "closing_mrr", "arr", "customers.closing")
_UP_TO_END = f"SELECT {MOVE_COLUMNS} FROM movements WHERE grain = :grain AND date <= :end AND {VISIBLE} ORDER BY date"
_INSIDE = (
    f"SELECT {MOVE_COLUMNS} FROM movements WHERE grain = :grain AND date >= :first AND date <= :end AND {VISIBLE} "
    "ORDER BY date"
)
_INSIDE_OF = (
    f"SELECT {MOVE_COLUMNS} FROM movements WHERE grain = :grain AND date >= :first AND date <= :end "
    f"AND category = :category AND {VISIBLE} ORDER BY date"
)


def _move(row) -> _Move:
    _, day, category, cause, from_cents, to_cents, event_ids, parts = row
    return _Move(day, category, cause, from_cents, to_cents, tuple(json.loads(event_ids)), parts)


def _customers(
    rm: ReadModel, start: date, end: date, known: Knowledge, members, *, everyone: bool = False, opening: bool = False,
    category: str | None = None,
) -> dict[str, _Customer]:
    """Each customer's movements inside [start, end], at the grain in force.

    ``everyone``: every customer with a movement up to ``end``, with its last one
    before ``start`` (the book at opening and closing). ``opening``: the last one
    before ``start`` too, for the customers that moved inside (the retention figures).
    ``category``: only the movements of that category (the figures that sum one).
    """
    grain = grain_of(known)
    first = start.isoformat()
    params = {"known": known.sequence, "grain": grain, "first": first, "end": end.isoformat(), "category": category}
    query = _UP_TO_END if everyone else _INSIDE if category is None or opening else _INSIDE_OF
    customers: dict[str, _Customer] = {}
    for row in rm.db.execute(query, params):
        if not members(row[0]):
            continue
        c = customers.setdefault(row[0], _Customer())
        if row[1] < first:
            c.before = _move(row)
        else:
            if c.inside is None:
                c.inside = []
            c.inside.append(_move(row))
    if opening and not everyone:
        for customer_id, c in customers.items():
            row = rm.db.execute(
                f"SELECT {MOVE_COLUMNS} FROM movements WHERE customer_id = :customer AND grain = :grain AND date < :first "
                f"AND {VISIBLE} ORDER BY date DESC LIMIT 1",
                {**params, "customer": customer_id},
            ).fetchone()
            if row is not None:
                c.before = _move(row)
    return customers


def _items(metric: str, customers: dict[str, _Customer]) -> list[tuple[str, int, list[_Move]]]:
    """(customer, amount, movements) per customer making up ``metric``."""
    items = []
    for customer_id in sorted(customers):
        c = customers[customer_id]
        inside = c.inside or []
        o, k = c.opening, c.closing
        item: tuple[int, list[_Move]] | None = None
        if metric in ("opening_mrr", "customers.opening"):
            if o > 0:
                item = (o if metric == "opening_mrr" else 1, [c.before])
        elif metric in ("closing_mrr", "arr", "customers.closing"):
            if k > 0:
                item = ({"closing_mrr": k, "arr": 12 * k}.get(metric, 1), [c.last])
        elif metric == "bridge.net_new":
            if inside:
                item = (sum(m.signed for m in inside), inside)
        elif metric.startswith("bridge."):
            theirs = [m for m in inside if m.category == metric[7:]]
            if theirs:
                item = (sum(m.amount for m in theirs), theirs)
        elif metric.startswith("customers."):
            theirs = [m for m in inside if m.category == _CATEGORY_OF[metric[10:]]]
            if theirs:
                item = (1, theirs)
        elif metric.startswith("causes."):
            _, kind, cause = metric.split(".", 2)
            theirs = [m for m in inside if m.category == kind and m.cause == cause]
            if theirs:
                item = (sum(m.amount for m in theirs), theirs)
        elif o > 0:  # retention.*: over the customers active at opening
            if metric == "retention.churn" and k == 0:
                item = (o, inside)
            elif metric == "retention.expansion" and 0 < o < k:
                item = (k - o, inside)
            elif metric == "retention.contraction" and 0 < k < o:
                item = (o - k, inside)
        if item is not None:
            items.append((customer_id, item[0], item[1]))
    return items


def _summed_category(metric: str) -> str | None:
    """The one movement category a figure sums (bridge.expansion, customers.churned, causes.contraction.seats), or None."""
    if metric.startswith("bridge.") and metric != "bridge.net_new":
        return metric[7:]
    if metric.startswith("customers.") and metric[10:] in _CATEGORY_OF:
        return _CATEGORY_OF[metric[10:]]
    if metric.startswith("causes."):
        return metric.split(".", 2)[1]
    return None


def _events(rm: ReadModel, event_ids: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    ids = sorted(event_ids)
    for begin in range(0, len(ids), 500):
        chunk = ids[begin : begin + 500]
        marks = ",".join("?" * len(chunk))
        for event_id, sequence, effective_date, recorded_at, actor, source in rm.db.execute(
            "SELECT event_id, sequence, effective_date, recorded_at, json_extract(record, '$.actor'), "
            f"json_extract(record, '$.source') FROM events WHERE event_id IN ({marks})",
            chunk,
        ):
            found[event_id] = {
                "event_id": event_id,
                "sequence": sequence,
                "effective_date": effective_date,
                "recorded_at": recorded_at,
                "actor": actor,
                "source": source,
            }
    return found


def explain(
    rm: ReadModel,
    metric: str,
    start: date,
    end: date,
    known: Knowledge,
    *,
    group: str | None = None,
    by: str | None = None,
    within: int | None = None,
) -> dict[str, Any]:
    """SPEC §8: ``metric`` over [start, end] taken as one period (for one group of ``by``), and what makes it up.

    With ``by``, only the customers whose attribute, as of ``end``, equals
    ``group`` count (``group`` None: those without it), as in `metrics --by`.
    ``within`` (days, default 90) is the window of the ``durability.*`` figures.
    """
    _check_name(metric)
    if end < start:
        raise UsageError(f"the range ends ({end}) before it starts ({start})")
    require_whole_months(start, end, known.policy)
    if metric.startswith("durability."):
        return _explain_durability(rm, metric, start, end, known, group, by, 90 if within is None else within)
    if within is not None:
        raise UsageError(f"--within: {metric} has no window; it applies to the durability.* figures only")
    report = report_for(rm, [(start, end)], known, by=by)
    entry = next((p for p in report["periods"] if p["group"] == group), None)
    if entry is None:
        entry = figures_json(start, end, group, Figures())
    value = _value(entry, metric)
    if by:
        values = attribute_on(rm, by, end, known.sequence)
        members = lambda customer_id: values.get(customer_id) == group  # noqa: E731
    else:
        members = lambda customer_id: True  # noqa: E731
    customers = _customers(
        rm, start, end, known, members, everyone=metric in WHOLE_BOOK, opening=metric.startswith("retention."),
        category=_summed_category(metric),
    )
    items = _items(metric, customers)
    counting = metric in COUNT_METRICS
    total = sum(amount for _, amount, _ in items)
    if (str(total) if counting else cents_text(total)) != str(value):
        raise ReconciliationError(
            f"explain {metric} {start}..{end}: the items add up to {total if counting else cents_text(total)}, "
            f"the figure is {value}; run `revledger rebuild`"
        )
    events = _events(rm, {e for _, _, moves in items for m in moves for e in m.event_ids})
    return {
        "metric": metric,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "group": group,
        **report_header(rm, known),
        "value": str(value),
        "items": [
            {
                "customer_id": customer_id,
                "amount": str(amount) if counting else cents_text(amount),
                "movements": [_movement_json(m, events) for m in moves],
            }
            for customer_id, amount, moves in items
        ],
    }


def _movement_json(m: _Move, events: dict[str, dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "date": m.date,
        "category": m.category,
        "cause": m.cause,
        "amount": cents_text(m.amount),
        "from_mrr": cents_text(m.from_cents),
        "to_mrr": cents_text(m.to_cents),
    }
    if m.cause == "mixed":
        data["parts"] = {cause: cents_text(delta) for cause, delta in sorted(json.loads(m.parts).items())}
    data["events"] = [events[e] for e in m.event_ids if e in events]
    return data



# -- SPEC §15: the durability signals ---------------------------------------------------------------
#
# The figure comes from ``durability.signals`` (one pass over the stream); the items are
# found again here customer by customer, from each one's whole history of movements, and
# must add up to it.


def _explain_durability(
    rm: ReadModel,
    metric: str,
    start: date,
    end: date,
    known: Knowledge,
    group: str | None,
    by: str | None,
    within: int,
) -> dict[str, Any]:
    """A durability count or amount of [start, end] as one period: each customer with its anchor and what qualified it."""
    require_whole_months(start, end, known.policy)
    [(_, _, found)] = signals(rm, [(start, end)], known, within, by)
    _, kind, figure = metric.split(".")
    value = (found.get(group) or Signals()).json(start, end, group)[kind][figure]
    if by:
        values = attribute_on(rm, by, end, known.sequence)
        members = lambda customer_id: values.get(customer_id) == group  # noqa: E731
    else:
        members = lambda customer_id: True  # noqa: E731
    # Every movement from the period's first day on, later ones too (a customer's one `new` is its first movement).
    customers = _customers(rm, start, date.max, known, members)
    items = _durability_items(kind, figure, customers, start, end, Grain(known.policy.monthly), within)
    counting = is_count(metric)
    total = sum(amount for _, amount, _, _ in items)
    if (str(total) if counting else cents_text(total)) != str(value):
        raise ReconciliationError(
            f"explain {metric} {start}..{end}: the items add up to {total if counting else cents_text(total)}, "
            f"the figure is {value}; run `revledger rebuild`"
        )
    events = _events(rm, {e for _, _, moves, _ in items for m in moves for e in m.event_ids})
    return {
        "metric": metric,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "group": group,
        "within": within,
        **report_header(rm, known),
        "value": str(value),
        "items": [
            {
                "customer_id": customer_id,
                "amount": str(amount) if counting else cents_text(amount),
                **({} if days is None else {"days": days}),
                "movements": [
                    {"role": "anchor" if i == 0 else "follows", **_movement_json(m, events)} for i, m in enumerate(moves)
                ],
            }
            for customer_id, amount, moves, days in items
        ],
    }


def _durability_items(
    kind: str, figure: str, customers: dict[str, _Customer], start: date, end: date, grain: Grain, within: int
) -> list[tuple[str, int, list[_Move], int | None]]:
    """(customer, amount, [anchor, movements that qualify it], days to first expansion) per customer counted."""
    first, last = start.isoformat(), end.isoformat()
    items = []
    for customer_id in sorted(customers):
        moves = customers[customer_id].inside or []
        item: tuple[int, list[_Move], int | None] | None = None
        if kind == "first_expansion":
            joined = next((m for m in moves if m.category == NEW), None)
            if joined is None or not first <= joined.date <= last:
                continue
            later = next((m for m in moves if m.category == EXPANSION and m.date > joined.date), None)
            days = None if later is None else (date.fromisoformat(later.date) - date.fromisoformat(joined.date)).days
            if figure == "customers":
                item = (1, [joined], days)
            elif later is not None and (
                figure == "expanded"
                or grain.within(date.fromisoformat(joined.date), date.fromisoformat(later.date), int(figure[len("within_"):]))
            ):
                item = (1, [joined, later], days)
        else:
            category = EXPANSION if kind == "expansion" else CONTRACTION
            anchor = next((m for m in moves if m.category == category and first <= m.date <= last), None)
            if anchor is None:
                continue
            day = date.fromisoformat(anchor.date)
            window = [
                m for m in moves if m.category in (CONTRACTION, CHURN) and grain.within(day, date.fromisoformat(m.date), within)
            ]
            churns = [m for m in window if m.category == CHURN]
            again = [m for m in window if m.category == CONTRACTION]
            if figure == "customers":
                item = (1, [anchor], None)
            elif figure == "expansion_amount":
                item = (anchor.amount, [anchor], None)
            elif figure == "followed" and window:
                item = (1, [anchor, window[0]], None)
            elif figure == "lost_amount" and window:
                item = (sum(m.amount for m in window), [anchor, *window], None)
            elif figure == "churned" and churns:
                item = (1, [anchor, churns[0]], None)
            elif figure == "repeated" and again:
                item = (1, [anchor, again[0]], None)
        if item is not None:
            items.append((customer_id, *item))
    return items
