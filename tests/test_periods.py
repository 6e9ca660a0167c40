"""Subscription periods (SPEC §10), on a small hand-written file shaped like dbt-labs' mrr-playbook.

The playbook's subscription_periods.csv gives each subscription's periods with
``end_date`` the first day without revenue (``--end-exclusive``). Periods of one
subscription that touch are one line whose amount changes; the June bridge here
is expansion 150.00 (customer 2) and contraction 30.00 (customer 1).
"""

from __future__ import annotations

import pytest

PLAYBOOK = """\
subscription_id,customer_id,start_date,end_date,monthly_amount
1,1,2019-01-01,2019-03-01,100
1,1,2019-03-01,2019-06-01,150
1,1,2019-06-01,2019-08-01,120
2,2,2019-02-01,2019-06-01,200
2,2,2019-06-01,2019-09-01,350
3,3,2019-04-01,2019-05-01,50
3,3,2019-05-01,,50
"""

# The same periods with end_date the last day with revenue (the default convention).
INCLUSIVE = """\
subscription_id,customer_id,start_date,end_date,monthly_amount
1,1,2019-01-01,2019-02-28,100
1,1,2019-03-01,2019-05-31,150
1,1,2019-06-01,2019-07-31,120
2,2,2019-02-01,2019-05-31,200
2,2,2019-06-01,2019-08-31,350
3,3,2019-04-01,2019-04-30,50
3,3,2019-05-01,,50
"""

MOVEMENTS = [
    ("2019-01-01", "1", "new", None, "100.00"),
    ("2019-02-01", "2", "new", None, "200.00"),
    ("2019-03-01", "1", "expansion", "price", "50.00"),
    ("2019-04-01", "3", "new", None, "50.00"),             # 3's second period has the same amount: no event
    ("2019-06-01", "1", "contraction", "price", "30.00"),
    ("2019-06-01", "2", "expansion", "price", "150.00"),
    ("2019-08-01", "1", "churn", None, "120.00"),
    ("2019-09-01", "2", "churn", None, "350.00"),
]


def moves(rl) -> list[tuple]:
    rows = rl("movements", "--from", "2019-01-01", "--to", "2019-12-31", "--format", "json").json()["movements"]
    return [(m["date"], m["customer_id"], m["category"], m["cause"], m["amount"]) for m in rows]


@pytest.mark.parametrize("text, flags", [(PLAYBOOK, ["--end-exclusive"]), (INCLUSIVE, [])])
def test_touching_periods_of_one_subscription_are_one_line_whose_amount_changes(rl, text, flags):
    rl("import", rl.write("periods.csv", text), "--format", "periods", *flags)
    assert moves(rl) == MOVEMENTS
    june = rl("metrics", "--from", "2019-06-01", "--to", "2019-06-30", "--format", "json").json()["periods"][0]
    assert (june["bridge"]["expansion"], june["bridge"]["contraction"]) == ("150.00", "30.00")
    assert june["causes"] == {"expansion": {"price": "150.00"}, "contraction": {"price": "30.00"}}


def test_the_events_of_a_subscriptions_periods(rl):
    rl("import", rl.write("periods.csv", PLAYBOOK), "--format", "periods", "--end-exclusive")
    made = [(e["type"], e["customer_id"], e["effective_date"], e.get("amount"), e.get("cause"), e["source"].rsplit("/", 1)[-1])
            for e in rl.events() if e["customer_id"] == "1"]
    assert made == [
        ("subscription_started", "1", "2019-01-01", "100", None, "periods.csv:2"),
        ("upsell", "1", "2019-03-01", "150", "price", "periods.csv:3"),
        ("downgrade", "1", "2019-06-01", "120", "price", "periods.csv:4"),
        ("cancel", "1", "2019-08-01", None, None, "periods.csv:4"),
    ]


def test_a_gap_between_periods_is_a_cancel_and_a_restart(rl):
    rl("import", rl.write("periods.csv", """\
        subscription_id,customer_id,start_date,end_date,monthly_amount
        a,9,2019-01-01,2019-01-31,100
        a,9,2019-03-01,,100
        """), "--format", "periods")
    assert moves(rl) == [("2019-01-01", "9", "new", None, "100.00"), ("2019-02-01", "9", "churn", None, "100.00"),
                         ("2019-03-01", "9", "reactivation", None, "100.00")]


def test_overlapping_periods_of_one_subscription_are_refused_naming_both_lines(rl):
    path = rl.write("periods.csv", """\
        subscription_id,customer_id,start_date,end_date,monthly_amount
        a,9,2019-01-01,2019-03-31,100
        a,9,2019-03-15,2019-06-30,120
        b,9,2019-01-01,,50
        b,9,2019-02-01,,60
        """)
    result = rl("import", path, "--format", "periods", ok=False)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}:3: start_date: 2019-03-15 is inside the period of subscription a at line 2 (2019-01-01 to 2019-03-31): "
        "periods of one subscription must not overlap",
        f"{path}:5: start_date: 2019-02-01 is inside the period of subscription b at line 4 (2019-01-01 to "
        "open-ended): periods of one subscription must not overlap",
        "revledger: 2 problems; nothing was written",
    ]
    assert rl.events() == []


def test_forgetting_end_exclusive_gets_one_hint_not_an_error_per_period(rl):
    path = rl.write("periods.csv", PLAYBOOK)
    result = rl("import", path, "--format", "periods", ok=False)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}: end_date: 4 periods end on the day the next period of their subscription begins, as when end_date "
        "is the first day without revenue: try --end-exclusive",
        "revledger: 1 problem; nothing was written",
    ]
    assert rl.events() == []


def test_one_period_that_ends_where_the_next_begins_is_told_in_the_singular(rl):
    path = rl.write("periods.csv", """\
        subscription_id,customer_id,start_date,end_date,monthly_amount
        1,1,2019-01-01,2019-03-01,100
        1,1,2019-03-01,,150
        """)
    result = rl("import", path, "--format", "periods", ok=False)
    assert result.stderr.splitlines()[0] == (
        f"{path}: end_date: 1 period ends on the day the next period of its subscription begins, as when end_date "
        "is the first day without revenue: try --end-exclusive")
    assert rl.events() == []


def test_end_exclusive_on_last_days_gets_the_hint_to_leave_it_out(rl):
    path = rl.write("periods.csv", INCLUSIVE)
    result = rl("import", path, "--format", "periods", "--end-exclusive", ok=False)
    assert result.stderr.splitlines() == [
        f"{path}: end_date: 4 periods end the day before the next period of their subscription begins, as when "
        "end_date is the last day with revenue: try without --end-exclusive",
        "revledger: 1 problem; nothing was written",
    ]
    assert rl.events() == []


def test_a_periods_file_is_known_by_its_header_without_format(rl):
    rl("import", rl.write("periods.csv", INCLUSIVE))
    assert moves(rl) == MOVEMENTS


def test_periods_without_subscription_id_stay_lines_of_their_own(rl):
    rl("import", rl.write("periods.csv", """\
        customer_id,start_date,end_date,monthly_amount
        9,2019-01-01,2019-03-31,100
        9,2019-04-01,,120
        """), "--format", "periods")
    assert moves(rl) == [("2019-01-01", "9", "new", None, "100.00"), ("2019-04-01", "9", "expansion", "mixed", "20.00")]
