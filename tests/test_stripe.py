"""Stripe exports (SPEC §14): API objects in both shapes, incremental imports, and bad files.

The fixtures under fixtures/stripe/ are written by build_stripe.py from Stripe's
documented object shapes; fixtures/stripe/README.md tells each customer's story.
The movements they must give are written out here by hand from those stories.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES, Revledger
from ledger.errors import Problem
from ledger.stripe import minor_unit, read_stripe

STRIPE = FIXTURES / "stripe"
OLDER = STRIPE / "older"
NEWER = STRIPE / "2025-03-31"

# (date, customer, category, cause, amount), from the stories in fixtures/stripe/README.md.
EXPECTED = [
    ("2024-01-01", "cus_A", "new", None, "300.00"),           # 10 seats × 30.00
    ("2024-02-01", "cus_B", "new", None, "300.00"),           # 900.00 a quarter
    ("2024-03-10", "cus_C", "new", None, "1000.00"),          # 12,000.00 a year
    ("2024-04-01", "cus_D", "new", None, "49.00"),            # the onboarding fee is one-time
    ("2024-05-01", "cus_A", "expansion", "seats", "60.00"),   # 12 seats
    ("2024-06-01", "cus_E", "new", None, "81.60"),            # ¥12,000 at 0.0068
    ("2024-07-01", "cus_F", "new", None, "180.00"),           # 4 × 50.00, less 20.00 off
    ("2024-08-05", "cus_G", "new", None, "100.00"),
    ("2024-09-01", "cus_D", "churn", None, "49.00"),          # no invoice for September and October
    ("2024-09-15", "cus_A", "expansion", "plan", "240.00"),   # the upgrade, dated by its proration
    ("2024-11-01", "cus_D", "reactivation", None, "49.00"),
    ("2025-01-01", "cus_E", "expansion", "plan", "20.40"),    # ¥15,000
    ("2025-02-20", "cus_H", "new", None, "75.00"),
    ("2025-03-01", "cus_F", "contraction", "seats", "45.00"),  # 3 seats: 150.00 less 15.00
    ("2025-05-01", "cus_B", "churn", None, "300.00"),          # its invoices stop: an inferred cancel
    ("2025-08-20", "cus_C", "churn", None, "1000.00"),         # canceled, ended_at
    ("2025-11-01", "cus_D", "churn", None, "49.00"),           # canceled at the period's end: ended_at
]


@pytest.fixture
def ledger(tmp_path: Path) -> Revledger:
    rl = Revledger(tmp_path)
    rl("init", "--currency", "USD", "--rate", "JPY=0.0068")
    return rl


def moves(rl: Revledger, *args: str) -> list[tuple]:
    rows = rl("movements", "--from", "2024-01-01", "--to", "2025-12-31", "--format", "json", *args).json()["movements"]
    return [(m["date"], m["customer_id"], m["category"], m["cause"], m["amount"]) for m in rows]


def mrr(rl: Revledger, day: str, *args: str) -> str:
    return rl("mrr", "--as-of", day, "--format", "json", *args).json()["mrr"]


def contents(rl: Revledger) -> list[dict]:
    ledger_fields = ("sequence", "append_last", "recorded_at", "actor", "source", "hash")
    return [{k: v for k, v in e.items() if k not in ledger_fields} for e in rl.events()]


# -- the fixtures -------------------------------------------------------------------------------------


def test_an_export_in_the_older_api_shape_gives_the_movements_of_its_stories(ledger):
    ledger("import", str(OLDER / "all.json"))  # the format is told from the contents
    assert moves(ledger) == EXPECTED
    assert mrr(ledger, "2025-12-31") == "1012.00"  # A 600 + E 102 + F 135 + G 100 + H 75


def test_both_api_shapes_import_to_the_same_ledger(ledger, tmp_path):
    ledger("import", str(OLDER / "all.json"), "--format", "stripe")
    other = Revledger(tmp_path / "newer")
    (tmp_path / "newer").mkdir()
    other("init", "--currency", "USD", "--rate", "JPY=0.0068")
    other("import", str(NEWER / "all.jsonl"), "--format", "stripe")
    assert moves(other) == EXPECTED
    assert contents(other) == contents(ledger)  # the same events, ids included; only their sources differ


def test_the_summary_says_what_the_export_made(ledger):
    out = ledger("import", str(OLDER / "all.json"), "--format", "stripe").stdout.splitlines()
    assert out[1:] == [
        f"{OLDER / 'all.json'}: 120 invoice lines of 8 customers and 8 subscriptions; as of 2025-12-20",
        "events: 9 subscription_started, 3 upsell, 1 downgrade, 4 cancel, 8 customer_updated",
        "left out: 1 one-time, 1 void, 2 credit proration, 1 unmatched proration, 1 draft",
        "inferred cancels: 1 (subscriptions whose invoices stop on or before the as-of date with no cancellation stated)",
    ]


def test_importing_an_export_twice_appends_nothing(ledger):
    ledger("import", str(NEWER / "all.jsonl"), "--format", "stripe")
    log = ledger.events()
    again = ledger("import", str(NEWER / "all.jsonl"), "--format", "stripe")
    assert "nothing new; all 25 events were already recorded" in again.stdout
    assert ledger.events() == log
    ledger("import", str(OLDER / "all.json"), "--format", "stripe")  # the other shape is the same export
    assert ledger.events() == log


@pytest.mark.parametrize("folder, ext", [(OLDER, "json"), (NEWER, "jsonl")])
def test_months_1_to_18_then_19_to_24_is_as_now_known_the_whole_export_at_once(ledger, folder, ext):
    ledger("import", str(folder / f"months_01_18.{ext}"), "--format", "stripe", "--recorded-at", "2025-07-01")
    # G's June invoice was created late, after this export: its invoices seem to stop on 2025-06-05
    assert ("2025-06-05", "cus_G", "churn", None, "100.00") in moves(ledger)
    assert mrr(ledger, "2025-06-30") == "1961.00"  # A 600 + C 1000 + D 49 + E 102 + F 135 + H 75
    ledger("import", str(folder / f"months_19_24.{ext}"), "--format", "stripe", "--recorded-at", "2026-01-01")
    assert moves(ledger) == EXPECTED
    assert mrr(ledger, "2025-06-30") == "2061.00"
    assert mrr(ledger, "2025-06-30", "--known-at", "2025-07-01") == "1961.00"  # what was known then stays so
    voids = [e for e in ledger.events() if e["type"] == "void"]
    assert [(v["target_event_id"], v["reason"]) for v in voids] == [
        ("inv:in_0206/il_0207/lapsed",
         "invoice in_0208 continues subscription si_G from 2025-06-05: the inferred cancel is removed")]
    diff = ledger("diff", "movements", "--from", "2024-01-01", "--to", "2025-12-31", "--known-at", "2025-07-01",
                  "--known-at", "2026-01-01", "--format", "json").json()["movements"]
    assert [(m["date"], m["customer_id"], m["category"]) for m in diff["removed"]] == [("2025-06-05", "cus_G", "churn")]
    assert [(m["date"], m["customer_id"], m["category"]) for m in diff["added"]] == [
        ("2025-08-20", "cus_C", "churn"), ("2025-11-01", "cus_D", "churn")]
    assert diff["changed"] == []


# -- the objects, inline -------------------------------------------------------------------------------


def invoice(lines: list[dict], *, id: str = "in_1", customer: str | None = "cus_1", created: int = 1735722000,
            status: str = "paid", **extra) -> dict:
    """An invoice object holding these line items (created 2025-01-01T09:00Z)."""
    out = {"id": id, "object": "invoice", "created": created, "currency": "usd", "status": status,
           "lines": {"object": "list", "data": lines, "has_more": False}, **extra}
    if customer is not None:
        out["customer"] = customer
    return out


JAN, FEB, MAR, APR, JAN_15 = 1735722000, 1738400400, 1740819600, 1743498000, 1736931600


def old_item(id: str = "il_1", *, amount: int = 10000, currency: str = "usd", start: int = JAN, end: int = FEB,
             proration: bool = False, interval: str = "month", count: int = 1, **extra) -> dict:
    """A line item in the older shape: subscription fields and a price object on the line."""
    return {"id": id, "object": "line_item", "amount": amount, "currency": currency, "discount_amounts": [],
            "period": {"start": start, "end": end}, "proration": proration, "quantity": 1,
            "price": {"id": "price_1", "object": "price", "recurring": {"interval": interval, "interval_count": count}},
            "subscription": "sub_1", "subscription_item": "si_1", "type": "subscription", **extra}


def new_item(id: str = "il_1", *, amount: int | str = 10000, start: int | str = JAN, end: int | str = FEB,
             proration: bool = False, item: str | None = "si_1", price: str = "price_1") -> dict:
    """A line item in the 2025-03-31 shape: parent.subscription_item_details and pricing.price_details."""
    return {"id": id, "object": "line_item", "amount": amount, "currency": "usd", "discount_amounts": [],
            "parent": {"type": "subscription_item_details", "subscription_item_details": {
                "invoice_item": None, "proration": proration, "subscription": "sub_1", "subscription_item": item}},
            "period": {"start": start, "end": end},
            "pricing": {"type": "price_details", "price_details": {"price": price, "product": "prod_1"}},
            "quantity": 1}


def read(tmp_path: Path, objects: list[dict], name: str = "stripe.json"):
    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(o) + "\n" for o in objects))
    else:
        path.write_text(json.dumps({"object": "list", "data": objects, "has_more": False}))
    problems: list[Problem] = []
    exported = read_stripe(str(path), name, problems)
    return exported, [str(p) for p in problems]


@pytest.mark.parametrize("code, amount, expected", [("usd", 123456, "1234.56"), ("jpy", 12000, "12000"),
                                                      ("kwd", 12345, "12.345"), ("eur", -500, "-5.00")])
def test_amounts_are_in_the_currencys_minor_unit_and_codes_upper_cased(tmp_path, code, amount, expected):
    exported, problems = read(tmp_path, [invoice([old_item(amount=amount, currency=code)])])
    assert problems == []
    (line,) = exported.lines
    assert (str(line.amount), line.currency) == (expected, code.upper())
    assert minor_unit("JPY") == 1


def test_an_older_line_item_as_an_invoice_line(tmp_path):
    item = old_item(amount=30000, discount_amounts=[{"amount": 3000, "discount": "di_1"}], quantity=10,
                    interval="year", count=1, start=JAN, end=1767258000)
    exported, problems = read(tmp_path, [invoice([item])])
    assert problems == []
    (line,) = exported.lines
    assert (line.customer_id, line.invoice_id, str(line.invoice_date), line.line_id, line.type) == (
        "cus_1", "in_1", "2025-01-01", "il_1", "subscription")
    assert (line.subscription_id, line.plan, line.quantity, str(line.amount), line.billing_months) == (
        "si_1", "price_1", 10, "270.00", 12)  # amount less its discount_amounts; year: 12 months
    assert (str(line.service_period_start), str(line.service_period_end), line.prorated) == (
        "2025-01-01", "2026-01-01", False)
    assert line.origin.source == "stripe.json:data[0].lines.data[0]"


def test_a_newer_line_item_takes_its_months_from_its_period_and_values_may_be_strings(tmp_path):
    exported, problems = read(tmp_path, [invoice([new_item(amount="90000", start=str(JAN), end=str(APR))],
                                                 created=str(JAN))], name="stripe.jsonl")
    assert problems == []
    (line,) = exported.lines
    assert (line.subscription_id, line.plan, str(line.amount), line.billing_months, line.origin.shape) == (
        "si_1", "price_1", "900.00", None, "stripe-2025-03-31")  # the mapping counts the period's months: 3
    assert line.origin.source == "stripe.jsonl:1:lines.data[0]"


def test_void_and_draft_invoices_one_time_items_and_a_proration_without_its_item(tmp_path):
    one_time = {"id": "il_9", "object": "line_item", "amount": 50000, "currency": "usd", "period": {"start": JAN, "end": JAN},
                "parent": {"type": "invoice_item_details", "invoice_item_details": {
                    "invoice_item": "ii_1", "proration": False, "subscription": None}},
                "pricing": {"type": "price_details", "price_details": {"price": "price_setup"}}}
    proration = new_item("il_3", amount=2500, start=JAN_15, proration=True, item=None)
    exported, problems = read(tmp_path, [
        invoice([new_item(), one_time], id="in_1"),
        invoice([proration], id="in_2", created=JAN_15),
        invoice([new_item("il_4", start=FEB, end=MAR)], id="in_3", status="void"),
        invoice([new_item("il_5", start=MAR, end=APR)], id="in_4", status="draft"),
    ])
    assert problems == []
    assert [(l.line_id, l.type, l.subscription_id, l.prorated, l.voided) for l in exported.lines] == [
        ("il_1", "subscription", "si_1", False, False),
        ("il_9", "one_time", None, False, False),
        ("il_3", "subscription", "si_1", True, False),   # the item billed for the same price
        ("il_4", "subscription", "si_1", False, True),
    ]
    assert exported.drafts == 1


def test_subscriptions_give_cancelled_at_only_when_canceled_and_customers_give_attributes(tmp_path):
    def sub(id: str, **fields) -> dict:
        return {"id": id, "object": "subscription", "status": "active", "cancel_at_period_end": False, **fields}

    lines = [invoice([old_item(f"il_{n}", subscription=s, subscription_item=f"si_{n}")], id=f"in_{n}")
             for n, s in enumerate(["sub_a", "sub_b", "sub_c", "sub_d"])]
    exported, problems = read(tmp_path, [
        sub("sub_a", status="canceled", canceled_at=JAN_15, ended_at=FEB),      # ended_at wins
        sub("sub_b", status="canceled", canceled_at=JAN_15),                   # canceled_at when no ended_at
        sub("sub_c", cancel_at_period_end=True, cancel_at=FEB),                # only scheduled: not yet
        sub("sub_d", status="past_due"),
        {"id": "cus_1", "object": "customer", "name": "Acme", "metadata": {"segment": "SMB", "region": "EMEA"}},
        *lines,
    ])
    assert problems == []
    assert [str(l.cancelled_at) for l in exported.lines] == ["2025-02-01", "2025-01-15", "None", "None"]
    assert {(l.customer_name, l.segment, l.channel, l.region) for l in exported.lines} == {("Acme", "SMB", None, "EMEA")}


# -- bad files: file, JSON path (or line) and field; exit 1; nothing written ------------------------------


BAD = [
    ("a line ending before it starts", [invoice([old_item(start=FEB, end=JAN)])],
     "stripe.json: data[0].lines.data[0].period.end: 2025-01-01 is not after the service period's start 2025-02-01"),
    ("an unknown currency", [invoice([old_item(currency="xyz")])],
     "stripe.json: data[0].lines.data[0].currency: 'xyz' is not a currency Stripe bills in (an ISO 4217 code such as usd)"),
    ("a missing customer", [invoice([old_item()], customer=None)],
     "stripe.json: data[0].customer: is required: the invoice must name its customer"),
    ("45 days and only the price's id", [invoice([new_item(start=JAN, end=JAN + 45 * 86400)])],
     "stripe.json: data[0].lines.data[0].period.end: the service period 2025-01-01 to 2025-02-15 is not a whole "
     "number of months; give billing_months for a line billed for another length of time"),
    ("a weekly price", [invoice([old_item(interval="week")])],
     "stripe.json: data[0].lines.data[0].price.recurring.interval: 'week': only monthly and yearly prices can be "
     "imported (billing_months counts months)"),
    ("a period that is not a timestamp", [invoice([old_item(end="next month")])],
     "stripe.json: data[0].lines.data[0].period.end: 'next month' is not a Unix timestamp"),
    ("a truncated list of lines", [invoice([old_item()]) | {"lines": {"object": "list", "data": [old_item()],
                                                                      "has_more": True}}],
     "stripe.json: data[0].lines.has_more: is true: the invoice holds only its first line items; list them all "
     "(GET /v1/invoices/ID/lines) before importing"),
    ("an object of another kind", [{"id": "ch_1", "object": "charge"}],
     "stripe.json: data[0].object: 'charge': a Stripe import reads invoice, subscription and customer objects"),
]


@pytest.mark.parametrize("case, objects, first", BAD, ids=[b[0] for b in BAD])
def test_a_bad_stripe_file_names_file_path_and_field_and_writes_nothing(ledger, monkeypatch, case, objects, first):
    monkeypatch.chdir(ledger.folder)
    Path("stripe.json").write_text(json.dumps({"object": "list", "data": objects, "has_more": False}))
    result = ledger("import", "stripe.json", "--format", "stripe", ok=False)
    assert result.exit_code == 1, result.stdout
    assert result.stderr.splitlines()[0] == first
    assert result.stderr.splitlines()[-1].startswith("revledger: ") and "nothing was written" in result.stderr
    assert ledger.events() == []


def test_overlapping_stripe_lines_are_refused_naming_both(ledger, monkeypatch):
    monkeypatch.chdir(ledger.folder)
    Path("stripe.json").write_text(json.dumps({"object": "list", "data": [
        invoice([old_item("il_1")], id="in_1"), invoice([old_item("il_2", start=JAN_15, end=1739610000)], id="in_2",
                                                        created=JAN_15)]}))
    result = ledger("import", "stripe.json", "--format", "stripe", ok=False)
    assert result.stderr.splitlines()[0] == (
        "stripe.json: data[1].lines.data[0].period.start: the period 2025-01-15 to 2025-02-15 overlaps the period "
        "2025-01-01 to 2025-02-01 of the same subscription si_1 at stripe.json:data[0].lines.data[0] (invoice in_1)")
    assert ledger.events() == []


@pytest.mark.parametrize("text, first", [
    ('{"object": "list", "data": [\n  {"id": "in_1", "object": "invoice",}\n]}\n',
     "stripe.json:2: -: is not valid JSON: Expecting property name enclosed in double quotes (column 38)"),
    ('{"id": "in_1", "object": "invoice"\n{"id": "in_2", "object": "invoice"}\n',
     "stripe.json:2: -: is not valid JSON: Expecting ',' delimiter (column 1)"),
])
def test_malformed_json_names_its_line(ledger, monkeypatch, text, first):
    monkeypatch.chdir(ledger.folder)
    Path("stripe.json").write_text(text)
    result = ledger("import", "stripe.json", "--format", "stripe", ok=False)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == first
    assert ledger.events() == []


def test_a_refused_stripe_import_keeps_nothing_beside_the_log(ledger, monkeypatch):
    monkeypatch.chdir(ledger.folder)
    Path("bad.json").write_text(json.dumps([invoice([old_item(currency="xyz")])]))
    ledger("import", "bad.json", "--format", "stripe", ok=False)
    ledger("import", str(OLDER / "all.json"), "--format", "stripe")
    assert moves(ledger) == EXPECTED


# -- fuzzing: mutated exports never crash the import nor half-write it ---------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import IN_CI  # noqa: E402

SMALL = json.dumps({"object": "list", "data": [
    {"id": "cus_1", "object": "customer", "name": "Acme", "metadata": {"segment": "SMB"}},
    {"id": "sub_1", "object": "subscription", "status": "canceled", "ended_at": MAR},
    invoice([old_item()], id="in_1"), invoice([new_item("il_2", start=FEB, end=MAR)], id="in_2", created=FEB),
]}).encode()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    rl = Revledger(tmp_path_factory.mktemp("stripe-fuzz"))
    rl("init", "--currency", "USD")
    return rl


@pytest.mark.slow
@settings(max_examples=500 if IN_CI else 60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), fmt=st.sampled_from(["stripe", "invoices"]))
def test_a_mutated_export_is_a_clean_yes_or_a_clean_no(fuzzed, data, fmt):
    raw = bytearray(SMALL)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        if not raw:  # truncated, then deleted, to nothing: an empty file is a mutation too
            break
        where = data.draw(st.integers(0, len(raw) - 1), label="at")
        how = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]), label="how")
        if how == "flip":
            raw[where] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        elif how == "delete":
            del raw[where]
        elif how == "insert":
            raw[where:where] = data.draw(st.sampled_from([b"0", b"-", b"\"", b"{", b"]", b"null", b"1e9", b"x"]))
        else:
            del raw[max(where, 1):]
    path = fuzzed.folder / ("fuzz.json" if fmt == "stripe" else "fuzz.jsonl")
    path.write_bytes(bytes(raw))
    before = len(fuzzed.events())
    result = fuzzed("import", str(path), "--format", fmt, ok=False)  # an unhandled exception fails the test here
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if result.exit_code:
        assert result.exit_code == 1 and len(fuzzed.events()) == before
        assert result.stderr.splitlines()[-1].startswith("revledger: ")
