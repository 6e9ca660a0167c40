"""Reads under a policy (SPEC §13): `diff --policy`, and the lines MRR counts (`mrr --customer`, the lines view).

`diff --policy`: the policy in force against a preview, side by side, nothing recorded.

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


# An annual line started 2025-03-10 and cancelled 2025-07-01: under term_end its cancel is
# recognized on 2026-03-10, so until then the line counts, 12,000.00 / 12 = 1,000.00 a month.
# Bob's monthly line is cancelled 2025-02-10 and another started 2025-02-14: a 4-day lapse.
LINES = """
event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,billing_months
a1,subscription_started,acme,2025-03-10,ann,Pro,,,12000,12
a2,cancel,acme,2025-07-01,ann,,,,,
b1,subscription_started,bob,2025-01-01,m,Team,,,100,
b2,cancel,bob,2025-02-10,m,,,,,
b3,subscription_started,bob,2025-02-14,m2,Team,,,150,
"""


def lines_of(rl, customer, day, *policy):
    report = rl("mrr", "--as-of", day, "--customer", customer, *policy, "--format", "json").json()
    return report["mrr"], [(line["subscription_id"], line["mrr"]) for line in report["lines"]]


def test_mrr_customer_lists_the_lines_the_policy_counts(rl):
    rl("import", rl.write("lines.csv", LINES))
    term_end = ("--policy", "churn_recognition=term_end")
    assert lines_of(rl, "acme", "2025-08-01") == ("0.00", [])
    assert lines_of(rl, "acme", "2025-08-01", *term_end) == ("1000.00", [("ann", "1000.00")])
    assert lines_of(rl, "acme", "2026-03-09", *term_end) == ("1000.00", [("ann", "1000.00")])
    assert lines_of(rl, "acme", "2026-03-10", *term_end) == ("0.00", [])
    grace = ("--policy", "reactivation_grace_days=7")
    assert lines_of(rl, "bob", "2025-02-12") == ("0.00", [])
    assert lines_of(rl, "bob", "2025-02-12", *grace) == ("100.00", [("m", "100.00")])  # the day before the lapse
    assert lines_of(rl, "bob", "2025-02-14", *grace) == ("150.00", [("m2", "150.00")])
    # under term_end bob's first line counts until 2025-03-01, beside the second
    assert lines_of(rl, "bob", "2025-02-20", *term_end) == ("250.00", [("m", "100.00"), ("m2", "150.00")])


def test_the_lines_view_ends_a_line_where_the_policy_recognizes_its_cancel(rl):
    rl("import", rl.write("lines.csv", LINES))
    sql = "SELECT customer_id, subscription_id, valid_from, valid_to, mrr_cents FROM lines ORDER BY 1, 3"

    def rows(*policy):
        return [tuple(r) for r in rl("query", sql, *policy, "--format", "json").json()["rows"]]

    assert rows() == [("acme", "ann", "2025-03-10", "2025-07-01", 100000), ("bob", "m", "2025-01-01", "2025-02-10", 10000),
                      ("bob", "m2", "2025-02-14", None, 15000)]
    assert rows("--policy", "churn_recognition=term_end") == [
        ("acme", "ann", "2025-03-10", "2026-03-10", 100000), ("bob", "m", "2025-01-01", "2025-03-01", 10000),
        ("bob", "m2", "2025-02-14", None, 15000)]
    assert rows("--policy", "reactivation_grace_days=7") == [
        ("acme", "ann", "2025-03-10", "2025-07-01", 100000), ("bob", "m", "2025-01-01", "2025-02-14", 10000),
        ("bob", "m2", "2025-02-14", None, 15000)]
