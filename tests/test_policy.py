"""Recognition policy (SPEC §13): each setting worked by hand, a policy change as a recorded fact, previews.

The ledgers are small CSVs with the movements a finance person would work out
beside them, driven through the command line (``revledger policy set``), so a
policy is always a ``policy_changed`` event in the log, never a flag; then the
read models under recorded policies are held to the independent oracle
(tests/oracle.py) on generated histories.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import oracle
from cli.app import app
from conftest import IN_CI
from ledger.application import Ledger
from ledger.clock import parse_instant
from ledger.location import open_store
from ledger.money import from_cents
from ledger.policy import Policy
from ledger.settings import LedgerSettings
from projections import queries
from projections.cohorts import cohorts_report
from projections.durability import durability_report
from projections.metrics import metrics_report
from projections.preview import preview
from projections.readmodel import ReadModel, default_path
from projections.retention import retention_report
from strategies import event_histories, policies
from test_cohorts import expected as cohort_text
from test_metrics import expected, group_order

DEFAULT = {"churn_recognition": "cancel_date", "reactivation_grace_days": 0, "movement_grain": "day"}


# -- ledgers worked by hand, one setting at a time ------------------------------------------------------


def ledger(rl, text: str):
    rl("import", rl.write("events.csv", "event_id,type,customer_id,effective_date,subscription_id,plan,amount,billing_months\n"
                                         + text))
    return rl


def moves(rl, *args: str) -> list[tuple]:
    """Every movement as (date, customer, category, cause, from, to, event ids)."""
    report = rl("movements", "--from", "2024-01-01", "--to", "2028-12-31", "--format", "json", *args).json()
    return [(m["date"], m["customer_id"], m["category"], m["cause"], m["from_mrr"], m["to_mrr"], " ".join(m["event_ids"]))
            for m in report["movements"]]


def adopt(rl, *settings: str) -> list[tuple]:
    """Preview ``settings``, adopt them with ``policy set``, and return the movements (the preview's must be the same)."""
    previewed = moves(rl, *[arg for s in settings for arg in ("--policy", s)])
    rl("policy", "set", *settings, "--reason", "finance chose it", "--actor", "controller")
    adopted = moves(rl)
    assert adopted == previewed, "the preview and the adopted policy answer differently"
    return adopted


def mrr_on(rl, day: str, *args: str) -> str:
    return rl("mrr", "--as-of", day, "--format", "json", *args).json()["mrr"]


ANNUAL = """\
c1,subscription_started,acme,2025-03-10,core,annual,12000.00,12
c2,cancel,acme,2025-07-01,core,,,
"""


def test_an_annual_line_cancelled_mid_term_churns_at_its_term_end_under_term_end(rl):
    # 12,000.00 a year is 1,000.00 MRR; the term in progress on 07-01 runs 2025-03-10 .. 2026-03-09.
    ledger(rl, ANNUAL)
    assert moves(rl) == [
        ("2025-03-10", "acme", "new", None, "0.00", "1000.00", "c1"),
        ("2025-07-01", "acme", "churn", None, "1000.00", "0.00", "c2"),
    ]
    assert adopt(rl, "churn_recognition=term_end") == [
        ("2025-03-10", "acme", "new", None, "0.00", "1000.00", "c1"),
        ("2026-03-10", "acme", "churn", None, "1000.00", "0.00", "c2"),
    ]
    assert (mrr_on(rl, "2025-07-01"), mrr_on(rl, "2026-03-09"), mrr_on(rl, "2026-03-10")) == ("1000.00", "1000.00", "0.00")
    (q3,) = rl("metrics", "--from", "2025-07-01", "--to", "2025-09-30", "--period", "quarter", "--format", "json").json()["periods"]
    assert (q3["opening_mrr"], q3["bridge"]["churn"], q3["closing_mrr"], q3["retention"]["nrr"]) == (
        "1000.00", "0.00", "1000.00", "1.000000")


MONTHLY_LINES = """\
a1,subscription_started,acme,2025-01-31,core,monthly,50.00,1
a2,cancel,acme,2025-03-05,core,,,
b1,subscription_started,bolt,2025-01-15,core,monthly,100.00,1
b2,cancel,bolt,2025-04-15,core,,,
d1,subscription_started,cora,2025-01-15,core,monthly,100.00,1
d2,subscription_changed,cora,2025-02-20,core,annual,1200.00,12
d3,cancel,cora,2025-05-01,core,,,
"""


def test_a_monthly_line_churns_at_its_next_anniversary_and_a_cancel_on_one_stays(rl):
    # acme: anniversaries 01-31, 02-28, 03-31 (counted from the anchor, not from 02-28), so 03-05 waits for 03-31.
    # bolt: cancelled on its anniversary 04-15, which is the term's end already.
    # cora: going annual on 02-20 (MRR unchanged at 100.00) re-anchors the term: 05-01 waits for 2026-02-20.
    ledger(rl, MONTHLY_LINES)
    assert [m for m in adopt(rl, "churn_recognition=term_end") if m[2] == "churn"] == [
        ("2025-03-31", "acme", "churn", None, "50.00", "0.00", "a2"),
        ("2025-04-15", "bolt", "churn", None, "100.00", "0.00", "b2"),
        ("2026-02-20", "cora", "churn", None, "100.00", "0.00", "d3"),
    ]


def test_a_moved_cancel_is_listed_on_the_day_it_takes_effect_only(rl):
    # acme: core 100.00 and addon 50.00 a month from 01-10. On 03-01 core is cancelled (its month runs to 03-10) and
    # addon goes down to 30.00: under term_end 03-01 is addon's contraction alone, 03-10 core's removal.
    ledger(rl, """\
m1,subscription_started,acme,2025-01-10,core,team,100.00,1
m2,subscription_started,acme,2025-01-10,addon,extra,50.00,1
m3,cancel,acme,2025-03-01,core,,,
m4,downgrade,acme,2025-03-01,addon,,30.00,
""")
    assert moves(rl)[1:] == [("2025-03-01", "acme", "contraction", "mixed", "150.00", "30.00", "m3 m4")]
    assert adopt(rl, "churn_recognition=term_end")[1:] == [
        ("2025-03-01", "acme", "contraction", "price", "150.00", "130.00", "m4"),
        ("2025-03-10", "acme", "contraction", "line_removed", "130.00", "30.00", "m3"),
    ]


GAP = """\
g1,subscription_started,acme,2025-01-01,core,team,100.00,1
g2,cancel,acme,2025-03-10,core,,,
g3,subscription_started,acme,{restart},core,team,100.00,1
"""


@pytest.mark.parametrize("restart", ["2025-03-15", "2025-03-17"])
def test_a_five_day_lapse_within_seven_days_grace_is_neither_churn_nor_reactivation(rl, restart):
    # MRR is 0 on 03-10 .. 03-14 (five days) and back on 03-15; back on 03-17, the lapse is seven days: still filled.
    ledger(rl, GAP.format(restart=restart))
    assert [m[2] for m in moves(rl)] == ["new", "churn", "reactivation"]
    assert adopt(rl, "reactivation_grace_days=7") == [("2025-01-01", "acme", "new", None, "0.00", "100.00", "g1")]
    assert mrr_on(rl, "2025-03-12") == "100.00"
    (march,) = rl("metrics", "--from", "2025-03-01", "--to", "2025-03-31", "--format", "json").json()["periods"]
    assert (march["customers"]["churned"], march["customers"]["reactivated"], march["bridge"]["net_new"]) == (0, 0, "0.00")


def test_an_eight_day_lapse_beyond_seven_days_grace_is_churn_and_reactivation(rl):
    # MRR is 0 on 03-10 .. 03-17 (eight days) and back on 03-18.
    ledger(rl, GAP.format(restart="2025-03-18"))
    assert adopt(rl, "reactivation_grace_days=7") == [
        ("2025-01-01", "acme", "new", None, "0.00", "100.00", "g1"),
        ("2025-03-10", "acme", "churn", None, "100.00", "0.00", "g2"),
        ("2025-03-18", "acme", "reactivation", None, "0.00", "100.00", "g3"),
    ]
    assert mrr_on(rl, "2025-03-12") == "0.00"


def test_a_lapse_not_ended_as_known_is_churn_until_the_customer_returns(rl):
    ledger(rl, GAP.format(restart="2025-03-15").rsplit("g3", 1)[0])
    rl("policy", "set", "reactivation_grace_days=30", "--reason", "a month's grace")
    assert [m[2] for m in moves(rl)] == ["new", "churn"]
    rl("record", "subscription_started", "--customer", "acme", "--subscription", "core", "--plan", "team", "--amount", "100.00",
       "--date", "2025-03-15")
    assert [m[2] for m in moves(rl)] == ["new"]


UP_AND_DOWN = """\
u1,subscription_started,acme,2025-01-01,core,team,100.00,1
u2,upsell,acme,2025-03-05,core,,150.00,
u3,downgrade,acme,2025-03-20,core,,{down},
"""


def test_a_mid_month_upgrade_and_downgrade_net_to_one_movement_under_month_grain(rl):
    ledger(rl, UP_AND_DOWN.format(down="120.00"))
    assert len(moves(rl)) == 3  # the days: new, expansion, contraction
    assert adopt(rl, "movement_grain=month") == [
        ("2025-01-31", "acme", "new", None, "0.00", "100.00", "u1"),
        ("2025-03-31", "acme", "expansion", "price", "100.00", "120.00", "u2 u3"),
    ]
    (march,) = rl("metrics", "--from", "2025-03-01", "--to", "2025-03-31", "--format", "json").json()["periods"]
    assert (march["bridge"]["expansion"], march["bridge"]["contraction"], march["causes"]["expansion"]) == (
        "20.00", "0.00", {"price": "20.00"})
    assert mrr_on(rl, "2025-03-10") == "150.00"  # `mrr --as-of` is unchanged by the grain


def test_a_mid_month_upgrade_and_downgrade_that_cancel_out_make_no_movement_under_month_grain(rl):
    ledger(rl, UP_AND_DOWN.format(down="100.00"))
    assert adopt(rl, "movement_grain=month") == [("2025-01-31", "acme", "new", None, "0.00", "100.00", "u1")]


def test_cohorts_under_month_grain_start_at_the_first_month_end_with_revenue(rl):
    # acme earns 01-05 .. 01-19 only, then again from 03-03: per day its cohort is January (and March a reactivation);
    # no month end saw January's revenue, so per month its first `new` is March, and so is its cohort.
    ledger(rl, """\
k1,subscription_started,acme,2025-01-05,core,team,100.00,1
k2,cancel,acme,2025-01-20,core,,,
k3,subscription_started,acme,2025-03-03,core,team,100.00,1
""")

    def cohorts() -> list[tuple]:
        report = rl("cohorts", "--from", "2025-01-01", "--to", "2025-04-30", "--format", "json").json()
        return [(c["cohort"], c["mrr_0"], [(o["mrr"], o["nrr"]) for o in c["offsets"]]) for c in report["cohorts"]]

    # per day: January's cohort ends January at 0.00, so its NRR has no denominator
    assert cohorts() == [("2025-01", "0.00", [("0.00", None), ("0.00", None), ("100.00", None), ("100.00", None)])]
    rl("policy", "set", "movement_grain=month", "--reason", "per month")
    assert cohorts() == [("2025-03", "100.00", [("100.00", "1.000000"), ("100.00", "1.000000")])]


TOGETHER = """\
t1,subscription_started,acme,2025-01-01,core,team,100.00,1
t2,cancel,acme,2025-02-10,core,,,
t3,subscription_started,acme,2025-03-05,core,team,120.00,1
"""


def test_the_three_together_move_cancels_first_then_fill_lapses_then_net_per_month(rl):
    # term_end moves the cancel of 02-10 to the anniversary 03-01: the lapse is then 03-01 .. 03-04, four days,
    # which seven days' grace fills; March nets the moved cancel (-100) and the restart (+120) into one expansion.
    # In another order there would be churn: grace first would see 02-10 .. 03-04, 23 days, and fill nothing.
    ledger(rl, TOGETHER)
    assert moves(rl, "--policy", "reactivation_grace_days=7") == [
        ("2025-01-01", "acme", "new", None, "0.00", "100.00", "t1"),
        ("2025-02-10", "acme", "churn", None, "100.00", "0.00", "t2"),
        ("2025-03-05", "acme", "reactivation", None, "0.00", "120.00", "t3"),
    ]
    assert moves(rl, "--policy", "churn_recognition=term_end", "--policy", "reactivation_grace_days=7") == [
        ("2025-01-01", "acme", "new", None, "0.00", "100.00", "t1"),
        ("2025-03-05", "acme", "expansion", "cross_sell", "100.00", "120.00", "t3"),
    ]
    assert adopt(rl, "churn_recognition=term_end", "reactivation_grace_days=7", "movement_grain=month") == [
        ("2025-01-31", "acme", "new", None, "0.00", "100.00", "t1"),
        ("2025-03-31", "acme", "expansion", "mixed", "100.00", "120.00", "t2 t3"),
    ]
    (q1,) = rl("metrics", "--from", "2025-01-01", "--to", "2025-03-31", "--period", "quarter", "--format", "json").json()[
        "periods"]
    assert (q1["opening_mrr"], q1["bridge"]["new"], q1["bridge"]["expansion"], q1["bridge"]["churn"],
            q1["bridge"]["reactivation"], q1["closing_mrr"]) == ("0.00", "100.00", "20.00", "0.00", "0.00", "120.00")
    assert mrr_on(rl, "2025-03-02") == "100.00"


# -- a change is a recorded fact: every earlier answer stays, rebuilt or not --------------------------------

HISTORY = ANNUAL + GAP.format(restart="2025-03-15").replace("acme", "bolt") + UP_AND_DOWN.format(down="120.00").replace(
    "acme", "cora")

READS = (
    ("metrics", "--from", "2025-01-01", "--to", "2026-06-30", "--period", "quarter"),
    ("metrics", "--from", "2025-01-01", "--to", "2025-12-31", "--format", "json"),
    ("movements", "--from", "2025-01-01", "--to", "2026-12-31", "--format", "json"),
    ("mrr", "--as-of", "2025-12-31", "--format", "json"),
    ("policy", "--format", "json"),
)


def answers(rl, *known_at: str) -> dict[tuple, str]:
    return {read: rl(*read, *known_at).stdout for read in READS}


def test_known_at_before_each_policy_change_prints_what_was_printed_then_and_rebuild_reproduces_every_answer(rl):
    ledger(rl, HISTORY)
    printed = [answers(rl)]
    times = [rl.events()[-1]["recorded_at"]]
    rl("policy", "set", "churn_recognition=term_end", "--reason", "churn at term end", "--actor", "controller")
    printed.append(answers(rl))
    times.append(rl.events()[-1]["recorded_at"])
    rl("record", "seat_change", "--customer", "cora", "--subscription", "core", "--date", "2025-06-01", "--quantity", "0",
       ok=False)  # refused (a flat line has no seats): nothing recorded, nothing changes
    rl("record", "cancel", "--customer", "cora", "--subscription", "core", "--date", "2025-08-20")
    printed.append(answers(rl))
    times.append(rl.events()[-1]["recorded_at"])
    rl("policy", "set", "reactivation_grace_days=7", "movement_grain=month", "--reason", "the board pack's rules")
    printed.append(answers(rl))
    times.append(rl.events()[-1]["recorded_at"])
    # each policy in force answered differently: the reproductions below are not of one answer four times
    assert len({p[READS[2]] for p in printed}) == 4 and len({p[READS[0]] for p in printed}) == 4
    for then, at in zip(printed, times):
        assert answers(rl, "--known-at", at) == then, f"as known at {at}"
    assert "rebuilt the read models from 11 events" in rl("rebuild").stdout
    for then, at in zip(printed, times):
        assert answers(rl, "--known-at", at) == then, f"as known at {at}, after rebuild"
    assert answers(rl) == printed[-1]
    assert rl("verify").exit_code == 0


def test_the_log_lists_each_change_and_policy_shows_the_one_in_force_at_any_time(rl):
    ledger(rl, ANNUAL)
    before = rl.events()[-1]["recorded_at"]
    rl("policy", "set", "churn_recognition=term_end", "--reason", "churn at term end", "--actor", "controller")
    rl("policy", "set", "reactivation_grace_days=14", "--reason", "two weeks' grace", "--actor", "cfo")
    changes = [e for e in rl.events() if e["type"] == "policy_changed"]
    assert [(e["sequence"], e["actor"], e["reason"], e["customer_id"]) for e in changes] == [
        (3, "controller", "churn at term end", ""), (4, "cfo", "two weeks' grace", "")]
    now = rl("policy", "--format", "json").json()
    assert now["policy"] == {"churn_recognition": "term_end", "reactivation_grace_days": 14, "movement_grain": "day"}
    assert (now["changed"]["sequence"], now["changed"]["actor"]) == (4, "cfo") and len(now["changes"]) == 2
    assert now["changes"][0]["policy"] == {**DEFAULT, "churn_recognition": "term_end"}  # each change carries the whole policy
    then = rl("policy", "--known-at", before, "--format", "json").json()
    assert (then["policy"], then["changed"], then["changes"]) == (DEFAULT, None, [])
    assert "  churn_recognition = cancel_date\n" in rl("policy", "--known-at", before).stdout
    assert rl("policy", "set", "reactivation_grace_days=14", "--reason", "again").stdout.startswith("nothing to change")
    assert len(rl.events()) == 4


def test_policy_set_recorded_at_a_past_instant_answers_from_then_on(rl):
    rl("import", rl.write("events.csv", "event_id,type,customer_id,effective_date,subscription_id,plan,amount,"
                                         "billing_months\n" + ANNUAL), "--recorded-at", "2026-01-01T00:00:00Z")
    rl("policy", "set", "churn_recognition=term_end", "--reason", "migrated", "--recorded-at", "2026-02-01T00:00:00Z")
    assert rl.events()[-1]["recorded_at"] == "2026-02-01T00:00:00.000000Z"
    assert rl("policy", "--known-at", "2026-01-31", "--format", "json").json()["policy"] == DEFAULT
    assert rl("policy", "--known-at", "2026-02-01", "--format", "json").json()["policy"]["churn_recognition"] == "term_end"
    earlier = rl("policy", "set", "movement_grain=month", "--reason", "x", "--recorded-at", "2026-01-15T00:00:00Z", ok=False)
    assert earlier.exit_code != 0 and len(earlier.stderr.strip().splitlines()) == 1 and "--recorded-at" in earlier.stderr
    assert len(rl.events()) == 3


# -- closed periods: a policy change is a cause of restatement, and a lock refuses it without --restate --------

# acme: 12,000.00 a year from 2025-04-01 (1,000.00 MRR), cancelled 2026-02-10; its term runs to 2026-03-31, so under
# term_end it churns on 2026-04-01, in Q2. beta: 500.00 a month from 2025-10-01.
# Q1 as closed (cancel_date): opening 1,500.00, churn 1,000.00, closing 500.00, NRR 500/1500 = 0.333333.
CLOSED = """\
a1,subscription_started,acme,2025-04-01,core,annual,12000.00,12
b1,subscription_started,beta,2025-10-01,core,monthly,500.00,1
a2,cancel,acme,2026-02-10,core,,,
"""


@pytest.fixture
def locked(rl):
    ledger(rl, CLOSED)
    close = rl("close", "2026-Q1", "--lock", "--actor", "controller", "--format", "json").json()
    assert close["metrics"]["policy"] == DEFAULT  # the close records the policy with its figures
    (q1,) = close["metrics"]["periods"]
    assert (q1["opening_mrr"], q1["bridge"]["churn"], q1["closing_mrr"], q1["retention"]["nrr"]) == (
        "1500.00", "1000.00", "500.00", "0.333333")
    return close


def test_a_locked_quarter_refuses_a_policy_change_that_moves_it_and_the_ledger_is_unchanged(rl, locked):
    head = rl("checkpoint").stdout
    refused = rl("policy", "set", "churn_recognition=term_end", "--reason", "churn at term end", ok=False)
    assert refused.exit_code != 0 and refused.stdout == ""
    assert refused.stderr == ('revledger: policy set would change the figures of locked period 2026-Q1; '
                              'to record it as a restatement, give --restate "reason"\n')
    assert rl("checkpoint").stdout == head and len(rl.events()) == 4
    assert rl("policy", "--format", "json").json()["policy"] == DEFAULT
    assert rl("restatements", "--format", "json").json()["restatements"] == []


def test_a_policy_change_that_moves_no_locked_figure_needs_no_restate(rl, locked):
    # Q1 is whole months, and netting per month moves nothing across its bounds: the same figures.
    result = rl("policy", "set", "movement_grain=month", "--reason", "the board pack nets per month")
    assert "restated" not in result.stdout
    assert "restatement" not in rl.events()[-1]
    assert rl("restatements", "--format", "json").json()["restatements"] == []


def test_a_restated_policy_change_is_the_cause_of_the_quarters_restatement_with_its_part_of_each_figure(rl, locked):
    # A late upsell (beta 500.00 -> 600.00 on 03-15) is the events' part; the policy change moves acme's churn out.
    rl("record", "upsell", "--customer", "beta", "--subscription", "core", "--amount", "600.00", "--date", "2026-03-15",
       "--restate", "late upsell", "--actor", "analyst")
    result = rl("policy", "set", "churn_recognition=term_end", "--reason", "churn at term end", "--actor", "cfo",
                "--restate", "Q1 restated for the new churn rule")
    assert "restated locked periods: 2026-Q1" in result.stdout
    report = rl("restatements", "--format", "json").json()
    (q1,) = report["restatements"]
    assert (q1["period"], q1["sequence"], q1["locked"]) == ("2026-Q1", locked["sequence"], True)
    causes = [(e["sequence"], e["type"], e["actor"], e["reason"], e["restatement"]) for e in q1["events"]]
    assert causes == [(5, "upsell", "analyst", None, "late upsell"),
                      (6, "policy_changed", "cfo", "churn at term end", "Q1 restated for the new churn rule")]
    figures = {f["metric"]: (f["closed"], f["now"], f["by_policy"], f["by_events"]) for f in q1["figures"]}
    # now, under term_end: 1,600.00 closing; under the close's policy as now known: 600.00
    assert figures["closing_mrr"] == ("500.00", "1600.00", "1000.00", "100.00")
    assert figures["bridge.churn"] == ("1000.00", "0.00", "-1000.00", "0.00")
    assert figures["bridge.expansion"] == ("0.00", "100.00", "0.00", "100.00")
    assert figures["retention.nrr"] == ("0.333333", "1.066667", "0.666667", "0.066667")  # 1600/1500, 600/1500
    assert figures["customers.churned"] == (1, 0, -1, 0)
    assert "opening_mrr" not in figures
    # as known before the change, the quarter is restated by the upsell alone, and no policy is named
    before = rl("restatements", "--known-at", rl.events()[-2]["recorded_at"], "--format", "json").json()
    (q1_then,) = before["restatements"]
    assert [e["type"] for e in q1_then["events"]] == ["upsell"]
    assert all("by_policy" not in f for f in q1_then["figures"])
    table = rl("restatements").stdout
    assert "by the policy change" in table and "policy_changed" in table and "churn at term end" in table


def test_an_event_that_moves_a_locked_period_through_grace_needs_restate(rl):
    # acme lapses on 2026-03-25; as known, that is churn in March (the lapse has not ended). Returning on 04-05 makes
    # the lapse eleven days, which thirty days' grace fills: March's churn goes, so March's figures change.
    ledger(rl, "a1,subscription_started,acme,2026-01-01,core,team,100.00,1\na2,cancel,acme,2026-03-25,core,,,\n")
    rl("policy", "set", "reactivation_grace_days=30", "--reason", "a month's grace")
    rl("close", "2026-03", "--lock")
    result = rl("record", "subscription_started", "--customer", "acme", "--subscription", "core", "--plan", "team",
                "--amount", "100.00", "--date", "2026-04-05", ok=False)
    assert result.exit_code != 0 and "--restate" in result.stderr
    assert rl("restatements", "--format", "json").json()["restatements"] == []


def test_a_policy_change_that_moves_none_of_a_closed_periods_figures_is_not_among_its_causes(rl):
    # Netting per month moves nothing across Q1's bounds; the late upsell alone restates it.
    ledger(rl, CLOSED)
    rl("close", "2026-Q1")
    rl("policy", "set", "movement_grain=month", "--reason", "per month")
    rl("record", "upsell", "--customer", "beta", "--subscription", "core", "--amount", "600.00", "--date", "2026-03-15")
    (q1,) = rl("restatements", "--format", "json").json()["restatements"]
    assert [e["type"] for e in q1["events"]] == ["upsell"]
    assert [(f["metric"], f["closed"], f["now"]) for f in q1["figures"]][:2] == [
        ("closing_mrr", "500.00", "600.00"), ("arr", "6000.00", "7200.00")]
    assert all(list(f) == ["metric", "closed", "now", "difference"] for f in q1["figures"])


def test_an_unlocked_close_is_restated_by_a_policy_change_without_restate(rl):
    ledger(rl, CLOSED)
    rl("close", "2026-Q1")
    rl("policy", "set", "churn_recognition=term_end", "--reason", "churn at term end")
    (q1,) = rl("restatements", "--format", "json").json()["restatements"]
    assert q1["locked"] is False and [e["type"] for e in q1["events"]] == ["policy_changed"]


# -- previews, refusals, exports ------------------------------------------------------------------------------

PREVIEWED = (
    ("mrr", "--as-of", "2025-12-31"),
    ("movements", "--from", "2025-01-01", "--to", "2026-12-31"),
    ("metrics", "--from", "2025-01-01", "--to", "2025-12-31"),
    ("cohorts", "--from", "2025-01-01", "--to", "2025-12-31"),
    ("explain", "bridge.churn", "--from", "2025-01-01", "--to", "2025-12-31"),
    ("retention", "--from", "2025-01-01", "--to", "2025-12-31"),
    ("durability", "--from", "2025-01-01", "--to", "2025-12-31"),
    ("restatements",),
    ("policy",),
    ("query", "SELECT count(*) AS n FROM movements"),
)


@pytest.mark.parametrize("read", PREVIEWED, ids=lambda r: r[0])
def test_a_preview_is_marked_and_records_nothing(rl, read):
    ledger(rl, ANNUAL)
    head = rl("checkpoint").stdout
    plain = rl(*read, "--format", "json").json()
    preview = rl(*read, "--policy", "churn_recognition=term_end", "--format", "json").json()
    assert "preview" not in plain and plain["policy"] == DEFAULT
    assert preview["preview"] is True and preview["policy"] == {**DEFAULT, "churn_recognition": "term_end"}
    assert "PREVIEW under churn_recognition=term_end" in rl(*read, "--policy", "churn_recognition=term_end").stdout
    assert rl("checkpoint").stdout == head
    assert rl("policy", "--format", "json").json()["changes"] == []
    assert rl(*read, "--format", "json").json() == plain


def test_a_preview_keeps_the_settings_not_given_as_in_force_at_the_knowledge_time(rl):
    ledger(rl, TOGETHER)
    before = rl.events()[-1]["recorded_at"]
    rl("policy", "set", "churn_recognition=term_end", "--reason", "churn at term end")
    now = rl("movements", "--from", "2025-01-01", "--to", "2025-12-31", "--policy", "reactivation_grace_days=7",
             "--format", "json").json()
    assert now["policy"] == {"churn_recognition": "term_end", "reactivation_grace_days": 7, "movement_grain": "day"}
    assert [m["category"] for m in now["movements"]] == ["new", "expansion"]  # the four-day lapse is filled
    then = rl("movements", "--from", "2025-01-01", "--to", "2025-12-31", "--policy", "reactivation_grace_days=7",
              "--known-at", before, "--format", "json").json()
    assert then["policy"] == {**DEFAULT, "reactivation_grace_days": 7} and then["known_at"] == before
    assert [m["category"] for m in then["movements"]] == ["new", "churn", "reactivation"]  # 23 days: not filled


@pytest.mark.parametrize(
    "args, message",
    [
        (["foo=bar"], "revledger: policy set 'foo=bar': no setting 'foo' (the settings are churn_recognition, "
                      "reactivation_grace_days, movement_grain)"),
        (["churn_recognition=soon"], "revledger: policy set churn_recognition=soon: one of cancel_date, term_end"),
        (["movement_grain=week"], "revledger: policy set movement_grain=week: one of day, month"),
        (["reactivation_grace_days=367"], "revledger: policy set reactivation_grace_days=367: a whole number of days "
                                          "from 0 to 366"),
        (["reactivation_grace_days=-1"], "revledger: policy set reactivation_grace_days=-1: a whole number of days "
                                         "from 0 to 366"),
        (["reactivation_grace_days=1.5"], "revledger: policy set reactivation_grace_days=1.5: a whole number of days "
                                          "from 0 to 366"),
        (["reactivation_grace_days=²"], "revledger: policy set reactivation_grace_days=²: a whole number of days "
                                        "from 0 to 366"),  # a digit to str.isdigit, not to int()
        (["reactivation_grace_days=٣"], "revledger: policy set reactivation_grace_days=٣: a whole number of days "
                                        "from 0 to 366"),
        (["churn_recognition"], "revledger: policy set 'churn_recognition': write it as KEY=VALUE, e.g. "
                                "churn_recognition=term_end"),
        (["movement_grain=month", "movement_grain=day"], "revledger: policy set: movement_grain is given twice"),
    ],
)
def test_policy_set_refuses_bad_settings_in_one_line_naming_them(rl, args, message):
    ledger(rl, ANNUAL)
    result = rl("policy", "set", *args, "--reason", "x", ok=False)
    assert result.exit_code != 0 and result.stderr == message + "\n"
    assert len(rl.events()) == 2


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_policy_set_needs_a_reason(rl, reason):
    ledger(rl, ANNUAL)
    result = rl("policy", "set", "churn_recognition=term_end", *([] if reason is None else ["--reason", reason]), ok=False)
    assert result.exit_code != 0 and len(result.stderr.strip().splitlines()) == 1 and "--reason" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(rl.events()) == 2


def test_a_restatement_needs_a_reason_too(rl, locked):
    result = rl("policy", "set", "churn_recognition=term_end", "--reason", "churn at term end", "--restate", "  ", ok=False)
    assert result.exit_code != 0 and len(result.stderr.strip().splitlines()) == 1 and "--restate" in result.stderr
    assert len(rl.events()) == 4


def test_a_bad_preview_setting_is_refused_in_one_line_naming_the_option(rl):
    ledger(rl, ANNUAL)
    result = rl("mrr", "--policy", "grace=3", ok=False)
    assert result.exit_code != 0 and result.stderr.startswith("revledger: --policy 'grace=3': no setting 'grace'")
    assert len(result.stderr.strip().splitlines()) == 1


WHOLE_MONTHS = [
    ("metrics", "--from", "2025-03-05", "--to", "2025-06-30"),
    ("cohorts", "--from", "2025-03-05", "--to", "2025-06-30"),
    ("explain", "bridge.new", "--from", "2025-03-05", "--to", "2025-06-30"),
    ("retention", "--from", "2025-03-05", "--to", "2025-06-30"),
    ("durability", "--from", "2025-03-05", "--to", "2025-06-30"),
    ("report", "--from", "2025-03-05", "--to", "2025-06-30", "--out", "r.html"),
]


@pytest.mark.parametrize("read", WHOLE_MONTHS, ids=lambda r: r[0])
@pytest.mark.parametrize("how", ["recorded", "preview"])
def test_month_grain_refuses_a_range_that_is_not_whole_months_in_one_line(rl, read, how):
    ledger(rl, ANNUAL)
    if how == "recorded":
        rl("policy", "set", "movement_grain=month", "--reason", "per month")
    result = rl(*read, *(["--policy", "movement_grain=month"] if how == "preview" else []), ok=False)
    assert result.exit_code != 0
    assert result.stderr == ("revledger: --from 2025-03-05: movements are netted per month (movement_grain=month), "
                             "so --from must be a month's first day\n")
    other_end = [{"2025-03-05": "2025-03-01", "2025-06-30": "2025-06-29"}.get(a, a) for a in read]
    to = rl(*other_end, *(["--policy", "movement_grain=month"] if how == "preview" else []), ok=False)
    assert to.exit_code != 0 and "--to 2025-06-29" in to.stderr and "month's last day" in to.stderr


def test_explain_under_month_grain_lists_the_month_movements_that_make_up_the_figure(rl):
    ledger(rl, UP_AND_DOWN.format(down="120.00"))
    rl("policy", "set", "movement_grain=month", "--reason", "per month")
    report = rl("explain", "bridge.expansion", "--from", "2025-03-01", "--to", "2025-03-31", "--format", "json").json()
    assert report["value"] == "20.00"
    assert [(m["date"], m["amount"]) for i in report["items"] for m in i["movements"]] == [("2025-03-31", "20.00")]


def test_durability_under_month_grain_reads_the_month_movements(rl):
    # acme: 12,000.00 from 01-01 and another 12,000.00 from 01-02. Per day that is a new and an expansion; per month,
    # January's one movement is a new of 24,000.00, so no customer expanded in January.
    ledger(rl, "d1,subscription_started,acme,2025-01-01,addon,s,12000.00,1\nd2,subscription_started,acme,2025-01-02,core,s,"
               "12000.00,1\n")
    rl("policy", "set", "movement_grain=month", "--reason", "per month")
    (january,) = rl("durability", "--from", "2025-01-01", "--to", "2025-01-31", "--format", "json").json()["periods"]
    assert (january["expansion"]["customers"], january["expansion"]["expansion_amount"]) == (0, "0.00")
    assert january["first_expansion"]["expanded"] == 0


def test_diff_policy_compares_the_policy_in_force_with_the_preview(rl):
    ledger(rl, ANNUAL)
    report = rl("diff", "metrics", "--from", "2025-07-01", "--to", "2025-07-31", "--policy", "churn_recognition=term_end",
                "--format", "json").json()
    figures = {f["metric"]: (f["before"], f["after"]) for f in report["figures"]}
    assert figures["bridge.churn"] == ("1000.00", "0.00") and figures["closing_mrr"] == ("0.00", "1000.00")


def test_mrr_customer_lines_are_the_mrr_after_the_policy(rl):
    ledger(rl, ANNUAL)
    rl("policy", "set", "churn_recognition=term_end", "--reason", "churn at term end")
    report = rl("mrr", "--as-of", "2025-12-31", "--customer", "acme", "--format", "json").json()
    assert report["mrr"] == "1000.00"
    assert [(line["subscription_id"], line["mrr"]) for line in report["lines"]] == [("core", "1000.00")]


def test_the_lines_view_is_the_mrr_after_the_policy(rl):
    ledger(rl, ANNUAL)
    rl("policy", "set", "churn_recognition=term_end", "--reason", "churn at term end")
    sql = ("SELECT sum(mrr_cents) AS cents FROM lines WHERE valid_from <= '2025-12-31' "
           "AND (valid_to IS NULL OR valid_to > '2025-12-31')")
    assert rl("query", sql, "--format", "json").json()["rows"] == [[100000]]


def test_the_html_report_and_the_workbooks_say_which_policy_they_were_computed_under(rl, tmp_path):
    ledger(rl, ANNUAL)
    rl("policy", "set", "churn_recognition=term_end", "--reason", "churn at term end")
    stated = "churn_recognition=term_end, reactivation_grace_days=0, movement_grain=day"
    html = tmp_path / "report.html"
    rl("report", "--from", "2025-01-01", "--to", "2025-12-31", "--out", str(html))
    page = html.read_text(encoding="utf-8")
    assert f"under the policy {stated}." in page and "PREVIEW" not in page
    rl("report", "--from", "2025-01-01", "--to", "2025-12-31", "--policy", "movement_grain=month", "--out", str(html))
    page = html.read_text(encoding="utf-8")
    assert "under the policy churn_recognition=term_end, reactivation_grace_days=0, movement_grain=month (a preview" in page
    assert "PREVIEW under a policy not in force" in page
    for read in (("metrics", "--from", "2025-01-01", "--to", "2025-12-31"),
                 ("movements", "--from", "2025-01-01", "--to", "2026-12-31"),
                 ("cohorts", "--from", "2025-01-01", "--to", "2025-12-31"),
                 ("diff", "mrr", "--as-of", "2025-12-31", "--known-at", "2000-01-01", "--known-at", "now")):
        book = tmp_path / f"{read[0]}.xlsx"
        rl(*read, "--format", "xlsx", "--out", str(book))
        about = {row[0]: row[1] for row in openpyxl.load_workbook(book)["about"].iter_rows(values_only=True)}
        assert about["policy"] == stated, read[0]
    rl("metrics", "--from", "2025-01-01", "--to", "2025-12-31", "--policy", "reactivation_grace_days=7",
       "--format", "xlsx", "--out", str(tmp_path / "preview.xlsx"))
    about = {row[0]: row[1] for row in openpyxl.load_workbook(tmp_path / "preview.xlsx")["about"].iter_rows(values_only=True)}
    assert about["policy"] == ("churn_recognition=term_end, reactivation_grace_days=7, movement_grain=day "
                               "(preview: nothing recorded uses it)")


@pytest.mark.postgres
def test_a_policy_change_on_a_shared_postgresql_ledger_reaches_every_machines_read_models(postgres_url, tmp_path):
    """Two machines, each with read models of its own: one changes the policy, the other's answers follow from then on."""
    runner = CliRunner()

    def on(machine: str, *args: str):
        result = runner.invoke(app, ["--db", postgres_url, "--cache", str(tmp_path / f"{machine}.db"), *args],
                               catch_exceptions=False)
        assert result.exit_code == 0, result.stderr + result.stdout
        return result.stdout

    def churn_days(machine: str, *args: str) -> list[str]:
        report = json.loads(on(machine, "movements", "--from", "2025-01-01", "--to", "2026-12-31", "--format", "json", *args))
        return [m["date"] for m in report["movements"] if m["category"] == "churn"]

    on("a", "init", "--currency", "USD")
    path = tmp_path / "events.csv"
    path.write_text("event_id,type,customer_id,effective_date,subscription_id,plan,amount,billing_months\n" + ANNUAL)
    on("a", "import", str(path))
    before = json.loads(on("b", "log", "--format", "json"))[-1]["recorded_at"]
    assert churn_days("b") == ["2025-07-01"]
    assert churn_days("b", "--policy", "churn_recognition=term_end") == ["2026-03-10"]  # a preview on machine b
    on("a", "policy", "set", "churn_recognition=term_end", "--reason", "churn at term end", "--actor", "controller")
    assert churn_days("b") == ["2026-03-10"]
    assert churn_days("b", "--known-at", before) == ["2025-07-01"]
    on("b", "rebuild")
    assert (churn_days("b"), churn_days("b", "--known-at", before)) == (["2026-03-10"], ["2025-07-01"])
    assert json.loads(on("b", "policy", "--format", "json"))["changed"]["actor"] == "controller"


# -- against the naive oracle, through the read models, under recorded policies ----------------------


def _record_with_policy_changes(folder, history, splits, changes):
    """Record ``history`` with ``policy_changed`` events appended at ``splits`` (event counts), one per change.

    Returns the caught-up read model, the store, the oracle's view of the history
    (each event with the sequence the ledger gave it) and the cut-offs: (sequence,
    recorded_at, policy in force) after every append.
    """
    db = str(folder / "policy.db")
    store = open_store(db, create=True)
    store.initialise(LedgerSettings("USD"))
    rm = ReadModel(default_path(db), store)
    ledger = Ledger(store, rm, actor="test")
    seen, cuts, policy = [], [], DEFAULT
    pending = sorted(zip(splits, changes), key=lambda pair: pair[0])
    for i, event in enumerate([*history, None]):
        while pending and pending[0][0] == i:
            _, policy = pending.pop(0)
            change = ledger.change_policy(Policy(**policy), reason=f"policy {len(cuts)}")
            cuts.append((change.sequence, change.recorded_at, policy))
        if event is None:
            break
        (recorded,) = ledger.record({k: v for k, v in event.items() if k != "sequence"}).events
        seen.append({**event, "sequence": recorded.sequence})
        cuts.append((recorded.sequence, recorded.recorded_at, policy))
    rm.catch_up()
    return rm, store, seen, cuts


def _as_oracle_rows(found):
    return [
        (m["date"].isoformat(), m["customer_id"], m["category"], m["cause"], f"{m['from_mrr']:.2f}",
         f"{m['to_mrr']:.2f}", f"{m['amount']:.2f}", list(m["event_ids"]))
        for m in found
    ]


def _rows(report):
    return [
        (m["date"], m["customer_id"], m["category"], m["cause"], m["from_mrr"], m["to_mrr"], m["amount"], m["event_ids"])
        for m in report["movements"]
    ]


@settings(
    max_examples=150 if IN_CI else 15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
@given(
    history=event_histories(min_events=1, max_events=14, customers=3),
    first=policies(),
    second=policies(),
    previewed=policies(),
    period=st.sampled_from(["month", "quarter"]),
    window=st.sampled_from([1, 3, 12]),
    within=st.sampled_from([30, 90, 365]),
    data=st.data(),
)
def test_the_read_models_under_recorded_policies_equal_the_oracle_and_the_bridge_holds(
    tmp_path_factory, history, first, second, previewed, period, window, within, data
):
    """Two ``policy_changed`` events among the appends: at every cut-off, the answers are the oracle's under the policy then."""
    splits = sorted(data.draw(st.lists(st.integers(0, len(history)), min_size=2, max_size=2), label="changes after"))
    rm, store, seen, cuts = _record_with_policy_changes(tmp_path_factory.mktemp("p"), history, splits, [first, second])
    days = sorted({dt.date.fromisoformat(e["effective_date"]) for e in seen})
    probes = sorted({d + dt.timedelta(days=k) for d in days for k in (-1, 0, 40)})
    start, end = dt.date(2025, 1, 1), dt.date(2026, 12, 31)
    # and a preview under another policy, as known at one of the cut-offs, as `--policy` gives it
    at = data.draw(st.sampled_from(cuts), label="previewed as known at")
    preview_at = (at[0], at[1], previewed, True)
    try:
        # cohorts and §15 (slower) at the last cut-off under each policy in force, and in the preview
        widest = {i for i in range(len(cuts)) if i + 1 == len(cuts) or cuts[i + 1][2] is not cuts[i][2]}
        for i, (sequence, recorded_at, policy, *previewing) in enumerate([*((*c, False) for c in cuts), preview_at]):
            known = queries.knowledge(rm, parse_instant(recorded_at))
            if previewing[0]:
                previewed_rm, known = preview(rm, known, Policy(**policy))
            else:
                previewed_rm = rm
            where = f"as known at sequence {sequence} under {policy}{' (preview)' if previewing[0] else ''}"
            assert (known.sequence, known.policy) == (sequence, Policy(**policy)), where
            report = queries.movements_report(previewed_rm, dt.date(2000, 1, 1), dt.date(2100, 1, 1), known)
            assert report["policy"] == policy
            assert _rows(report) == _as_oracle_rows(oracle.movements(seen, known_seq=sequence, policy=policy)), where
            for day in probes:
                mrr = queries.customer_mrr_cents(previewed_rm, day, sequence)
                for customer in oracle.customer_ids(seen):
                    want = oracle.customer_mrr(seen, customer, day, known_seq=sequence, policy=policy)
                    assert from_cents(mrr.get(customer, 0)) == want, (where, customer, day)
            got = metrics_report(previewed_rm, start, end, known, period=period)["periods"]
            want = oracle.metrics(seen, start, end, period=period, known_seq=sequence, policy=policy)
            assert got == sorted((expected(w) for w in want), key=lambda p: (p["start"], group_order(p["group"]))), where
            for p in got:  # the bridge invariant, to the cent, under every policy
                b = {k: Decimal(v) for k, v in p["bridge"].items()}
                assert Decimal(p["opening_mrr"]) + b["new"] + b["expansion"] + b["reactivation"] - b["contraction"] - (
                    b["churn"]) == Decimal(p["closing_mrr"]), (where, p["start"])
            if i < len(cuts) and i not in widest:
                continue
            # cohorts, trailing retention and durability read the MRR and movements after the policy too
            got = cohorts_report(previewed_rm, start, end, known)["cohorts"]
            assert got == [cohort_text(c) for c in oracle.cohorts(seen, start, end, known_seq=sequence, policy=policy)]
            got = retention_report(previewed_rm, start, end, known, window=window)["months"]
            assert got == oracle.retention(seen, start, end, window=window, known_seq=sequence, policy=policy), where
            got = durability_report(previewed_rm, start, end, known, period=period, within=within)["periods"]
            assert got == oracle.durability(seen, start, end, period=period, within=within, known_seq=sequence,
                                            policy=policy), where
            if previewed_rm is not rm:
                previewed_rm.close()
    finally:
        rm.close()
        store.close()
