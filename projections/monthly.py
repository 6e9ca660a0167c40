"""Period metrics for whole calendar months, read from the month summaries (``projections.summaries``).

The same figures as ``metrics.period_figures`` (SPEC §6), without reading a
single movement: each month's sums per group are kept, so a month's opening is
the previous month's closing (plus the MRR that moved into the group), and its
closing the opening plus what moved. Used when every period is a whole month
and the grouping, if any, is one the summaries keep.
"""

from __future__ import annotations

from datetime import date

from ledger.customer import CAUSES
from projections import summaries
from projections.bridge import Figures, ReconciliationError
from projections.movements import CATEGORIES, CHURN, CONTRACTION, EXPANSION, NEW, REACTIVATION
from projections.periods import month_end
from projections.queries import Knowledge
from projections.readmodel import ReadModel

KEPT = ("segment", "channel", "region")


def whole_months(spans: list[tuple[date, date]]) -> bool:
    return bool(spans) and all(
        s.day == 1 and e == month_end(e) and (s.year, s.month) == (e.year, e.month) for s, e in spans
    )


def month_figures(
    rm: ReadModel, spans: list[tuple[date, date]], known: Knowledge, by: str | None = None
) -> list[tuple[date, date, dict[str | None, Figures]]] | None:
    """The figures of whole-month ``spans`` per group of ``by``; None when the summaries cannot answer (then read movements)."""
    if (by is not None and by not in KEPT) or not whole_months(spans):
        return None
    dimension = by or ""
    wanted = {s.isoformat()[:7]: (s, e) for s, e in spans}
    kept = summaries.read(rm.db, dimension, known.sequence, max(wanted))
    mrr: dict[str | None, int] = {}
    active: dict[str | None, int] = {}
    found: dict[str, dict[str | None, Figures]] = {}
    for month in sorted(set(kept) | set(wanted)):
        rows = {(None if dimension == "" else g): v for g, v in kept.get(month, {}).items()}
        figures: dict[str | None, Figures] = {}
        for g in set(rows) | {g for g, n in active.items() if n} | ({None} if dimension == "" else set()):
            v = rows.get(g)
            opening = mrr.get(g, 0) + (v["transfer_in_cents"] - v["transfer_out_cents"] if v else 0)
            opening_count = active.get(g, 0) + (v["transfer_in"] - v["transfer_out"] if v else 0)
            closing = opening + (v["net_cents"] if v else 0)
            closing_count = opening_count + (v["activated"] - v["lost"] if v else 0)
            mrr[g], active[g] = closing, closing_count
            if month not in wanted:
                continue
            f = Figures(opening=opening, closing=closing, opening_count=opening_count, closing_count=closing_count)
            if v:
                f.bridge = {c: v[f"{c}_cents"] for c in CATEGORIES}
                f.causes = {
                    kind: {cause: v[f"{kind}_{cause}_cents"] for cause in CAUSES if v[f"{kind}_{cause}_cents"]}
                    for kind in (EXPANSION, CONTRACTION)
                }
                f.retention_expansion = v["kept_expansion_cents"]
                f.retention_contraction = v["kept_contraction_cents"]
                f.retention_churn = v["kept_churn_cents"]
                f.logos_lost = v["lost"]
                f.mover_counts = {NEW: v["had_new"], REACTIVATION: v["had_reactivation"], CHURN: v["had_churn"]}
                f.touched = v["moved"] > 0
            else:
                f.mover_counts = {NEW: 0, REACTIVATION: 0, CHURN: 0}
            start, end = wanted[month]
            if f.opening + f.net_new != f.closing:
                raise ReconciliationError(
                    f"{start}..{end}{'' if g is None else f' group {g}'}: the month summaries do not reconcile; "
                    "run `revledger rebuild`"
                )
            if dimension == "" or f.touched or f.opening_count or f.closing_count:
                figures[g] = f
        if month in wanted:
            found[month] = figures
    return [(s, e, found.get(s.isoformat()[:7], {})) for s, e in spans]
