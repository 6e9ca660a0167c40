"""The filters of `movements` and `mrr --top` (SPEC §16), each on a small ledger with the rows a person expects beside it.

The ledger, worked by hand (MRR per customer; one movement per customer and day):

    acme   smb, emea, tier gold from 01-01; enterprise from 03-01 (recorded late, in its own append)
           01-01 new 1000.00 · 02-01 expansion seats 500.00 · 03-10 expansion seats 1000.00
    beta   enterprise from 01-01
           01-05 new 6000.00 · 02-01 expansion plan 2000.00 · 03-20 churn 8000.00
    gamma  no attributes
           01-10 new 500.00 · 02-15 contraction price 50.00 · 03-20 expansion usage 200.00
    delta  no attributes
           02-10 new 1500.00
"""

from __future__ import annotations

import pytest

BASE = """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,segment,region,attr.tier
    a1,customer_updated,acme,2026-01-01,,,,,,smb,emea,gold
    a2,subscription_started,acme,2026-01-01,core,team,10,100.00,,,,
    b1,customer_updated,beta,2026-01-01,,,,,,enterprise,,
    b2,subscription_started,beta,2026-01-05,core,business,20,300.00,,,,
    c1,subscription_started,gamma,2026-01-10,core,flat,,,500.00,,,
    a3,seat_change,acme,2026-02-01,core,,15,,,,,
    b3,upsell,beta,2026-02-01,core,enterprise,,400.00,,,,
    d1,subscription_started,delta,2026-02-10,core,flat,,,1500.00,,,
    c2,price_change,gamma,2026-02-15,core,,,,450.00,,,
    a5,seat_change,acme,2026-03-10,core,,25,,,,,
    b4,cancel,beta,2026-03-20,core,,,,,,,
    c3,usage_change,gamma,2026-03-20,core,,,,650.00,,,
    """
# Acme moves to enterprise from 1 March, but the ledger learns it only on 2 April.
LATE = """
    event_id,type,customer_id,effective_date,segment
    a4,customer_updated,acme,2026-03-01,enterprise
    """
BEFORE_LATE = "2026-04-01"  # --known-at: after the base import, before the late one


@pytest.fixture
def ledger(rl):
    rl("import", rl.write("base.csv", BASE), "--recorded-at", "2026-03-31T10:00:00Z")
    rl("import", rl.write("late.csv", LATE), "--recorded-at", "2026-04-02T10:00:00Z")
    return rl


def rows(rl, *options: str) -> list[tuple[str, str, str, str | None, str]]:
    """(date, customer, category, cause, amount) of `movements` over Q1 with ``options``, in the order listed."""
    report = rl("movements", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "json", *options).json()
    return [(m["date"], m["customer_id"], m["category"], m["cause"], m["amount"]) for m in report["movements"]]


ACME_NEW = ("2026-01-01", "acme", "new", None, "1000.00")
BETA_NEW = ("2026-01-05", "beta", "new", None, "6000.00")
GAMMA_NEW = ("2026-01-10", "gamma", "new", None, "500.00")
ACME_SEATS = ("2026-02-01", "acme", "expansion", "seats", "500.00")
BETA_PLAN = ("2026-02-01", "beta", "expansion", "plan", "2000.00")
DELTA_NEW = ("2026-02-10", "delta", "new", None, "1500.00")
GAMMA_PRICE = ("2026-02-15", "gamma", "contraction", "price", "50.00")
ACME_MORE_SEATS = ("2026-03-10", "acme", "expansion", "seats", "1000.00")
BETA_CHURN = ("2026-03-20", "beta", "churn", None, "8000.00")
GAMMA_USAGE = ("2026-03-20", "gamma", "expansion", "usage", "200.00")


def test_without_filters_every_movement_by_date_then_customer(ledger):
    assert rows(ledger) == [ACME_NEW, BETA_NEW, GAMMA_NEW, ACME_SEATS, BETA_PLAN, DELTA_NEW, GAMMA_PRICE,
                            ACME_MORE_SEATS, BETA_CHURN, GAMMA_USAGE]


def test_where_takes_the_attribute_as_of_each_movements_date(ledger):
    # acme is smb in January and February, enterprise from 1 March
    assert rows(ledger, "--where", "segment=enterprise") == [BETA_NEW, BETA_PLAN, ACME_MORE_SEATS, BETA_CHURN]
    assert rows(ledger, "--where", "segment=smb") == [ACME_NEW, ACME_SEATS]


def test_where_takes_the_attribute_as_known_at_t(ledger):
    # before the late update was recorded, acme was smb all quarter
    assert rows(ledger, "--where", "segment=smb", "--known-at", BEFORE_LATE) == [ACME_NEW, ACME_SEATS, ACME_MORE_SEATS]
    assert rows(ledger, "--where", "segment=enterprise", "--known-at", BEFORE_LATE) == [BETA_NEW, BETA_PLAN, BETA_CHURN]


def test_where_on_two_attributes_needs_both_and_one_attribute_twice_either_value(ledger):
    assert rows(ledger, "--where", "region=emea", "--where", "segment=enterprise") == [ACME_MORE_SEATS]
    assert rows(ledger, "--where", "segment=smb", "--where", "segment=enterprise") == [
        ACME_NEW, BETA_NEW, ACME_SEATS, BETA_PLAN, ACME_MORE_SEATS, BETA_CHURN]


def test_where_on_a_custom_attribute(ledger):
    assert rows(ledger, "--where", "attr.tier=gold") == [ACME_NEW, ACME_SEATS, ACME_MORE_SEATS]
    assert rows(ledger, "--where", "attr.tier=silver") == []


def test_a_backdated_attribute_setting_reaches_the_movements_before_its_recording(rl):
    rl("import", rl.write("base.csv", BASE))
    # recorded now, effective 15 January: acme's February expansion is now a mid-market one
    rl("record", "customer_updated", "--customer", "acme", "--date", "2026-01-15", "--segment", "mid")
    assert rows(rl, "--where", "segment=mid") == [ACME_SEATS, ACME_MORE_SEATS]
    assert rows(rl, "--where", "segment=smb") == [ACME_NEW]


def test_two_settings_on_one_day_the_later_recorded_counts(rl):
    rl("import", rl.write("base.csv", BASE))
    rl("record", "customer_updated", "--customer", "gamma", "--date", "2026-02-15", "--region", "apac")
    rl("record", "customer_updated", "--customer", "gamma", "--date", "2026-02-15", "--region", "amer")
    assert rows(rl, "--where", "region=amer") == [GAMMA_PRICE, GAMMA_USAGE]
    assert rows(rl, "--where", "region=apac") == []


def test_cause(ledger):
    assert rows(ledger, "--cause", "seats") == [ACME_SEATS, ACME_MORE_SEATS]
    assert rows(ledger, "--cause", "plan") == [BETA_PLAN]
    assert rows(ledger, "--cause", "usage") == [GAMMA_USAGE]
    assert rows(ledger, "--cause", "line_removed") == []


def test_min_amount_is_at_least_that_amount(ledger):
    assert rows(ledger, "--min-amount", "1000") == [ACME_NEW, BETA_NEW, BETA_PLAN, DELTA_NEW, ACME_MORE_SEATS, BETA_CHURN]
    assert rows(ledger, "--min-amount", "1000.01") == [BETA_NEW, BETA_PLAN, DELTA_NEW, BETA_CHURN]
    assert rows(ledger, "--min-amount", "7999.999") == [BETA_CHURN]


def test_sort_by_amount_largest_first_ties_by_date_then_customer(ledger):
    assert rows(ledger, "--sort", "amount") == [
        BETA_CHURN, BETA_NEW, BETA_PLAN, DELTA_NEW,
        ACME_NEW, ACME_MORE_SEATS,  # 1000.00 each: by date
        GAMMA_NEW, ACME_SEATS,  # 500.00 each: by date
        GAMMA_USAGE, GAMMA_PRICE,
    ]


def test_sort_by_customer_then_date(ledger):
    assert rows(ledger, "--sort", "customer") == [
        ACME_NEW, ACME_SEATS, ACME_MORE_SEATS, BETA_NEW, BETA_PLAN, BETA_CHURN, DELTA_NEW,
        GAMMA_NEW, GAMMA_PRICE, GAMMA_USAGE]


def test_ties_on_one_date_list_customers_in_order(ledger):
    assert rows(ledger, "--sort", "date", "--cause", "usage", "--category", "expansion") == [GAMMA_USAGE]
    assert [r[1] for r in rows(ledger) if r[0] == "2026-03-20"] == ["beta", "gamma"]


def test_limit_after_sorting_and_filters_together(ledger):
    assert rows(ledger, "--sort", "amount", "--limit", "2") == [BETA_CHURN, BETA_NEW]
    assert rows(ledger, "--limit", "0") == []
    assert rows(ledger, "--limit", "99") == rows(ledger)
    # the ten largest expansions of the quarter in enterprise, as the issue asks
    assert rows(ledger, "--category", "expansion", "--where", "segment=enterprise", "--sort", "amount", "--limit", "10") == [
        BETA_PLAN, ACME_MORE_SEATS]
    assert rows(ledger, "--customer", "acme", "--min-amount", "600", "--cause", "seats") == [ACME_MORE_SEATS]


def test_filters_keep_the_csv_and_table_shapes(ledger):
    csv = ledger("movements", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "csv", "--cause", "seats").stdout
    assert csv.splitlines() == [
        "date,customer_id,category,cause,from_mrr,to_mrr,amount,net_change,event_ids",
        "2026-02-01,acme,expansion,seats,1000.00,1500.00,500.00,500.00,a3",
        "2026-03-10,acme,expansion,seats,1500.00,2500.00,1000.00,1000.00,a5",
    ]
    table = ledger("movements", "--from", "2026-01-01", "--to", "2026-03-31", "--sort", "amount", "--limit", "1").stdout
    assert "8,000.00" in table and "6,000.00" not in table


def test_json_keeps_its_header_and_knowledge_time(ledger):
    report = ledger("movements", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "json",
                    "--where", "segment=smb", "--known-at", BEFORE_LATE).json()
    assert report["known_at"] == "2026-03-31T10:00:00.000000Z"
    assert list(report) == ["currency", "known_at", "policy", "movements"]


# -- mrr --top ---------------------------------------------------------------------------------


def top(rl, *options: str) -> list[tuple[str, str]]:
    report = rl("mrr", "--format", "json", *options).json()
    return [(c["customer_id"], c["mrr"]) for c in report["customers_top"]]


def test_top_customers_by_mrr_ties_by_customer_id(ledger):
    # 28 February: beta 8000.00, acme 1500.00, delta 1500.00, gamma 450.00
    assert top(ledger, "--as-of", "2026-02-28", "--top", "3") == [("beta", "8000.00"), ("acme", "1500.00"), ("delta", "1500.00")]
    assert top(ledger, "--as-of", "2026-02-28", "--top", "2") == [("beta", "8000.00"), ("acme", "1500.00")]
    # 31 March: beta has churned (not listed at 0.00); acme 2500.00, delta 1500.00, gamma 650.00
    assert top(ledger, "--as-of", "2026-03-31", "--top", "10") == [("acme", "2500.00"), ("delta", "1500.00"), ("gamma", "650.00")]
    assert top(ledger, "--as-of", "2026-03-31", "--top", "0") == []


def test_top_as_known_at_t(rl):
    rl("import", rl.write("base.csv", BASE), "--recorded-at", "2026-03-31T10:00:00Z")
    rl("record", "seat_change", "--customer", "acme", "--date", "2026-02-20", "--subscription", "core", "--quantity", "100")
    assert top(rl, "--as-of", "2026-02-28", "--top", "2") == [("acme", "10000.00"), ("beta", "8000.00")]
    assert top(rl, "--as-of", "2026-02-28", "--top", "2", "--known-at", "2026-04-01") == [
        ("beta", "8000.00"), ("acme", "1500.00")]


def test_top_keeps_the_rest_of_the_mrr_report(ledger):
    report = ledger("mrr", "--as-of", "2026-02-28", "--top", "1", "--by", "segment", "--format", "json").json()
    assert (report["mrr"], report["customers"]) == ("11450.00", 4)
    assert report["customers_top"] == [{"customer_id": "beta", "mrr": "8000.00"}]
    assert [g["group"] for g in report["groups"]] == ["enterprise", "smb", None]
    assert "customers_top" not in ledger("mrr", "--as-of", "2026-02-28", "--format", "json").json()
    csv = ledger("mrr", "--as-of", "2026-02-28", "--top", "2", "--format", "csv").stdout
    assert csv.splitlines() == ["customer_id,mrr", "beta,8000.00", "acme,1500.00"]
    table = ledger("mrr", "--as-of", "2026-02-28", "--top", "2").stdout
    assert "Top 2 customers by MRR" in table and "8,000.00" in table


# -- refused in one line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--cause", "upsell"], "revledger: --cause 'upsell': one of cross_sell, line_removed, plan, seats, price, usage, mixed"),
        (["--limit", "-1"], "revledger: --limit -1: a number of rows, 0 or more"),
        (["--min-amount", "-5"], "revledger: --min-amount -5: an amount, 0 or more (movement amounts are magnitudes)"),
        (["--min-amount", "1,000"], "revledger: --min-amount '1,000': '1,000' is not a decimal number (write it like 1234.50)"),
        (["--where", "segment"], "revledger: --where 'segment': write it as ATTR=VALUE, e.g. segment=Enterprise"),
        (["--where", "segment="], "revledger: --where 'segment=': write it as ATTR=VALUE, e.g. segment=Enterprise"),
        (["--where", "plan=pro"],
         "revledger: --where 'plan=pro': 'plan' is not an attribute (segment, channel, region or attr.NAME)"),
    ],
)
def test_a_bad_filter_is_refused_in_one_line(ledger, options, message):
    result = ledger("movements", "--from", "2026-01-01", "--to", "2026-03-31", *options, ok=False)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [message]
    assert result.stdout == ""


def test_a_negative_top_is_refused_in_one_line(ledger):
    result = ledger("mrr", "--as-of", "2026-02-28", "--top", "-2", ok=False)
    assert (result.exit_code, result.stderr.splitlines()) == (1, ["revledger: --top -2: a number of customers, 0 or more"])


def test_an_unknown_sort_is_refused(ledger):
    result = ledger("movements", "--from", "2026-01-01", "--to", "2026-03-31", "--sort", "size", ok=False)
    assert result.exit_code == 2 and "revledger: --sort: 'size' is not one of date, amount, customer" in result.stderr
