"""A file of another format gets one line saying what it looks like and which --format reads it (SPEC §10, §14)."""

from __future__ import annotations

import json

import pytest

EVENTS = "type,customer_id,effective_date,subscription_id,plan,amount\nsubscription_started,acme,2026-01-01,s1,pro,100\n"
PERIODS = "customer_id,start_date,end_date,monthly_amount\nacme,2026-01-01,,100\n"
INVOICES = ("customer_id,invoice_id,invoice_date,subscription_id,plan,amount,service_period_start,service_period_end\n"
            "acme,in1,2026-01-01,s1,pro,100,2026-01-01,2026-02-01\n")
STRIPE = json.dumps({"object": "list", "data": [{"id": "in_1", "object": "invoice"}]}, indent=2) + "\n"
JSONL = json.dumps({"type": "subscription_started", "customer_id": "acme"}) + "\n"

LOOKS_PERIODS = "a periods CSV (its header has customer_id, start_date, end_date, monthly_amount)"
LOOKS_EVENTS = "an event CSV (its header has type, customer_id, effective_date, …)"
LOOKS_INVOICES = "an invoice-line CSV (its header has invoice_id, service_period_start, …)"
LOOKS_STRIPE = "Stripe JSON (invoice, subscription and customer objects)"


@pytest.mark.parametrize("name, text, fmt, message", [
    ("p.csv", PERIODS, "csv", f"this looks like {LOOKS_PERIODS}, not --format csv: import it with --format periods"),
    ("e.csv", EVENTS, "periods", f"this looks like {LOOKS_EVENTS}, not --format periods: import it with --format csv"),
    ("i.csv", INVOICES, "csv", f"this looks like {LOOKS_INVOICES}, not --format csv: import it with --format invoices"),
    ("i.csv", INVOICES, "periods",
     f"this looks like {LOOKS_INVOICES}, not --format periods: import it with --format invoices"),
    ("s.csv", STRIPE, "csv", f"this looks like {LOOKS_STRIPE}, not --format csv: import it with --format stripe"),
    ("s.jsonl", STRIPE, "jsonl", f"this looks like {LOOKS_STRIPE}, not --format jsonl: import it with --format stripe"),
    ("e.jsonl", EVENTS, "jsonl", f"this looks like {LOOKS_EVENTS}, not --format jsonl: import it with --format csv"),
    ("e.csv", JSONL, "csv", "this looks like JSON Lines of events, not --format csv: import it with --format jsonl"),
    ("e.csv", EVENTS, "invoices", f"this looks like {LOOKS_EVENTS}, not --format invoices: import it with --format csv"),
    ("e.csv", EVENTS, "stripe", f"this looks like {LOOKS_EVENTS}, not --format stripe: import it with --format csv"),
    ("p.csv", PERIODS.replace(",", ";"), "periods",
     "this looks like CSV separated by semicolons; revledger reads comma-separated CSV: save it with commas "
     "(in Excel: CSV UTF-8 (Comma delimited))"),
    ("e.csv", EVENTS.replace(",", "\t"), "csv",
     "this looks like CSV separated by tabs; revledger reads comma-separated CSV: save it with commas "
     "(in Excel: CSV UTF-8 (Comma delimited))"),
    ("e.csv", EVENTS.splitlines()[0] + "\n", "csv", "the file has a header row but no rows: nothing to import"),
    ("p.csv", PERIODS.splitlines()[0] + "\n\n", "periods", "the file has a header row but no rows: nothing to import"),
])
def test_a_file_of_another_format_gets_one_line(rl, name, text, fmt, message):
    path = rl.write(name, text)
    result = rl("import", path, "--format", fmt, ok=False)
    assert result.exit_code == 1
    assert result.stderr == f"revledger: {path}: {message}\n"  # one line, not one per row
    assert rl.events() == []


def test_a_utf16_file_is_one_problem(rl):
    path = rl.folder / "e.csv"
    path.write_bytes(EVENTS.encode("utf-16"))
    result = rl("import", str(path), ok=False)
    assert result.stderr.splitlines() == [
        f"{path}:1: -: is not UTF-8 text: the file is UTF-16; save it as UTF-8 (in Excel: CSV UTF-8) and import it again",
        "revledger: 1 problem; nothing was written",
    ]


@pytest.mark.parametrize("name, text", [("e.csv", EVENTS), ("e.jsonl", json.dumps(
    {"type": "subscription_started", "customer_id": "acme", "effective_date": "2026-01-01", "subscription_id": "s1",
     "plan": "pro", "amount": "100"}) + "\n")])
def test_a_utf8_byte_order_mark_is_read_past(rl, name, text):
    path = rl.folder / name
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert "appended 1 event (sequence " in rl("import", str(path)).stdout


def test_a_folder_is_not_a_file(rl):
    (rl.folder / "exports").mkdir()
    result = rl("import", str(rl.folder / "exports"), ok=False)
    assert result.stderr == f"revledger: {rl.folder / 'exports'}: is a folder; import its files one at a time\n"


@pytest.mark.parametrize("name, text, made", [
    ("p.csv", PERIODS, "subscription_started"),
    ("i.csv", INVOICES, "subscription_started"),
    ("s.json", json.dumps({"object": "list", "data": []}), None),
])
def test_without_format_the_contents_say_which_it_is(rl, name, text, made):
    result = rl("import", rl.write(name, text), ok=made is not None)
    if made is None:  # read as Stripe JSON: it holds no invoices
        assert result.stderr.splitlines()[0].endswith("holds no Stripe invoice objects: nothing to import")
    else:
        assert [e["type"] for e in rl.events()] == [made]
