"""`diff` (SPEC §7): the same read at two knowledge times, figure by figure."""

from __future__ import annotations

from datetime import date
from typing import Any

from projections.figures import ENTRY_KEYS, compare_figures, events_recorded
from projections.metrics import metrics_report
from projections.queries import Knowledge, grain_of, movement_rows, mrr_report
from projections.readmodel import ReadModel


def diff_metrics(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Figure by figure, per period and group, two `metrics` documents."""
    entries_a = {tuple(e[k] for k in ENTRY_KEYS): e for e in before["periods"]}
    entries_b = {tuple(e[k] for k in ENTRY_KEYS): e for e in after["periods"]}
    keys = list(entries_a) + [k for k in entries_b if k not in entries_a]
    keys.sort(key=lambda k: (k[0], k[1], k[2] is None, k[2] or ""))
    rows = []
    for key in keys:
        for figure in compare_figures(entries_a.get(key), entries_b.get(key)):
            rows.append({"start": key[0], "end": key[1], "group": key[2], **figure})
    return rows


def diff_mrr(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Figure by figure, two `mrr` reports: the totals, each group, each line."""

    def parts(report: dict[str, Any]) -> dict[tuple[str, Any], dict[str, Any]]:
        out: dict[tuple[str, Any], dict[str, Any]] = {
            ("total", None): {k: report[k] for k in ("mrr", "arr", "customers")}
        }
        for g in report.get("groups", []):
            out[("group", g["group"])] = {k: g[k] for k in ("mrr", "arr", "customers")}
        for line in report.get("lines", []):
            out[("line", line["subscription_id"])] = {k: v for k, v in line.items() if k != "subscription_id"}
        return out

    a, b = parts(before), parts(after)
    rows = []
    for key in list(a) + [k for k in b if k not in a]:
        for figure in compare_figures(a.get(key), b.get(key)):
            metric = f"lines[{key[1]}].{figure['metric']}" if key[0] == "line" else figure["metric"]
            rows.append({"group": key[1] if key[0] == "group" else None, **figure, "metric": metric})
    return rows


def diff_movements(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Movement rows added, removed and changed between two `movements` reads (keyed by customer and day)."""
    a = {(m["customer_id"], m["date"]): m for m in before}
    b = {(m["customer_id"], m["date"]): m for m in after}
    order = sorted(set(a) | set(b), key=lambda k: (k[1], k[0]))
    return {
        "added": [b[k] for k in order if k not in a],
        "removed": [a[k] for k in order if k not in b],
        "changed": [
            {"customer_id": k[0], "date": k[1], "before": a[k], "after": b[k]}
            for k in order
            if k in a and k in b and a[k] != b[k]
        ],
    }




def diff_report(
    rm: ReadModel,
    read: str,
    before: Knowledge,
    after: Knowledge,
    *,
    start: date | None = None,
    end: date | None = None,
    period: str = "month",
    by: str | None = None,
    as_of: date | None = None,
    customer: str | None = None,
    category: str | None = None,
    after_rm: ReadModel | None = None,
) -> dict[str, Any]:
    """``read`` (metrics, mrr or movements) at two knowledge times: what differs, and the events recorded in between.

    ``after_rm``: the read models that answer for ``after`` when they are not ``rm``'s
    (``diff --policy``: a preview under another policy, at the same knowledge time).
    """
    a_rm = after_rm or rm
    report: dict[str, Any] = {
        "read": read,
        "currency": rm.settings.currency,
        "before": _side(before),
        "after": _side(after),
    }
    if read == "mrr":
        assert as_of is not None
        report["figures"] = diff_mrr(
            mrr_report(rm, as_of, before, customer=customer, by=by),
            mrr_report(a_rm, as_of, after, customer=customer, by=by),
        )
    elif read == "metrics":
        assert start is not None and end is not None
        report["figures"] = diff_metrics(
            metrics_report(rm, start, end, before, period=period, by=by),
            metrics_report(a_rm, start, end, after, period=period, by=by),
        )
    else:
        assert start is not None and end is not None
        report["movements"] = diff_movements(
            movement_rows(rm, start, end, before.sequence, customer=customer, category=category, grain=grain_of(before)),
            movement_rows(a_rm, start, end, after.sequence, customer=customer, category=category, grain=grain_of(after)),
        )
    low, high = sorted((before.sequence, after.sequence))
    report["events"] = events_recorded(rm, low, high)
    return report


def _side(known: Knowledge) -> dict[str, Any]:
    side: dict[str, Any] = {"known_at": known.recorded_at, "sequence": known.sequence, "policy": known.policy.as_json()}
    if known.preview:
        side["preview"] = True
    return side
