"""A deliberately naive reference model of SPEC §3–§6, §13 and §15, for property tests.

It shares no code with `ledger/` or `projections/`: the point is a second,
independent reading of the SPEC, written the slow obvious way (a customer's
MRR on a day is found by folding its whole timeline again), so that the real
projections can be checked against it.

Input is a list of event dicts as they appear in a JSON Lines file (SPEC §3,
§10 field names, values as strings or ints) plus an int `sequence` giving log
order.  Events are assumed valid and in one currency.  `known_seq` plays the
role of `--known-at`: only events with `sequence <= known_seq` count.

`policy` (SPEC §13) is a dict of the three settings; None is the reading of
§3–§6 as written, and a dict is read by a second path (see "recognition
policy" below) that must agree with it under the default settings.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction

CHANGE_TYPES = frozenset(
    {"subscription_changed", "upsell", "downgrade", "seat_change", "price_change", "usage_change"}
)
TERM_FIELDS = ("plan", "quantity", "unit_price", "amount", "billing_months", "discount_pct", "currency")
NOT_MOVEMENT_EVENTS = frozenset({"customer_updated", "void"})
MONEY_ZERO = Decimal("0.00")


# ---------------------------------------------------------------- small helpers


def as_date(value) -> dt.date:
    """A `date` from a date or an ISO `YYYY-MM-DD` string."""
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def is_given(event: dict, field: str) -> bool:
    """An empty CSV cell means "not given" (SPEC §10), and so does a JSON null."""
    return event.get(field) not in (None, "")


def round_half_even(value: Fraction, places: int) -> Decimal:
    """Exact rational → Decimal with `places` decimals, ROUND_HALF_EVEN, no intermediate rounding."""
    scaled = round(value * 10**places)  # Fraction.__round__ rounds half to even
    return Decimal(scaled).scaleb(-places)


def money(value: Fraction) -> Decimal:
    return round_half_even(value, 2)


def ratio(numerator, denominator) -> Decimal | None:
    """A ratio with six decimals, or None when the denominator is 0 (SPEC §6)."""
    denominator = Fraction(str(denominator))
    if denominator == 0:
        return None
    return round_half_even(Fraction(str(numerator)) / denominator, 6)


def day_before(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=1)


def by_log_order(events):
    return sorted(events, key=lambda e: int(e["sequence"]))


def by_effective_order(events):
    """The fold order of SPEC §3: (effective_date, sequence)."""
    return sorted(events, key=lambda e: (as_date(e["effective_date"]), int(e["sequence"])))


# ---------------------------------------------------------------- visibility


def visible(events, known_seq=None) -> list[dict]:
    """Events known at `known_seq`, without voided events and without the voids themselves."""
    known = [e for e in events if known_seq is None or int(e["sequence"]) <= known_seq]
    voided = {e["target_event_id"] for e in known if e["type"] == "void"}
    return by_log_order(e for e in known if e["type"] != "void" and e["event_id"] not in voided)


def customer_ids(events) -> list[str]:
    return sorted({e["customer_id"] for e in events})


def events_of(events, customer_id) -> list[dict]:
    return [e for e in events if e["customer_id"] == customer_id]


# ---------------------------------------------------------------- lines and MRR


def apply_event(lines: dict, event: dict) -> None:
    """Fold one event into `lines` (subscription_id → terms and an `open` flag), in place."""
    kind = event["type"]
    if kind == "subscription_started":
        # A start defines the line afresh: nothing carries over from an earlier run.
        lines[event["subscription_id"]] = {
            "plan": event.get("plan"),
            "quantity": event.get("quantity") if not is_given(event, "amount") else None,
            "unit_price": event.get("unit_price") if not is_given(event, "amount") else None,
            "amount": event.get("amount") if is_given(event, "amount") else None,
            "billing_months": event.get("billing_months") if is_given(event, "billing_months") else 1,
            "discount_pct": event.get("discount_pct") if is_given(event, "discount_pct") else 0,
            "currency": event.get("currency"),
            "open": True,
        }
    elif kind in CHANGE_TYPES:
        line = lines[event["subscription_id"]]
        for field in TERM_FIELDS:
            if is_given(event, field):
                line[field] = event[field]
    elif kind == "cancel":
        if is_given(event, "subscription_id"):
            lines[event["subscription_id"]]["open"] = False
        else:
            for line in lines.values():
                line["open"] = False
    # customer_updated changes no line; voids never reach a fold (see `visible`).


def copy_lines(lines: dict) -> dict:
    return {sid: dict(terms) for sid, terms in lines.items()}


def lines_at_end_of(customer_events, day) -> dict:
    """The customer's lines after every event effective on or before `day`."""
    day = as_date(day)
    lines: dict = {}
    for event in by_effective_order(customer_events):
        if as_date(event["effective_date"]) <= day:
            apply_event(lines, event)
    return lines


def line_mrr(terms: dict) -> Decimal:
    """SPEC §4: base × (1 − discount/100) / billing_months, rounded to cents once."""
    if is_given(terms, "amount"):
        base = Fraction(str(terms["amount"]))
    else:
        base = Fraction(int(terms["quantity"])) * Fraction(str(terms["unit_price"]))
    discount = Fraction(str(terms["discount_pct"]))
    return money(base * (1 - discount / 100) / int(terms["billing_months"]))


def open_line_mrr(lines: dict, subscription_id: str) -> Decimal:
    terms = lines.get(subscription_id)
    if terms is None or not terms["open"]:
        return MONEY_ZERO
    return line_mrr(terms)


def lines_mrr(lines: dict) -> Decimal:
    return sum((open_line_mrr(lines, sid) for sid in lines), MONEY_ZERO)


def customer_mrr(events, customer_id, day, known_seq=None, policy=None) -> Decimal:
    """The customer's MRR at the end of `day`, as known at `known_seq` (SPEC §4), after `policy` (§13)."""
    timeline = events_of(visible(events, known_seq), customer_id)
    if policy is not None:
        return series_mrr(mrr_series(timeline, policy_of(policy)), day)
    return lines_mrr(lines_at_end_of(timeline, day))


def customer_line_mrrs(events, customer_id, day, known_seq=None) -> dict[str, Decimal]:
    """MRR per open line at the end of `day` (closed lines left out)."""
    lines = lines_at_end_of(events_of(visible(events, known_seq), customer_id), day)
    return {sid: line_mrr(terms) for sid, terms in sorted(lines.items()) if terms["open"]}


# ---------------------------------------------------------------- movements


def event_cause(event: dict, lines_before: dict) -> str:
    """SPEC §5 cause of one event, judged against the line as it was just before it."""
    kind = event["type"]
    if kind == "subscription_started":
        return "cross_sell"
    if kind == "cancel":
        return "line_removed"
    if kind == "usage_change":
        return "usage"
    line = lines_before[event["subscription_id"]]
    if is_given(event, "plan") and str(event["plan"]) != str(line["plan"]):
        return "plan"
    if is_given(event, "quantity") and int(event["quantity"]) != int(line["quantity"]):
        return "seats"
    return "price"


def day_causes(customer_events, day: dt.date) -> list[str]:
    """Causes of the day's events that change some line's MRR, applied in sequence order."""
    lines = lines_at_end_of(customer_events, day_before(day))
    causes = []
    todays = [e for e in customer_events if as_date(e["effective_date"]) == day]
    for event in by_log_order(todays):
        before = copy_lines(lines)
        apply_event(lines, event)
        touched = set(before) | set(lines)
        if any(open_line_mrr(before, sid) != open_line_mrr(lines, sid) for sid in touched):
            causes.append(event_cause(event, before))
    return causes


def movements(events, known_seq=None, policy=None) -> list[dict]:
    """One movement per customer and day on which its MRR changes (SPEC §5), by (date, customer).

    With `policy`, the movements of SPEC §13 instead (per month under `month` grain).
    """
    seen = visible(events, known_seq)
    if policy is not None:
        return policy_movements(seen, policy_of(policy))
    result = []
    for customer_id in customer_ids(seen):
        timeline = events_of(seen, customer_id)
        # MRR can only change on a day some event takes effect; between those days it is flat,
        # so these days are also the only ones worth looking at for "had MRR > 0 before".
        days = sorted({as_date(e["effective_date"]) for e in timeline})
        for day in days:
            from_mrr = customer_mrr(seen, customer_id, day_before(day))
            to_mrr = customer_mrr(seen, customer_id, day)
            if from_mrr == to_mrr:
                continue
            if from_mrr == 0:
                had_revenue = any(customer_mrr(seen, customer_id, d) > 0 for d in days if d < day)
                category = "reactivation" if had_revenue else "new"
            elif to_mrr == 0:
                category = "churn"
            elif to_mrr > from_mrr:
                category = "expansion"
            else:
                category = "contraction"
            cause = None
            if category in ("expansion", "contraction"):
                causes = set(day_causes(timeline, day))
                assert causes, f"MRR of {customer_id} moved on {day} but no event changed a line"
                cause = causes.pop() if len(causes) == 1 else "mixed"
            event_ids = [
                e["event_id"]
                for e in by_log_order(timeline)
                if as_date(e["effective_date"]) == day and e["type"] not in NOT_MOVEMENT_EVENTS
            ]
            result.append(
                {
                    "customer_id": customer_id,
                    "date": day,
                    "category": category,
                    "cause": cause,
                    "from_mrr": from_mrr,
                    "to_mrr": to_mrr,
                    "amount": abs(to_mrr - from_mrr),
                    "event_ids": event_ids,
                }
            )
    return sorted(result, key=lambda m: (m["date"], m["customer_id"]))


# ---------------------------------------------------------------- attributes and periods


def attribute(events, customer_id, name, day, known_seq=None):
    """The customer's attribute `name` as of the end of `day`, or None if never set by then."""
    day = as_date(day)
    updates = [
        e
        for e in events_of(visible(events, known_seq), customer_id)
        if e["type"] == "customer_updated" and as_date(e["effective_date"]) <= day and is_given(e, name)
    ]
    return by_effective_order(updates)[-1][name] if updates else None


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    first_of_next = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return day_before(first_of_next)


def period_end(day: dt.date, period: str) -> dt.date:
    if period == "month":
        return month_end(day)
    if period == "quarter":
        last_month = (day.month - 1) // 3 * 3 + 3
        return month_end(day.replace(month=last_month, day=1))
    if period == "year":
        return day.replace(month=12, day=31)
    raise ValueError(f"unknown period {period!r}")


def periods(start, end, period="month") -> list[tuple[dt.date, dt.date]]:
    """Calendar periods covering [start, end], the first and last clipped to the range."""
    start, end = as_date(start), as_date(end)
    result = []
    while start <= end:
        last = min(period_end(start, period), end)
        result.append((start, last))
        start = last + dt.timedelta(days=1)
    return result


def group_order(value):
    return (value is not None, "" if value is None else str(value))


# ---------------------------------------------------------------- metrics


def period_metrics(start, end, group, opening, closing, period_movements) -> dict:
    """SPEC §6 figures for one period and one group.

    `opening` and `closing` map each member customer to its MRR at the end of
    start-1 and at the end of `end`; `period_movements` are the members'
    movements dated inside the period.
    """

    def total(category):
        return sum((m["amount"] for m in period_movements if m["category"] == category), MONEY_ZERO)

    def count(category):
        return len({m["customer_id"] for m in period_movements if m["category"] == category})

    opening_mrr = sum(opening.values(), MONEY_ZERO)
    closing_mrr = sum(closing.values(), MONEY_ZERO)
    bridge = {name: total(name) for name in ("new", "expansion", "contraction", "churn", "reactivation")}
    bridge["net_new"] = (
        bridge["new"] + bridge["expansion"] + bridge["reactivation"] - bridge["contraction"] - bridge["churn"]
    )

    retained = [c for c in opening if opening[c] > 0]  # S: active at opening
    survivors = [c for c in retained if closing[c] > 0]
    lost = [c for c in retained if closing[c] == 0]
    kept_expansion = sum((max(closing[c] - opening[c], MONEY_ZERO) for c in survivors), MONEY_ZERO)
    kept_contraction = sum((max(opening[c] - closing[c], MONEY_ZERO) for c in survivors), MONEY_ZERO)
    kept_churn = sum((opening[c] for c in lost), MONEY_ZERO)
    assert sum((closing[c] for c in retained), MONEY_ZERO) == (
        opening_mrr + kept_expansion - kept_contraction - kept_churn
    )
    retention = {
        "expansion": kept_expansion,
        "contraction": kept_contraction,
        "churn": kept_churn,
        "nrr": ratio(sum((closing[c] for c in retained), MONEY_ZERO), opening_mrr),
        "grr": ratio(opening_mrr - kept_contraction - kept_churn, opening_mrr),
        "expansion_rate": ratio(kept_expansion, opening_mrr),
        "contraction_rate": ratio(kept_contraction, opening_mrr),
        "churn_rate": ratio(kept_churn, opening_mrr),
    }

    closing_count = sum(1 for c in closing if closing[c] > 0)
    customers = {
        "opening": len(retained),
        "closing": closing_count,
        "new": count("new"),
        "reactivated": count("reactivation"),
        "churned": count("churn"),
        "logo_churn_rate": ratio(len(lost), len(retained)),
    }

    causes: dict = {"expansion": {}, "contraction": {}}
    for m in period_movements:
        if m["category"] in causes:
            by_cause = causes[m["category"]]
            by_cause[m["cause"]] = by_cause.get(m["cause"], MONEY_ZERO) + m["amount"]

    gains = bridge["new"] + bridge["expansion"] + bridge["reactivation"]
    losses = bridge["contraction"] + bridge["churn"]
    return {
        "start": start,
        "end": end,
        "group": group,
        "opening_mrr": opening_mrr,
        "closing_mrr": closing_mrr,
        "arr": 12 * closing_mrr,
        "bridge": bridge,
        "retention": retention,
        "customers": customers,
        "causes": {kind: dict(sorted(amounts.items())) for kind, amounts in causes.items()},
        # ARPA is money per account, so it is rounded to cents like money, not to six places.
        "arpa": money(Fraction(str(closing_mrr)) / closing_count) if closing_count else None,
        "quick_ratio": ratio(gains, losses),
        "expansion_share": ratio(bridge["expansion"], bridge["new"] + bridge["expansion"]),
    }


def metrics(events, start, end, period="month", by=None, known_seq=None, policy=None) -> list[dict]:
    """SPEC §6 metrics per period (clipped to [start, end]) and, with `by`, per attribute value."""
    seen = visible(events, known_seq)
    everyone = customer_ids(seen)
    mrr_of, all_movements = lens(seen, policy, start, end)
    result = []
    for first, last in periods(start, end, period):
        opening = {c: mrr_of(c, day_before(first)) for c in everyone}
        closing = {c: mrr_of(c, last) for c in everyone}
        inside = [m for m in all_movements if first <= m["date"] <= last]
        group_of = {c: (attribute(seen, c, by, last) if by else None) for c in everyone}
        for group in sorted(set(group_of.values()) | ({None} if not by else set()), key=group_order):
            members = [c for c in everyone if group_of[c] == group]
            theirs = [m for m in inside if group_of[m["customer_id"]] == group]
            if by and not (theirs or any(opening[c] > 0 or closing[c] > 0 for c in members)):
                continue
            result.append(
                period_metrics(
                    first,
                    last,
                    group,
                    {c: opening[c] for c in members},
                    {c: closing[c] for c in members},
                    theirs,
                )
            )
    return result


# ---------------------------------------------------------------- cohorts


def next_month(day: dt.date) -> dt.date:
    return month_end(day) + dt.timedelta(days=1)


def cohorts(events, start, end, known_seq=None, policy=None) -> list[dict]:
    """SPEC §6 cohorts: customers grouped by the month of their (only) `new` movement.

    A cohort is listed when its month overlaps [start, end].  Offsets run from
    k = 0 (the cohort month) to the month containing `end`; "the end of month
    cohort+k" is clipped to `end`, as periods are.  Contraction is cumulative
    over months 1..k (the cohort month itself does not count), contraction
    movements only (churn is visible in mrr_k).  Logo retention divides by the
    cohort's size (every member was active at some point in month 0).  A range
    ending inside a cohort's month counts only the members who joined by `end`.
    """
    start, end = as_date(start), as_date(end)
    seen = visible(events, known_seq)
    mrr_of, all_movements = lens(seen, policy, start, end)
    joined = {m["customer_id"]: m["date"] for m in all_movements if m["category"] == "new"}
    months = sorted({month_start(d) for d in joined.values() if month_start(start) <= d <= end})
    result = []
    for cohort in months:
        # members as of the range's end: a customer joining after `end` is not in any figure of the range
        members = sorted(c for c, d in joined.items() if month_start(d) == cohort and d <= end)
        offsets = []
        month, k, mrr_0 = cohort, 0, None
        while month <= end:
            as_of = min(month_end(month), end)
            mrr = sum((mrr_of(c, as_of) for c in members), MONEY_ZERO)
            if k == 0:
                mrr_0 = mrr
            active = sum(1 for c in members if mrr_of(c, as_of) > 0)
            contraction = sum(
                (
                    m["amount"]
                    for m in all_movements
                    if m["customer_id"] in members
                    and m["category"] == "contraction"
                    and next_month(cohort) <= m["date"] <= as_of
                ),
                MONEY_ZERO,
            )
            offsets.append(
                {
                    "k": k,
                    "month": month,
                    "as_of": as_of,
                    "mrr": mrr,
                    "nrr": ratio(mrr, mrr_0),
                    "active": active,
                    "logo_retention": ratio(active, len(members)),
                    "contraction": contraction,
                    "contraction_rate": ratio(contraction, mrr_0),
                }
            )
            month, k = next_month(month), k + 1
        result.append({"cohort": cohort, "customers": len(members), "mrr_0": mrr_0, "offsets": offsets})
    return result


# ---------------------------------------------------------------- recognition policy (SPEC §13)
#
# Readings of §13 beyond the SPEC's words (the lead's, plus those noted in the oracle's report):
# * which lines a cancel ends, each line's anchor and billing_months, and restarts come from the
#   fold on the events' own dates; a moved cancel is applied first on the day it lands;
# * a restart before the boundary ends the old term that day, so the two net into one movement
#   whose causes are line_removed and cross_sell;
# * the day MRR returns after a filled gap takes its cause from that day's own events only;
# * under month grain, event_ids are listed by (day the event counts, sequence).

DEFAULT_POLICY = {"churn_recognition": "cancel_date", "reactivation_grace_days": 0, "movement_grain": "day"}


def policy_of(policy) -> dict:
    """The full policy: a setting not given keeps its default; a value §13 does not allow is an error."""
    full = {**DEFAULT_POLICY, **(policy or {})}
    unknown = sorted(set(full) - set(DEFAULT_POLICY))
    grace = full["reactivation_grace_days"]
    if unknown:
        raise ValueError(f"unknown policy setting {unknown[0]!r}")
    if full["churn_recognition"] not in ("cancel_date", "term_end"):
        raise ValueError(f"churn_recognition must be cancel_date or term_end, not {full['churn_recognition']!r}")
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= 366:
        raise ValueError(f"reactivation_grace_days must be an integer 0-366, not {grace!r}")
    if full["movement_grain"] not in ("day", "month"):
        raise ValueError(f"movement_grain must be day or month, not {full['movement_grain']!r}")
    return full


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole calendar months; a day the month lacks becomes its last day."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    first = dt.date(year, month + 1, 1)
    return first.replace(day=min(day.day, month_end(first).day))


def term_boundary(anchor: dt.date, billing_months: int, cancel_day: dt.date) -> dt.date:
    """The first anchor + k × billing_months (k = 0, 1, …, each from the anchor) on or after the cancel."""
    k = 0
    while add_months(anchor, k * billing_months) < cancel_day:
        k += 1
    return add_months(anchor, k * billing_months)


def recognition_order(entry: dict):
    # A moved cancel ends a term at the start of its day, so it goes before a restart that day.
    return (entry["_on"], 0 if entry["_moved"] else 1, int(entry["sequence"]))


def recognised_timeline(customer_events, churn_recognition: str) -> list[dict]:
    """The customer's events, each with the day `_on` on which it counts; a cancel is split per line it ends.

    Which lines a cancel ends, their anchors and billing_months, and the restarts are all read from
    the fold on the events' own dates: validation uses those dates whatever the policy (SPEC §13).
    """
    ordered = by_effective_order(customer_events)
    state: dict = {}  # subscription_id -> open, anchor, billing_months
    ends = []  # (position in `ordered`, cancel, subscription_id, anchor, billing_months)
    for position, event in enumerate(ordered):
        kind, day = event["type"], as_date(event["effective_date"])
        if kind == "subscription_started":
            months = int(event["billing_months"]) if is_given(event, "billing_months") else 1
            state[event["subscription_id"]] = {"open": True, "anchor": day, "billing_months": months}
        elif kind in CHANGE_TYPES:
            line = state[event["subscription_id"]]
            if is_given(event, "billing_months") and int(event["billing_months"]) != line["billing_months"]:
                line["anchor"], line["billing_months"] = day, int(event["billing_months"])
        elif kind == "cancel":
            if is_given(event, "subscription_id"):
                targets = [event["subscription_id"]]
            else:
                targets = sorted(sid for sid, line in state.items() if line["open"])
            for sid in targets:
                ends.append((position, event, sid, state[sid]["anchor"], state[sid]["billing_months"]))
                state[sid]["open"] = False

    timeline = [
        {**e, "_on": as_date(e["effective_date"]), "_moved": False} for e in ordered if e["type"] != "cancel"
    ]
    for position, event, sid, anchor, months in ends:
        cancelled = as_date(event["effective_date"])
        on = cancelled
        if churn_recognition == "term_end":
            on = term_boundary(anchor, months, cancelled)
            restarts = [
                as_date(e["effective_date"])
                for e in ordered[position + 1 :]
                if e["type"] == "subscription_started" and e["subscription_id"] == sid
            ]
            if restarts and restarts[0] < on:
                on = restarts[0]
        timeline.append({**event, "subscription_id": sid, "_on": on, "_moved": on != cancelled})
    return sorted(timeline, key=recognition_order)


def recognised_lines(timeline, day) -> dict:
    """The lines after every entry of a recognised timeline that counts on or before `day`."""
    lines: dict = {}
    for entry in timeline:
        if entry["_on"] <= as_date(day):
            apply_event(lines, entry)
    return lines


def mrr_series(customer_events, policy: dict) -> list[tuple[dt.date, Decimal]]:
    """The customer's end-of-day MRR after churn_recognition, then grace: (day, MRR from that day on) steps."""
    timeline = recognised_timeline(customer_events, policy["churn_recognition"])
    days = sorted({e["_on"] for e in timeline})
    values = [lines_mrr(recognised_lines(timeline, day)) for day in days]
    grace = policy["reactivation_grace_days"]
    filled = list(values)
    i = 0
    while i < len(days):
        if values[i] == 0 and i > 0 and values[i - 1] > 0:
            j = i
            while j < len(days) and values[j] == 0:
                j += 1
            # days[j] is the day MRR returns; a run not ended as known (j past the end) stays churn.
            if j < len(days) and (days[j] - days[i]).days <= grace:
                filled[i:j] = [values[i - 1]] * (j - i)
            i = j
        else:
            i += 1
    return list(zip(days, filled))


def series_mrr(series, day) -> Decimal:
    """The value of a step series at the end of `day` (0 before its first step)."""
    value = MONEY_ZERO
    for step, mrr in series:
        if step <= as_date(day):
            value = mrr
    return value


def recognised_causes(timeline, first: dt.date, last: dt.date) -> list[str]:
    """§5 causes of the entries counting in [first, last] that change some line's MRR, in fold order."""
    lines = recognised_lines(timeline, day_before(first))
    causes = []
    for entry in timeline:
        if first <= entry["_on"] <= last:
            before = copy_lines(lines)
            apply_event(lines, entry)
            if any(open_line_mrr(before, sid) != open_line_mrr(lines, sid) for sid in set(before) | set(lines)):
                causes.append(event_cause(entry, before))
    return causes


def month_ends_before(first_day: dt.date, day: dt.date) -> list[dt.date]:
    """Every month end from `first_day`'s month up to, not including, `day`."""
    ends, end = [], month_end(first_day)
    while end < day:
        ends.append(end)
        end = month_end(end + dt.timedelta(days=1))
    return ends


def policy_movements(seen, policy: dict) -> list[dict]:
    """SPEC §13 movements: MRR after term_end and grace, netted per day or per calendar month."""
    result = []
    for customer_id in customer_ids(seen):
        timeline_events = events_of(seen, customer_id)
        timeline = recognised_timeline(timeline_events, policy["churn_recognition"])
        series = mrr_series(timeline_events, policy)
        days = [day for day, _ in series]
        if policy["movement_grain"] == "day":
            spans = [(day, day) for day in days]
        else:
            spans = sorted({(month_start(day), month_end(day)) for day in days})
        for first, last in spans:
            from_mrr = series_mrr(series, day_before(first))
            to_mrr = series_mrr(series, last)
            if from_mrr == to_mrr:
                continue
            if from_mrr == 0:
                # Under month grain only month ends count as "before" (SPEC §13).
                earlier = [d for d in days if d < first] if first == last else month_ends_before(days[0], first)
                category = "reactivation" if any(series_mrr(series, d) > 0 for d in earlier) else "new"
            elif to_mrr == 0:
                category = "churn"
            elif to_mrr > from_mrr:
                category = "expansion"
            else:
                category = "contraction"
            cause = None
            if category in ("expansion", "contraction"):
                causes = set(recognised_causes(timeline, first, last))
                assert causes, f"MRR of {customer_id} moved in {first}..{last} but no event changed a line"
                cause = causes.pop() if len(causes) == 1 else "mixed"
            inside = sorted(
                (e for e in timeline if first <= e["_on"] <= last and e["type"] not in NOT_MOVEMENT_EVENTS),
                key=lambda e: (e["_on"], int(e["sequence"])),
            )
            event_ids = list(dict.fromkeys(e["event_id"] for e in inside))  # a split cancel-all once
            result.append(
                {
                    "customer_id": customer_id,
                    "date": last,
                    "category": category,
                    "cause": cause,
                    "from_mrr": from_mrr,
                    "to_mrr": to_mrr,
                    "amount": abs(to_mrr - from_mrr),
                    "event_ids": event_ids,
                }
            )
    return sorted(result, key=lambda m: (m["date"], m["customer_id"]))


def require_whole_months(start, end) -> None:
    if as_date(start).day != 1 or as_date(end) != month_end(as_date(end)):
        raise ValueError("movement_grain month needs --from on a month's first day and --to on a month's last day")


def lens(seen, policy, start, end):
    """How MRR and movements are read: (mrr(customer, day), movements), as §3–§6 say or after `policy`."""
    if policy is None:
        return (lambda c, day: customer_mrr(seen, c, day)), movements(seen)
    policy = policy_of(policy)
    if policy["movement_grain"] == "month":
        require_whole_months(start, end)
    series = {c: mrr_series(events_of(seen, c), policy) for c in customer_ids(seen)}
    return (lambda c, day: series_mrr(series.get(c, []), day)), policy_movements(seen, policy)


# ---------------------------------------------------------------- retention analytics (SPEC §15)

BANDS = (
    (Decimal("1.3"), "130%+"),
    (Decimal("1.2"), "120–130%"),
    (Decimal("1.1"), "110–120%"),
    (Decimal("1.0"), "100–110%"),
    (Decimal("0.9"), "90–100%"),
)


def band(nrr) -> str | None:
    """The finance band of an NRR as printed (six decimals), each band including its lower bound."""
    if nrr is None:
        return None
    value = Decimal(str(nrr))
    return next((name for lower, name in BANDS if value >= lower), "below 90%")


def money_text(value: Decimal) -> str:
    return f"{value:.2f}"


def ratio_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.6f}"


def json_group_order(value):
    """Groups by name, `null` last, as the JSON reports list them."""
    return (value is None, "" if value is None else str(value))


def listed_groups(seen, everyone, mrr_of, all_movements, first, last, by):
    """(group, opening, closing, movements in the period) per group SPEC §6 lists for [first, last]."""
    opening = {c: mrr_of(c, day_before(first)) for c in everyone}
    closing = {c: mrr_of(c, last) for c in everyone}
    inside = [m for m in all_movements if first <= m["date"] <= last]
    group_of = {c: (attribute(seen, c, by, last) if by else None) for c in everyone}
    for group in sorted(set(group_of.values()) | ({None} if not by else set()), key=json_group_order):
        members = [c for c in everyone if group_of[c] == group]
        theirs = [m for m in inside if group_of[m["customer_id"]] == group]
        if by and not (theirs or any(opening[c] > 0 or closing[c] > 0 for c in members)):
            continue
        yield group, {c: opening[c] for c in members}, {c: closing[c] for c in members}, theirs


def retention(events, start, end, window=12, by=None, known_seq=None, policy=None) -> list[dict]:
    """SPEC §15 trailing windows: one row per month M ending in [start, end] (and group), as JSON `months`."""
    start, end = as_date(start), as_date(end)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a whole number of months >= 1, not {window!r}")
    seen = visible(events, known_seq)
    everyone = customer_ids(seen)
    mrr_of, all_movements = lens(seen, policy, start, end)
    rows = []
    month = month_start(start)
    while month <= end:
        last = month_end(month)
        if start <= last <= end:
            first = add_months(month, 1 - window)
            listed = listed_groups(seen, everyone, mrr_of, all_movements, first, last, by)
            for group, opening, closing, theirs in listed:
                figures = period_metrics(first, last, group, opening, closing, theirs)
                kept = figures["retention"]
                nrr = ratio_text(kept["nrr"])
                rows.append(
                    {
                        "month": f"{month.year:04d}-{month.month:02d}",
                        "start": first.isoformat(),
                        "end": last.isoformat(),
                        "group": group,
                        "opening_mrr": money_text(figures["opening_mrr"]),
                        "closing_mrr": money_text(figures["closing_mrr"]),
                        "nrr": nrr,
                        "grr": ratio_text(kept["grr"]),
                        "expansion_rate": ratio_text(kept["expansion_rate"]),
                        "contraction_rate": ratio_text(kept["contraction_rate"]),
                        "churn_rate": ratio_text(kept["churn_rate"]),
                        "logo_churn_rate": ratio_text(figures["customers"]["logo_churn_rate"]),
                        "band": band(nrr),
                    }
                )
        month = next_month(month)
    return rows


DURABILITY_FIGURES = (
    "expansion.customers",
    "expansion.followed",
    "contraction.customers",
    "contraction.churned",
    "contraction.repeated",
    "first_expansion.customers",
    "first_expansion.expanded",
    "first_expansion.within_90",
    "first_expansion.within_180",
    "first_expansion.within_365",
)


def month_index(day: dt.date) -> int:
    return day.year * 12 + day.month


def in_window(anchor: dict, movement: dict, days: int, grain: str) -> bool:
    """Is `movement` dated in (anchor, anchor + days]?  Under month grain: in the ⌈days/30⌉ months after."""
    if grain == "month":
        return 1 <= month_index(movement["date"]) - month_index(anchor["date"]) <= -(-days // 30)
    return anchor["date"] < movement["date"] <= anchor["date"] + dt.timedelta(days=days)


def signals(theirs, first, last, within: int, grain: str) -> dict:
    """One customer's part in §15's durability figures for [first, last].

    Maps each figure the customer counts in to (anchor movement, first movement that qualifies it
    or None), plus `lost_amount` and `days` (to the first expansion) where they apply.  `theirs`
    is every movement of the customer as known, in date order, also those after the period.
    """
    found: dict = {}
    dated_in = [m for m in theirs if first <= m["date"] <= last]

    expansions = [m for m in dated_in if m["category"] == "expansion"]
    if expansions:
        anchor = expansions[0]
        found["expansion.customers"] = (anchor, None)
        losses = [
            m for m in theirs if m["category"] in ("contraction", "churn") and in_window(anchor, m, within, grain)
        ]
        if losses:
            found["expansion.followed"] = (anchor, losses[0])
            found["lost_amount"] = sum((m["amount"] for m in losses), MONEY_ZERO)

    contractions = [m for m in dated_in if m["category"] == "contraction"]
    if contractions:
        anchor = contractions[0]
        found["contraction.customers"] = (anchor, None)
        later = [m for m in theirs if m is not anchor and in_window(anchor, m, within, grain)]
        churns = [m for m in later if m["category"] == "churn"]
        again = [m for m in later if m["category"] == "contraction"]
        if churns:
            found["contraction.churned"] = (anchor, churns[0])
        if again:
            found["contraction.repeated"] = (anchor, again[0])

    news = [m for m in theirs if m["category"] == "new"]
    if news and first <= news[0]["date"] <= last:
        anchor = news[0]
        found["first_expansion.customers"] = (anchor, None)
        expanded = [m for m in theirs if m["category"] == "expansion" and m["date"] > anchor["date"]]
        if expanded:
            found["first_expansion.expanded"] = (anchor, expanded[0])
            found["days"] = (expanded[0]["date"] - anchor["date"]).days
            for days in (90, 180, 365):
                if in_window(anchor, expanded[0], days, grain):
                    found[f"first_expansion.within_{days}"] = (anchor, expanded[0])
    return found


def nearest_rank(values, q: Fraction) -> int | None:
    """The ⌈q·n⌉-th smallest of `values`, or None when there are none."""
    if not values:
        return None
    return sorted(values)[math.ceil(Fraction(q) * len(values)) - 1]


def durability_lens(events, start, end, within, known_seq, policy):
    if isinstance(within, bool) or not isinstance(within, int) or within < 0:
        raise ValueError(f"within must be a whole number of days >= 0, not {within!r}")
    seen = visible(events, known_seq)
    mrr_of, all_movements = lens(seen, policy, start, end)
    grain = policy_of(policy)["movement_grain"]
    by_customer = {c: [m for m in all_movements if m["customer_id"] == c] for c in customer_ids(seen)}
    return seen, mrr_of, all_movements, grain, by_customer


def durability(events, start, end, period="month", within=90, by=None, known_seq=None, policy=None) -> list[dict]:
    """SPEC §15 durability signals per period (and group), as the JSON `periods` entries."""
    seen, mrr_of, all_movements, grain, by_customer = durability_lens(events, start, end, within, known_seq, policy)
    everyone = customer_ids(seen)
    rows = []
    for first, last in periods(start, end, period):
        for group, opening, _closing, _theirs in listed_groups(seen, everyone, mrr_of, all_movements, first, last, by):
            found = {c: signals(by_customer[c], first, last, within, grain) for c in opening}

            def count(figure):
                return sum(1 for c in found if figure in found[c])

            anchors = sum(
                (found[c]["expansion.customers"][0]["amount"] for c in found if "expansion.customers" in found[c]),
                MONEY_ZERO,
            )
            lost = sum((found[c]["lost_amount"] for c in found if "lost_amount" in found[c]), MONEY_ZERO)
            days = [found[c]["days"] for c in found if "days" in found[c]]
            rows.append(
                {
                    "start": first.isoformat(),
                    "end": last.isoformat(),
                    "group": group,
                    "expansion": {
                        "customers": count("expansion.customers"),
                        "followed": count("expansion.followed"),
                        "rate": ratio_text(ratio(count("expansion.followed"), count("expansion.customers"))),
                        "expansion_amount": money_text(anchors),
                        "lost_amount": money_text(lost),
                    },
                    "contraction": {
                        "customers": count("contraction.customers"),
                        "churned": count("contraction.churned"),
                        "churn_rate": ratio_text(ratio(count("contraction.churned"), count("contraction.customers"))),
                        "repeated": count("contraction.repeated"),
                    },
                    "first_expansion": {
                        "customers": count("first_expansion.customers"),
                        "expanded": count("first_expansion.expanded"),
                        "within_90": count("first_expansion.within_90"),
                        "within_180": count("first_expansion.within_180"),
                        "within_365": count("first_expansion.within_365"),
                        "median_days": nearest_rank(days, Fraction(1, 2)),
                        "p25_days": nearest_rank(days, Fraction(1, 4)),
                        "p75_days": nearest_rank(days, Fraction(3, 4)),
                    },
                }
            )
    return rows


def durability_items(events, start, end, figure, within=90, group=None, by=None, known_seq=None, policy=None):
    """What `explain durability.FIGURE` lists for the one period [start, end]: per customer, by id,
    its anchor movement and the first later movement that qualifies it (None for `*.customers`)."""
    figure = figure.removeprefix("durability.")
    if figure not in DURABILITY_FIGURES:
        raise ValueError(f"unknown durability figure {figure!r}")
    start, end = as_date(start), as_date(end)
    seen, _mrr_of, _all, grain, by_customer = durability_lens(events, start, end, within, known_seq, policy)
    items = []
    for c in customer_ids(seen):
        if by and attribute(seen, c, by, end) != group:
            continue
        found = signals(by_customer[c], start, end, within, grain)
        if figure in found:
            anchor, qualifying = found[figure]
            items.append({"customer_id": c, "anchor": anchor, "qualifying": qualifying})
    return items


def durability_members(events, start, end, figure, within=90, group=None, by=None, known_seq=None, policy=None):
    """The customers (sorted ids) behind one durability count of the one period [start, end]."""
    items = durability_items(events, start, end, figure, within, group, by, known_seq, policy)
    return [item["customer_id"] for item in items]
