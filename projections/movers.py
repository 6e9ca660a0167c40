"""Top movers: the customers whose MRR rose and fell most over a range (the report's "who moved")."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ledger.money import cents_text
from projections import queries
from projections.readmodel import ReadModel

TOP_MOVERS = 10


def top_movers(rm: ReadModel, start: date, end: date, known: int, count: int = TOP_MOVERS) -> dict[str, list[dict[str, Any]]]:
    """The customers whose MRR rose and fell most from the opening (end of ``start``-1) to the end of ``end``."""
    opening = queries.customer_mrr_cents(rm, start - timedelta(days=1), known) if start > date.min else {}
    closing = queries.customer_mrr_cents(rm, end, known)
    categories: dict[str, list[str]] = {}
    for row in queries.movement_rows(rm, start, end, known):
        seen = categories.setdefault(row["customer_id"], [])
        if row["category"] not in seen:
            seen.append(row["category"])
    changes = []
    for customer in sorted(set(opening) | set(closing)):
        o, c = opening.get(customer, 0), closing.get(customer, 0)
        if o != c:
            changes.append((c - o, customer, o, c))

    def row(change: int, customer: str, o: int, c: int) -> dict[str, Any]:
        return {
            "customer_id": customer,
            "opening_mrr": cents_text(o),
            "closing_mrr": cents_text(c),
            "change": cents_text(change),
            "categories": ", ".join(categories.get(customer, [])),
        }

    gainers = sorted((x for x in changes if x[0] > 0), key=lambda x: (-x[0], x[1]))[:count]
    losers = sorted((x for x in changes if x[0] < 0), key=lambda x: (x[0], x[1]))[:count]
    return {"gainers": [row(*x) for x in gainers], "losers": [row(*x) for x in losers]}
