"""The recognition policy as the read models know it (SPEC §13): the one in force, its history, what a change would move."""

from __future__ import annotations

import json
from typing import Any

from ledger import events as ev
from ledger.events import event_from_record
from ledger.policy import Policy
from projections.closes import closes
from projections.figures import compare_figures
from projections.metrics import metrics_report
from projections.periods import period_kind
from projections.preview import preview
from projections.queries import Knowledge, report_header
from projections.readmodel import ReadModel


def policy_changes(rm: ReadModel, known: Knowledge) -> list[dict[str, Any]]:
    """Every ``policy_changed`` recorded as of ``known``, in log order, as `policy` lists them."""
    rows = rm.db.execute(
        "SELECT record FROM events WHERE customer_id = '' AND type = ? AND sequence <= ? ORDER BY sequence",
        (ev.POLICY_CHANGED, known.sequence),
    )
    changes = []
    for (record,) in rows:
        event = event_from_record(json.loads(record))
        changes.append({
            "sequence": event.sequence,
            "event_id": event.event_id,
            "recorded_at": event.recorded_at,
            "actor": event.actor,
            "reason": event.reason,
            "restatement": event.restatement,
            "policy": Policy.from_text(event.details or "{}").as_json(),
        })
    return changes


def policy_report(rm: ReadModel, known: Knowledge) -> dict[str, Any]:
    """The policy in force as known at ``known`` (SPEC §13 `policy`), and the changes that made it."""
    changes = policy_changes(rm, known)
    return {**report_header(rm, known), "changed": changes[-1] if changes else None, "changes": changes}


def locked_changes(rm: ReadModel, known: Knowledge, policy: Policy) -> list[dict[str, Any]]:
    """The locked periods whose figures as now known would change under ``policy`` (a change needs --restate then)."""
    locked: dict[tuple[str, str], Any] = {}
    for close in closes(rm, known):
        if close.lock:
            locked.setdefault((close.start.isoformat(), close.end.isoformat()), close)
    if not locked:
        return []
    other, previewed = preview(rm, known, policy)
    moved = []
    for close in locked.values():
        kind = period_kind(close.period)
        now = metrics_report(rm, close.start, close.end, known, period=kind)["periods"]
        then = metrics_report(other, close.start, close.end, previewed, period=kind)["periods"]
        differ = [f for a, b in zip(now, then) for f in compare_figures(a, b)] or ([{}] if len(now) != len(then) else [])
        if differ:
            moved.append({"period": close.period, "figures": differ})
    return moved
