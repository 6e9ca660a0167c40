"""Period metrics (SPEC §6): the MRR bridge, net retention, customer counts, causes, per group.

One ordered pass over the movements visible at the knowledge sequence (integer
cents), keeping each customer's running MRR: opening and closing per group are
sums of that per-customer state, the bridge sums the movements dated in the
period, and the two are checked against each other for every period and group
(opening + net new = closing), so a figure that does not reconcile is an error,
never a report.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date
from operator import itemgetter
from typing import Any

from ledger.customer import CAUSES
from ledger.money import cents_text, ratio, ratio_text
from projections.bridge import Figures, ReconciliationError
from projections.monthly import month_figures
from projections.movements import CATEGORIES, CHURN, CONTRACTION, EXPANSION, NEW, REACTIVATION
from projections.periods import require_whole_months, split
from projections.queries import VISIBLE, Knowledge, grain_of, report_header
from projections.readmodel import ReadModel

_COUNTED = frozenset({NEW, REACTIVATION, CHURN})  # customers.new / reactivated / churned


# A movement's (category, cause) as one small int, computed by SQLite: small ints are
# shared objects that hash at once, where a million category strings would each be
# built and hashed again. kind = 8 × category index + cause index (0: no cause).
_CATEGORY_INDEX = {category: i for i, category in enumerate(CATEGORIES)}
_CAUSE_INDEX = {cause: i + 1 for i, cause in enumerate(CAUSES)}
KINDS = {
    8 * i + j: (category, cause)
    for category, i in _CATEGORY_INDEX.items()
    for cause, j in [(None, 0), *_CAUSE_INDEX.items()]
}
# The names are bound as parameters, like every value: no text is formatted into SQL.
_KIND_PARAMETERS = {
    **{f"category{i}": category for category, i in _CATEGORY_INDEX.items()},
    **{f"cause{j}": cause for cause, j in _CAUSE_INDEX.items()},
}
_STREAM_SQL = (
    "SELECT customer_id, date, (CASE category "
    + " ".join(f"WHEN :category{i} THEN {8 * i}" for i in _CATEGORY_INDEX.values())
    + " END) + (CASE WHEN cause IS NULL THEN 0 "
    + " ".join(f"WHEN cause = :cause{j} THEN {j}" for j in _CAUSE_INDEX.values())
    + " END), to_cents, amount_cents FROM movements NOT INDEXED WHERE grain = :grain AND "
    + VISIBLE
    + " AND date <= :end"
)


def movement_stream(rm: ReadModel, end: date, known: int, grain: int = 0) -> list[tuple]:
    """Every visible movement dated on or before ``end``, in date order (at most one per customer and day).

    Rows are (customer_id, date, kind, to_cents, amount_cents), ``KINDS[kind]`` its
    (category, cause). One sequential scan then a sort: reading a million rows
    through the date index costs a random table lookup per row, several times the scan.
    """
    rows = rm.db.execute(_STREAM_SQL, {**_KIND_PARAMETERS, "known": known, "end": end.isoformat(), "grain": grain}).fetchall()
    rows.sort(key=itemgetter(1))
    return rows


_COUNTED_KINDS = frozenset(k for k, (category, _) in KINDS.items() if category in _COUNTED)


def attribute_changes(rm: ReadModel, name: str, end: date, known: int) -> list[tuple[str, str, str]]:
    """(customer, value, effective date) of every visible setting of ``name`` up to ``end``, in the order they apply.

    Applied in this order up to a day, they leave each customer with the value
    ``queries.attribute_on`` reads for that day.
    """
    return rm.db.execute(
        "SELECT customer_id, value, effective_date FROM attributes "
        f"WHERE name = :name AND {VISIBLE} AND effective_date <= :end ORDER BY effective_date, event_sequence",
        {"name": name, "known": known, "end": end.isoformat()},
    ).fetchall()


def period_figures(
    rm: ReadModel, spans: list[tuple[date, date]], known: int, by: str | None = None, grain: int = 0
) -> list[tuple[date, date, dict[str | None, Figures]]]:
    """Figures per period and group, from one ordered pass over the movements.

    Opening and closing per group are sums of each customer's running MRR (its
    last movement's to_mrr); the bridge sums the movements' stored amounts by
    category, so opening + net new = closing checks one against the other (a
    movement that does not start where the one before it ended breaks it too).
    A group appears for a period when one of its customers has MRR > 0 at
    opening or closing or a movement in it; without ``by`` the one group None
    always appears.
    """
    if not spans:
        return []
    rows = movement_stream(rm, spans[-1][1], known, grain)
    changes = attribute_changes(rm, by, spans[-1][1], known) if by else []
    first_day = spans[0][0].isoformat()
    position = bisect_left(rows, first_day, key=itemgetter(1))
    # Before the range only the state matters: each customer's last to_mrr (rows are in date order).
    mrr: dict[str, int] = {row[0]: row[3] for row in rows[:position]}
    group_of: dict[str, str] = {}  # each customer's group as of the current period's last day
    group_get = group_of.get
    group_mrr: dict[str | None, int] = {}
    group_active: dict[str | None, int] = {}
    next_change = 0

    result = []
    for index, (start, end) in enumerate(spans):
        last_day = end.isoformat()
        # Regroup: the attribute as of this period's last day, for opening, movements and closing.
        while next_change < len(changes) and changes[next_change][2] <= last_day:
            customer, value, _ = changes[next_change]
            next_change += 1
            old = group_get(customer)
            group_of[customer] = value
            cents = mrr.get(customer, 0)
            if index and cents and old != value:
                group_mrr[old] -= cents
                group_active[old] -= 1
                group_mrr[value] = group_mrr.get(value, 0) + cents
                group_active[value] = group_active.get(value, 0) + 1
        if index == 0:
            for customer, cents in mrr.items():
                if cents:
                    g = group_get(customer)
                    group_mrr[g] = group_mrr.get(g, 0) + cents
                    group_active[g] = group_active.get(g, 0) + 1
        figures: dict[str | None, Figures] = {
            g: Figures(opening=cents, opening_count=group_active[g]) for g, cents in group_mrr.items() if group_active[g]
        }

        # The period's movements: amounts are summed as stored, the state is each customer's last to_mrr.
        end_position = bisect_right(rows, last_day, lo=position, key=itemgetter(1))
        chunk = rows[position:end_position]
        position = end_position
        last: dict[str, int] = {}  # c_c of every customer that moves in the period
        sums: dict = {}  # (group, kind) with ``by``, else kind -> Σ amount
        movers: set[tuple] = set()  # (group, kind, customer) for new, reactivation, churn
        if by:
            for customer, _, kind, to_cents, amount in chunk:
                last[customer] = to_cents
                key = (group_get(customer), kind)
                sums[key] = sums.get(key, 0) + amount
                if kind in _COUNTED_KINDS:
                    movers.add((key[0], kind, customer))
        else:
            for customer, _, kind, to_cents, amount in chunk:
                last[customer] = to_cents
                sums[kind] = sums.get(kind, 0) + amount
                if kind in _COUNTED_KINDS:
                    movers.add((None, kind, customer))
            sums = {(None, kind): amount for kind, amount in sums.items()}

        mrr_get = mrr.get
        if by:
            for customer, c in last.items():
                g = group_get(customer)
                o = mrr_get(customer, 0)  # o_c: its MRR at the end of the day before the period
                mrr[customer] = c
                f = figures.get(g)
                if f is None:
                    f = figures[g] = Figures()
                f.touched = True
                group_mrr[g] = group_mrr.get(g, 0) + c - o
                group_active[g] = group_active.get(g, 0) + (c > 0) - (o > 0)
                if o > 0:
                    if c > 0:
                        if c > o:
                            f.retention_expansion += c - o
                        else:
                            f.retention_contraction += o - c
                    else:
                        f.retention_churn += o
                        f.logos_lost += 1
        elif last:
            f = figures.get(None) or figures.setdefault(None, Figures())
            f.touched = True
            moved = active = expansion = contraction = churn = lost = 0
            for customer, c in last.items():
                o = mrr_get(customer, 0)
                mrr[customer] = c
                moved += c - o
                active += (c > 0) - (o > 0)
                if o > 0:
                    if c > 0:
                        if c > o:
                            expansion += c - o
                        else:
                            contraction += o - c
                    else:
                        churn += o
                        lost += 1
            group_mrr[None] = group_mrr.get(None, 0) + moved
            group_active[None] = group_active.get(None, 0) + active
            f.retention_expansion, f.retention_contraction, f.retention_churn, f.logos_lost = expansion, contraction, churn, lost
        for (g, kind), amount in sums.items():
            if kind is None:
                raise ReconciliationError(f"{start}..{end}: a movement of an unknown category or cause; run `revledger rebuild`")
            category, cause = KINDS[kind]
            f = figures[g]
            f.bridge[category] += amount
            if category in f.causes:
                f.causes[category][cause] = f.causes[category].get(cause, 0) + amount
        for g, kind, customer in movers:
            figures[g].movers[KINDS[kind][0]].add(customer)
        if not by and None not in figures:
            figures[None] = Figures()
        for g, f in figures.items():
            f.closing = group_mrr.get(g, 0)
            f.closing_count = group_active.get(g, 0)
            if f.opening + f.net_new != f.closing:
                raise ReconciliationError(
                    f"{start}..{end}{'' if g is None else f' group {g}'}: opening {cents_text(f.opening)} + "
                    f"net new {cents_text(f.net_new)} != closing {cents_text(f.closing)}; run `revledger rebuild`"
                )
        listed = {g: f for g, f in figures.items() if not by or f.touched or f.opening_count or f.closing_count}
        result.append((start, end, listed))
    if sum(group_mrr.values()) != sum(mrr.values()):
        raise ReconciliationError("group totals differ from the customers' MRR; run `revledger rebuild`")
    return result


def group_order(group: str | None) -> tuple[bool, str]:
    """Groups by name, customers without the attribute (null) last, as `mrr --by` lists them."""
    return (group is None, group or "")


def arpa_cents(closing: int, customers: int) -> int | None:
    """closing / customers in cents, ROUND_HALF_EVEN (ARPA is money, so it has cents, not six places)."""
    if not customers:
        return None
    whole, rest = divmod(closing, customers)
    if 2 * rest > customers or (2 * rest == customers and whole % 2):
        whole += 1
    return whole


def figures_json(start: date, end: date, group: str | None, f: Figures) -> dict[str, Any]:
    """One period and group as SPEC §11 prints it."""
    b = f.bridge
    kept = f.opening + f.retention_expansion - f.retention_contraction - f.retention_churn  # Σ c_c over S
    gains = b[NEW] + b[EXPANSION] + b[REACTIVATION]
    arpa = arpa_cents(f.closing, f.closing_count)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "group": group,
        "opening_mrr": cents_text(f.opening),
        "closing_mrr": cents_text(f.closing),
        "arr": cents_text(12 * f.closing),
        "bridge": {
            NEW: cents_text(b[NEW]),
            EXPANSION: cents_text(b[EXPANSION]),
            CONTRACTION: cents_text(b[CONTRACTION]),
            CHURN: cents_text(b[CHURN]),
            REACTIVATION: cents_text(b[REACTIVATION]),
            "net_new": cents_text(f.net_new),
        },
        "retention": {
            "expansion": cents_text(f.retention_expansion),
            "contraction": cents_text(f.retention_contraction),
            "churn": cents_text(f.retention_churn),
            "nrr": ratio_text(ratio(kept, f.opening)),
            "grr": ratio_text(ratio(f.opening - f.retention_contraction - f.retention_churn, f.opening)),
            "expansion_rate": ratio_text(ratio(f.retention_expansion, f.opening)),
            "contraction_rate": ratio_text(ratio(f.retention_contraction, f.opening)),
            "churn_rate": ratio_text(ratio(f.retention_churn, f.opening)),
        },
        "customers": {
            "opening": f.opening_count,
            "closing": f.closing_count,
            "new": f.movers_of(NEW),
            "reactivated": f.movers_of(REACTIVATION),
            "churned": f.movers_of(CHURN),
            "logo_churn_rate": ratio_text(ratio(f.logos_lost, f.opening_count)),
        },
        "causes": {
            kind: {cause: cents_text(amount) for cause, amount in sorted(f.causes[kind].items())}
            for kind in (EXPANSION, CONTRACTION)
        },
        "arpa": None if arpa is None else cents_text(arpa),
        "quick_ratio": ratio_text(ratio(gains, b[CONTRACTION] + b[CHURN])),
        "expansion_share": ratio_text(ratio(b[EXPANSION], b[NEW] + b[EXPANSION])),
    }


def metrics_report(
    rm: ReadModel, start: date, end: date, known: Knowledge, *, period: str = "month", by: str | None = None
) -> dict[str, Any]:
    """SPEC §11 `metrics --format json`: every period of [start, end] (clipped) and, with ``by``, every group."""
    require_whole_months(start, end, known.policy)
    return report_for(rm, split(start, end, period), known, by=by)


def report_for(
    rm: ReadModel, spans: list[tuple[date, date]], known: Knowledge, *, by: str | None = None
) -> dict[str, Any]:
    """The metrics document for explicit periods (``explain`` measures its range as one period)."""
    periods = [
        figures_json(start, end, group, figures[group])
        for start, end, figures in measure(rm, spans, known, by)
        for group in sorted(figures, key=group_order)
    ]
    return {**report_header(rm, known), "periods": periods}


def measure(
    rm: ReadModel, spans: list[tuple[date, date]], known: Knowledge, by: str | None = None
) -> list[tuple[date, date, dict[str | None, Figures]]]:
    """Figures per consecutive period and group: from the month summaries for whole months, else from the movements."""
    found = month_figures(rm, spans, known, by)
    return found if found is not None else period_figures(rm, spans, known.sequence, by, grain_of(known))


def figures_for(
    rm: ReadModel, spans: list[tuple[date, date]], known: Knowledge, by: str | None = None
) -> list[tuple[date, date, dict[str | None, Figures]]]:
    """Figures for any list of spans, overlapping ones included (trailing windows), each measured as one period."""
    return [measure(rm, [span], known, by)[0] for span in spans]
