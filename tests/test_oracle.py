"""The oracle checked by hand, then against itself on generated histories.

Each hand-worked test is a small ledger (one event per line, in recording
order) with the figures a finance person would work out beside it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from oracle import cohorts, customer_mrr, customer_ids, metrics, movements, periods, visible
from strategies import FIRST_DAY, LAST_DAY, event_histories, history_error

INT_FIELDS = {"quantity", "billing_months"}


def ledger(text: str) -> list[dict]:
    """Events from `TYPE CUSTOMER DATE key=value …` lines; sequence is the line number, event_id `e<sequence>`."""
    events = []
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        kind, customer, day, *pairs = line.split()
        sequence = len(events) + 1
        event = {"event_id": f"e{sequence}", "sequence": sequence, "type": kind,
                 "customer_id": customer, "effective_date": day}
        for pair in pairs:
            key, value = pair.split("=", 1)
            event[key] = int(value) if key in INT_FIELDS else value
        events.append(event)
    return events


def rows(found) -> list[tuple]:
    """Movements as (customer, date, category, cause, from, to, amount, event ids) text rows."""
    return [
        (m["customer_id"], m["date"].isoformat(), m["category"], m["cause"],
         str(m["from_mrr"]), str(m["to_mrr"]), str(m["amount"]), " ".join(m["event_ids"]))
        for m in found
    ]


D = Decimal


# ---------------------------------------------------------------- MRR


def test_seats_times_unit_price_and_a_seat_contraction():
    events = ledger("""
        subscription_started acme 2026-01-15 subscription_id=core plan=team quantity=200 unit_price=50.00
        seat_change          acme 2026-03-01 subscription_id=core quantity=150
    """)
    assert customer_mrr(events, "acme", "2026-01-14") == D("0.00")
    assert customer_mrr(events, "acme", "2026-01-15") == D("10000.00")
    assert customer_mrr(events, "acme", "2026-02-28") == D("10000.00")
    assert customer_mrr(events, "acme", "2026-03-01") == D("7500.00")
    assert rows(movements(events)) == [
        ("acme", "2026-01-15", "new", None, "0.00", "10000.00", "10000.00", "e1"),
        ("acme", "2026-03-01", "contraction", "seats", "10000.00", "7500.00", "2500.00", "e2"),
    ]


def test_annual_plan_with_discount_is_spread_over_twelve_months():
    events = ledger("""
        subscription_started acme 2026-01-01 subscription_id=core plan=business amount=12000.00 billing_months=12 discount_pct=10
    """)
    assert customer_mrr(events, "acme", "2026-06-30") == D("900.00")


def test_each_line_is_rounded_half_even_before_summing():
    # 0.30 / 12 = 0.025 → 0.02 (half to even); 0.90 / 12 = 0.075 → 0.08.
    events = ledger("""
        subscription_started acme 2026-01-01 subscription_id=a amount=0.30 billing_months=12
        subscription_started acme 2026-01-01 subscription_id=b amount=0.30 billing_months=12
        subscription_started acme 2026-01-01 subscription_id=c amount=0.90 billing_months=12
    """)
    assert customer_mrr(events, "acme", "2026-01-01") == D("0.12")


def test_cancel_date_is_the_first_day_without_revenue():
    events = ledger("""
        subscription_started acme 2026-01-01 subscription_id=core amount=1000.00
        cancel               acme 2026-04-15 subscription_id=core reason=churned
    """)
    assert customer_mrr(events, "acme", "2026-04-14") == D("1000.00")
    assert customer_mrr(events, "acme", "2026-04-15") == D("0.00")
    assert rows(movements(events))[-1] == ("acme", "2026-04-15", "churn", None, "1000.00", "0.00", "1000.00", "e2")


def test_cancel_without_subscription_id_ends_every_open_line():
    events = ledger("""
        subscription_started acme 2026-01-01 subscription_id=core quantity=10 unit_price=20.00
        subscription_started acme 2026-02-01 subscription_id=addon amount=50.00
        cancel               acme 2026-03-01
        subscription_started acme 2026-05-01 subscription_id=addon amount=70.00
    """)
    assert customer_mrr(events, "acme", "2026-02-28") == D("250.00")
    assert customer_mrr(events, "acme", "2026-03-01") == D("0.00")
    assert customer_mrr(events, "acme", "2026-05-01") == D("70.00")
    assert [m["category"] for m in movements(events)] == ["new", "expansion", "churn", "reactivation"]


def test_backdated_change_flows_into_later_changes_of_other_fields():
    # The seat change is recorded last but takes effect first; the March price applies to 20 seats.
    events = ledger("""
        subscription_started acme 2026-01-01 subscription_id=core quantity=10 unit_price=10.00
        price_change         acme 2026-03-01 subscription_id=core unit_price=20.00
        seat_change          acme 2026-02-01 subscription_id=core quantity=20
    """)
    assert customer_mrr(events, "acme", "2026-02-01") == D("200.00")
    assert customer_mrr(events, "acme", "2026-03-01") == D("400.00")
    assert customer_mrr(events, "acme", "2026-03-01", known_seq=2) == D("200.00")
    assert rows(movements(events)) == [
        ("acme", "2026-01-01", "new", None, "0.00", "100.00", "100.00", "e1"),
        ("acme", "2026-02-01", "expansion", "seats", "100.00", "200.00", "100.00", "e3"),
        ("acme", "2026-03-01", "expansion", "price", "200.00", "400.00", "200.00", "e2"),
    ]


def test_restart_defines_the_line_afresh():
    events = ledger("""
        subscription_started acme 2026-01-01 subscription_id=core quantity=10 unit_price=10.00 discount_pct=50
        cancel               acme 2026-02-01 subscription_id=core
        subscription_started acme 2026-03-01 subscription_id=core amount=300.00
    """)
    assert customer_mrr(events, "acme", "2026-03-01") == D("300.00")


# ---------------------------------------------------------------- movements


def test_same_day_upsell_and_cancel_net_into_one_mixed_movement():
    events = ledger("""
        subscription_started acme 2026-01-01 subscription_id=core amount=1000.00
        subscription_started acme 2026-01-01 subscription_id=addon amount=500.00
        upsell               acme 2026-05-01 subscription_id=core amount=1800.00
        cancel               acme 2026-05-01 subscription_id=addon
    """)
    assert rows(movements(events))[-1] == (
        "acme", "2026-05-01", "expansion", "mixed", "1500.00", "1800.00", "300.00", "e3 e4")


def test_same_day_events_that_cancel_out_make_no_movement():
    events = ledger("""
        subscription_started acme 2026-01-01 subscription_id=core amount=1000.00
        subscription_started acme 2026-01-01 subscription_id=addon amount=500.00
        upsell               acme 2026-05-01 subscription_id=core amount=1500.00
        cancel               acme 2026-05-01 subscription_id=addon
        cancel               acme 2026-06-01 subscription_id=core
        subscription_started acme 2026-06-01 subscription_id=core amount=1500.00
    """)
    assert [m["date"] for m in movements(events)] == [dt.date(2026, 1, 1)]


def test_only_events_that_move_mrr_give_the_cause():
    # The discount change on the zero-priced line moves nothing, so the cause is plain "seats".
    events = ledger("""
        subscription_started acme 2026-01-01 subscription_id=core quantity=10 unit_price=10.00
        subscription_started acme 2026-01-01 subscription_id=free quantity=5 unit_price=0.00
        price_change         acme 2026-02-01 subscription_id=free discount_pct=20
        seat_change          acme 2026-02-01 subscription_id=core quantity=12
        subscription_changed acme 2026-03-01 subscription_id=core plan=business quantity=15
    """)
    assert rows(movements(events))[1:] == [
        ("acme", "2026-02-01", "expansion", "seats", "100.00", "120.00", "20.00", "e3 e4"),
        ("acme", "2026-03-01", "expansion", "plan", "120.00", "150.00", "30.00", "e5"),
    ]


def test_reactivation_needs_revenue_before_and_zero_priced_lines_do_not_count():
    events = ledger("""
        subscription_started acme   2025-03-01 subscription_id=core amount=100.00
        cancel               acme   2025-06-01 subscription_id=core
        subscription_started acme   2025-09-01 subscription_id=core amount=120.00
        subscription_started globex 2025-02-01 subscription_id=core quantity=5 unit_price=0.00
        price_change         globex 2025-04-01 subscription_id=core unit_price=10.00
    """)
    assert [(m["customer_id"], m["date"].isoformat(), m["category"]) for m in movements(events)] == [
        ("acme", "2025-03-01", "new"),
        ("globex", "2025-04-01", "new"),
        ("acme", "2025-06-01", "churn"),
        ("acme", "2025-09-01", "reactivation"),
    ]


def test_a_void_takes_effect_only_from_when_it_is_recorded():
    events = ledger("""
        subscription_started acme 2026-01-01 subscription_id=core quantity=10 unit_price=100.00
        seat_change          acme 2026-02-01 subscription_id=core quantity=20
        void                 acme 2026-02-01 target_event_id=e2 reason=typo
    """)
    assert customer_mrr(events, "acme", "2026-02-01", known_seq=2) == D("2000.00")
    assert customer_mrr(events, "acme", "2026-02-01", known_seq=3) == D("1000.00")
    assert customer_mrr(events, "acme", "2026-02-01") == D("1000.00")
    assert [e["event_id"] for e in visible(events, known_seq=2)] == ["e1", "e2"]
    assert [e["event_id"] for e in visible(events)] == ["e1"]
    assert len(movements(events, known_seq=2)) == 2
    assert len(movements(events)) == 1


# ---------------------------------------------------------------- metrics and cohorts

JANUARY = """
    subscription_started initech 2025-11-01 subscription_id=core amount=300.00
    subscription_started acme    2025-12-01 subscription_id=core amount=1000.00
    customer_updated     acme    2025-12-01 segment=enterprise
    subscription_started globex  2026-01-10 subscription_id=core amount=500.00
    customer_updated     globex  2026-01-10 segment=smb
    upsell               acme    2026-01-20 subscription_id=core amount=1200.00
    cancel               initech 2026-01-05
    downgrade            acme    2026-02-10 subscription_id=core amount=1100.00
"""


def test_month_metrics_worked_by_hand():
    (january,) = metrics(ledger(JANUARY), "2026-01-01", "2026-01-31")
    assert january == {
        "start": dt.date(2026, 1, 1), "end": dt.date(2026, 1, 31), "group": None,
        "opening_mrr": D("1300.00"), "closing_mrr": D("1700.00"), "arr": D("20400.00"),
        "bridge": {"new": D("500.00"), "expansion": D("200.00"), "contraction": D("0.00"),
                   "churn": D("300.00"), "reactivation": D("0.00"), "net_new": D("400.00")},
        "retention": {"expansion": D("200.00"), "contraction": D("0.00"), "churn": D("300.00"),
                      "nrr": D("0.923077"), "grr": D("0.769231"), "expansion_rate": D("0.153846"),
                      "contraction_rate": D("0.000000"), "churn_rate": D("0.230769")},
        "customers": {"opening": 2, "closing": 2, "new": 1, "reactivated": 0, "churned": 1,
                      "logo_churn_rate": D("0.500000")},
        "causes": {"expansion": {"price": D("200.00")}, "contraction": {}},
        "arpa": D("850.00"), "quick_ratio": D("2.333333"), "expansion_share": D("0.285714"),
    }


def test_metrics_by_segment_reconcile_per_group():
    found = metrics(ledger(JANUARY), "2026-01-01", "2026-01-31", by="segment")
    summary = [(m["group"], str(m["opening_mrr"]), str(m["bridge"]["net_new"]), str(m["closing_mrr"]))
               for m in found]
    assert summary == [
        (None, "300.00", "-300.00", "0.00"),           # initech never had a segment
        ("enterprise", "1000.00", "200.00", "1200.00"),
        ("smb", "0.00", "500.00", "500.00"),
    ]


def test_periods_are_clipped_to_the_range():
    assert periods("2026-01-15", "2026-03-10") == [
        (dt.date(2026, 1, 15), dt.date(2026, 1, 31)),
        (dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        (dt.date(2026, 3, 1), dt.date(2026, 3, 10)),
    ]
    assert periods("2025-02-01", "2025-12-31", "quarter")[0] == (dt.date(2025, 2, 1), dt.date(2025, 3, 31))
    assert periods("2025-02-01", "2026-01-31", "year")[-1] == (dt.date(2026, 1, 1), dt.date(2026, 1, 31))


def test_empty_groups_are_left_out_and_ratios_without_denominator_are_none():
    events = ledger("""
        customer_updated acme 2025-01-01 segment=smb
    """)
    assert metrics(events, "2025-01-01", "2025-01-31", by="segment") == []
    (period,) = metrics(events, "2025-01-01", "2025-01-31")
    assert period["retention"]["nrr"] is None
    assert period["arpa"] is None and period["quick_ratio"] is None


def test_cohorts_worked_by_hand():
    found = {c["cohort"].isoformat(): c for c in cohorts(ledger(JANUARY), "2025-11-01", "2026-02-28")}
    assert sorted(found) == ["2025-11-01", "2025-12-01", "2026-01-01"]
    initech = [(o["k"], str(o["mrr"]), o["active"], str(o["logo_retention"])) for o in found["2025-11-01"]["offsets"]]
    assert initech == [(0, "300.00", 1, "1.000000"), (1, "300.00", 1, "1.000000"),
                       (2, "0.00", 0, "0.000000"), (3, "0.00", 0, "0.000000")]
    acme = [(o["k"], str(o["nrr"]), str(o["contraction"]), str(o["contraction_rate"]))
            for o in found["2025-12-01"]["offsets"]]
    assert acme == [(0, "1.000000", "0.00", "0.000000"), (1, "1.200000", "0.00", "0.000000"),
                    (2, "1.100000", "100.00", "0.100000")]


# ---------------------------------------------------------------- self-consistency on generated histories


@settings(max_examples=200, deadline=None, print_blob=True)
@given(history=event_histories(), known=st.integers(0, 40))
def test_oracle_agrees_with_itself(history, known):
    assert history_error(history) is None
    for known_seq in (None, known):
        found = movements(history, known_seq)
        for customer in customer_ids(visible(history, known_seq)):
            theirs = [m for m in found if m["customer_id"] == customer]
            for m in theirs:
                day = m["date"]
                assert m["from_mrr"] == customer_mrr(history, customer, day - dt.timedelta(days=1), known_seq)
                assert m["to_mrr"] == customer_mrr(history, customer, day, known_seq)
                assert m["amount"] == abs(m["to_mrr"] - m["from_mrr"]) > 0
            # MRR is flat between movements: each one starts where the last ended.
            assert all(a["to_mrr"] == b["from_mrr"] for a, b in zip(theirs, theirs[1:]))
            assert sum((m["to_mrr"] - m["from_mrr"] for m in theirs), D("0")) == customer_mrr(
                history, customer, LAST_DAY, known_seq)

    for period, by in (("month", None), ("quarter", "segment"), ("year", "region")):
        found = metrics(history, FIRST_DAY, LAST_DAY, period, by, known)
        for m in found:
            assert m["opening_mrr"] + m["bridge"]["net_new"] == m["closing_mrr"]
            for kind in ("expansion", "contraction"):
                assert sum(m["causes"][kind].values(), D("0")) == m["bridge"][kind]
        totals = {(p["start"], p["opening_mrr"], p["closing_mrr"])
                  for p in metrics(history, FIRST_DAY, LAST_DAY, period, None, known)}
        for start, opening, closing in totals:
            groups = [m for m in found if m["start"] == start]
            assert sum((m["opening_mrr"] for m in groups), D("0")) == opening
            assert sum((m["closing_mrr"] for m in groups), D("0")) == closing
