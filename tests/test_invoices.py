"""Invoice lines to events (SPEC §14): one ledger per mapping rule, the lines inline and what they make beside them.

Each test imports a few invoice lines with `import --format invoices` and reads
back the log (the events made) and `movements` (what they do to MRR), written
out by hand from the rule.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from ledger.invoice_mapping import map_lines
from ledger.invoices import LEFT_CREDIT, LEFT_UNMATCHED, InvoiceLine, Origin, whole_months
from ledger.settings import LedgerSettings

HEADER = "customer_id,invoice_id,invoice_date,line_id,subscription_id,plan,quantity,amount,service_period_start,service_period_end,prorated"


def imp(rl, text: str, *args: str, name: str = "invoices.csv", ok: bool = True):
    return rl("import", rl.write(name, text), "--format", "invoices", *args, ok=ok)


def made(rl) -> list[tuple]:
    """The events in the log, in sequence order: (type, customer, date, the fields that matter)."""
    out = []
    for e in rl.events():
        fields = {k: e[k] for k in ("amount", "plan", "billing_months", "cause", "reason", "target_event_id",
                                    "segment", "customer_name") if k in e}
        out.append((e["type"], e["customer_id"], e["effective_date"], fields))
    return out


def moves(rl, start: str = "2025-01-01", end: str = "2026-12-31") -> list[tuple]:
    rows = rl("movements", "--from", start, "--to", end, "--format", "json").json()["movements"]
    return [(m["date"], m["customer_id"], m["category"], m["cause"], m["amount"]) for m in rows]


# -- rule 1: flat-priced terms; billing_months from the column or the whole months of the period ---------


def test_rule_1_a_quarterly_line_bills_three_months_and_the_column_wins_over_the_period(rl):
    imp(rl, f"""\
        {HEADER},billing_months
        acme,in1,2025-01-01,l1,s1,team,,900.00,2025-01-01,2025-04-01,,
        beta,in2,2025-01-01,l1,s2,lite,,100.00,2025-01-01,2025-01-16,,1
        """)
    assert made(rl) == [
        ("subscription_started", "acme", "2025-01-01", {"amount": "900.00", "plan": "team", "billing_months": 3}),
        ("subscription_started", "beta", "2025-01-01", {"amount": "100.00", "plan": "lite", "billing_months": 1}),
    ]
    assert moves(rl) == [("2025-01-01", "acme", "new", None, "300.00"), ("2025-01-01", "beta", "new", None, "100.00")]


def test_rule_1_a_period_that_is_not_whole_months_needs_billing_months(rl):
    result = imp(rl, f"""\
        {HEADER}
        acme,in1,2025-01-01,l1,s1,team,,150.00,2025-01-01,2025-02-15,
        """, ok=False)
    path = str(rl.folder / "invoices.csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}:2: billing_months: the service period 2025-01-01 to 2025-02-15 is not a whole number of months; "
        "give billing_months for a line billed for another length of time",
        "revledger: 1 problem; nothing was written",
    ]
    assert rl.events() == []


@pytest.mark.parametrize("start, end, months", [
    (date(2025, 1, 1), date(2025, 2, 1), 1),
    (date(2025, 1, 31), date(2025, 2, 28), 1),   # clamped to February's last day
    (date(2025, 2, 28), date(2025, 3, 31), 1),   # anchored on the 31st, clamped in February
    (date(2025, 3, 10), date(2026, 3, 10), 12),
    (date(2025, 1, 1), date(2025, 2, 15), None),
    (date(2025, 1, 15), date(2025, 1, 31), None),
    (date(2025, 2, 28), date(2025, 3, 15), None),
])
def test_whole_months_of_a_period(start, end, months):
    assert whole_months(start, end) == months


# -- rule 2: the first regular line starts the subscription --------------------------------------------


def test_rule_2_lines_are_taken_by_service_period_start_whatever_the_file_order(rl):
    imp(rl, f"""\
        {HEADER}
        acme,in2,2025-02-20,l1,s1,pro,,250.00,2025-02-20,2025-03-20,
        acme,in1,2025-01-20,l1,s1,pro,,250.00,2025-01-20,2025-02-20,
        """)
    assert made(rl) == [("subscription_started", "acme", "2025-01-20", {"amount": "250.00", "plan": "pro",
                                                                         "billing_months": 1})]
    assert rl.events()[0]["event_id"] == "inv:in1/l1/start"
    assert rl.events()[0]["source"].endswith("invoices.csv:3")
    assert moves(rl) == [("2025-01-20", "acme", "new", None, "250.00")]  # the February line repeats the terms


# -- rule 3: the next line on the previous end: no event, or a change with its cause -------------------


def test_rule_3_each_next_line_is_no_event_or_a_change_whose_type_and_cause_follow_the_terms(rl):
    imp(rl, f"""\
        {HEADER},billing_months
        acme,in1,2025-01-01,l1,s1,basic,10,300.00,2025-01-01,2025-02-01,,
        acme,in2,2025-02-01,l1,s1,basic,10,300.00,2025-02-01,2025-03-01,,
        acme,in3,2025-03-01,l1,s1,basic,12,360.00,2025-03-01,2025-04-01,,
        acme,in4,2025-04-01,l1,s1,pro,12,600.00,2025-04-01,2025-05-01,,
        acme,in5,2025-05-01,l1,s1,pro,12,540.00,2025-05-01,2025-06-01,,
        acme,in6,2025-06-01,l1,s1,pro,12,1620.00,2025-06-01,2025-09-01,,3
        acme,in7,2025-09-01,l1,s1,pro,10,1500.00,2025-09-01,2025-12-01,,3
        """)
    assert made(rl) == [
        ("subscription_started", "acme", "2025-01-01", {"amount": "300.00", "plan": "basic", "billing_months": 1}),
        ("upsell", "acme", "2025-03-01", {"amount": "360.00", "cause": "seats"}),                   # 10 → 12 seats
        ("upsell", "acme", "2025-04-01", {"amount": "600.00", "plan": "pro", "cause": "plan"}),
        ("downgrade", "acme", "2025-05-01", {"amount": "540.00", "cause": "price"}),               # a discount
        ("subscription_changed", "acme", "2025-06-01", {"amount": "1620.00", "billing_months": 3, "cause": "price"}),
        ("downgrade", "acme", "2025-09-01", {"amount": "1500.00", "cause": "seats"}),               # 12 → 10 seats
    ]
    assert moves(rl) == [
        ("2025-01-01", "acme", "new", None, "300.00"),
        ("2025-03-01", "acme", "expansion", "seats", "60.00"),
        ("2025-04-01", "acme", "expansion", "plan", "240.00"),
        ("2025-05-01", "acme", "contraction", "price", "60.00"),
        ("2025-09-01", "acme", "contraction", "seats", "40.00"),   # 540.00 → 500.00; June's change moves nothing
    ]


# -- rule 4: a positive proration dates the change; credits and unmatched prorations are left out ---------


def test_rule_4_a_proration_pair_dates_the_upgrade_on_the_day_it_was_made(rl):
    result = imp(rl, f"""\
        {HEADER}
        acme,in1,2025-01-01,l1,s1,basic,10,300.00,2025-01-01,2025-02-01,
        acme,in2,2025-01-15,l1,s1,basic,10,-160.00,2025-01-15,2025-02-01,true
        acme,in2,2025-01-15,l2,s1,pro,10,320.00,2025-01-15,2025-02-01,true
        acme,in3,2025-01-20,l1,s1,pro,10,250.00,2025-01-20,2025-02-01,true
        acme,in4,2025-02-01,l1,s1,pro,10,600.00,2025-02-01,2025-03-01,
        """)
    assert made(rl) == [
        ("subscription_started", "acme", "2025-01-01", {"amount": "300.00", "plan": "basic", "billing_months": 1}),
        ("upsell", "acme", "2025-01-15", {"amount": "600.00", "plan": "pro", "cause": "plan"}),  # the earliest of two
    ]
    assert moves(rl) == [("2025-01-01", "acme", "new", None, "300.00"),
                         ("2025-01-15", "acme", "expansion", "plan", "300.00")]
    assert "left out: 1 credit proration" in result.stdout


def test_rule_4_a_proration_before_the_first_regular_line_dates_the_start(rl):
    # signed up on 15 January, invoiced 50.00 for the rest of the month, then 100.00 a month
    result = imp(rl, f"""\
        {HEADER}
        acme,in1,2025-01-15,l1,s1,basic,,50.00,2025-01-15,2025-02-01,true
        acme,in2,2025-02-01,l1,s1,basic,,100.00,2025-02-01,2025-03-01,
        """)
    assert made(rl) == [("subscription_started", "acme", "2025-01-15", {"amount": "100.00", "plan": "basic",
                                                                         "billing_months": 1})]
    assert rl.events()[0]["event_id"] == "inv:in2/l1/start"  # the regular line makes it; the proration dates it
    assert moves(rl) == [("2025-01-15", "acme", "new", None, "100.00")]
    assert "left out: none" in result.stdout


def test_rule_4_prorations_that_date_nothing_are_left_out_and_counted():
    lines = [
        line("in1", "l1", "2025-01-01", "2025-02-01", "100.00"),
        line("in2", "l1", "2025-01-10", "2025-02-01", "-30.00", prorated=True),   # a credit
        line("in2", "l2", "2025-01-10", "2025-02-01", "40.00", prorated=True),    # the next line is the same: dates nothing
        line("in3", "l1", "2025-02-01", "2025-03-01", "100.00"),
        line("in4", "l1", "2025-02-10", "2025-03-01", "50.00", prorated=True),    # no later regular line
    ]
    mapping = map_lines(lines, as_of=None, settings=LedgerSettings())
    assert [m.type for m in mapping.made] == ["subscription_started"]
    assert mapping.left_out == ((1, LEFT_CREDIT), (2, LEFT_UNMATCHED), (4, LEFT_UNMATCHED))


# -- rule 5: a gap is a cancel at the end and a restart ------------------------------------------------


def test_rule_5_a_gap_cancels_at_the_end_and_restarts_at_the_new_start(rl):
    imp(rl, f"""\
        {HEADER}
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,
        acme,in2,2025-04-01,l1,s1,basic,,100.00,2025-04-01,2025-05-01,
        """)
    assert made(rl) == [
        ("subscription_started", "acme", "2025-01-01", {"amount": "100.00", "plan": "basic", "billing_months": 1}),
        ("cancel", "acme", "2025-02-01", {"reason": "inferred: no invoice line covers 2025-02-01"}),
        ("subscription_started", "acme", "2025-04-01", {"amount": "100.00", "plan": "basic", "billing_months": 1}),
    ]
    assert moves(rl) == [("2025-01-01", "acme", "new", None, "100.00"), ("2025-02-01", "acme", "churn", None, "100.00"),
                         ("2025-04-01", "acme", "reactivation", None, "100.00")]


# -- rule 6: after the last line: cancelled_at, an inferred cancel, or open ----------------------------


def test_rule_6_cancelled_at_cancels_on_that_day(rl):
    imp(rl, f"""\
        {HEADER},cancelled_at
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,,
        acme,in2,2025-02-01,l1,s1,basic,,100.00,2025-02-01,2025-03-01,,2025-02-14
        """)
    assert made(rl)[-1] == ("cancel", "acme", "2025-02-14", {"reason": "cancelled in the billing system (cancelled_at)"})
    assert moves(rl)[-1] == ("2025-02-14", "acme", "churn", None, "100.00")


def test_rule_6_invoices_that_stop_before_the_as_of_make_an_inferred_cancel_and_later_ones_stay_open(rl):
    result = imp(rl, f"""\
        {HEADER}
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,
        beta,in2,2025-02-10,l1,s2,basic,,80.00,2025-02-10,2025-03-10,
        """)  # as of 2025-02-10, the latest invoice date: acme's invoices stop on 2025-02-01
    assert ("cancel", "acme", "2025-02-01", {"reason": "inferred: no invoice line covers 2025-02-01"}) in made(rl)
    assert [m for m in moves(rl) if m[1] == "beta"] == [("2025-02-10", "beta", "new", None, "80.00")]
    assert "as of 2025-02-10" in result.stdout and "inferred cancels: 1 " in result.stdout


def test_rule_6_as_of_given_moves_the_inference_and_never_moves_back(rl):
    imp(rl, f"""\
        {HEADER}
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,
        """, "--as-of", "2025-03-31")
    assert made(rl)[-1][0:3] == ("cancel", "acme", "2025-02-01")
    back = imp(rl, f"""\
        {HEADER}
        beta,in2,2025-02-10,l1,s2,basic,,80.00,2025-02-10,2025-03-10,
        """, "--as-of", "2025-02-28", name="later.csv", ok=False)
    assert back.exit_code == 1
    assert back.stderr == ("revledger: --as-of 2025-02-28 is before 2025-03-31, the as-of of an earlier import: "
                           "it never moves back\n")
    assert len(rl.events()) == 2


# -- rule 7: customer attributes ------------------------------------------------------------------


def test_rule_7_attributes_become_customer_updated_where_a_line_differs_from_the_one_before(rl):
    imp(rl, f"""\
        {HEADER},customer_name,segment
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,,Acme,SMB
        acme,in2,2025-02-01,l1,s1,basic,,100.00,2025-02-01,2025-03-01,,Acme,SMB
        acme,in3,2025-03-01,l1,s1,basic,,100.00,2025-03-01,2025-04-01,,,Mid-Market
        """)
    updates = [(t, d, f) for t, c, d, f in made(rl) if t == "customer_updated"]
    assert updates == [
        ("customer_updated", "2025-01-01", {"segment": "SMB", "customer_name": "Acme"}),
        ("customer_updated", "2025-03-01", {"segment": "Mid-Market"}),   # an empty cell is not a change
    ]


def test_rule_7_a_one_time_line_states_attributes_too(rl):
    imp(rl, """\
        customer_id,invoice_id,invoice_date,line_id,type,subscription_id,plan,amount,service_period_start,service_period_end,region
        acme,in1,2025-01-01,l1,subscription,s1,basic,100.00,2025-01-01,2025-02-01,EMEA
        acme,in2,2025-01-20,l1,one_time,,setup,50.00,,,APAC
        """)
    assert [(d, f) for t, c, d, f in made(rl) if t == "customer_updated"] == [("2025-01-01", {}), ("2025-01-20", {})]
    assert [e.get("region") for e in rl.events() if e["type"] == "customer_updated"] == ["EMEA", "APAC"]


# -- rule 8: re-importing is a no-op; later imports add only the differences ----------------------


FIRST = f"""\
{HEADER}
acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,
acme,in2,2025-02-01,l1,s1,basic,,100.00,2025-02-01,2025-03-01,
beta,in3,2025-03-10,l1,s2,basic,,80.00,2025-03-10,2025-04-10,
"""


def test_rule_8_importing_the_same_file_again_appends_nothing(rl):
    imp(rl, FIRST)
    log = rl.events()
    again = imp(rl, FIRST)
    assert "nothing new; all 3 events were already recorded" in again.stdout
    assert rl.events() == log


def test_rule_8_a_later_invoice_that_continues_the_subscription_voids_the_inferred_cancel(rl):
    imp(rl, FIRST, "--recorded-at", "2025-03-31")  # acme's invoices stop on 2025-03-01: an inferred cancel
    assert moves(rl)[-1] == ("2025-03-10", "beta", "new", None, "80.00")
    assert ("2025-03-01", "acme", "churn", None, "100.00") in moves(rl)
    imp(rl, f"""\
        {HEADER}
        acme,in4,2025-03-12,l1,s1,basic,,100.00,2025-03-01,2025-04-01,
        """, "--recorded-at", "2025-04-30", name="late.csv")
    void = rl.events()[-1]
    assert void["type"] == "void" and void["target_event_id"] == "inv:in2/l1/lapsed"
    assert void["reason"] == "invoice in4 continues subscription s1 from 2025-03-01: the inferred cancel is removed"
    assert void["source"].endswith("late.csv:2")
    assert ("2025-03-01", "acme", "churn", None, "100.00") not in moves(rl)
    diff = rl("diff", "movements", "--from", "2025-01-01", "--to", "2025-12-31", "--known-at", "2025-03-31",
              "--known-at", "2025-04-30", "--format", "json").json()
    assert diff["movements"]["added"] == [] and diff["movements"]["changed"] == []
    assert [(m["date"], m["customer_id"], m["category"], m["event_ids"]) for m in diff["movements"]["removed"]] == [
        ("2025-03-01", "acme", "churn", ["inv:in2/l1/lapsed"])]


def test_rule_8_the_events_of_an_invoice_voided_since_are_voided_and_a_stated_cancel_replaces_an_inferred_one(rl):
    imp(rl, FIRST)
    imp(rl, f"""\
        {HEADER},voided,cancelled_at
        acme,in2,2025-02-01,l1,s1,basic,,100.00,2025-02-01,2025-03-01,,true,
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,,,2025-01-25
        """, name="corrected.csv")
    voids = [(e["target_event_id"], e["reason"]) for e in rl.events() if e["type"] == "void"]
    assert voids == [("inv:in2/l1/lapsed", "invoice in2 was voided: its cancel of s1 effective 2025-03-01 is removed")]
    assert made(rl)[-1] == ("cancel", "acme", "2025-01-25", {"reason": "cancelled in the billing system (cancelled_at)"})
    assert [m for m in moves(rl) if m[1] == "acme"] == [("2025-01-01", "acme", "new", None, "100.00"),
                                                         ("2025-01-25", "acme", "churn", None, "100.00")]


def test_rule_8_the_lines_are_kept_even_when_an_import_appends_nothing(rl):
    imp(rl, f"""\
        {HEADER}
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,
        """)
    quiet = imp(rl, f"""\
        {HEADER}
        acme,in2,2025-02-01,l1,s1,basic,,100.00,2025-02-01,2025-03-01,
        """, name="february.csv")
    assert "nothing new" in quiet.stdout and len(rl.events()) == 1
    imp(rl, f"""\
        {HEADER}
        beta,in3,2025-03-15,l1,s2,basic,,80.00,2025-03-15,2025-04-15,
        """, name="march.csv")
    # acme's February line was kept: its invoices stop on 2025-03-01, not 2025-02-01
    assert ("cancel", "acme", "2025-03-01", {"reason": "inferred: no invoice line covers 2025-03-01"}) in made(rl)


def test_rule_8_a_gap_filled_later_restates_the_line_from_the_first_difference(rl):
    imp(rl, f"""\
        {HEADER}
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,
        acme,in3,2025-03-01,l1,s1,basic,,100.00,2025-03-01,2025-04-01,
        acme,in4,2025-04-01,l1,s1,pro,,150.00,2025-04-01,2025-05-01,
        """, "--recorded-at", "2025-04-02")
    assert [m[2] for m in moves(rl)] == ["new", "churn", "reactivation", "expansion"]
    imp(rl, f"""\
        {HEADER}
        acme,in2,2025-02-01,l1,s1,basic,,100.00,2025-02-01,2025-03-01,
        """, "--recorded-at", "2025-04-03", name="february.csv")
    assert moves(rl) == [("2025-01-01", "acme", "new", None, "100.00"),
                         ("2025-04-01", "acme", "expansion", "plan", "50.00")]
    # voiding the cancel alone would leave a start on an open line: the line is restated from February on
    targets = sorted(e["target_event_id"] for e in rl.events() if e["type"] == "void")
    assert targets == ["inv:in1/l1/lapsed", "inv:in3/l1/start", "inv:in4/l1/change"]
    replacement = [e for e in rl.events() if e["type"] == "upsell"][-1]
    assert replacement["event_id"].startswith("inv:in4/l1/change~")


# -- rule 9: refused with file, line and field, and nothing written ----------------------------


@pytest.mark.parametrize("rows, line, field, words", [
    ("acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-02-01,2025-01-15,", 2, "service_period_end",
     "2025-01-15 is not after the service period's start 2025-02-01"),
    ("acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-01-01,", 2, "service_period_end", "is not after"),
    ("acme,in1,2025-01-01,l1,,basic,,100.00,2025-01-01,2025-02-01,", 2, "subscription_id",
     "is required on a subscription line"),
    ("acme,in1,2025-01-01,l1,s1,basic,,ten,2025-01-01,2025-02-01,", 2, "amount", "is not a decimal number"),
    ("acme,in1,2025-13-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,", 2, "invoice_date", "is not a real date"),
    (",in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,", 2, "customer_id", "is required"),
    ("acme,in1,2025-01-01,l1,s1,basic,2.5,100.00,2025-01-01,2025-02-01,", 2, "quantity", "not a whole number"),
    ("acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,maybe", 2, "prorated", "is not true or false"),
    ("acme,in1,2025-01-01,l1,s1,,,100.00,2025-01-01,2025-02-01,", 2, "plan", "is required on a subscription line"),
    ("acme,in1,2025-01-01,l1,s1,basic,,-100.00,2025-01-01,2025-02-01,", 2, "amount", "must not be negative"),
])
def test_rule_9_a_malformed_line_is_refused_naming_file_line_and_field(rl, rows, line, field, words):
    result = imp(rl, f"{HEADER}\n{rows}\n", ok=False)
    path = str(rl.folder / "invoices.csv")
    assert result.exit_code == 1, result.stdout
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{path}:{line}: {field}: ") and words in first, result.stderr
    assert result.stderr.splitlines()[-1].endswith("nothing was written")
    assert rl.events() == []


def test_rule_9_overlapping_lines_are_refused_naming_both(rl):
    result = imp(rl, f"""\
        {HEADER}
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,
        acme,in2,2025-01-20,l1,s1,basic,,100.00,2025-01-20,2025-02-20,
        """, ok=False)
    path = str(rl.folder / "invoices.csv")
    assert result.stderr.splitlines() == [
        f"{path}:3: service_period_start: the period 2025-01-20 to 2025-02-20 overlaps the period 2025-01-01 to "
        f"2025-02-01 of the same subscription s1 at {path}:2 (invoice in1)",
        "revledger: 1 problem; nothing was written",
    ]
    assert rl.events() == []


def test_rule_9_every_rule_of_section_3_applies_to_the_events_made(rl):
    result = imp(rl, """\
        customer_id,invoice_id,invoice_date,line_id,subscription_id,plan,amount,currency,service_period_start,service_period_end
        acme,in1,2025-01-01,l1,s1,basic,100.00,EUR,2025-01-01,2025-02-01
        """, ok=False)
    path = str(rl.folder / "invoices.csv")
    assert result.stderr.splitlines()[0] == (
        f"{path}:2: currency: the subscription_started it makes effective 2025-01-01: EUR is not the ledger "
        "currency (USD) and the ledger has no rate for it")
    assert rl.events() == []


def test_rule_9_a_refused_import_keeps_no_lines(rl):
    imp(rl, f"{HEADER}\nacme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,\n"
            "acme,in2,2025-01-10,l1,s1,basic,,100.00,2025-01-10,2025-02-10,\n", ok=False)
    imp(rl, f"{HEADER}\nbeta,in3,2025-01-05,l1,s2,basic,,80.00,2025-01-05,2025-02-05,\n", name="b.csv")
    assert {c for _, c, _, _ in made(rl)} == {"beta"}


@pytest.mark.parametrize("name, text, first", [
    ("invoices.csv", f"{HEADER},currency\nacme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,,XYZ\n",
     "invoices.csv:2: currency: 'XYZ' is not an ISO 4217 currency code (e.g. USD, EUR, GBP)"),
    ("lines.jsonl", '{"customer_id": "acme", "invoice_id": "in1", "invoice_date": "2025-01-01", "subscription_id": "s1", '
                    '"plan": "basic", "amount": "100.00", "service_period_start": "2025-01-01", '
                    '"service_period_end": "2025-02-01"}\n{"customer_id": "acme", "invoice_id": "in2",}\n',
     "lines.jsonl:2: -: is not a JSON object: Expecting property name enclosed in double quotes: line 1 column 45 "
     "(char 44)"),  # the closing brace, 45th character
    ("lines.jsonl", '{"invoice_id": "in1", "invoice_date": "2025-01-01", "subscription_id": "s1", "plan": "basic", '
                    '"amount": "100.00", "service_period_start": "2025-01-01", "service_period_end": "2025-02-01"}\n',
     "lines.jsonl:1: customer_id: is required"),
])
def test_a_bad_invoice_file_names_file_line_and_field_and_writes_nothing(rl, monkeypatch, name, text, first):
    """The issue's bad files in the invoice format: an unknown currency, malformed JSON, a missing customer."""
    monkeypatch.chdir(rl.folder)
    rl.write(name, text)
    result = rl("import", name, "--format", "invoices", ok=False)
    assert result.exit_code == 1, result.stdout
    assert result.stderr.splitlines() == [first, "revledger: 1 problem; nothing was written"]
    assert rl.events() == []
    from ledger.location import open_store
    assert open_store(rl.db).import_state("invoices.lines") is None  # no lines kept beside the log either


def test_a_line_twice_in_one_file_is_refused(rl):
    result = imp(rl, f"""\
        {HEADER}
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,
        """, ok=False)
    assert f"invoices.csv:3: line_id: invoice in1 has line l1 twice (also at {rl.folder / 'invoices.csv'}:2)" \
        in result.stderr


# -- the file: JSON Lines, the summary ---------------------------------------------------------------


def test_invoice_lines_as_json_lines_with_booleans_and_numbers(rl):
    lines = [
        {"customer_id": "acme", "invoice_id": "in1", "invoice_date": "2025-01-01", "line_id": "l1",
         "subscription_id": "s1", "plan": "basic", "amount": 100, "service_period_start": "2025-01-01",
         "service_period_end": "2025-02-01", "prorated": False},
        {"customer_id": "acme", "invoice_id": "in2", "invoice_date": "2025-01-10", "line_id": "l1",
         "type": "one_time", "amount": "25.50", "voided": True},
    ]
    result = imp(rl, "".join(json.dumps(l) + "\n" for l in lines), name="lines.jsonl")
    assert made(rl) == [("subscription_started", "acme", "2025-01-01", {"amount": "100", "plan": "basic",
                                                                         "billing_months": 1})]
    assert "left out: 1 void" in result.stdout


def test_the_summary_counts_what_the_import_made(rl):
    result = imp(rl, f"""\
        {HEADER},type
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,,
        acme,in1,2025-01-01,l2,,setup,,500.00,,,,one_time
        acme,in2,2025-01-15,l1,s1,pro,,-40.00,2025-01-15,2025-02-01,true,
        beta,in3,2025-03-01,l1,s2,basic,,80.00,2025-03-01,2025-04-01,,
        """)
    assert result.stdout.splitlines()[1:] == [
        f"{rl.folder / 'invoices.csv'}: 4 invoice lines of 2 customers and 2 subscriptions; as of 2025-03-01",
        "events: 2 subscription_started, 1 cancel",
        "left out: 1 one-time, 1 credit proration",
        "inferred cancels: 1 (subscriptions whose invoices stop on or before the as-of date with no cancellation stated)",
    ]


def test_as_of_is_only_for_invoice_formats(rl):
    result = rl("import", rl.write("e.csv", "type,customer_id,effective_date\n"), "--as-of", "2025-01-01", ok=False)
    assert result.stderr == "revledger: --as-of applies to --format invoices and stripe only, not csv\n"


def line(invoice: str, line_id: str, start: str, end: str, amount: str, *, prorated: bool = False) -> InvoiceLine:
    return InvoiceLine(customer_id="acme", invoice_id=invoice, invoice_date=date.fromisoformat(start),
                       amount=Decimal(amount), origin=Origin("t.csv", 2), line_id=line_id, subscription_id="s1",
                       plan="basic", service_period_start=date.fromisoformat(start),
                       service_period_end=date.fromisoformat(end), prorated=prorated)


def test_the_mapping_names_no_problem_for_a_valid_history():
    mapping = map_lines([line("in1", "l1", "2025-01-01", "2025-02-01", "100.00")], as_of=date(2025, 3, 1),
                        settings=LedgerSettings())
    assert mapping.problems == ()
    assert [(m.key, m.rule) for m in mapping.made] == [("inv:in1/l1/start", "start"), ("inv:in1/l1/lapsed", "lapsed")]


def test_rule_6_a_subscription_whose_invoices_stop_on_the_as_of_date_is_cancelled_then(rl):
    imp(rl, f"""\
        {HEADER}
        acme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,
        beta,in2,2025-02-01,l1,s2,basic,,80.00,2025-02-01,2025-03-01,
        """)  # as of 2025-02-01, the day acme's last line stops covering
    assert ("cancel", "acme", "2025-02-01", {"reason": "inferred: no invoice line covers 2025-02-01"}) in made(rl)
    assert not any(c == "beta" and t == "cancel" for t, c, _, _ in made(rl))


def test_rule_8_an_inferred_cancel_voided_and_then_made_again_takes_a_new_id(rl):
    imp(rl, FIRST, "--recorded-at", "2025-03-31")
    late = f"{HEADER}\nacme,in4,2025-03-12,l1,s1,basic,,100.00,2025-03-01,2025-04-01,\n"
    imp(rl, late, "--recorded-at", "2025-04-30", name="late.csv")
    assert ("2025-03-01", "acme", "churn", None, "100.00") not in moves(rl)
    imp(rl, f"{HEADER},voided\nacme,in4,2025-03-12,l1,s1,basic,,100.00,2025-03-01,2025-04-01,,true\n",
        "--recorded-at", "2025-05-31", name="voided.csv")
    # the inferred cancel holds again: its first id was voided, so it is recorded again under one with its content
    again = [e for e in rl.events() if e["type"] == "cancel"][-1]
    assert again["event_id"].startswith("inv:in2/l1/lapsed~") and again["effective_date"] == "2025-03-01"
    assert ("2025-03-01", "acme", "churn", None, "100.00") in moves(rl)
    imp(rl, late, "--recorded-at", "2025-06-30", name="late.csv")  # and the invoice is valid after all
    assert ("2025-03-01", "acme", "churn", None, "100.00") not in moves(rl)


def test_an_import_that_finds_the_log_moved_on_maps_its_lines_again(rl, monkeypatch):
    from ledger import invoice_import
    from ledger.location import open_store

    other = rl.write("other.csv", f"{HEADER}\nbeta,in9,2025-01-05,l1,s9,basic,,80.00,2025-01-05,2025-02-05,\n")
    real = invoice_import.plan_import
    calls = []

    def meanwhile(*args, **kwargs):
        plan = real(*args, **kwargs)
        if not calls:  # another import appends (and keeps its lines) after this one compared with the log
            calls.append(other)
            rl("import", other, "--format", "invoices")
        return plan

    monkeypatch.setattr(invoice_import, "plan_import", meanwhile)
    imp(rl, f"{HEADER}\nacme,in1,2025-01-01,l1,s1,basic,,100.00,2025-01-01,2025-02-01,\n")
    kept = json.loads(open_store(rl.db).import_state("invoices.lines"))
    assert sorted(line["invoice_id"] for line in kept) == ["in1", "in9"]  # neither import's lines were lost
    assert sorted(c for t, c, _, _ in made(rl) if t == "subscription_started") == ["acme", "beta"]
