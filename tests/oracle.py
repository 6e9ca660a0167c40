"""A deliberately naive reference model of SPEC §3–§6, for property tests.

It shares no code with `ledger/` or `projections/`: the point is a second,
independent reading of the SPEC, written the slow obvious way (a customer's
MRR on a day is found by folding its whole timeline again), so that the real
projections can be checked against it.

Input is a list of event dicts as they appear in a JSON Lines file (SPEC §3,
§10 field names, values as strings or ints) plus an int `sequence` giving log
order.  Events are assumed valid and in one currency.  `known_seq` plays the
role of `--known-at`: only events with `sequence <= known_seq` count.
"""

from __future__ import annotations

import datetime as dt
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


def customer_mrr(events, customer_id, day, known_seq=None) -> Decimal:
    """The customer's MRR at the end of `day`, as known at `known_seq` (SPEC §4)."""
    timeline = events_of(visible(events, known_seq), customer_id)
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


def movements(events, known_seq=None) -> list[dict]:
    """One movement per customer and day on which its MRR changes (SPEC §5), by (date, customer)."""
    seen = visible(events, known_seq)
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


def metrics(events, start, end, period="month", by=None, known_seq=None) -> list[dict]:
    """SPEC §6 metrics per period (clipped to [start, end]) and, with `by`, per attribute value."""
    seen = visible(events, known_seq)
    everyone = customer_ids(seen)
    all_movements = movements(seen)
    result = []
    for first, last in periods(start, end, period):
        opening = {c: customer_mrr(seen, c, day_before(first)) for c in everyone}
        closing = {c: customer_mrr(seen, c, last) for c in everyone}
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


def cohorts(events, start, end, known_seq=None) -> list[dict]:
    """SPEC §6 cohorts: customers grouped by the month of their (only) `new` movement.

    A cohort is listed when its month overlaps [start, end].  Offsets run from
    k = 0 (the cohort month) to the month containing `end`; "the end of month
    cohort+k" is clipped to `end`, as periods are.  Contraction is cumulative
    over months 1..k (the cohort month itself does not count), contraction
    movements only (churn is visible in mrr_k).  Logo retention divides by the
    cohort's size (every member was active at some point in month 0).
    """
    start, end = as_date(start), as_date(end)
    seen = visible(events, known_seq)
    all_movements = movements(seen)
    joined = {m["customer_id"]: m["date"] for m in all_movements if m["category"] == "new"}
    months = sorted({month_start(d) for d in joined.values() if month_start(start) <= d <= end})
    result = []
    for cohort in months:
        members = sorted(c for c, d in joined.items() if month_start(d) == cohort)
        offsets = []
        month, k, mrr_0 = cohort, 0, None
        while month <= end:
            as_of = min(month_end(month), end)
            mrr = sum((customer_mrr(seen, c, as_of) for c in members), MONEY_ZERO)
            if k == 0:
                mrr_0 = mrr
            active = sum(1 for c in members if customer_mrr(seen, c, as_of) > 0)
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
