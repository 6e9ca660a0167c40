"""The oracle's reading of SPEC §13 (recognition policy) and §15 (retention analytics), checked by hand.

Each test is a small ledger (one event per line, in recording order) with the
figures worked out by hand beside it; the property tests at the end check the
oracle against itself on generated histories under generated policies.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings

from oracle import (
    DEFAULT_POLICY,
    add_months,
    band,
    cohorts,
    customer_ids,
    customer_mrr,
    durability,
    durability_items,
    durability_members,
    metrics,
    month_end,
    movements,
    nearest_rank,
    retention,
    visible,
)
from strategies import FIRST_DAY, event_histories, policies
from test_oracle import ledger, rows

D = Decimal
TERM_END = {"churn_recognition": "term_end"}
FAR = dt.date(2030, 12, 31)  # after every moved cancel: a term of 36 months from 2026 ends by 2029


def grace(days: int) -> dict:
    return {"reactivation_grace_days": days}


MONTHLY = {"movement_grain": "month"}


# ---------------------------------------------------------------- churn_recognition = term_end


def test_annual_line_cancelled_mid_term_churns_at_the_term_end():
    events = ledger("""
        subscription_started acme 2025-03-10 subscription_id=core amount=1200.00 billing_months=12
        cancel               acme 2025-07-01 subscription_id=core reason=churned
    """)
    assert customer_mrr(events, "acme", "2025-07-01", policy=TERM_END) == D("100.00")
    assert customer_mrr(events, "acme", "2026-03-09", policy=TERM_END) == D("100.00")
    assert customer_mrr(events, "acme", "2026-03-10", policy=TERM_END) == D("0.00")
    assert rows(movements(events, policy=TERM_END)) == [
        ("acme", "2025-03-10", "new", None, "0.00", "100.00", "100.00", "e1"),
        ("acme", "2026-03-10", "churn", None, "100.00", "0.00", "100.00", "e2"),
    ]
    # as written in §3: the cancel date is the first day without revenue
    assert rows(movements(events))[-1] == ("acme", "2025-07-01", "churn", None, "100.00", "0.00", "100.00", "e2")


def test_calendar_months_are_counted_from_the_anchor_each_time():
    assert add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2025, 1, 31), 2) == dt.date(2025, 3, 31)  # not 2025-02-28 + 1 month
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2025, 11, 15), 3) == dt.date(2026, 2, 15)
    assert add_months(dt.date(2026, 3, 31), -1) == dt.date(2026, 2, 28)


def test_monthly_line_churns_at_its_next_anniversary():
    # Boundaries 01-31, 02-28, 03-31: the cancel of 03-05 waits for 03-31.
    events = ledger("""
        subscription_started acme 2025-01-31 subscription_id=core amount=50.00
        cancel               acme 2025-03-05 subscription_id=core
    """)
    assert rows(movements(events, policy=TERM_END))[-1] == (
        "acme", "2025-03-31", "churn", None, "50.00", "0.00", "50.00", "e2")


def test_a_cancel_on_a_boundary_or_on_the_anchor_itself_stays():
    events = ledger("""
        subscription_started acme 2025-01-10 subscription_id=core amount=100.00
        subscription_started acme 2025-02-20 subscription_id=addon amount=360.00 billing_months=12
        cancel               acme 2025-02-20 subscription_id=addon
        cancel               acme 2025-03-10 subscription_id=core
    """)
    assert customer_mrr(events, "acme", "2025-02-20", policy=TERM_END) == D("100.00")
    assert rows(movements(events, policy=TERM_END)) == [
        ("acme", "2025-01-10", "new", None, "0.00", "100.00", "100.00", "e1"),
        ("acme", "2025-03-10", "churn", None, "100.00", "0.00", "100.00", "e4"),
    ]


def test_a_restart_before_the_boundary_ends_the_old_term_on_the_restart_day():
    events = ledger("""
        subscription_started acme 2025-01-01 subscription_id=core amount=1200.00 billing_months=12
        cancel               acme 2025-03-01 subscription_id=core
        subscription_started acme 2025-06-01 subscription_id=core amount=150.00
    """)
    assert customer_mrr(events, "acme", "2025-05-31", policy=TERM_END) == D("100.00")
    assert customer_mrr(events, "acme", "2025-06-01", policy=TERM_END) == D("150.00")
    # The old term's end (line_removed) and the restart (cross_sell) net into one movement.
    assert rows(movements(events, policy=TERM_END)) == [
        ("acme", "2025-01-01", "new", None, "0.00", "100.00", "100.00", "e1"),
        ("acme", "2025-06-01", "expansion", "mixed", "100.00", "150.00", "50.00", "e2 e3"),
    ]
    assert [m["category"] for m in movements(events)] == ["new", "churn", "reactivation"]


def test_a_cancel_without_subscription_id_moves_each_line_to_its_own_boundary():
    # core: monthly from 01-15, so 04-15; addon: quarterly from 02-01, so 05-01.
    events = ledger("""
        subscription_started acme 2025-01-15 subscription_id=core amount=100.00
        subscription_started acme 2025-02-01 subscription_id=addon amount=300.00 billing_months=3
        cancel               acme 2025-04-10
    """)
    assert rows(movements(events, policy=TERM_END)) == [
        ("acme", "2025-01-15", "new", None, "0.00", "100.00", "100.00", "e1"),
        ("acme", "2025-02-01", "expansion", "cross_sell", "100.00", "200.00", "100.00", "e2"),
        ("acme", "2025-04-15", "contraction", "line_removed", "200.00", "100.00", "100.00", "e3"),
        ("acme", "2025-05-01", "churn", None, "100.00", "0.00", "100.00", "e3"),
    ]


def test_the_anchor_is_the_latest_start_or_change_to_a_different_billing_months():
    # 04-01 re-anchors (1 → 12 months, MRR unchanged); 05-20 repeats 12 months and does not.
    events = ledger("""
        subscription_started acme 2025-01-15 subscription_id=core amount=120.00
        subscription_changed acme 2025-04-01 subscription_id=core billing_months=12 amount=1440.00
        subscription_changed acme 2025-05-20 subscription_id=core billing_months=12 plan=team
        cancel               acme 2025-06-10 subscription_id=core
    """)
    assert rows(movements(events, policy=TERM_END)) == [
        ("acme", "2025-01-15", "new", None, "0.00", "120.00", "120.00", "e1"),
        ("acme", "2026-04-01", "churn", None, "120.00", "0.00", "120.00", "e4"),
    ]


# ---------------------------------------------------------------- reactivation_grace_days


GAP = """
    subscription_started acme 2025-01-01 subscription_id=core amount=100.00
    cancel               acme 2025-03-10 subscription_id=core
    subscription_started acme {restart} subscription_id=core amount={price}
"""


def test_a_five_day_gap_within_seven_days_grace_is_neither_churn_nor_reactivation():
    events = ledger(GAP.format(restart="2025-03-15", price="100.00"))
    assert customer_mrr(events, "acme", "2025-03-12", policy=grace(7)) == D("100.00")
    assert rows(movements(events, policy=grace(7))) == [
        ("acme", "2025-01-01", "new", None, "0.00", "100.00", "100.00", "e1"),
    ]


@pytest.mark.parametrize(
    "price, expected",
    [
        ("120.00", ("acme", "2025-03-15", "expansion", "cross_sell", "100.00", "120.00", "20.00", "e3")),
        ("70.00", ("acme", "2025-03-15", "contraction", "cross_sell", "100.00", "70.00", "30.00", "e3")),
    ],
)
def test_the_day_mrr_returns_is_compared_with_the_filled_value(price, expected):
    events = ledger(GAP.format(restart="2025-03-15", price=price))
    assert rows(movements(events, policy=grace(7)))[1:] == [expected]


def test_an_eight_day_gap_beyond_seven_days_grace_is_churn_and_reactivation():
    events = ledger(GAP.format(restart="2025-03-18", price="100.00"))
    assert customer_mrr(events, "acme", "2025-03-12", policy=grace(7)) == D("0.00")
    assert rows(movements(events, policy=grace(7)))[1:] == [
        ("acme", "2025-03-10", "churn", None, "100.00", "0.00", "100.00", "e2"),
        ("acme", "2025-03-18", "reactivation", None, "0.00", "100.00", "100.00", "e3"),
    ]
    # a gap of exactly seven days (03-10 .. 03-16, back on 03-17) is still filled
    assert len(movements(ledger(GAP.format(restart="2025-03-17", price="100.00")), policy=grace(7))) == 1


def test_a_zero_run_not_ended_as_known_is_churn_whatever_the_grace():
    events = ledger(GAP.format(restart="2025-03-15", price="100.00"))
    assert rows(movements(events, known_seq=2, policy=grace(366)))[-1] == (
        "acme", "2025-03-10", "churn", None, "100.00", "0.00", "100.00", "e2")


# ---------------------------------------------------------------- movement_grain = month


def test_a_mid_month_upgrade_and_downgrade_net_to_one_monthly_movement():
    events = ledger("""
        subscription_started acme 2025-01-01 subscription_id=core plan=team quantity=10 unit_price=10.00
        upsell               acme 2025-03-05 subscription_id=core quantity=15
        customer_updated     acme 2025-03-10 segment=smb
        downgrade            acme 2025-03-20 subscription_id=core quantity=12
    """)
    assert rows(movements(events, policy=MONTHLY)) == [
        ("acme", "2025-01-31", "new", None, "0.00", "100.00", "100.00", "e1"),
        ("acme", "2025-03-31", "expansion", "seats", "100.00", "120.00", "20.00", "e2 e4"),
    ]
    assert len(movements(events)) == 3


def test_a_mid_month_upgrade_and_downgrade_that_cancel_out_make_no_monthly_movement():
    events = ledger("""
        subscription_started acme 2025-01-01 subscription_id=core quantity=10 unit_price=10.00
        upsell               acme 2025-03-05 subscription_id=core quantity=15
        downgrade            acme 2025-03-20 subscription_id=core quantity=10
    """)
    assert [m["date"] for m in movements(events, policy=MONTHLY)] == [dt.date(2025, 1, 31)]


def test_new_and_reactivation_look_only_at_earlier_month_ends():
    # Active 01-05 .. 01-19 only: no month end ever saw revenue, so March is `new`.
    events = ledger("""
        subscription_started acme 2025-01-05 subscription_id=core amount=100.00
        cancel               acme 2025-01-20 subscription_id=core
        subscription_started acme 2025-03-03 subscription_id=core amount=100.00
        subscription_started bob  2025-01-05 subscription_id=core amount=50.00
        cancel               bob  2025-02-03 subscription_id=core
        subscription_started bob  2025-03-03 subscription_id=core amount=50.00
    """)
    assert rows(movements(events, policy=MONTHLY)) == [
        ("bob", "2025-01-31", "new", None, "0.00", "50.00", "50.00", "e4"),
        ("bob", "2025-02-28", "churn", None, "50.00", "0.00", "50.00", "e5"),
        ("acme", "2025-03-31", "new", None, "0.00", "100.00", "100.00", "e3"),
        ("bob", "2025-03-31", "reactivation", None, "0.00", "50.00", "50.00", "e6"),
    ]
    assert [m["category"] for m in movements(events) if m["customer_id"] == "acme"] == [
        "new", "churn", "reactivation"]


def test_month_grain_metrics_need_whole_months():
    events = ledger("subscription_started acme 2025-01-05 subscription_id=core amount=100.00")
    with pytest.raises(ValueError, match="month's first day"):
        metrics(events, "2025-01-05", "2025-01-31", policy=MONTHLY)
    with pytest.raises(ValueError, match="month's last day"):
        retention(events, "2025-01-01", "2025-01-30", policy=MONTHLY)


# ---------------------------------------------------------------- the three together, in SPEC order

TOGETHER = """
    subscription_started acme 2025-01-01 subscription_id=core amount=100.00
    cancel               acme 2025-02-10 subscription_id=core
    subscription_started acme 2025-03-05 subscription_id=core amount=120.00
"""
ALL_THREE = {"churn_recognition": "term_end", "reactivation_grace_days": 7, "movement_grain": "month"}


def test_cancels_are_moved_first_then_grace_fills_then_months_net():
    # term_end moves the cancel to 03-01, so the gap is 03-01 .. 03-04 (4 days): filled by 7 days' grace.
    events = ledger(TOGETHER)
    assert customer_mrr(events, "acme", "2025-03-02", policy=ALL_THREE) == D("100.00")
    assert customer_mrr(events, "acme", "2025-03-02", policy=TERM_END) == D("0.00")
    assert rows(movements(events, policy=ALL_THREE)) == [
        ("acme", "2025-01-31", "new", None, "0.00", "100.00", "100.00", "e1"),
        ("acme", "2025-03-31", "expansion", "mixed", "100.00", "120.00", "20.00", "e2 e3"),
    ]
    # day grain: the moved cancel's day has no movement, the return day is a plain expansion
    assert rows(movements(events, policy={**ALL_THREE, "movement_grain": "day"})) == [
        ("acme", "2025-01-01", "new", None, "0.00", "100.00", "100.00", "e1"),
        ("acme", "2025-03-05", "expansion", "cross_sell", "100.00", "120.00", "20.00", "e3"),
    ]
    # grace before moving the cancel would see a 23-day gap (02-10 .. 03-04) and fill nothing
    assert [m["category"] for m in movements(events, policy={**ALL_THREE, "churn_recognition": "cancel_date"})] == [
        "new", "churn", "reactivation"]
    (quarter,) = metrics(events, "2025-01-01", "2025-03-31", period="quarter", policy=ALL_THREE)
    assert (quarter["opening_mrr"], quarter["bridge"]["new"], quarter["bridge"]["expansion"],
            quarter["bridge"]["churn"], quarter["closing_mrr"]) == (
        D("0.00"), D("100.00"), D("20.00"), D("0.00"), D("120.00"))


# ---------------------------------------------------------------- trailing windows

WINDOWS = """
    subscription_started initech 2025-10-01 subscription_id=core amount=300.00
    customer_updated     initech 2025-10-01 segment=smb
    subscription_started globex  2025-11-15 subscription_id=core amount=500.00
    customer_updated     globex  2025-11-15 segment=smb
    subscription_started acme    2025-12-01 subscription_id=core amount=1000.00
    customer_updated     acme    2025-12-01 segment=enterprise
    downgrade            initech 2026-01-20 subscription_id=core amount=200.00
    subscription_started hooli   2026-02-01 subscription_id=core amount=400.00
    upsell               acme    2026-02-10 subscription_id=core amount=1200.00
    cancel               globex  2026-03-05 subscription_id=core
"""


def test_a_trailing_window_row_worked_by_hand():
    # Window 2026-01-01 .. 03-31. S = acme 1000, globex 500, initech 300 (1800 at opening).
    # At the end of March: acme 1200 (+200), globex 0 (churned 500), initech 200 (-100); hooli 400 is new.
    (march,) = retention(ledger(WINDOWS), "2026-03-01", "2026-03-31", window=3)
    assert march == {
        "month": "2026-03", "start": "2026-01-01", "end": "2026-03-31", "group": None,
        "opening_mrr": "1800.00", "closing_mrr": "1800.00",
        "nrr": "0.777778",              # 1400 / 1800
        "grr": "0.666667",              # (1800 - 100 - 500) / 1800
        "expansion_rate": "0.111111",   # 200 / 1800
        "contraction_rate": "0.055556", # 100 / 1800
        "churn_rate": "0.277778",       # 500 / 1800
        "logo_churn_rate": "0.333333",  # globex, of three
        "band": "below 90%",
    }


def test_each_month_whose_last_day_lies_in_the_range_has_a_row():
    # February: window 2025-12-01 .. 2026-02-28; S = initech 300, globex 500; initech fell to 200.
    found = retention(ledger(WINDOWS), "2026-02-15", "2026-03-31", window=3)
    assert [(r["month"], r["start"], r["opening_mrr"], r["closing_mrr"], r["nrr"], r["contraction_rate"])
            for r in found] == [
        ("2026-02", "2025-12-01", "800.00", "2300.00", "0.875000", "0.125000"),
        ("2026-03", "2026-01-01", "1800.00", "1800.00", "0.777778", "0.055556"),
    ]
    assert retention(ledger(WINDOWS), "2026-03-01", "2026-03-30", window=3) == []


def test_trailing_windows_by_segment_list_groups_as_metrics_do():
    found = retention(ledger(WINDOWS), "2026-03-01", "2026-03-31", window=3, by="segment")
    assert [(r["group"], r["opening_mrr"], r["closing_mrr"], r["nrr"], r["band"]) for r in found] == [
        ("enterprise", "1000.00", "1200.00", "1.200000", "120–130%"),
        ("smb", "800.00", "200.00", "0.250000", "below 90%"),
        (None, "0.00", "400.00", None, None),  # hooli has no segment and no opening MRR
    ]


@pytest.mark.parametrize(
    "nrr, expected",
    [
        ("0.000000", "below 90%"),
        ("0.899999", "below 90%"),
        ("0.900000", "90–100%"),
        ("0.999999", "90–100%"),
        ("1.000000", "100–110%"),
        ("1.099999", "100–110%"),
        ("1.100000", "110–120%"),
        ("1.200000", "120–130%"),
        ("1.299999", "120–130%"),
        ("1.300000", "130%+"),
        ("2.500000", "130%+"),
        (None, None),
    ],
)
def test_band_boundaries_each_band_including_its_lower_bound(nrr, expected):
    assert band(nrr) == expected


@pytest.mark.parametrize(
    "change, nrr, expected",
    [
        ("downgrade amount=224999.90", "0.900000", "90–100%"),  # 0.8999996, printed 0.900000: the print counts
        ("downgrade amount=225000.00", "0.900000", "90–100%"),
        ("price_change discount_pct=0", "1.000000", "100–110%"),  # no MRR change
        ("upsell amount=275000.00", "1.100000", "110–120%"),
        ("upsell amount=300000.00", "1.200000", "120–130%"),
        ("upsell amount=325000.00", "1.300000", "130%+"),
    ],
)
def test_the_band_is_read_from_the_nrr_as_printed(change, nrr, expected):
    kind, field = change.split()
    events = ledger(f"""
        subscription_started acme 2025-01-01 subscription_id=core amount=250000.00
        {kind} acme 2025-02-10 subscription_id=core {field}
    """)
    (row,) = retention(events, "2025-02-01", "2025-02-28", window=1)
    assert (row["nrr"], row["band"]) == (nrr, expected)


# ---------------------------------------------------------------- durability signals


def test_nearest_rank_percentiles_on_an_even_count():
    days = [40, 10, 30, 20]
    assert nearest_rank(days, Fraction(1, 4)) == 10  # ⌈1⌉-th
    assert nearest_rank(days, Fraction(1, 2)) == 20  # ⌈2⌉-th, not the midpoint 25
    assert nearest_rank(days, Fraction(3, 4)) == 30  # ⌈3⌉-th
    assert nearest_rank([7, 3, 5, 9, 1], Fraction(1, 2)) == 5  # ⌈2.5⌉ = 3rd
    assert nearest_rank([12], Fraction(1, 4)) == 12
    assert nearest_rank([], Fraction(1, 2)) is None


DURABLE = """
    subscription_started acme     2025-06-01 subscription_id=core amount=100.00
    upsell               acme     2026-01-10 subscription_id=core amount=150.00
    upsell               acme     2026-01-20 subscription_id=core amount=200.00
    downgrade            acme     2026-03-01 subscription_id=core amount=180.00
    downgrade            acme     2026-04-01 subscription_id=core amount=175.00
    downgrade            acme     2026-05-01 subscription_id=core amount=170.00
    subscription_started globex   2025-06-01 subscription_id=core amount=300.00
    upsell               globex   2026-01-15 subscription_id=core amount=400.00
    cancel               globex   2026-04-15 subscription_id=core
    subscription_started initech  2025-06-01 subscription_id=core amount=500.00
    upsell               initech  2026-01-25 subscription_id=core amount=600.00
    downgrade            initech  2026-04-26 subscription_id=core amount=550.00
    subscription_started hooli    2025-06-01 subscription_id=core amount=1000.00
    downgrade            hooli    2026-01-05 subscription_id=core amount=800.00
    downgrade            hooli    2026-02-01 subscription_id=core amount=700.00
    cancel               hooli    2026-03-01 subscription_id=core
    subscription_started stark    2025-06-01 subscription_id=core amount=200.00
    downgrade            stark    2026-01-31 subscription_id=core amount=100.00
    cancel               stark    2026-05-02 subscription_id=core
    subscription_started umbrella 2026-01-03 subscription_id=core amount=100.00
    upsell               umbrella 2026-01-13 subscription_id=core amount=150.00
    subscription_started wayne    2026-01-05 subscription_id=core amount=100.00
    upsell               wayne    2026-04-05 subscription_id=core amount=110.00
    subscription_started kent     2026-01-10 subscription_id=core amount=100.00
    cancel               kent     2026-02-01 subscription_id=core
    subscription_started kent     2026-03-01 subscription_id=core amount=100.00
    upsell               kent     2026-09-01 subscription_id=core amount=130.00
    subscription_started wonka    2026-01-20 subscription_id=core amount=100.00
"""


def test_durability_signals_worked_by_hand():
    # January 2026, within 90 days.
    # expansion: acme (anchor 01-10, +50; downgrades 03-01 and 04-01 within: -20 -5, 05-01 after),
    #   globex (01-15, +100; churn of 400 on 04-15, exactly 90 days on), initech (01-25, +100;
    #   downgrade 04-26, 91 days on), umbrella (01-13, +50, nothing after).
    # contraction: hooli (01-05; again 02-01, churn 03-01), stark (01-31; churn 05-02, 91 days on).
    # first_expansion: umbrella 10 days, wayne 90 days (04-05), kent 234 days (09-01; its
    #   reactivation of 03-01 is not an expansion), wonka none.
    (january,) = durability(ledger(DURABLE), "2026-01-01", "2026-01-31")
    assert january == {
        "start": "2026-01-01", "end": "2026-01-31", "group": None,
        "expansion": {"customers": 4, "followed": 2, "rate": "0.500000",
                      "expansion_amount": "300.00", "lost_amount": "425.00"},
        "contraction": {"customers": 2, "churned": 1, "churn_rate": "0.500000", "repeated": 1},
        "first_expansion": {"customers": 4, "expanded": 3, "within_90": 2, "within_180": 2,
                            "within_365": 3, "median_days": 90, "p25_days": 10, "p75_days": 234},
    }


@pytest.mark.parametrize(
    "figure, customers",
    [
        ("expansion.customers", ["acme", "globex", "initech", "umbrella"]),
        ("durability.expansion.followed", ["acme", "globex"]),
        ("contraction.customers", ["hooli", "stark"]),
        ("contraction.churned", ["hooli"]),
        ("contraction.repeated", ["hooli"]),
        ("first_expansion.customers", ["kent", "umbrella", "wayne", "wonka"]),
        ("first_expansion.expanded", ["kent", "umbrella", "wayne"]),
        ("first_expansion.within_90", ["umbrella", "wayne"]),
        ("first_expansion.within_180", ["umbrella", "wayne"]),
        ("first_expansion.within_365", ["kent", "umbrella", "wayne"]),
    ],
)
def test_each_durability_count_names_its_customers(figure, customers):
    assert durability_members(ledger(DURABLE), "2026-01-01", "2026-01-31", figure) == customers


def test_durability_items_give_the_anchor_and_the_first_movement_that_qualifies():
    items = durability_items(ledger(DURABLE), "2026-01-01", "2026-01-31", "expansion.followed")
    assert [(i["customer_id"], i["anchor"]["date"].isoformat(), i["qualifying"]["date"].isoformat(),
             i["qualifying"]["category"]) for i in items] == [
        ("acme", "2026-01-10", "2026-03-01", "contraction"),
        ("globex", "2026-01-15", "2026-04-15", "churn"),
    ]
    (kent,) = [i for i in durability_items(ledger(DURABLE), "2026-01-01", "2026-01-31", "first_expansion.expanded")
               if i["customer_id"] == "kent"]
    assert (kent["anchor"]["category"], kent["qualifying"]["date"]) == ("new", dt.date(2026, 9, 1))


def test_a_shorter_within_shortens_every_window():
    (january,) = durability(ledger(DURABLE), "2026-01-01", "2026-01-31", within=30)
    # acme's downgrades are 50 and 81 days on, globex's churn 90; hooli's repeat is 27 days on, its churn 55.
    assert january["expansion"] == {"customers": 4, "followed": 0, "rate": "0.000000",
                                    "expansion_amount": "300.00", "lost_amount": "0.00"}
    assert january["contraction"] == {"customers": 2, "churned": 0, "churn_rate": "0.000000", "repeated": 1}
    assert january["first_expansion"]["within_90"] == 2  # the first-expansion windows are fixed


def test_under_month_grain_a_window_of_90_days_is_the_three_months_after_the_anchor():
    # acme: January expansion, April contraction (3 months on: in); globex: May (4 months on: out).
    events = ledger("""
        subscription_started acme   2024-12-01 subscription_id=core amount=100.00
        upsell               acme   2025-01-20 subscription_id=core amount=150.00
        downgrade            acme   2025-04-30 subscription_id=core amount=120.00
        subscription_started globex 2024-12-01 subscription_id=core amount=100.00
        upsell               globex 2025-01-05 subscription_id=core amount=200.00
        downgrade            globex 2025-05-02 subscription_id=core amount=150.00
    """)
    assert durability_members(events, "2025-01-01", "2025-01-31", "expansion.followed", policy=MONTHLY) == ["acme"]
    assert durability_members(events, "2025-01-01", "2025-01-31", "expansion.followed") == []  # 100 days on
    assert durability_members(events, "2025-01-01", "2025-01-31", "expansion.followed", within=60,
                              policy=MONTHLY) == []  # ⌈60/30⌉ = 2 months
    assert durability_members(events, "2025-01-01", "2025-01-31", "expansion.followed", within=61,
                              policy=MONTHLY) == ["acme"]  # ⌈61/30⌉ = 3 months
    (january,) = durability(events, "2025-01-01", "2025-01-31", policy=MONTHLY)
    assert january["expansion"] == {"customers": 2, "followed": 1, "rate": "0.500000",
                                    "expansion_amount": "150.00", "lost_amount": "30.00"}


def test_durability_groups_take_the_attribute_as_of_the_periods_last_day():
    events = ledger("""
        subscription_started acme   2025-01-01 subscription_id=core amount=100.00
        upsell               acme   2025-02-10 subscription_id=core amount=150.00
        customer_updated     acme   2025-02-28 segment=enterprise
        customer_updated     globex 2025-01-01 segment=smb
        subscription_started bob    2025-01-01 subscription_id=core amount=10.00
        customer_updated     bob    2025-01-01 segment=mid
        cancel               bob    2025-01-15 subscription_id=core
    """)
    found = durability(events, "2025-02-01", "2025-02-28", by="segment")
    # globex never had MRR and bob's MRR ended in January: their groups are not listed.
    assert [(p["group"], p["expansion"]["customers"]) for p in found] == [("enterprise", 1)]
    assert durability_members(events, "2025-02-01", "2025-02-28", "expansion.customers",
                              group="enterprise", by="segment") == ["acme"]


# ---------------------------------------------------------------- against itself, under every policy


# Whole-month ranges (month grain needs them), the second reaching past every moved cancel.
WHOLE_MONTHS = [("2025-01-01", "2026-12-31", "month"), ("2025-01-01", "2029-12-31", "year")]


@settings(max_examples=100, deadline=None, print_blob=True)
@given(history=event_histories(), policy=policies())
def test_the_bridge_reconciles_under_every_policy(history, policy):
    seen = visible(history)
    found = movements(history, policy=policy)
    month = policy["movement_grain"] == "month"
    for customer in customer_ids(seen):
        theirs = [m for m in found if m["customer_id"] == customer]
        for m in theirs:
            before = m["date"].replace(day=1) - dt.timedelta(days=1) if month else m["date"] - dt.timedelta(days=1)
            assert not month or m["date"] == month_end(m["date"])
            assert m["from_mrr"] == customer_mrr(history, customer, before, policy=policy)
            assert m["to_mrr"] == customer_mrr(history, customer, m["date"], policy=policy)
            assert m["amount"] == abs(m["to_mrr"] - m["from_mrr"]) > 0
        assert all(a["to_mrr"] == b["from_mrr"] for a, b in zip(theirs, theirs[1:]))
        assert sum((m["to_mrr"] - m["from_mrr"] for m in theirs), D("0")) == customer_mrr(
            history, customer, FAR, policy=policy)
        assert [m["category"] for m in theirs if m["category"] == "new"] in ([], ["new"])
    for start, end, period in WHOLE_MONTHS:
        for p in metrics(history, start, end, period, policy=policy):
            assert p["opening_mrr"] + p["bridge"]["net_new"] == p["closing_mrr"]
            for kind in ("expansion", "contraction"):
                assert sum(p["causes"][kind].values(), D("0")) == p["bridge"][kind]
    for row in retention(history, "2025-01-01", "2026-12-31", window=3, policy=policy):
        first, last = dt.date.fromisoformat(row["start"]), dt.date.fromisoformat(row["end"])
        assert D(row["opening_mrr"]) == sum(
            (customer_mrr(history, c, first - dt.timedelta(days=1), policy=policy) for c in customer_ids(seen)), D("0"))
        assert D(row["closing_mrr"]) == sum(
            (customer_mrr(history, c, last, policy=policy) for c in customer_ids(seen)), D("0"))
    for p in durability(history, "2025-01-01", "2026-12-31", period="quarter", policy=policy):
        for kind, figures in (("expansion", ("followed",)), ("contraction", ("churned", "repeated")),
                              ("first_expansion", ("expanded", "within_90", "within_180", "within_365"))):
            assert all(0 <= p[kind][f] <= p[kind]["customers"] for f in figures)
        fe = p["first_expansion"]
        assert fe["within_90"] <= fe["within_180"] <= fe["within_365"] <= fe["expanded"]


@settings(max_examples=100, deadline=None, print_blob=True)
@given(history=event_histories())
def test_the_default_policy_gives_the_answers_of_sections_3_to_6(history):
    for policy in (DEFAULT_POLICY, {}):
        assert movements(history, policy=policy) == movements(history)
        for customer in customer_ids(visible(history)):
            for day in sorted({dt.date.fromisoformat(e["effective_date"]) for e in history}):
                for probe in (day - dt.timedelta(days=1), day):
                    assert customer_mrr(history, customer, probe, policy=policy) == customer_mrr(
                        history, customer, probe)
    assert metrics(history, FIRST_DAY, "2026-12-31", "quarter", "segment", policy=DEFAULT_POLICY) == metrics(
        history, FIRST_DAY, "2026-12-31", "quarter", "segment")
    assert cohorts(history, FIRST_DAY, "2026-12-31", policy=DEFAULT_POLICY) == cohorts(
        history, FIRST_DAY, "2026-12-31")
