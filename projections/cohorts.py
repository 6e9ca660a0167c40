"""Cohorts (SPEC §6): customers grouped by the month of their first `new` movement, followed month by month.

Reading of the SPEC (docs/metrics.md): a cohort is listed when its month
overlaps [start, end]; its offsets run from k = 0 (the cohort month) to the
month containing ``end``, each measured at the end of month cohort+k, clipped
to ``end`` as periods are. Contraction is cumulative over months 1..k,
contraction movements only (churn shows in mrr_k); logo retention divides by
the cohort's size.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ledger.money import cents_text, ratio, ratio_text
from projections import summaries
from projections.metrics import KINDS, movement_stream
from projections.movements import CONTRACTION, NEW
from projections.periods import month_end, require_whole_months
from projections.queries import Knowledge, grain_of, report_header
from projections.readmodel import ReadModel


def _month_text(day: date) -> str:
    return day.isoformat()[:7]


def _offset(k: int, month: str, as_of: date, mrr: int, mrr_0: int, active: int, size: int, contraction: int) -> dict:
    return {
        "k": k,
        "month": month,
        "as_of": as_of.isoformat(),
        "mrr": cents_text(mrr),
        "nrr": ratio_text(ratio(mrr, mrr_0)),
        "active": active,
        "logo_retention": ratio_text(ratio(active, size)),
        "contraction": cents_text(contraction),
        "contraction_rate": ratio_text(ratio(contraction, mrr_0)),
    }


def cohorts_report(rm: ReadModel, start: date, end: date, known: Knowledge) -> dict[str, Any]:
    """Every cohort whose month overlaps [start, end], with MRR, NRR, logos and contraction per month offset."""
    require_whole_months(start, end, known.policy)
    if end == month_end(end):
        return {**report_header(rm, known), "cohorts": _from_summaries(rm, start, end, known)}
    return {**report_header(rm, known), "cohorts": _from_movements(rm, start, end, known)}


def _from_summaries(rm: ReadModel, start: date, end: date, known: Knowledge) -> list[dict[str, Any]]:
    """The cohorts of a range ending on a month's last day, from the month summaries by cohort (no movement read)."""
    last = _month_text(end)
    kept = summaries.read(rm.db, "cohort", known.sequence, last)
    first = _month_text(start)
    found = []
    # A cohort's members are the customers whose one `new` is in its month (a late event may have emptied one).
    for cohort in sorted(m for m, sums in kept.items() if first <= m and sums.get(m, {}).get("had_new", 0) > 0):
        size = kept[cohort][cohort]["had_new"]
        month = date.fromisoformat(cohort + "-01")
        mrr = active = contraction = 0
        mrr_0 = None
        offsets = []
        while True:
            label = _month_text(month)
            v = kept.get(label, {}).get(cohort)
            if v:
                mrr += v["net_cents"]
                active += v["activated"] - v["lost"]
                if label > cohort:
                    contraction += v["contraction_cents"]
            mrr_0 = mrr if mrr_0 is None else mrr_0
            as_of = month_end(month)
            offsets.append(_offset(len(offsets), label, as_of, mrr, mrr_0, active, size, contraction))
            if as_of >= end:
                break
            month = as_of + timedelta(days=1)
        found.append({"cohort": cohort, "customers": size, "mrr_0": offsets[0]["mrr"], "offsets": offsets})
    return found


def _from_movements(rm: ReadModel, start: date, end: date, known: Knowledge) -> list[dict[str, Any]]:
    """The cohorts of any range, from the movements up to its end."""
    rows = movement_stream(rm, end, known.sequence, grain_of(known))
    news = {k for k, (category, _) in KINDS.items() if category == NEW}
    contractions = {k for k, (category, _) in KINDS.items() if category == CONTRACTION}
    joined = {row[0]: row[1] for row in rows if row[2] in news}  # at most one `new` per customer
    first_month = start.replace(day=1).isoformat()
    cohort_of = {c: day[:7] for c, day in joined.items() if day >= first_month}
    months = sorted(set(cohort_of.values()))
    size = {m: 0 for m in months}
    for m in cohort_of.values():
        size[m] += 1
    mrr_sum = {m: 0 for m in months}
    active = {m: 0 for m in months}
    contraction = {m: 0 for m in months}
    mrr: dict[str, int] = {}
    offsets: dict[str, list[dict[str, Any]]] = {m: [] for m in months}

    def snapshot(month: date, as_of: date) -> None:
        label = _month_text(month)
        for cohort in months:
            if cohort > label:
                break
            rows = offsets[cohort]
            mrr_0 = rows[0]["_mrr"] if rows else mrr_sum[cohort]
            row = _offset(len(rows), label, as_of, mrr_sum[cohort], mrr_0, active[cohort], size[cohort], contraction[cohort])
            rows.append({**row, "_mrr": mrr_sum[cohort]})

    month = date.fromisoformat(months[0] + "-01") if months else None
    as_of = min(month_end(month), end) if month else None
    for customer, day, kind, to_cents, amount in rows:
        cohort = cohort_of.get(customer)
        if cohort is None:
            continue
        while as_of is not None and day > as_of.isoformat():
            snapshot(month, as_of)
            month = as_of + timedelta(days=1)
            as_of = min(month_end(month), end)
        before = mrr.get(customer, 0)
        mrr[customer] = to_cents
        mrr_sum[cohort] += to_cents - before
        active[cohort] += (to_cents > 0) - (before > 0)
        if kind in contractions and day[:7] > cohort:
            contraction[cohort] += amount
    while month is not None and month <= end:
        snapshot(month, as_of)
        if as_of == end:  # 9999-12-31 has no day after it
            break
        month = as_of + timedelta(days=1)
        as_of = min(month_end(month), end)

    cohorts = []
    for cohort in months:
        rows = offsets[cohort]
        for row in rows:
            del row["_mrr"]
        cohorts.append({"cohort": cohort, "customers": size[cohort], "mrr_0": rows[0]["mrr"] if rows else "0.00", "offsets": rows})
    return cohorts
