"""`log --format csv` carries every field `--format json` does, and imports back into a new ledger unchanged."""

from __future__ import annotations

import csv
import io

from conftest import FIXTURES, Revledger

from ledger.events import RECORD_FIELDS

# What a ledger assigns at append (who, when, where, the chain): not the event's content.
ASSIGNED = set(RECORD_FIELDS)


def content(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ASSIGNED}


def as_text(value) -> str:
    return "" if value is None else str(value)


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_log_has_every_field_of_the_json_log(rl):
    rl("import", str(FIXTURES / "example.csv"))
    rl("record", "customer_updated", "--customer", "cust-001", "--date", "2026-06-01", "--attr", "tier=gold",
       "--note", 'two lines,\nand "quotes"')
    logged = rl.events()
    text = rl("log", "--format", "csv").stdout
    header = text.split("\n", 1)[0].split(",")
    assert {k for r in logged for k in r} <= set(header)
    for name in ("customer_name", "segment", "channel", "region", "attr.industry", "attr.tier", "cause", "append_last"):
        assert name in header
    table = rows(text)
    assert len(table) == len(logged)
    for record, row in zip(logged, table):
        assert {k: as_text(v) for k, v in record.items()} == {k: v for k, v in row.items() if v != ""}
    hooli = next(r for r in table if r["customer_id"] == "cust-001" and r["customer_name"])
    assert hooli["customer_name"] == "Hooli, Inc."


def test_the_csv_log_imports_back_into_a_new_ledger_unchanged(rl, tmp_path):
    rl("import", str(FIXTURES / "example.csv"))
    rl("record", "upsell", "--customer", "cust-010", "--subscription", "platform", "--date", "2026-11-02",
       "--amount", "200000.00", "--cause", "price", "--note", 'renewal, "uplift"\nsigned by the CFO')
    rl("record", "customer_updated", "--customer", "cust-002", "--date", "2026-11-02", "--attr", "tier=gold")
    exported = tmp_path / "log.csv"
    rl("log", "--format", "csv", "--out", str(exported))

    other = tmp_path / "other"
    other.mkdir()
    copy = Revledger(other)
    copy("init", "--currency", "USD")
    result = copy("import", str(exported))
    original = rl.events()
    assert f"appended {len(original)} events" in result.stdout
    again = copy.events()
    assert [content(e) for e in again] == [content(e) for e in original]
    assert [e["sequence"] for e in again] == [e["sequence"] for e in original]
    # The copy computes the same figures from them.
    span = ("--from", "2025-01-01", "--to", "2026-12-31", "--period", "year", "--format", "json")
    assert copy("metrics", *span).json()["periods"] == rl("metrics", *span).json()["periods"]


def test_a_ledger_assigned_column_alone_is_still_refused(rl):
    """Only a whole logged row (sequence, recorded_at, actor, source and hash) is read as an export."""
    path = rl.write("bad.csv", """\
        type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,recorded_at
        subscription_started,acme,2026-01-05,main,Pro,10,100,2020-01-01T00:00:00Z
        """)
    result = rl("import", path, ok=False)
    assert result.exit_code == 1 and "recorded_at: unknown field 'recorded_at'" in result.stderr
