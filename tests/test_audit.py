"""Corrections, period close and lock, restatements and diff (SPEC §7): every past answer stays reproducible."""

from __future__ import annotations

import json

import pytest

from cli.render import as_json
from ledger.clock import ONE_MICROSECOND, parse_instant

# -- a ledger worked by hand ---------------------------------------------------------------------
#
# December: acme 10 seats × 100 = 1,000.00; beta flat 500.00 -> opening MRR on 2026-01-01 is 1,500.00.
# January:  acme 10 -> 12 seats on the 10th (+200.00, seats); core starts at 300.00 on the 20th (new).
#           Closing 2,000.00 over 3 customers.

OPENING = """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
    a1,subscription_started,acme,2025-12-01,s1,pro,10,100.00,
    b1,subscription_started,beta,2025-12-15,s1,basic,,,500.00
    a2,seat_change,acme,2026-01-10,s1,,12,,
    c1,subscription_started,core,2026-01-20,s1,basic,,,300.00
    """

# Recorded after January is closed: acme had in fact gone 10 -> 11 seats on the 5th (and 11 -> 12 on
# the 10th); beta cancelled on the 25th; core never signed (voided); delta starts in February.
CORRECTIONS = """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,amount,target_event_id,reason
    a3,seat_change,acme,2026-01-05,s1,,11,,,
    b2,cancel,beta,2026-01-25,,,,,,budget
    ,void,,,,,,,c1,core never signed
    d1,subscription_started,delta,2026-02-03,s1,basic,,100.00,,
    """

JANUARY_AS_CLOSED = {
    "start": "2026-01-01",
    "end": "2026-01-31",
    "group": None,
    "opening_mrr": "1500.00",
    "closing_mrr": "2000.00",
    "arr": "24000.00",
    "bridge": {"new": "300.00", "expansion": "200.00", "contraction": "0.00", "churn": "0.00",
               "reactivation": "0.00", "net_new": "500.00"},
    "retention": {"expansion": "200.00", "contraction": "0.00", "churn": "0.00", "nrr": "1.133333",
                  "grr": "1.000000", "expansion_rate": "0.133333", "contraction_rate": "0.000000",
                  "churn_rate": "0.000000"},
    "customers": {"opening": 2, "closing": 3, "new": 1, "reactivated": 0, "churned": 0, "logo_churn_rate": "0.000000"},
    "causes": {"expansion": {"seats": "200.00"}, "contraction": {}},
    "arpa": "666.67",
    "quick_ratio": None,
    "expansion_share": "0.400000",
}

# As now known: acme +100 on the 5th and +100 on the 10th (expansion still 200.00, seats); beta churns
# 500.00; no new customer. Closing 1,200.00 over 1 customer.
RESTATED = [
    ("closing_mrr", "2000.00", "1200.00", "-800.00"),
    ("arr", "24000.00", "14400.00", "-9600.00"),
    ("bridge.new", "300.00", "0.00", "-300.00"),
    ("bridge.churn", "0.00", "500.00", "500.00"),
    ("bridge.net_new", "500.00", "-300.00", "-800.00"),
    ("retention.churn", "0.00", "500.00", "500.00"),
    ("retention.nrr", "1.133333", "0.800000", "-0.333333"),
    ("retention.grr", "1.000000", "0.666667", "-0.333333"),
    ("retention.churn_rate", "0.000000", "0.333333", "0.333333"),
    ("customers.closing", 3, 1, -2),
    ("customers.new", 1, 0, -1),
    ("customers.churned", 0, 1, 1),
    ("customers.logo_churn_rate", "0.000000", "0.500000", "0.500000"),
    ("arpa", "666.67", "1200.00", "533.33"),
    ("quick_ratio", None, "0.400000", None),
    ("expansion_share", "0.400000", "1.000000", "0.600000"),
]


def january(rl, *args: str) -> str:
    return rl("metrics", "--from", "2026-01-01", "--to", "2026-01-31", "--format", "json", *args).stdout


def mrr(rl, day: str, *args: str) -> str:
    return rl("mrr", "--as-of", day, "--format", "json", *args).json()["mrr"]


@pytest.fixture
def closed(rl):
    """The hand-worked ledger with January closed and locked; returns the close's JSON."""
    rl("import", rl.write("opening.csv", OPENING))
    return rl("close", "2026-01", "--lock", "--actor", "controller", "--format", "json").json()


def test_the_scenario_close_then_backdated_corrections_and_a_void_are_restatements(rl, closed):
    assert closed["metrics"]["periods"] == [JANUARY_AS_CLOSED]
    rl("import", rl.write("corrections.csv", CORRECTIONS), "--restate", "January corrections from the billing audit")

    report = rl("restatements", "--format", "json").json()
    assert set(report) == {"currency", "known_at", "policy", "restatements"} and report["known_at"] == rl.events()[-1]["recorded_at"]
    (january_restated,) = report["restatements"]
    assert list(january_restated) == ["period", "start", "end", "lock", "event_id", "sequence", "recorded_at", "actor",
                                      "head", "locked", "figures", "events"]
    assert all(list(f) == ["metric", "closed", "now", "difference"] for f in january_restated["figures"])
    assert all(list(e) == ["sequence", "event_id", "type", "customer_id", "effective_date", "recorded_at", "actor",
                           "source", "reason", "restatement", "target_event_id"] for e in january_restated["events"])
    assert january_restated["period"] == "2026-01"
    assert january_restated["sequence"] == closed["sequence"]
    figures = [(f["metric"], f["closed"], f["now"], f["difference"]) for f in january_restated["figures"]]
    assert figures == RESTATED
    causes = [(e["event_id"], e["type"], e["customer_id"], e["effective_date"]) for e in january_restated["events"]]
    void_id = next(e["event_id"] for e in rl.events() if e["type"] == "void")
    # delta (effective in February) changed nothing in January, so it is not a cause
    assert causes == [("a3", "seat_change", "acme", "2026-01-05"), ("b2", "cancel", "beta", "2026-01-25"),
                      (void_id, "void", "core", "2026-01-20")]
    assert {e["restatement"] for e in january_restated["events"]} == {"January corrections from the billing audit"}
    assert january_restated["events"][1]["reason"] == "budget"

    # the close's figures, reproduced byte for byte as known at its recorded time
    at_close = january(rl, "--known-at", closed["recorded_at"])
    assert at_close == as_json(closed["metrics"]) + "\n"
    assert json.loads(at_close)["known_at"] == closed["recorded_at"]


def test_restatements_as_known_before_the_corrections_and_for_one_period(rl, closed):
    rl("import", rl.write("corrections.csv", CORRECTIONS), "--restate", "audit")
    before = rl("restatements", "--known-at", closed["recorded_at"], "--format", "json").json()
    assert before["restatements"] == []
    never = rl("restatements", "--period", "2026-02", "--format", "json", ok=False)
    assert never.stderr.startswith("revledger: --period 2026-02: 2026-02 was never closed (closed periods: 2026-01)")
    assert len(rl("restatements", "--period", "2026-01", "--format", "json").json()["restatements"]) == 1


def test_a_period_closed_again_is_compared_with_its_latest_close(rl, closed):
    rl("import", rl.write("corrections.csv", CORRECTIONS), "--restate", "audit")
    rl("close", "2026-01", "--force", "closed again after the audit")
    assert rl("restatements", "--format", "json").json()["restatements"] == []
    assert "no closed period is restated" in rl("restatements").stdout


def test_restatements_table_and_csv(rl, closed):
    rl("import", rl.write("corrections.csv", CORRECTIONS), "--restate", "audit")
    table = rl("restatements").stdout
    assert "2026-01 (2026-01-01 – 2026-01-31), closed at" in table and "locked" in table
    assert "closing_mrr" in table and "-800.00" in table and "b2" in table
    rows = rl("restatements", "--format", "csv").stdout.splitlines()
    assert rows[0] == "period,closed_at,metric,closed,now,difference,events,by_policy,by_events"
    assert rows[1].startswith("2026-01,") and ",closing_mrr,2000.00,1200.00,-800.00,a3 b2 " in rows[1]
    assert len(rows) == 1 + len(RESTATED)


# -- close -----------------------------------------------------------------------------------------


def test_close_records_an_event_with_its_head_and_figures(rl, closed):
    head = rl.events()[-2]  # the last event before the close
    assert set(closed) == {"period", "start", "end", "lock", "event_id", "sequence", "recorded_at", "actor", "head",
                           "policy", "metrics"}
    # SPEC §13: every JSON report says the policy it was computed under
    assert closed["policy"] == {"churn_recognition": "cancel_date", "reactivation_grace_days": 0, "movement_grain": "day"}
    assert (closed["period"], closed["start"], closed["end"], closed["lock"]) == ("2026-01", "2026-01-01", "2026-01-31", True)
    assert closed["head"] == {"sequence": head["sequence"], "hash": head["hash"]}
    assert closed["actor"] == "controller"
    assert closed["metrics"]["known_at"] == closed["recorded_at"]
    recorded = rl.events()[-1]
    assert recorded["type"] == "period_closed" and recorded["sequence"] == closed["sequence"]
    assert recorded["customer_id"] == "" and recorded["effective_date"] == "2026-01-31"
    details = json.loads(recorded["details"])
    assert details["head"] == closed["head"] and details["lock"] is True
    assert details["metrics"] == closed["metrics"]  # canonical in the log, the same figures


def test_close_table_says_what_it_recorded_and_how_to_reproduce_it(rl):
    rl("import", rl.write("opening.csv", OPENING))
    out = rl("close", "2026-q1").stdout.splitlines()
    assert out[0].startswith("closed 2026-Q1 (2026-01-01 – 2026-03-31) as sequence 5 (")
    assert out[0].endswith(f"from the log up to sequence 4:{rl.events()[3]['hash']}")
    assert out[1].startswith("reproduce: revledger metrics --from 2026-01-01 --to 2026-03-31 --period quarter --known-at ")
    assert "locked" not in "\n".join(out[:2])
    assert any(line.startswith("Closing MRR") and line.endswith("2,000.00") for line in out)


@pytest.mark.parametrize("period", ["2026-13", "26-01", "2026-Q5", "January"])
def test_close_refuses_what_is_not_a_period(rl, period):
    result = rl("close", period, ok=False)
    assert result.exit_code == 1 and "is not a period" in result.stderr and "Traceback" not in result.stderr


def test_a_close_leaves_every_read_unchanged(rl):
    rl("import", rl.write("opening.csv", OPENING))
    before = (january(rl), rl("movements", "--from", "2025-01-01", "--to", "2026-12-31", "--format", "json").stdout)
    rl("close", "2026-01", "--lock")
    after = (january(rl), rl("movements", "--from", "2025-01-01", "--to", "2026-12-31", "--format", "json").stdout)
    assert json.loads(before[0])["periods"] == json.loads(after[0])["periods"]
    assert json.loads(before[1])["movements"] == json.loads(after[1])["movements"]
    assert mrr(rl, "2026-01-31") == "2000.00"


# -- lock and restate --------------------------------------------------------------------------------


def test_a_locked_period_refuses_a_backdated_import_naming_file_line_field_and_lock(rl, closed):
    path = rl.write("corrections.csv", CORRECTIONS)
    result = rl("import", path, ok=False)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    locked = f"in period 2026-01, locked at {closed['recorded_at']} by controller"
    assert lines[:3] == [
        f'{path}:2: effective_date: it is effective 2026-01-05, {locked}; to record it as a restatement, give --restate "reason"',
        f'{path}:3: effective_date: it is effective 2026-01-25, {locked}; to record it as a restatement, give --restate "reason"',
        f'{path}:4: effective_date: its target is effective 2026-01-20, {locked}; to record it as a restatement, give --restate "reason"',
    ]
    assert lines[3] == "revledger: 3 problems; nothing was written"
    assert len(rl.events()) == 5


def test_a_restated_import_records_the_reason_on_each_event_in_the_locked_period_only(rl, closed):
    path = rl.write("corrections.csv", CORRECTIONS)
    rl("import", path, "--restate", "late billing data")
    new = {e["event_id"]: e for e in rl.events()[5:]}
    assert len(new) == 4
    assert {k: e.get("restatement") for k, e in new.items() if e["type"] != "void"} == {
        "a3": "late billing data", "b2": "late billing data", "d1": None,
    }
    assert next(e for e in new.values() if e["type"] == "void")["restatement"] == "late billing data"
    # importing the same file again is a no-op, with or without the restatement
    assert "nothing new" in rl("import", path).stdout
    assert "nothing new" in rl("import", path, "--restate", "late billing data").stdout
    assert len(rl.events()) == 9


def test_record_in_a_locked_period_needs_restate(rl, closed):
    args = ("record", "seat_change", "--customer", "acme", "--date", "2026-01-15", "--subscription", "s1", "--quantity", "15")
    refused = rl(*args, ok=False)
    assert refused.exit_code == 1
    assert refused.stderr.startswith("revledger: --date: it is effective 2026-01-15, in period 2026-01, locked at ")
    rl(*args, "--restate", "seat count confirmed by the customer")
    assert rl.events()[-1]["restatement"] == "seat count confirmed by the customer"
    # outside the locked period nothing is needed
    rl("record", "seat_change", "--customer", "acme", "--date", "2026-02-01", "--subscription", "s1", "--quantity", "16")
    assert "restatement" not in rl.events()[-1]


def test_an_unlocked_close_refuses_nothing_and_a_lock_is_never_lifted(rl):
    rl("import", rl.write("opening.csv", OPENING))
    rl("close", "2026-01")
    rl("record", "seat_change", "--customer", "acme", "--date", "2026-01-15", "--subscription", "s1", "--quantity", "13")
    rl("close", "2026-01", "--lock")
    rl("close", "2026-01", "--force", "re-closed")  # closing again without --lock does not unlock it
    refused = rl("record", "seat_change", "--customer", "acme", "--date", "2026-01-16", "--subscription", "s1",
                 "--quantity", "14", ok=False)
    assert "in period 2026-01, locked at" in refused.stderr


def test_a_quarter_lock_covers_its_months(rl):
    rl("import", rl.write("opening.csv", OPENING))
    rl("close", "2026-Q1", "--lock")
    refused = rl("record", "seat_change", "--customer", "acme", "--date", "2026-03-31", "--subscription", "s1",
                 "--quantity", "14", ok=False)
    assert "it is effective 2026-03-31, in period 2026-Q1" in refused.stderr
    rl("record", "seat_change", "--customer", "acme", "--date", "2026-04-01", "--subscription", "s1", "--quantity", "14")


# -- corrections -----------------------------------------------------------------------------------


def test_a_void_removes_an_event_from_then_on_and_known_at_before_it_shows_the_old_answer(rl):
    rl("import", rl.write("opening.csv", OPENING))
    before = rl.events()[-1]["recorded_at"]
    rl("record", "void", "--event", "c1", "--reason", "never signed")
    assert mrr(rl, "2026-01-31") == "1700.00"
    assert mrr(rl, "2026-01-31", "--known-at", before) == "2000.00"
    assert [e["event_id"] for e in rl.events()][:4] == ["a1", "b1", "a2", "c1"]  # nothing deleted


def test_amend_voids_and_records_the_correction_in_one_append(rl):
    rl("import", rl.write("opening.csv", OPENING))
    before = rl.events()[-1]["recorded_at"]
    out = rl("amend", "a2", "--quantity", "15", "--reason", "15 seats were ordered").stdout
    void, corrected = rl.events()[4:]
    assert out.splitlines() == [
        f"voided a2 by {void['event_id']} (sequence 5, reason: 15 seats were ordered)",
        f"recorded {corrected['event_id']} as sequence 6 at {corrected['recorded_at']}",
    ]
    assert (void["type"], void["target_event_id"], void["customer_id"], void["effective_date"]) == ("void", "a2", "acme", "2026-01-10")
    # the original, corrected: same customer, type, line and date
    assert {k: corrected.get(k) for k in ("type", "customer_id", "effective_date", "subscription_id", "quantity")} == {
        "type": "seat_change", "customer_id": "acme", "effective_date": "2026-01-10", "subscription_id": "s1", "quantity": 15,
    }
    # one append: one batch, stamped a microsecond apart
    assert parse_instant(corrected["recorded_at"]) - parse_instant(void["recorded_at"]) == ONE_MICROSECOND
    assert mrr(rl, "2026-01-31") == "2300.00"  # 15 × 100 + 500 + 300
    assert mrr(rl, "2026-01-31", "--known-at", before) == "2000.00"
    # the same amendment again is a no-op
    assert "already amended" in rl("amend", "a2", "--quantity", "15", "--reason", "15 seats were ordered").stdout
    assert len(rl.events()) == 6


def test_amend_may_move_the_date_and_change_the_pricing_kind(rl):
    rl("import", rl.write("opening.csv", OPENING))
    rl("amend", "c1", "--date", "2026-01-22", "--quantity", "3", "--unit-price", "90", "--reason", "per seat, from the 22nd")
    corrected = rl.events()[-1]
    assert corrected["effective_date"] == "2026-01-22" and "amount" not in corrected
    assert (corrected["quantity"], corrected["unit_price"], corrected["plan"]) == (3, "90", "basic")
    moves = rl("movements", "--from", "2026-01-01", "--to", "2026-01-31", "--customer", "core", "--format", "json").json()["movements"]
    assert [(m["date"], m["category"], m["to_mrr"]) for m in moves] == [("2026-01-22", "new", "270.00")]


def test_amend_is_all_or_nothing(rl):
    rl("import", rl.write("opening.csv", OPENING))
    # a seat change to a line that does not exist: the void is not written either
    result = rl("amend", "a2", "--subscription", "nope", "--reason", "wrong line", ok=False)
    assert result.exit_code == 1 and "line nope is not open" in result.stderr
    assert len(rl.events()) == 4


def test_amend_dry_run_writes_nothing(rl):
    rl("import", rl.write("opening.csv", OPENING))
    out = rl("amend", "a2", "--quantity", "15", "--reason", "check first", "--dry-run").stdout
    assert out.startswith("valid: would void a2 and record ") and "nothing written (dry run)" in out
    assert len(rl.events()) == 4


def test_amending_a_start_that_later_events_depend_on_says_why_it_cannot(rl):
    rl("import", rl.write("opening.csv", OPENING))
    result = rl("amend", "a1", "--quantity", "20", "--reason", "20 seats", ok=False)
    assert result.stderr.splitlines()[0] == (
        "revledger: EVENT_ID: voiding a1 would leave the timeline inconsistent: that would make seat_change a2 "
        "effective 2026-01-10 invalid: line s1 is not open on 2026-01-10"
    )
    assert len(rl.events()) == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (("missing", "--quantity", "3"), "there is no event missing in the ledger"),
        (("a2",), "nothing to amend: give the corrected fields of a2"),
        (("a2", "--quantity", "12"), "nothing to amend: give the corrected fields of a2"),
    ],
)
def test_amend_refuses(rl, args, message):
    rl("import", rl.write("opening.csv", OPENING))
    result = rl("amend", *args, "--reason", "because", ok=False)
    assert result.exit_code == 1 and result.stderr.strip() == f"revledger: {message}"


def test_amend_in_a_locked_period_needs_restate_on_both_events(rl, closed):
    refused = rl("amend", "a2", "--quantity", "14", "--reason", "typo", ok=False)
    assert "its target is effective 2026-01-10" in refused.stderr and "it is effective 2026-01-10" in refused.stderr
    rl("amend", "a2", "--quantity", "14", "--reason", "typo", "--restate", "typo found in February")
    void, corrected = rl.events()[-2:]
    assert void["restatement"] == corrected["restatement"] == "typo found in February"
    assert void["reason"] == "typo"


# -- diff ------------------------------------------------------------------------------------------


@pytest.fixture
def two_times(rl):
    rl("import", rl.write("opening.csv", OPENING))
    first = rl.events()[-1]["recorded_at"]
    rl("import", rl.write("late.csv", """
        event_id,type,customer_id,effective_date,subscription_id,quantity,target_event_id,reason
        a3,seat_change,acme,2026-01-05,s1,11,,
        ,void,,,,,c1,never signed
        """))
    return first, rl.events()[-1]["recorded_at"]


def test_diff_metrics_figure_by_figure_with_the_events_in_between(rl, two_times):
    t1, t2 = two_times
    report = rl("diff", "metrics", "--known-at", t1, "--known-at", t2, "--from", "2026-01-01", "--to", "2026-01-31",
                "--format", "json").json()
    policy = {"churn_recognition": "cancel_date", "reactivation_grace_days": 0, "movement_grain": "day"}
    assert (report["before"], report["after"]) == (
        {"known_at": t1, "sequence": 4, "policy": policy}, {"known_at": t2, "sequence": 6, "policy": policy}
    )
    figures = {f["metric"]: (f["before"], f["after"], f["difference"]) for f in report["figures"]}
    assert figures["closing_mrr"] == ("2000.00", "1700.00", "-300.00")
    assert figures["bridge.new"] == ("300.00", "0.00", "-300.00")
    assert figures["customers.closing"] == (3, 2, -1)
    assert "bridge.expansion" not in figures  # +100 on the 5th and +100 on the 10th: still 200.00
    assert [e["event_id"] for e in report["events"]][0] == "a3" and report["events"][1]["type"] == "void"
    assert all(f["start"] == "2026-01-01" and f["group"] is None for f in report["figures"])


def test_diff_movements_added_removed_changed(rl, two_times):
    t1, t2 = two_times
    moved = rl("diff", "movements", "--known-at", t1, "--known-at", t2, "--from", "2026-01-01", "--to", "2026-01-31",
               "--format", "json").json()["movements"]
    assert [(m["date"], m["customer_id"], m["category"], m["amount"]) for m in moved["added"]] == [
        ("2026-01-05", "acme", "expansion", "100.00")]
    assert [(m["date"], m["customer_id"], m["category"]) for m in moved["removed"]] == [("2026-01-20", "core", "new")]
    (changed,) = moved["changed"]
    assert (changed["date"], changed["before"]["amount"], changed["after"]["amount"]) == ("2026-01-10", "200.00", "100.00")
    csv_rows = rl("diff", "movements", "--known-at", t1, "--known-at", t2, "--from", "2026-01-01", "--to", "2026-01-31",
                  "--format", "csv").stdout.splitlines()
    assert [row.split(",")[0] for row in csv_rows] == ["change", "added", "changed", "removed"]


def test_diff_mrr_by_group_and_in_reverse(rl, two_times):
    t1, t2 = two_times
    report = rl("diff", "mrr", "--known-at", t2, "--known-at", t1, "--as-of", "2026-01-31", "--format", "json").json()
    assert [(f["metric"], f["before"], f["after"], f["difference"]) for f in report["figures"]] == [
        ("mrr", "1700.00", "2000.00", "300.00"), ("arr", "20400.00", "24000.00", "3600.00"), ("customers", 2, 3, 1)]
    assert len(report["events"]) == 2  # the events between the two times, whichever comes first


@pytest.mark.parametrize(
    "args, message",
    [
        (("metrics", "--known-at", "2026-01-01", "--from", "2026-01-01", "--to", "2026-01-31"), "give --known-at twice"),
        (("mrr", "--known-at", "2026-01-01", "--known-at", "2027-01-01", "--from", "2026-01-01"), "diff mrr does not take --from"),
        (("mrr", "--known-at", "2026-01-01", "--known-at", "2027-01-01"), "diff mrr needs --as-of"),
        (("movements", "--known-at", "2026-01-01", "--known-at", "2027-01-01"), "needs --from and --to"),
    ],
)
def test_diff_refuses(rl, args, message):
    result = rl("diff", *args, ok=False)
    assert result.exit_code == 1 and message in result.stderr
