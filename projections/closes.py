"""Period closes (SPEC §7): the figures a close records beside the log head they come from.

Every past answer is reproducible because the read models are versioned on
the log axis: a close records the figures as known at a log head, and the
same figures come back from ``--known-at`` its recorded time, forever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger import events as ev
from ledger.events import Event, event_from_record
from ledger.integrity import Checkpoint
from ledger.policy import DEFAULT
from ledger.store import Head
from projections.metrics import Figures, figures_json, metrics_report
from projections.periods import parse_period, period_kind
from projections.queries import Knowledge
from projections.readmodel import ReadModel


def close_figures(rm: ReadModel, label: str, head: Head, recorded_at: str) -> dict[str, Any]:
    """What a close records beside its head: the period's metrics document as known at that head.

    It is reported as known at the close's own recorded time, which is exactly
    what ``metrics --known-at`` that time prints (the close adds no movement).
    """
    start, end = parse_period(label)
    known = Knowledge(head.sequence, recorded_at)
    return {"metrics": metrics_report(rm, start, end, known, period=period_kind(label))}


@dataclass(frozen=True, slots=True)
class Close:
    """A recorded period close.

    Attributes:
      period, start, end: what was closed.
      lock: whether this close locked it.
      head: the log head the figures were computed from.
      metrics: the metrics document recorded (SPEC §11 shape, one period).
      event: the ``period_closed`` event itself (sequence, recorded_at, actor …).
    """

    period: str
    start: date
    end: date
    lock: bool
    head: Checkpoint
    metrics: dict[str, Any]
    event: Event

    @classmethod
    def of(cls, event: Event) -> Close:
        details = json.loads(event.details or "{}")
        return cls(
            period=details["period"],
            start=date.fromisoformat(details["start"]),
            end=date.fromisoformat(details["end"]),
            lock=bool(details["lock"]),
            head=Checkpoint(int(details["head"]["sequence"]), details["head"]["hash"]),
            metrics=in_report_order(details["metrics"]),
            event=event,
        )

    def summary(self) -> dict[str, Any]:
        """The close as `close --format json` and `restatements` print it."""
        return {
            "period": self.period,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "lock": self.lock,
            "event_id": self.event.event_id,
            "sequence": self.event.sequence,
            "recorded_at": self.event.recorded_at,
            "actor": self.event.actor,
            "head": {"sequence": self.head.sequence, "hash": self.head.hash},
        }


def _ordered(data: Any, template: Any) -> Any:
    if not isinstance(data, dict):
        return data
    keys = [k for k in template if k in data] + sorted(k for k in data if k not in template)
    return {k: _ordered(data[k], template.get(k, {})) for k in keys}


def in_report_order(document: dict[str, Any]) -> dict[str, Any]:
    """A metrics document read back from its canonical (sorted) form, in the order `metrics` prints it.

    So the figures a close recorded print byte for byte as ``metrics --known-at`` its time does.
    """
    entry = figures_json(date.min, date.min, None, Figures())
    return {
        **_ordered({k: v for k, v in document.items() if k != "periods"}, {"currency": 0, "known_at": 0, "policy": DEFAULT.as_json()}),
        "periods": [_ordered(p, entry) for p in document.get("periods", [])],
    }


def closes(rm: ReadModel, known: Knowledge) -> list[Close]:
    """Every period close recorded as of ``known``, in log order."""
    rows = rm.db.execute(
        "SELECT record FROM events WHERE customer_id = '' AND type = ? AND sequence <= ? ORDER BY sequence",
        (ev.PERIOD_CLOSED, known.sequence),
    )
    return [Close.of(event_from_record(json.loads(r[0]))) for r in rows]


