"""A corpus of bad input (issue 7, item 1): every malformed or inconsistent row is refused.

The corpus is built from rules × bad values, each case rendered as CSV and as
JSON Lines. Every case must be refused with ``FILE:LINE: field: reason``,
exit status 1, no event written and never a traceback; all the bad rows of
one file are reported together; ``import --errors json`` prints them as
``{file, line, field, message}`` objects.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from dataclasses import dataclass, field

import pytest
from conftest import Revledger


FIELDS = [
    "event_id", "type", "customer_id", "effective_date", "subscription_id", "plan", "quantity", "unit_price",
    "amount", "billing_months", "discount_pct", "currency", "reason", "note", "target_event_id", "customer_name",
]

# The history every case is checked against: acme has a seat line (200 × 50.00)
# from January, globex a flat line (300.00) cancelled on 2026-03-01, initech an
# annual seat line with a 10% discount.
HISTORY = [
    {"event_id": "a1", "type": "subscription_started", "customer_id": "acme", "effective_date": "2026-01-01",
     "subscription_id": "s1", "plan": "pro", "quantity": "200", "unit_price": "50.00"},
    {"event_id": "g1", "type": "subscription_started", "customer_id": "globex", "effective_date": "2026-01-15",
     "subscription_id": "u1", "plan": "usage", "amount": "300.00"},
    {"event_id": "g2", "type": "cancel", "customer_id": "globex", "effective_date": "2026-03-01",
     "subscription_id": "u1", "reason": "moved away"},
    {"event_id": "i1", "type": "subscription_started", "customer_id": "initech", "effective_date": "2026-01-01",
     "subscription_id": "y1", "plan": "annual", "quantity": "10", "unit_price": "1200.00", "billing_months": "12",
     "discount_pct": "10"},
]


@dataclass
class Case:
    """Rows of one file (all valid but the last), the field the refusal must name, words of its reason.

    ``raw`` holds format-specific file bytes for the cases that are about the bytes
    themselves (encodings, truncation); ``line`` is then the line to be named.
    """

    name: str
    rows: list[dict] = field(default_factory=list)
    at: str = "-"
    words: str | None = None
    formats: tuple[str, ...] = ("csv", "jsonl")
    raw: dict[str, bytes] = field(default_factory=dict)
    line: int | None = None


def seat_change(**cells):
    return {"type": "seat_change", "customer_id": "acme", "effective_date": "2026-02-01", "subscription_id": "s1",
            "quantity": "150", **cells}


def price_change(**cells):
    return {"type": "price_change", "customer_id": "acme", "effective_date": "2026-02-01", "subscription_id": "s1",
            **cells}


def usage_change(**cells):
    return {"type": "usage_change", "customer_id": "globex", "effective_date": "2026-02-01", "subscription_id": "u1",
            **cells}


def started(customer="newco", **cells):
    return {"type": "subscription_started", "customer_id": customer, "effective_date": "2026-02-01",
            "subscription_id": "n1", "plan": "pro", "quantity": "5", "unit_price": "20.00", **cells}


def flat_started(customer="newco", **cells):
    return {"type": "subscription_started", "customer_id": customer, "effective_date": "2026-02-01",
            "subscription_id": "n1", "plan": "flat", "amount": "99.00", **cells}


def changed(kind="subscription_changed", **cells):
    return {"type": kind, "customer_id": "acme", "effective_date": "2026-02-01", "subscription_id": "s1", **cells}


def updated(**cells):
    return {"type": "customer_updated", "customer_id": "acme", "effective_date": "2026-02-01", **cells}


def cancel(**cells):
    return {"type": "cancel", "customer_id": "acme", "effective_date": "2026-04-01", "subscription_id": "s1", **cells}


def void(**cells):
    return {"type": "void", "target_event_id": "a1", "reason": "typo", **cells}


def without(row: dict, name: str) -> dict:
    return {k: v for k, v in row.items() if k != name}


BAD_DATES = [
    ("2026-02-30", "not a real date"), ("2026-02-29", "not a real date"), ("2025-02-29", "not a real date"),
    ("2026-13-01", "not a real date"), ("2026-00-10", "not a real date"), ("2026-04-31", "not a real date"),
    ("2026-06-00", "not a real date"), ("2026-01-32", "not a real date"), ("0000-01-01", "not a real date"),
    ("02/01/2026", "YYYY-MM-DD"), ("2026/02/01", "YYYY-MM-DD"), ("01-02-2026", "YYYY-MM-DD"),
    ("2026-2-1", "YYYY-MM-DD"), ("20260201", "YYYY-MM-DD"), ("1 Feb 2026", "YYYY-MM-DD"),
    ("Feb 1, 2026", "YYYY-MM-DD"), ("2026-02-01T00:00:00Z", "YYYY-MM-DD"), ("2026-02", "YYYY-MM-DD"),
    ("yesterday", "YYYY-MM-DD"), ("2026.02.01", "YYYY-MM-DD"), ("２０２６-０２-０１", None), ("2026-W05-1", "YYYY-MM-DD"),
]
BAD_MONEY = [
    ("NaN", "not a decimal"), ("nan", "not a decimal"), ("sNaN", "not a decimal"), ("Infinity", "not a decimal"),
    ("-inf", "not a decimal"), ("1,000.00", "not a decimal"), ("1.000,00", "not a decimal"), ("1 000", "not a decimal"),
    ("1_000", "not a decimal"), ("$10.00", "not a decimal"), ("10.00 USD", "not a decimal"), ("€10", "not a decimal"),
    ("1e3", "not a decimal"), ("1E-2", "not a decimal"), ("0x10", "not a decimal"), ("1.2.3", "not a decimal"),
    ("--5", "not a decimal"), ("+-5", "not a decimal"), ("abc", "not a decimal"), ("(10.00)", "not a decimal"),
    ("-5.00", "must not be negative"), ("-0.01", "must not be negative"), ("1234567890123.00", "too large"),
    ("99999999999999999999", "too large"), ("0.0000001", "more than 6 decimal places"),
]
BAD_SEATS = [
    ("-1", "0 or more"), ("-200", "0 or more"), ("2.5", "not a whole number"), ("0.1", "not a whole number"),
    ("ten", "not a whole number"), ("1e2", "not a whole number"), ("3 seats", "not a whole number"),
    ("1,000", "not a whole number"), ("9999999999", "not a whole number"), ("NaN", "not a whole number"),
    ("Infinity", "not a whole number"), ("0x1F", "not a whole number"), ("½", "not a whole number"),
]
BAD_MONTHS = [
    ("0", "1 or more"), ("-12", "1 or more"), ("1.5", "not a whole number"), ("twelve", "not a whole number"),
    ("12 months", "not a whole number"), ("NaN", "not a whole number"), ("-0", "1 or more"),
]
BAD_DISCOUNTS = [
    ("101", "between 0 and 100"), ("100.01", "between 0 and 100"), ("150", "between 0 and 100"),
    ("1000", "between 0 and 100"), ("-5", "must not be negative"), ("50%", "not a decimal"), ("NaN", "not a decimal"),
    ("1e2", "not a decimal"),
]
BAD_CURRENCIES = [
    ("EUR", "no rate for it"), ("GBP", "no rate for it"), ("JPY", "no rate for it"), ("CHF", "no rate for it"),
    ("XYZ", "not an ISO 4217 currency code"), ("eu", "not a currency code"), ("US", "not a currency code"),
    ("EURO", "not a currency code"),
    ("€", "not a currency code"), ("U$D", "not a currency code"), (" USD", "not a currency code"),
]
BAD_TYPES = [
    "refund", "Upsell", "SUBSCRIPTION_STARTED", "cancellation", "subscription-started", " cancel", "cancel ",
    "churn", "delete", "'; DROP TABLE stored_events; --", "period_closed_", "void\t",
]


def build_corpus() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    for value, words in BAD_DATES:
        add(Case(f"date {value!r} on a seat_change", [seat_change(effective_date=value)], "effective_date", words))
        add(Case(f"date {value!r} on a start", [started(effective_date=value)], "effective_date", words))
    for value, words in BAD_MONEY:
        add(Case(f"unit_price {value!r}", [price_change(unit_price=value)], "unit_price", words))
        add(Case(f"amount {value!r}", [usage_change(amount=value)], "amount", words))
        add(Case(f"start at unit_price {value!r}", [started(unit_price=value)], "unit_price", words))
    for value, words in BAD_SEATS:
        add(Case(f"quantity {value!r}", [seat_change(quantity=value)], "quantity", words))
        add(Case(f"start with quantity {value!r}", [started(quantity=value)], "quantity", words))
    for value, words in BAD_MONTHS:
        add(Case(f"billing_months {value!r}", [changed(billing_months=value)], "billing_months", words))
        add(Case(f"start billed every {value!r} months", [flat_started(billing_months=value)], "billing_months", words))
    for value, words in BAD_DISCOUNTS:
        add(Case(f"discount_pct {value!r}", [price_change(discount_pct=value)], "discount_pct", words))
        add(Case(f"start with discount_pct {value!r}", [started(discount_pct=value)], "discount_pct", words))
    for value, words in BAD_CURRENCIES:
        add(Case(f"currency {value!r}", [started(currency=value)], "currency", words))
        add(Case(f"change to currency {value!r}", [changed(currency=value)], "currency", words))
    for value in BAD_TYPES:
        add(Case(f"type {value!r}", [seat_change(type=value)], "type", "unknown type"))
        add(Case(f"type {value!r} on a new customer", [started(type=value)], "type", "unknown type"))

    # Missing fields, per event type.
    for kind, row, missing in [
        ("start", started(), ["customer_id", "effective_date", "subscription_id", "plan", "quantity", "unit_price"]),
        ("seat_change", seat_change(), ["customer_id", "effective_date", "subscription_id", "quantity"]),
        ("usage_change", usage_change(amount="10.00"), ["customer_id", "effective_date", "subscription_id", "amount"]),
        ("cancel", cancel(), ["customer_id", "effective_date"]),
        ("void", void(), ["target_event_id", "reason"]),
        ("upsell", changed("upsell", quantity="300"), ["subscription_id", "effective_date"]),
    ]:
        for name in missing:
            add(Case(f"{kind} without {name}", [without(row, name)], name, "is required"))
    add(Case("a row without type", [without(seat_change(), "type")], "type", "is required"))
    add(Case("a customer_updated that sets nothing", [updated()], "-", "must set customer_name"))
    add(Case("a change that gives no term", [changed()], "-", "at least one of"))
    add(Case("a price_change that gives no price", [price_change()], "-", "must give unit_price"))
    add(Case("a start with no price at all", [without(without(started(), "quantity"), "unit_price")], "quantity",
             "give quantity and unit_price, or amount"))

    # Unknown fields and malformed identifiers.
    for column in ["colour", "Customer_ID", "mrr", "sequence", "hash", "recorded_at", "actor", "source"]:
        add(Case(f"unknown column {column}", [seat_change(**{column: "x"})], column, "unknown field"))
    for column in ["attr.bad name", "attr.", "attr.é", "attr.a;drop"]:
        add(Case(f"bad attribute name {column!r}", [updated(**{column: "x"})], column, "not a valid attribute name"))
    for name, value in [("customer_id", " acme"), ("customer_id", "acme "), ("subscription_id", "s1 "),
                        ("event_id", " e1"), ("target_event_id", "a1 ")]:
        row = void(**{name: value}) if name == "target_event_id" else seat_change(**{name: value})
        add(Case(f"{name} {value!r} with spaces", [row], name, "leading or trailing spaces"))

    # Oversized fields.
    for name, size, words in [("customer_id", 201, "at most 200"), ("subscription_id", 201, "at most 200"),
                              ("event_id", 5_000, "at most 200"), ("note", 20_001, "at most 20,000"),
                              ("reason", 100_000, "at most 20,000"), ("plan", 20_001, "at most 20,000")]:
        add(Case(f"{name} of {size:,} characters", [seat_change(**{name: "x" * size}) if name != "plan"
                 else started(plan="p" * size)], name, words))
    add(Case("customer_name of 20,001 characters", [updated(customer_name="n" * 20_001)], "customer_name", "at most 20,000"))
    add(Case("attribute value of 50,000 characters", [updated(**{"attr.tier": "t" * 50_000})], "attr.tier", "at most 20,000"))

    # Unknown lines and events, and changes in the wrong place on the timeline.
    for row, at, words in [
        (seat_change(subscription_id="nope"), "subscription_id", "line nope is not open"),
        (changed("upsell", subscription_id="nope", quantity="300"), "subscription_id", "line nope is not open"),
        (cancel(subscription_id="nope"), "subscription_id", "line nope is not open"),
        (seat_change(customer_id="nobody"), "customer_id", "no customer nobody"),
        (cancel(customer_id="nobody", subscription_id=None), "customer_id", "no customer nobody"),
        (seat_change(effective_date="2025-12-31"), "subscription_id", "line s1 is not open on 2025-12-31"),
        (usage_change(effective_date="2026-03-01", amount="5.00"), "subscription_id", "line u1 is not open on 2026-03-01"),
        (cancel(customer_id="globex", subscription_id="u1", effective_date="2026-05-01"), "subscription_id", "not open"),
        (cancel(customer_id="globex", subscription_id=None, effective_date="2026-05-01"), "subscription_id",
         "has no open line"),
        (started(customer="acme", subscription_id="s1"), "subscription_id", "line s1 is already open"),
        (void(target_event_id="nope"), "target_event_id", "no event nope"),
        (void(target_event_id="zz-" + "9" * 20), "target_event_id", "no event zz-"),
        (void(customer_id="globex"), "customer_id", "belongs to acme"),
        (seat_change(customer_id="globex", subscription_id="u1"), "quantity", "priced by amount"),
        (usage_change(customer_id="acme", subscription_id="s1", amount="9.00"), "amount", "priced per seat"),
        (started(amount="50.00"), "amount", "not both"),
        (changed(amount="50.00", quantity="3"), "amount", "not both"),
        (price_change(unit_price="5.00", amount="5.00"), "amount", "not both"),
        (seat_change(plan="team"), "plan", "may change only quantity"),
        (seat_change(unit_price="1.00"), "unit_price", "may change only quantity"),
        (price_change(unit_price="40.00", quantity="10"), "quantity", "may change only"),
        (usage_change(amount="5.00", plan="x"), "plan", "may change only amount"),
        (cancel(plan="x"), "plan", "may change only no subscription terms"),
        (updated(customer_name="A", subscription_id="s1"), "subscription_id", "does not name a subscription line"),
        (seat_change(target_event_id="a1"), "target_event_id", "only a void names a target"),
        (seat_change(customer_name="Acme"), "customer_name", "set by customer_updated"),
        (started(**{"attr.tier": "gold"}), "attr.tier", "set by customer_updated"),
    ]:
        row = {k: v for k, v in row.items() if v is not None}
        add(Case(f"{row['type']} {at}: {words}", [row], at, words))

    # Contracts whose MRR would not fit in the read model's integer cents.
    for row, at in [
        (started(quantity="999999999", unit_price="999999999999.99"), "quantity"),
        (price_change(unit_price="999999999999"), "unit_price"),
        (changed("upsell", quantity="300000000", unit_price="40000"), "quantity"),
    ]:
        add(Case(f"{row['type']}: an MRR too large to keep", [row], at, "more than revledger keeps"))
    add(Case("seat_change: an MRR too large to keep", [started(customer="huge", unit_price="999999999.00"),
             seat_change(customer_id="huge", subscription_id="n1", quantity="999999999")],
             "quantity", "more than revledger keeps"))

    # Contradictory upsell / downgrade claims (acme s1: 200 × 50.00 = 10000.00).
    for kind, cells in [
        ("upsell", {"quantity": "100"}), ("upsell", {"quantity": "200"}), ("upsell", {"unit_price": "49.99"}),
        ("upsell", {"plan": "enterprise"}), ("upsell", {"discount_pct": "5"}), ("upsell", {"billing_months": "12"}),
        ("upsell", {"quantity": "400", "discount_pct": "60"}), ("downgrade", {"quantity": "300"}),
        ("downgrade", {"quantity": "200"}), ("downgrade", {"unit_price": "50.01"}), ("downgrade", {"plan": "basic"}),
        ("downgrade", {"discount_pct": "0"}), ("downgrade", {"quantity": "100", "unit_price": "100.01"}),
    ]:
        claim = "an upsell must raise" if kind == "upsell" else "a downgrade must lower"
        add(Case(f"{kind} with {cells}", [changed(kind, **cells)], "type", f"{claim} line s1's MRR"))

    # Duplicate ids with other content: against the log, and within the file.
    for n, cells in enumerate([{"quantity": "201"}, {"unit_price": "50.01"}, {"plan": "Pro"},
                               {"effective_date": "2026-01-02"}, {"note": "x"}]):
        add(Case(f"recorded id a1 with other content #{n}", [{**HISTORY[0], **cells}], "event_id",
                 "a1 is already recorded with other content"))
    for n, second in enumerate([{"quantity": "6"}, {"effective_date": "2026-02-02"}, {"note": "other"},
                                {"customer_id": "dup-other"}]):
        first = started(customer=f"dup{n}", event_id=f"dup-{n}")
        add(Case(f"id used twice in one file #{n}", [first, {**first, **second}], "event_id", "is also used at"))
    add(Case("two starts of one line in one file", [started(customer="twice", event_id="t1"),
                                                       started(customer="twice", event_id="t2")],
             "subscription_id", "already open"))
    add(Case("a change before the start in the same file", [started(customer="late", event_id="l1"),
                                                              seat_change(customer_id="late", subscription_id="n1",
                                                                          effective_date="2026-01-15")],
             "subscription_id", "not open on 2026-01-15"))

    # Cases about the bytes: encodings and truncation.
    header = ",".join(FIELDS).encode()
    good = csv_line(seat_change(event_id="enc-ok")).encode()
    for name, bad in [
        ("latin-1 é", "caf\xe9".encode("latin-1")),
        ("cp1252 quotes", "\u201chi\u201d".encode("cp1252")),
        ("a lone continuation byte", b"\x80"),
        ("a truncated UTF-8 sequence", b"caf\xc3"),
        ("an overlong encoding", b"\xc0\xaf"),
        ("an encoded surrogate", b"\xed\xa0\x80"),
    ]:
        data = b"x1,customer_updated,acme,2026-01-01,,,,,,,,,,,," + bad
        add(Case(f"csv: {name}", at="-", words="is not UTF-8 text", formats=("csv",), line=3,
                 raw={"csv": header + b"\n" + good + b"\n" + data + b"\n"}))
        js = b'{"type":"customer_updated","customer_id":"acme","effective_date":"2026-01-01","customer_name":"'
        add(Case(f"jsonl: {name}", at="-", words="is not UTF-8 text", formats=("jsonl",), line=2,
                 raw={"jsonl": json_line(seat_change(event_id="enc-ok")).encode() + b"\n" + js + bad + b'"}\n'}))
    utf16 = (",".join(FIELDS) + "\n" + csv_line(seat_change()) + "\n").encode("utf-16")
    add(Case("csv: a UTF-16 file", at="-", words="is not UTF-8 text", formats=("csv",), line=1, raw={"csv": utf16}))
    add(Case("jsonl: a UTF-16 file", at="-", words="is not UTF-8 text", formats=("jsonl",), line=1,
             raw={"jsonl": (json_line(seat_change()) + "\n").encode("utf-16")}))
    for n, cut in enumerate([10, 25, 40, 47]):
        line = csv_line(seat_change(event_id=f"cut{n}", note="the end"))
        add(Case(f"csv: last line cut at {cut}", at="-", words="cells but the header has", formats=("csv",), line=3,
                 raw={"csv": header + b"\n" + good + b"\n" + line[:cut].encode()}))
        jline = json_line(seat_change(event_id=f"cut{n}"))
        add(Case(f"jsonl: last line cut at {cut}", at="-", words="is not a JSON object", formats=("jsonl",), line=2,
                 raw={"jsonl": json_line(seat_change(event_id="enc-ok")).encode() + b"\n" + jline[:cut].encode()}))
    add(Case("csv: an unterminated quote on the last line", at="-", words="is not valid CSV", formats=("csv",), line=3,
             raw={"csv": header + b"\n" + good + b'\nx9,seat_change,acme,2026-02-01,s1,,7,,,,,,,"the end'}))
    add(Case("csv: a stray quote", at="-", words="is not valid CSV", formats=("csv",), line=2,
             raw={"csv": header + b'\nx9,seat_change,acme,2026-02-01,s1,,7,,,,,,,"a"b,,\n'}))
    add(Case("csv: a row with an extra cell", at="-", words="17 cells but the header has 16", formats=("csv",), line=2,
             raw={"csv": header + b"\n" + good + b",extra\n"}))
    add(Case("csv: a header naming a column twice", at="quantity", words="appears twice", formats=("csv",), line=1,
             raw={"csv": header + b",quantity\n" + good + b",7\n"}))
    add(Case("csv: an empty file", at="-", words="the file is empty", formats=("csv",), line=1, raw={"csv": b""}))

    # JSON-specific shapes: numbers, literals, nesting.
    for name, text, at, words in [
        ("NaN literal", '{"type":"price_change","customer_id":"acme","effective_date":"2026-02-01",'
                        '"subscription_id":"s1","unit_price":NaN}', "-", "is not a JSON object"),
        ("Infinity literal", '{"type":"usage_change","customer_id":"globex","effective_date":"2026-02-01",'
                             '"subscription_id":"u1","amount":-Infinity}', "-", "is not a JSON object"),
        ("1e400", '{"type":"usage_change","customer_id":"globex","effective_date":"2026-02-01",'
                  '"subscription_id":"u1","amount":1e400}', "amount", "too large"),
        ("fractional seats as a number", '{"type":"seat_change","customer_id":"acme","effective_date":"2026-02-01",'
                                         '"subscription_id":"s1","quantity":2.5}', "quantity", "not a whole number"),
        ("seats as true", '{"type":"seat_change","customer_id":"acme","effective_date":"2026-02-01",'
                          '"subscription_id":"s1","quantity":true}', "quantity", "plain value"),
        ("a nested object", '{"type":"customer_updated","customer_id":"acme","effective_date":"2026-02-01",'
                            '"customer_name":{"first":"A"}}', "customer_name", "plain value"),
        ("a list", '{"type":"seat_change","customer_id":["acme"],"effective_date":"2026-02-01",'
                   '"subscription_id":"s1","quantity":3}', "customer_id", "plain value"),
        ("the date as a number", '{"type":"seat_change","customer_id":"acme","effective_date":20260201,'
                                 '"subscription_id":"s1","quantity":3}', "effective_date", "YYYY-MM-DD"),
        ("the customer as a number", '{"type":"seat_change","customer_id":42,"effective_date":"2026-02-01",'
                                     '"subscription_id":"s1","quantity":3}', "customer_id", "must be text"),
        ("an array line", '["seat_change","acme"]', "-", "not an object"),
        ("a bare string", '"seat_change"', "-", "not an object"),
        ("a number", "42", "-", "not an object"),
        ("single quotes", "{'type': 'seat_change'}", "-", "is not a JSON object"),
        ("a trailing comma", '{"type":"seat_change",}', "-", "is not a JSON object"),
        ("two objects on a line", '{"type":"cancel"}{"type":"cancel"}', "-", "is not a JSON object"),
    ]:
        add(Case(f"jsonl: {name}", at=at, words=words, formats=("jsonl",), line=2,
                 raw={"jsonl": json_line(seat_change(event_id="enc-ok")).encode() + b"\n" + text.encode() + b"\n"}))
    return cases


def csv_line(row: dict, columns: list[str] = FIELDS) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([row.get(c, "") for c in columns])
    return out.getvalue()


def json_line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False)


def render(case: Case, fmt: str) -> tuple[bytes, int]:
    """The file's bytes and the line the refusal must name."""
    if fmt in case.raw:
        return case.raw[fmt], case.line or 1
    if fmt == "csv":
        extra = sorted({k for row in case.rows for k in row} - set(FIELDS))
        columns = FIELDS + extra
        text = "\n".join([",".join(columns), *(csv_line(r, columns) for r in case.rows)]) + "\n"
        return text.encode(), len(case.rows) + 1
    text = "".join(json_line(r) + "\n" for r in case.rows)
    return text.encode(), len(case.rows)


CORPUS = build_corpus()
PARAMS = [pytest.param(case, fmt, id=f"{fmt}-{i:03d}") for i, case in enumerate(CORPUS) for fmt in case.formats]
PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<field>[^:]+): (?P<message>.+)$")


def stored_count(db: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    rl = Revledger(tmp_path_factory.mktemp("bad-input"))
    rl("init", "--currency", "USD")
    path = rl.folder / "history.jsonl"
    path.write_text("".join(json_line(r) + "\n" for r in HISTORY), encoding="utf-8")
    rl("import", str(path))
    return rl


def test_every_case_runs_in_each_of_its_formats_and_none_repeats_another():
    """The refusal test below sees every case once per format; a repeated file would test nothing new."""
    assert [(case.name, fmt) for case, fmt in (p.values for p in PARAMS)] == [
        (case.name, fmt) for case in CORPUS for fmt in case.formats
    ]
    for case in CORPUS:
        assert case.formats and set(case.formats) <= {"csv", "jsonl"}, case.name
        assert set(case.raw) <= set(case.formats) and (case.rows or set(case.raw) == set(case.formats)), case.name
    files: dict[tuple[str, bytes], str] = {}
    for case, fmt in (p.values for p in PARAMS):
        data, _ = render(case, fmt)
        earlier = files.setdefault((fmt, data), case.name)
        assert earlier == case.name, f"{case.name!r} is the same {fmt} file as {earlier!r}"


MULTI_ROW = [pytest.param(case, id=case.name) for case in CORPUS if len(case.rows) > 1]


@pytest.mark.parametrize("case", MULTI_ROW)
def test_the_rows_before_a_cases_last_are_valid(ledger, case):
    """A case's refusal must come from its last row: the rows before it import cleanly on their own."""
    path = ledger.folder / "prefix.csv"
    path.write_bytes(render(Case(case.name, case.rows[:-1]), "csv")[0])
    result = ledger("import", str(path), "--dry-run")
    assert result.stdout.endswith(f": {len(case.rows) - 1} events valid, 0 already recorded; nothing written (dry run)\n"), result.stdout


@pytest.mark.parametrize("case, fmt", PARAMS)
def test_each_bad_row_is_refused_naming_file_line_field_and_reason(ledger, case, fmt):
    data, line = render(case, fmt)
    path = ledger.folder / f"bad.{fmt}"
    path.write_bytes(data)
    before = stored_count(ledger.db)
    result = ledger("import", str(path), "--format", fmt, ok=False)
    assert result.exit_code == 1, (case.name, result.stdout)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("revledger: ") and lines[-1].endswith("nothing was written"), result.stderr
    problems = [PROBLEM.match(text) for text in lines[:-1]]
    assert all(problems), result.stderr  # every other line is FILE:LINE: field: reason
    named = [p for p in problems if p["file"] == str(path) and int(p["line"]) == line and p["field"] == case.at]
    assert named, f"{case.name}: expected {path}:{line}: {case.at}: …, got\n{result.stderr}"
    if case.words:
        assert any(case.words in p["message"] for p in named), f"{case.name}: {result.stderr}"
    assert stored_count(ledger.db) == before


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_all_the_bad_rows_of_one_file_are_reported_together_as_json(ledger, fmt):
    """One file holding every structured case: each bad row is named, in one pass; nothing is written."""
    body: list[dict] = []
    expected: list[tuple[int, str]] = []
    for case in CORPUS:
        if case.raw or len(case.rows) != 1:
            continue
        body.append(case.rows[0])
        expected.append((len(body) + (1 if fmt == "csv" else 0), case.at))
    good = updated(event_id="fine", customer_id="fine-co", customer_name="Fine")
    body.insert(0, good)  # a valid first row is not written either
    expected = [(line + 1, at) for line, at in expected]
    combined = Case("everything", body)
    data, _ = render(combined, fmt)
    path = ledger.folder / f"all.{fmt}"
    path.write_bytes(data)
    before = stored_count(ledger.db)
    result = ledger("import", str(path), "--errors", "json", ok=False)
    assert result.exit_code == 1
    problems = result.json()
    assert isinstance(problems, list)
    assert all(set(p) == {"file", "line", "field", "message"} for p in problems)
    assert all(p["file"] == str(path) and p["message"] for p in problems)
    found = {(p["line"], p["field"]) for p in problems}
    missing = [e for e in expected if e not in found]
    assert not missing, missing[:10]
    assert {p["line"] for p in problems} == {line for line, _ in expected}  # the valid row is not blamed
    assert [p["line"] for p in problems] == sorted(p["line"] for p in problems)
    assert len(expected) >= 190
    assert stored_count(ledger.db) == before
    assert result.stderr.strip().splitlines()[-1].endswith("nothing was written")


def test_errors_json_names_file_line_field_and_message_exactly(ledger):
    path = ledger.write("two.csv", "type,customer_id,effective_date,subscription_id,quantity\n"
                                   "seat_change,acme,2026-02-30,s1,10\n"
                                   "seat_change,acme,2026-02-01,s1,2.5\n")
    result = ledger("import", path, "--errors", "json", ok=False)
    assert result.exit_code == 1
    assert result.json() == [
        {"file": path, "line": 2, "field": "effective_date", "message": "'2026-02-30' is not a real date"},
        {"file": path, "line": 3, "field": "quantity", "message": "'2.5' is not a whole number of seats"},
    ]
    assert "Traceback" not in result.stderr


def test_the_history_is_intact_after_the_whole_corpus(ledger):
    events = ledger.events()
    assert [e["event_id"] for e in events] == [r["event_id"] for r in HISTORY]
    assert ledger("mrr", "--as-of", "2026-02-15", "--format", "json").json()["mrr"] == "11200.00"
