"""Every rejection rule of SPEC §3: the message names FILE:LINE and the field; the ledger is unchanged."""

from __future__ import annotations

import pytest

HEADER = "event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,billing_months,discount_pct,currency,reason,target_event_id\n"

# A valid history the bad rows are checked against: acme has a seat line from
# January (200 × 50.00), globex a flat line cancelled in March.
HISTORY = HEADER + (
    "a1,subscription_started,acme,2026-01-01,s1,pro,200,50.00,,,,,,\n"
    "g1,subscription_started,globex,2026-01-15,u1,usage,,,300.00,,,,,\n"
    "g2,cancel,globex,2026-03-01,u1,,,,,,,,moved away,\n"
)

# (rule, bad row, field named, words in the message)
CASES = [
    ("missing required field", "x1,subscription_started,acme,2026-02-01,s2,,10,5.00,,,,,,", "plan", "is required"),
    ("missing customer", "x1,seat_change,,2026-02-01,s1,,10,,,,,,,", "customer_id", "is required"),
    ("malformed quantity", "x1,seat_change,acme,2026-02-01,s1,,ten,,,,,,,", "quantity", "not a whole number"),
    ("fractional seats", "x1,seat_change,acme,2026-02-01,s1,,2.5,,,,,,,", "quantity", "not a whole number"),
    ("negative seats", "x1,seat_change,acme,2026-02-01,s1,,-3,,,,,,,", "quantity", "0 or more"),
    ("negative amount", "x1,usage_change,globex,2026-02-01,u1,,,,-5.00,,,,,", "amount", "must not be negative"),
    ("amount not a decimal", "x1,usage_change,globex,2026-02-01,u1,,,,abc,,,,,", "amount", "not a decimal"),
    ("thousands separator", 'x1,price_change,acme,2026-02-01,s1,,,"1,000.00",,,,,,', "unit_price", "not a decimal"),
    ("NaN", "x1,price_change,acme,2026-02-01,s1,,,NaN,,,,,,", "unit_price", "not a decimal"),
    ("discount over 100", "x1,price_change,acme,2026-02-01,s1,,,,,,120,,,", "discount_pct", "between 0 and 100"),
    ("zero billing months", "x1,subscription_changed,acme,2026-02-01,s1,,,,,0,,,,", "billing_months", "1 or more"),
    ("impossible date", "x1,seat_change,acme,2026-02-30,s1,,10,,,,,,,", "effective_date", "not a real date"),
    ("other date format", "x1,seat_change,acme,02/01/2026,s1,,10,,,,,,,", "effective_date", "YYYY-MM-DD"),
    ("unknown type", "x1,refund,acme,2026-02-01,s1,,,,,,,,,", "type", "unknown type 'refund'"),
    ("change before the line opens", "x1,seat_change,acme,2025-12-01,s1,,10,,,,,,,", "subscription_id", "line s1 is not open on 2025-12-01"),
    ("change on an unknown line", "x1,seat_change,acme,2026-02-01,nope,,10,,,,,,,", "subscription_id", "line nope is not open"),
    ("cancel of a cancelled line", "x1,cancel,globex,2026-04-01,u1,,,,,,,,,", "subscription_id", "line u1 is not open on 2026-04-01"),
    ("cancel with no open line", "x1,cancel,globex,2026-04-01,,,,,,,,,,", "subscription_id", "has no open line on 2026-04-01"),
    ("start of an open line", "x1,subscription_started,acme,2026-02-01,s1,pro,10,5.00,,,,,,", "subscription_id", "line s1 is already open"),
    ("void of no event", "x1,void,acme,,,,,,,,,,typo,nope", "target_event_id", "no event nope"),
    ("void without reason", "x1,void,acme,,,,,,,,,,,a1", "reason", "is required"),
    ("void of another customer's event", "x1,void,globex,,,,,,,,,,typo,a1", "customer_id", "belongs to acme"),
    ("upsell that does not raise MRR", "x1,upsell,acme,2026-02-01,s1,,100,,,,,,,", "type", "an upsell must raise line s1's MRR"),
    ("upsell that leaves MRR equal", "x1,upsell,acme,2026-02-01,s1,enterprise,,,,,,,,", "type", "an upsell must raise"),
    ("downgrade that raises MRR", "x1,downgrade,acme,2026-02-01,s1,,300,,,,,,,", "type", "a downgrade must lower line s1's MRR"),
    ("seat_change that changes the plan", "x1,seat_change,acme,2026-02-01,s1,team,10,,,,,,,", "plan", "a seat_change may change only quantity"),
    ("price_change that changes seats", "x1,price_change,acme,2026-02-01,s1,,10,40.00,,,,,,", "quantity", "a price_change may change only"),
    ("seat_change on a flat line", "x1,seat_change,globex,2026-02-01,u1,,10,,,,,,,", "quantity", "priced by amount"),
    ("amount on a seat line", "x1,usage_change,acme,2026-02-01,s1,,,,99.00,,,,,", "amount", "priced per seat"),
    ("both pricing kinds", "x1,subscription_started,acme,2026-02-01,s2,pro,10,5.00,50.00,,,,,", "amount", "not both"),
    ("foreign currency without a rate", "x1,subscription_started,acme,2026-02-01,s2,pro,10,5.00,,,,EUR,,", "currency", "no rate for it"),
    ("not a currency code", "x1,subscription_started,acme,2026-02-01,s2,pro,10,5.00,,,,euro,,", "currency", "not a currency code"),
    ("same id, other content", "a1,subscription_started,acme,2026-01-01,s1,pro,201,50.00,,,,,,", "event_id", "a1 is already recorded with other content"),
    ("backdated cancel strands a later change", "x1,cancel,acme,2026-01-10,s1,,,,,,,,,", "effective_date", None),
]


@pytest.fixture
def ledger(rl):
    rl("import", rl.write("history.csv", HISTORY))
    return rl


@pytest.mark.parametrize("rule, row, field, words", CASES, ids=[c[0] for c in CASES])
def test_rejection_names_line_and_field_and_writes_nothing(ledger, rule, row, field, words):
    if rule == "backdated cancel strands a later change":
        ledger("record", "seat_change", "--customer", "acme", "--date", "2026-02-01", "--subscription", "s1", "--quantity", "150")
        words = "would make seat_change"
    before = ledger.events()
    good = "ok1,seat_change,acme,2026-01-20,s1,,210,,,,,,,\n"
    path = ledger.write("bad.csv", HEADER + good + row + "\n")
    result = ledger("import", path, ok=False)
    assert result.exit_code == 1
    assert f"{path}:3: {field}: " in result.stderr, result.stderr
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "nothing was written" in result.stderr
    assert ledger.events() == before  # the good row on line 2 was not written either


def test_every_problem_of_a_file_is_reported_together(ledger):
    path = ledger.write(
        "bad.csv",
        HEADER
        + "x1,seat_change,acme,2026-02-30,s1,,10,,,,,,,\n"
        + "x2,refund,acme,2026-02-01,s1,,,,,,,,,\n"
        + "x3,seat_change,acme,2026-02-01,s1,,ten,,,,,,,\n",
    )
    result = ledger("import", path, ok=False)
    lines = [line for line in result.stderr.splitlines() if line.startswith(path)]
    assert [line.split(": ")[0] for line in lines] == [f"{path}:2", f"{path}:3", f"{path}:4"]
    assert "3 problems; nothing was written" in result.stderr


def test_a_void_that_would_strand_later_events_is_refused(ledger):
    ledger("record", "seat_change", "--customer", "acme", "--date", "2026-02-01", "--subscription", "s1", "--quantity", "150")
    before = ledger.events()
    result = ledger("record", "void", "--event", "a1", "--reason", "wrong", ok=False)
    assert result.exit_code == 1
    assert "revledger: --event: voiding a1 would leave the timeline inconsistent" in result.stderr
    assert ledger.events() == before


def test_a_void_cannot_be_voided_twice(ledger):
    ledger("record", "void", "--event", "g2", "--reason", "the cancel was a mistake")
    result = ledger("record", "void", "--event", "g2", "--reason", "again", ok=False)
    assert "event g2 was already voided" in result.stderr


def test_foreign_currency_with_a_rate_is_converted_once_per_line(tmp_path):
    from conftest import Revledger

    rl = Revledger(tmp_path)
    rl("init", "--currency", "USD", "--rate", "EUR=1.10")
    rl("record", "subscription_started", "--customer", "fr", "--date", "2026-01-01", "--subscription", "s1",
       "--plan", "pro", "--amount", "1000.00", "--billing-months", "12", "--currency", "EUR")
    # 1000 / 12 * 1.10 = 91.666… -> 91.67
    assert rl("mrr", "--as-of", "2026-01-31", "--format", "json").json()["mrr"] == "91.67"


def test_oversized_text_is_refused(ledger):
    long = "x" * 20_001
    result = ledger("record", "customer_updated", "--customer", "acme", "--date", "2026-01-01", "--name", long, ok=False)
    assert "revledger: --name: is 20,001 characters long" in result.stderr


def test_wrong_encoding_names_the_line(ledger):
    path = ledger.folder / "latin1.csv"
    path.write_bytes((HEADER + "x1,customer_updated,acme,2026-01-01,,,,,,,,,,\n").encode() + "x2,customer_updated,caf\xe9,2026-01-01,,,,,,,,,,\n".encode("latin-1"))
    result = ledger("import", str(path), ok=False)
    assert f"{path}:3: -: is not UTF-8 text" in result.stderr


def test_a_truncated_last_line_is_refused(ledger):
    path = ledger.write("cut.csv", HEADER + "x1,seat_change,acme,2026-02-01,s1,,10")
    result = ledger("import", path, ok=False)
    assert f"{path}:2: -: has 7 cells but the header has 14 columns" in result.stderr


def test_truncated_jsonl_is_refused(ledger):
    path = ledger.write("cut.jsonl", '{"type": "seat_change", "customer_id": "acme", "effective_date": "2026-02-01", "subscription_id": "s1", "quantity": 1')
    result = ledger("import", path, ok=False)
    assert f"{path}:1: -: is not a JSON object" in result.stderr


def test_json_numbers_never_become_floats(ledger):
    path = ledger.write(
        "prices.jsonl",
        '{"type": "price_change", "customer_id": "acme", "effective_date": "2026-02-01", "subscription_id": "s1", "unit_price": 33.33}\n',
    )
    ledger("import", path)
    # 200 × 33.33 = 6666.00 exactly; a float would not be
    assert ledger("mrr", "--as-of", "2026-02-01", "--customer", "acme", "--format", "json").json()["mrr"] == "6666.00"
