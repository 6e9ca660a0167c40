"""Hypothesis strategies for valid revledger event histories.

`event_histories()` builds a log event by event, the way a user would record
it: each candidate is drawn from the state of the timeline so far and kept
only if `append_error` (a small, naive copy of the SPEC §3 acceptance rule)
accepts it.  Candidates are aimed at what is likely valid (changes inside a
line's open run, cancels after its last change, restarts after its last
cancel) so that most are kept and histories stay rich: several customers and
lines, seat and flat pricing, annual billing, discounts, same-day events,
backdated changes, cancels with and without `subscription_id`, restarts,
customer attributes and voids.

No project imports: the generator must not inherit the ledger's bugs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from hypothesis import strategies as st

FIRST_DAY = dt.date(2025, 1, 1)
LAST_DAY = dt.date(2026, 12, 31)
CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli", "stark")
LINES = ("core", "addon", "usage", "support")
PLANS = ("starter", "team", "business", "enterprise")
DISCOUNTS = ("0", "5", "10", "12.5", "20", "25", "33.33", "50", "100")
BILLING_MONTHS = (1, 1, 1, 3, 12, 12, 24)
ATTRIBUTES = {
    "segment": ("smb", "mid_market", "enterprise"),
    "channel": ("direct", "partner", "self_serve"),
    "region": ("emea", "amer", "apac"),
    "attr.tier": ("gold", "silver"),
    "customer_name": ("Acme Corp", "Globex Ltd", "Initech"),
}
CHANGE_TYPES = ("subscription_changed", "upsell", "downgrade", "seat_change", "price_change", "usage_change")
TERM_FIELDS = ("plan", "quantity", "unit_price", "amount", "billing_months", "discount_pct", "currency")
SEAT_ONLY = ("quantity", "unit_price")
FLAT_ONLY = ("amount",)


# ---------------------------------------------------------------- the naive acceptance rule


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _given(event: dict, field: str) -> bool:
    return event.get(field) not in (None, "")


def _fold_order(events):
    return sorted(events, key=lambda e: (_date(e["effective_date"]), e["sequence"]))


def visible_events(history) -> list[dict]:
    """Recorded events minus voids and the events they void."""
    voided = {e["target_event_id"] for e in history if e["type"] == "void"}
    return [e for e in history if e["type"] != "void" and e["event_id"] not in voided]


def _start_terms(event: dict) -> dict:
    flat = _given(event, "amount")
    return {
        "kind": "flat" if flat else "seat",
        "plan": event.get("plan"),
        "quantity": None if flat else event["quantity"],
        "unit_price": None if flat else event["unit_price"],
        "amount": event["amount"] if flat else None,
        "billing_months": event.get("billing_months") or 1,
        "discount_pct": event.get("discount_pct") or "0",
        "open": True,
    }


def _line_mrr(terms: dict) -> Decimal:
    if terms["kind"] == "flat":
        base = Fraction(str(terms["amount"]))
    else:
        base = int(terms["quantity"]) * Fraction(str(terms["unit_price"]))
    exact = base * (1 - Fraction(str(terms["discount_pct"])) / 100) / int(terms["billing_months"])
    return Decimal(round(exact * 100)).scaleb(-2)


def _fold(customer_events):
    """Fold a customer's events in (effective_date, sequence) order; return (lines, first error)."""
    lines: dict = {}
    for event in _fold_order(customer_events):
        kind, sid = event["type"], event.get("subscription_id")
        line = lines.get(sid)
        where = f"{event['event_id']} ({kind} {sid} on {event['effective_date']})"
        if kind == "subscription_started":
            if line is not None and line["open"]:
                return lines, f"{where}: line already open"
            lines[sid] = _start_terms(event)
        elif kind in CHANGE_TYPES:
            if line is None or not line["open"]:
                return lines, f"{where}: line not open"
            wrong = SEAT_ONLY if line["kind"] == "flat" else FLAT_ONLY
            if any(_given(event, f) for f in wrong):
                return lines, f"{where}: pricing of the other kind"
            if kind == "seat_change" and line["kind"] != "seat":
                return lines, f"{where}: seat_change on a flat line"
            if kind == "usage_change" and line["kind"] != "flat":
                return lines, f"{where}: usage_change on a seat line"
            for field in TERM_FIELDS:
                if _given(event, field):
                    line[field] = event[field]
        elif kind == "cancel":
            if _given(event, "subscription_id"):
                if line is None or not line["open"]:
                    return lines, f"{where}: line not open"
                line["open"] = False
            else:
                open_lines = [terms for terms in lines.values() if terms["open"]]
                if not open_lines:
                    return lines, f"{where}: no open line to cancel"
                for terms in open_lines:
                    terms["open"] = False
    return lines, None


def _fields_error(event: dict) -> str | None:
    """Per-type field rules that do not depend on the timeline."""
    kind = event["type"]
    given = {f for f in TERM_FIELDS if _given(event, f)}
    if kind == "seat_change" and given != {"quantity"}:
        return "seat_change must give only quantity"
    if kind == "usage_change" and given != {"amount"}:
        return "usage_change must give only amount"
    if kind == "price_change" and (not given or not given <= {"unit_price", "amount", "discount_pct"}):
        return "price_change may give only unit_price, amount, discount_pct"
    if kind in ("subscription_changed", "upsell", "downgrade") and not given:
        return f"{kind} gives no term"
    return None


def append_error(history, candidate) -> str | None:
    """Why the ledger would refuse `candidate` after `history` (SPEC §3), or None if it accepts it."""
    seen = visible_events(history)
    if candidate["type"] == "void":
        target = next((e for e in history if e["event_id"] == candidate["target_event_id"]), None)
        if target is None or target["type"] == "void":
            return "void target missing or a void"
        if target not in seen:
            return "void target already voided"
        if target["customer_id"] != candidate["customer_id"]:
            return "void names another customer"
        remaining = [e for e in seen if e["customer_id"] == target["customer_id"] and e is not target]
        return _fold(remaining)[1]

    problem = _fields_error(candidate)
    if problem:
        return problem
    timeline = [e for e in seen if e["customer_id"] == candidate["customer_id"]]
    problem = _fold(timeline + [candidate])[1]
    if problem:
        return problem
    if candidate["type"] in ("upsell", "downgrade"):
        # The claim is judged once, in place: the line just before and just after this event.
        position = (_date(candidate["effective_date"]), candidate["sequence"])
        earlier = [e for e in timeline if (_date(e["effective_date"]), e["sequence"]) < position]
        before, after = _fold(earlier)[0], _fold(earlier + [candidate])[0]
        sid = candidate["subscription_id"]
        old, new = _line_mrr(before[sid]), _line_mrr(after[sid])
        if candidate["type"] == "upsell" and not new > old:
            return f"upsell does not raise MRR ({old} -> {new})"
        if candidate["type"] == "downgrade" and not new < old:
            return f"downgrade does not lower MRR ({old} -> {new})"
    return None


def history_error(history) -> str | None:
    """The first refusal when replaying `history` append by append, or None if all are accepted."""
    for position, event in enumerate(history):
        problem = append_error(history[:position], event)
        if problem:
            return f"event {position + 1}: {problem}"
    return None


# ---------------------------------------------------------------- what the timeline offers


def _line_runs(customer_events):
    """Per line: its open runs [(first_open_day, first_closed_day or None)], judged at end of day,
    the last day on which it was closed, and its last touching event day."""
    days = sorted({_date(e["effective_date"]) for e in customer_events})
    state: dict = {}
    opened: dict = {}
    runs: dict = {}
    last_closed: dict = {}
    last_touched: dict = {}
    for day in days:
        for event in _fold_order(e for e in customer_events if _date(e["effective_date"]) == day):
            sid = event.get("subscription_id")
            if event["type"] == "subscription_started":
                state[sid] = True
            elif event["type"] == "cancel":
                targets = [sid] if _given(event, "subscription_id") else [s for s, o in state.items() if o]
                for target in targets:
                    state[target] = False
                    last_closed[target] = day
                    last_touched[target] = day
            if _given(event, "subscription_id"):
                last_touched[sid] = day
        for sid, is_open in state.items():
            if is_open and sid not in opened:
                opened[sid] = day
            elif not is_open and sid in opened:
                runs.setdefault(sid, []).append((opened.pop(sid), day))
    for sid, day in opened.items():
        runs.setdefault(sid, []).append((day, None))
    return state, runs, last_closed, last_touched


def _terms_at(customer_events, sid, day):
    lines, _ = _fold([e for e in customer_events if _date(e["effective_date"]) <= day])
    return lines.get(sid)


# ---------------------------------------------------------------- value strategies


def _cents(low: int, high: int):
    return st.integers(low, high).map(lambda c: f"{c // 100}.{c % 100:02d}")


seat_prices = st.one_of(st.sampled_from(["50.00", "19.99", "12.50", "100.00", "7.33", "0.00"]), _cents(1, 50_000))
flat_amounts = st.one_of(
    st.sampled_from(["12000.00", "1000.00", "250.00", "99.99", "0.30", "0.90", "333.33", "0.00"]),
    _cents(1, 5_000_000),
)
quantities = st.one_of(st.sampled_from([1, 10, 150, 200]), st.integers(0, 500))


@st.composite
def _day_between(draw, history, low: dt.date, high: dt.date) -> dt.date:
    """A day in [low, high], often one on which something already happens (same-day events)."""
    if high < low:
        high = low
    taken = sorted({_date(e["effective_date"]) for e in history if low <= _date(e["effective_date"]) <= high})
    mode = draw(st.integers(0, 3))
    if mode == 0 and taken:
        return draw(st.sampled_from(taken))
    if mode == 1:
        return low + dt.timedelta(days=draw(st.integers(0, min(45, (high - low).days))))
    return low + dt.timedelta(days=draw(st.integers(0, (high - low).days)))


@st.composite
def _start_fields(draw) -> dict:
    fields: dict = {"plan": draw(st.sampled_from(PLANS))}
    if draw(st.booleans()):
        fields["quantity"] = draw(quantities)
        fields["unit_price"] = draw(seat_prices)
    else:
        fields["amount"] = draw(flat_amounts)
    if draw(st.integers(0, 2)) == 0:
        fields["billing_months"] = draw(st.sampled_from(BILLING_MONTHS))
    if draw(st.integers(0, 2)) == 0:
        fields["discount_pct"] = draw(st.sampled_from(DISCOUNTS))
    if draw(st.integers(0, 3)) == 0:
        fields["currency"] = "USD"
    return fields


@st.composite
def _change_fields(draw, kind: str, terms: dict) -> dict:
    """Fields for a change of type `kind` to a line with `terms`, aimed at being accepted."""
    seat = terms["kind"] == "seat"
    price_field = "unit_price" if seat else "amount"
    prices = seat_prices if seat else flat_amounts
    if kind == "seat_change":
        return {"quantity": draw(quantities)}
    if kind == "usage_change":
        return {"amount": draw(flat_amounts)}
    if kind == "price_change":
        fields = {}
        if draw(st.booleans()):
            fields["discount_pct"] = draw(st.sampled_from(DISCOUNTS))
        if not fields or draw(st.booleans()):
            fields[price_field] = draw(prices)
        return fields
    if kind in ("upsell", "downgrade"):
        up = kind == "upsell"
        fields = {}
        if draw(st.booleans()):
            fields["plan"] = draw(st.sampled_from(PLANS))
        how = draw(st.integers(0, 3))
        if how == 0 and seat:
            q = int(terms["quantity"])
            fields["quantity"] = q + draw(st.integers(1, 50)) if up else draw(st.integers(0, max(q - 1, 0)))
        elif how == 1:
            current = Decimal(str(terms[price_field]))
            step = Decimal(draw(st.integers(1, 100_000))) / 100
            fields[price_field] = str(current + step if up else max(current - step, Decimal("0.00")))
        elif how == 2:
            # A smaller discount raises MRR, a larger one lowers it.
            current = Decimal(str(terms["discount_pct"]))
            better = [d for d in DISCOUNTS if (Decimal(d) < current) == up and Decimal(d) != current]
            fields["discount_pct"] = draw(st.sampled_from(better or DISCOUNTS))
        else:
            # Billing the same base over fewer months raises MRR.
            current = int(terms["billing_months"])
            better = [b for b in BILLING_MONTHS if (b < current) == up and b != current]
            fields["billing_months"] = draw(st.sampled_from(better or BILLING_MONTHS))
        return fields
    # subscription_changed: any non-empty mix of the line's own terms
    choices = ["plan", price_field, "billing_months", "discount_pct"] + (["quantity"] if seat else [])
    chosen = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True))
    values = {
        "plan": st.sampled_from(PLANS),
        "quantity": quantities,
        "unit_price": seat_prices,
        "amount": flat_amounts,
        "billing_months": st.sampled_from(BILLING_MONTHS),
        "discount_pct": st.sampled_from(DISCOUNTS),
    }
    return {field: draw(values[field]) for field in chosen}


ACTIONS = (
    ["new_customer"] * 3
    + ["cross_sell"] * 2
    + ["restart"] * 2
    + ["change"] * 6
    + ["cancel_line"] * 2
    + ["cancel_all"]
    + ["customer_updated"] * 2
    + ["void"] * 2
)


@st.composite
def _candidate(draw, history, customers) -> dict | None:
    """One plausible next event (without sequence and event_id), or None when the drawn action has no target."""
    seen = visible_events(history)
    known = sorted({e["customer_id"] for e in history})
    action = draw(st.sampled_from(ACTIONS)) if history else "new_customer"
    day_anywhere = _day_between(history, FIRST_DAY, LAST_DAY)

    if action in ("new_customer", "customer_updated"):
        fresh = [c for c in customers if c not in known]
        customer = fresh[0] if fresh and (action == "new_customer" or not known) else None
        if customer is None:
            if not known:
                return None
            customer = draw(st.sampled_from(known))
        if action == "customer_updated" or draw(st.integers(0, 4)) == 0:
            names = draw(st.lists(st.sampled_from(sorted(ATTRIBUTES)), min_size=1, max_size=3, unique=True))
            event = {"type": "customer_updated", "customer_id": customer, "effective_date": draw(day_anywhere)}
            event.update({name: draw(st.sampled_from(ATTRIBUTES[name])) for name in names})
            return event
        return {
            "type": "subscription_started",
            "customer_id": customer,
            "effective_date": draw(day_anywhere),
            "subscription_id": LINES[0],
            **draw(_start_fields()),
        }

    if action == "void":
        targets = [e for e in seen]
        if not targets:
            return None
        target = draw(st.sampled_from(targets))
        return {
            "type": "void",
            "customer_id": target["customer_id"],
            "effective_date": target["effective_date"],
            "target_event_id": target["event_id"],
            "reason": draw(st.sampled_from(["entered in error", "duplicate", "wrong customer"])),
        }

    if not known:
        return None
    customer = draw(st.sampled_from(known))
    timeline = [e for e in seen if e["customer_id"] == customer]
    state, runs, last_closed, last_touched = _line_runs(timeline)
    base = {"customer_id": customer}

    if action == "cross_sell":
        unused = [sid for sid in LINES if sid not in state]
        if not unused:
            return None
        return {
            **base,
            "type": "subscription_started",
            "effective_date": draw(day_anywhere),
            "subscription_id": unused[0],
            **draw(_start_fields()),
        }

    if action == "restart":
        closed = sorted(sid for sid, is_open in state.items() if not is_open)
        if not closed:
            return None
        sid = draw(st.sampled_from(closed))
        day = draw(_day_between(history, last_closed.get(sid, FIRST_DAY), LAST_DAY))
        return {**base, "type": "subscription_started", "effective_date": day, "subscription_id": sid,
                **draw(_start_fields())}

    if action == "change":
        if not runs:
            return None
        sid = draw(st.sampled_from(sorted(runs)))
        first, until = draw(st.sampled_from(runs[sid]))
        last = LAST_DAY if until is None else until - dt.timedelta(days=1)
        day = draw(_day_between(history, first, last))
        terms = _terms_at(timeline, sid, day)
        if terms is None or not terms["open"]:
            return None
        if terms["kind"] == "seat":
            kinds = ["subscription_changed", "upsell", "downgrade", "seat_change", "price_change"]
        else:
            kinds = ["subscription_changed", "upsell", "downgrade", "usage_change", "price_change"]
        kind = draw(st.sampled_from(kinds))
        return {**base, "type": kind, "effective_date": day, "subscription_id": sid,
                **draw(_change_fields(kind, terms))}

    reason = draw(st.sampled_from([None, "churned", "non_payment", "downsized"]))
    extra = {"reason": reason} if reason else {}
    if action == "cancel_line":
        open_now = sorted(sid for sid, is_open in state.items() if is_open)
        if not open_now:
            return None
        sid = draw(st.sampled_from(open_now))
        # After the line's last change, unless we try a backdated cancel that may be refused.
        low = last_touched[sid] if draw(st.integers(0, 3)) else runs[sid][-1][0]
        day = draw(_day_between(history, low, LAST_DAY))
        return {**base, "type": "cancel", "effective_date": day, "subscription_id": sid, **extra}

    # cancel_all
    if not any(state.values()):
        return None
    latest = max(_date(e["effective_date"]) for e in timeline)
    low = latest if draw(st.integers(0, 3)) else FIRST_DAY
    return {**base, "type": "cancel", "effective_date": draw(_day_between(history, low, LAST_DAY)), **extra}


@st.composite
def event_histories(draw, min_events: int = 1, max_events: int = 30, customers: int = 4) -> list[dict]:
    """A valid event log in recording order: dicts with `sequence` 1, 2, … and unique `event_id`s.

    Effective dates are drawn independently of recording order, so later
    records are often backdated; every event passes `append_error` against the
    events recorded before it.
    """
    names = CUSTOMERS[:customers]
    target = draw(st.integers(min_events, max_events))
    history: list[dict] = []
    attempts = 0
    while len(history) < target and attempts < 4 * target:
        attempts += 1
        candidate = draw(_candidate(history, names))
        if candidate is None:
            continue
        sequence = len(history) + 1
        candidate["effective_date"] = _date(candidate["effective_date"]).isoformat()
        if draw(st.integers(0, 9)) == 0:
            candidate["note"] = f"note {sequence}"
        event = {"event_id": f"ev-{sequence:04d}", "sequence": sequence, **candidate}
        if append_error(history, event) is None:
            history.append(event)
    return history


def policies():
    """SPEC §13 policies: every combination of the three settings, graces at the limits and in between."""
    return st.fixed_dictionaries(
        {
            "churn_recognition": st.sampled_from(["cancel_date", "term_end"]),
            "reactivation_grace_days": st.one_of(st.sampled_from([0, 1, 7, 30, 366]), st.integers(0, 366)),
            "movement_grain": st.sampled_from(["day", "month"]),
        }
    )
