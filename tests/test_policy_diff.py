"""`diff --policy` (SPEC §13): the policy in force against a preview, side by side, nothing recorded.

The ledger, by hand: acme starts 2026-01-05 at 10 × 100.00 = 1,000.00; 12 seats on
02-03 (+200.00), 11 on 02-20 (−100.00); its line is cancelled 03-10 and a new one
started 03-14 at 1,100.00. Per day that is February expansion 200.00 and contraction
100.00, and in March a churn and a reactivation of 1,100.00. Netted per month,
February is one expansion of 100.00 (1,000.00 → 1,100.00 at the month ends) and
March nothing (1,100.00 at both ends).
"""

from __future__ import annotations

EVENTS = """
event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
e1,subscription_started,acme,2026-01-05,main,Pro,10,100,
e2,seat_change,acme,2026-02-03,main,,12,,
e3,seat_change,acme,2026-02-20,main,,11,,
e4,cancel,acme,2026-03-10,main,,,,
e5,subscription_started,acme,2026-03-14,main2,Pro,11,100,
"""
DAY = {"churn_recognition": "cancel_date", "reactivation_grace_days": 0, "movement_grain": "day"}


def test_diff_policy_compares_the_policy_in_force_with_the_preview(rl):
    rl("import", rl.write("e.csv", EVENTS))
    head = rl("checkpoint").stdout
    report = rl("diff", "metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--policy", "movement_grain=month",
                "--format", "json").json()
    assert report["before"]["policy"] == DAY and "preview" not in report["before"]
    assert report["after"]["policy"] == {**DAY, "movement_grain": "month"} and report["after"]["preview"] is True
    assert report["before"]["sequence"] == report["after"]["sequence"] == 5
    moved = {(f["start"], f["metric"]): (f["before"], f["after"], f["difference"]) for f in report["figures"]}
    assert moved[("2026-02-01", "bridge.expansion")] == ("200.00", "100.00", "-100.00")
    assert moved[("2026-02-01", "bridge.contraction")] == ("100.00", "0.00", "-100.00")
    assert moved[("2026-03-01", "bridge.churn")] == ("1100.00", "0.00", "-1100.00")
    assert moved[("2026-03-01", "bridge.reactivation")] == ("1100.00", "0.00", "-1100.00")
    assert ("2026-01-01", "bridge.new") not in moved  # January's new is 1,000.00 either way
    assert report["events"] == []
    assert rl("checkpoint").stdout == head  # a preview records nothing


def test_diff_policy_takes_one_knowledge_time_at_most(rl):
    rl("import", rl.write("e.csv", EVENTS))
    refused = rl("diff", "mrr", "--as-of", "2026-03-12", "--policy", "reactivation_grace_days=7",
                 "--known-at", "2026-01-01", "--known-at", "2026-02-01", ok=False)
    assert (refused.exit_code, refused.stderr) == (
        1, "revledger: with --policy, give --known-at once at most: both sides are read as known then\n")
    neither = rl("diff", "mrr", "--as-of", "2026-03-12", ok=False)
    assert (neither.exit_code, neither.stderr) == (
        1, "revledger: give --known-at twice (the two knowledge times to compare), or --policy KEY=VALUE\n")
    # the 4-day lapse (03-10 to 03-13) is filled by a grace of 7: MRR 1,100.00 on 03-12 instead of 0
    figures = rl("diff", "mrr", "--as-of", "2026-03-12", "--policy", "reactivation_grace_days=7",
                 "--format", "json").json()["figures"]
    assert {f["metric"]: (f["before"], f["after"]) for f in figures}["mrr"] == ("0.00", "1100.00")
