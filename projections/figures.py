"""Comparing figures (SPEC §7): two reports' figures, name by name, and the events recorded between two knowledge times.

Restatements compare a close's figures with the same figures as now known;
``diff`` compares any read at two knowledge times. Both speak in the dotted
figure names `explain` takes (``bridge.expansion``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from ledger.events import Event
from projections.readmodel import ReadModel

# Figures that are ratios: absent (a group or cause that did not exist) means undefined, not zero.
RATIOS = frozenset(
    {
        "retention.nrr",
        "retention.grr",
        "retention.expansion_rate",
        "retention.contraction_rate",
        "retention.churn_rate",
        "customers.logo_churn_rate",
        "quick_ratio",
        "expansion_share",
        "arpa",
    }
)
# What identifies a period entry, not a figure of it.
ENTRY_KEYS = ("start", "end", "group")
# What the audit lists of each event.
EVENT_KEYS = (
    "sequence",
    "event_id",
    "type",
    "customer_id",
    "effective_date",
    "recorded_at",
    "actor",
    "source",
    "reason",
    "restatement",
    "target_event_id",
)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A report's nested figures as dotted names (``bridge.expansion``), the names `explain` takes."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _absent(metric: str, present: Any) -> Any:
    """The value of a figure that is not there at all: nothing (zero), or undefined for a ratio."""
    if metric in RATIOS:
        return None
    if isinstance(present, int):
        return 0
    return "0.00"


def difference(before: Any, after: Any) -> Any:
    """after − before, in the figure's own form (whole counts, or decimals to the same places); None if undefined."""
    if before is None or after is None:
        return None
    if isinstance(before, int) and isinstance(after, int):
        return after - before
    delta = Decimal(after) - Decimal(before)
    places = max(-Decimal(before).as_tuple().exponent, -Decimal(after).as_tuple().exponent)  # type: ignore[operator]
    return f"{delta:.{places}f}"


def compare_figures(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The figures of two entries (a period and group, or an MRR report) that differ, in report order."""
    old = {k: v for k, v in flatten(before or {}).items() if k not in ENTRY_KEYS}
    new = {k: v for k, v in flatten(after or {}).items() if k not in ENTRY_KEYS}
    rows = []
    for metric in list(new) + [k for k in old if k not in new]:
        a = old.get(metric, _absent(metric, new.get(metric)))
        b = new.get(metric, _absent(metric, a))
        if a != b:
            rows.append({"metric": metric, "before": a, "after": b, "difference": difference(a, b)})
    return rows


def event_summary(event: Event | dict[str, Any]) -> dict[str, Any]:
    record = event.record() if isinstance(event, Event) else event
    return {key: record.get(key) for key in EVENT_KEYS}


def events_recorded(rm: ReadModel, after: int, upto: int) -> list[dict[str, Any]]:
    """The events recorded after sequence ``after`` up to ``upto``, as the audit lists them."""
    rows = rm.db.execute("SELECT record FROM events WHERE sequence > ? AND sequence <= ? ORDER BY sequence", (after, upto))
    return [event_summary(json.loads(r[0])) for r in rows]


