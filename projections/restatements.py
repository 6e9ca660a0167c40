"""Restatements (SPEC §7): closed periods whose figures as now known differ from those recorded at the close.

A restatement is a plain comparison of two knowledge times (the close's and
now), with the events recorded in between that caused it.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from ledger import events as ev
from ledger.events import event_from_record
from projections.closes import Close, closes
from ledger.policy import Policy
from projections.figures import compare_figures, difference, event_summary, flatten
from projections.metrics import metrics_report
from projections.periods import parse_period, period_kind
from projections.preview import preview
from projections.queries import Knowledge, customer_mrr_cents, movement_rows
from projections.readmodel import ReadModel


def _contributions(rm: ReadModel, start: date, end: date, known: int) -> dict[str, tuple]:
    """Each customer's part in a period's (ungrouped) figures: opening and closing MRR, and its movements in it.

    A movement counts by category, cause and amount, not by day: moving a
    change within the period changes no figure, so it is not a cause.
    """
    opening = customer_mrr_cents(rm, date.fromordinal(start.toordinal() - 1), known)
    closing = customer_mrr_cents(rm, end, known)
    moved: dict[str, list] = {}
    for row in movement_rows(rm, start, end, known):
        moved.setdefault(row["customer_id"], []).append((row["category"], row["cause"] or "", row["amount"]))
    customers = set(opening) | set(closing) | set(moved)
    return {c: (opening.get(c, 0), closing.get(c, 0), tuple(sorted(moved.get(c, ())))) for c in customers}


def causing_events(
    rm: ReadModel, start: date, end: date, since: int, known: int, *, now: ReadModel | None = None
) -> list[dict[str, Any]]:
    """The events recorded after ``since`` that changed the period's figures as known at ``known``.

    Those of the customers whose part in the period changed, effective on or
    before its last day (a void: whose target is) — an event effective before
    the period changes its opening MRR as surely as one inside it. ``now``: the
    read models to compare with at ``known`` (a preview under the policy of the
    close, so that what a policy change moved is not put on the events).
    """
    before, after = _contributions(rm, start, end, since), _contributions(now or rm, start, end, known)
    changed = {c for c in set(before) | set(after) if before.get(c, (0, 0, ())) != after.get(c, (0, 0, ()))}
    if not changed:
        return []
    rows = rm.db.execute(
        "SELECT record FROM events WHERE sequence > ? AND sequence <= ? AND type != ? ORDER BY sequence",
        (since, known, ev.PERIOD_CLOSED),
    )
    found = []
    for (record,) in rows:
        event = event_from_record(json.loads(record))
        if event.customer_id not in changed:
            continue
        effective = event.effective_date
        if event.type == ev.VOID:
            target = rm.find([event.target_event_id or ""]).get(event.target_event_id or "")
            effective = target.effective_date if target else effective
        if effective <= end:
            found.append(event_summary(event))
    return found


def restatements(rm: ReadModel, known: Knowledge, *, period: str | None = None) -> list[dict[str, Any]]:
    """Every closed period whose figures as known at ``known`` differ from those recorded at its (latest) close.

    When the policy changed since the close (SPEC §13), each figure's difference
    is split: ``by_policy`` = as now known under the policy now minus under the
    policy of the close; ``by_events`` = the rest. The ``policy_changed`` events are
    listed among the causes, when the change moved some figure of the period.
    """
    wanted = parse_period(period) if period else None
    latest: dict[tuple[date, date], Close] = {}
    locked: set[tuple[date, date]] = set()
    for close in closes(rm, known):
        latest[(close.start, close.end)] = close
        if close.lock:
            locked.add((close.start, close.end))
    previews: dict[Policy, tuple[ReadModel, Knowledge]] = {}
    found = []
    for key, close in sorted(latest.items()):
        if wanted is not None and key != wanted:
            continue
        kind = period_kind(close.period)
        closed = close.metrics["periods"][0]
        now = metrics_report(rm, close.start, close.end, known, period=kind)["periods"][0]
        figures = [
            {"metric": f["metric"], "closed": f["before"], "now": f["after"], "difference": f["difference"]}
            for f in compare_figures(closed, now)
        ]
        if not figures:
            continue
        then = rm.policy_at(close.event.sequence)
        old_rm = None
        changes: list[dict[str, Any]] = []
        if then != known.policy:
            if then not in previews:
                previews[then] = preview(rm, known, then)
            old_rm, old_known = previews[then]
            under_old_policy = metrics_report(old_rm, close.start, close.end, old_known, period=kind)["periods"][0]
            if compare_figures(under_old_policy, now):  # else the change moved none of the period's figures: no cause
                as_before, closed_flat = flatten(under_old_policy), flatten(closed)
                for f in figures:
                    under_old = as_before.get(f["metric"], f["closed"])
                    f["by_policy"] = difference(under_old, f["now"])
                    f["by_events"] = difference(closed_flat.get(f["metric"], f["closed"]), under_old)
                changes = [
                    event_summary(json.loads(record)) for (record,) in rm.db.execute(
                        "SELECT record FROM events WHERE customer_id = '' AND type = ? AND sequence > ? "
                        "AND sequence <= ? ORDER BY sequence", (ev.POLICY_CHANGED, close.event.sequence, known.sequence))
                ]
        events = causing_events(rm, close.start, close.end, close.event.sequence, known.sequence, now=old_rm)
        found.append(
            {
                **close.summary(),
                "locked": key in locked,
                "figures": figures,
                "events": sorted(changes + events, key=lambda e: e["sequence"]),
            }
        )
    return found
