"""A lock holds under a grace too (SPEC §13): an event after a locked period that changes its figures
by filling a lapse that began in it needs --restate, like an event effective in it.

By hand: bob's 100.00 line runs from 2026-01-01 and is cancelled 2026-03-29 (a churn in Q1).
Under reactivation_grace_days=7 a restart on 2026-04-02 ends a 4-day lapse (03-29 … 04-01),
so Q1's churn of 100.00 would become no churn at all and Q1's closing MRR 100.00.
"""

from __future__ import annotations

EVENTS = """
event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
b1,subscription_started,bob,2026-01-01,m,Team,,,100
b2,cancel,bob,2026-03-29,m,,,,
"""
RESTART = """
event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
b3,subscription_started,bob,2026-04-{day},m2,Team,,,100
"""
Q1 = ("--from", "2026-01-01", "--to", "2026-03-31", "--period", "quarter", "--format", "json")


def locked(rl, grace: str) -> None:
    rl("import", rl.write("e.csv", EVENTS))
    rl("policy", "set", f"reactivation_grace_days={grace}", "--reason", "board pack nets short lapses")
    rl("close", "2026-Q1", "--lock")


def test_an_event_that_changes_a_locked_period_through_grace_needs_restate(rl):
    locked(rl, "7")
    head = rl("checkpoint").stdout
    path = rl.write("late.csv", RESTART.format(day="02"))
    refused = rl("import", path, ok=False)
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[0].endswith(
        "late.csv:2: effective_date: it changes the figures of period 2026-Q1, locked at "
        f"{rl.events()[-1]['recorded_at']} by {rl.events()[-1]['actor']}, through reactivation_grace_days=7 "
        '(it ends a lapse that began in it); to record it as a restatement, give --restate "reason"')
    assert rl("checkpoint").stdout == head
    rl("import", path, "--restate", "bob came back within the grace")
    assert rl.events()[-1]["restatement"] == "bob came back within the grace"  # the reason, on the event
    (period,) = rl("metrics", *Q1).json()["periods"]
    assert (period["bridge"]["churn"], period["closing_mrr"]) == ("0.00", "100.00")


def test_a_return_after_the_grace_changes_nothing_locked_and_gets_in(rl):
    locked(rl, "7")
    rl("import", rl.write("late.csv", RESTART.format(day="06")))  # an 8-day lapse: churn in Q1 stays
    assert rl.events()[-1].get("restatement") is None
    (period,) = rl("metrics", *Q1).json()["periods"]
    assert (period["bridge"]["churn"], period["closing_mrr"]) == ("100.00", "0.00")


def test_without_a_grace_the_restart_is_an_april_reactivation_and_gets_in(rl):
    locked(rl, "0")
    rl("import", rl.write("late.csv", RESTART.format(day="02")))
    (period,) = rl("metrics", *Q1).json()["periods"]
    assert (period["bridge"]["churn"], period["closing_mrr"]) == ("100.00", "0.00")
