"""Excel exports: one sheet per table, money as numbers with two decimals, ratios as percentages."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest

EVENTS = """\
event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
e1,subscription_started,acme,2026-01-05,main,Pro,10,100,
e2,subscription_started,globex,2026-01-10,main,Flat,,,2500.10
e3,seat_change,acme,2026-02-01,main,,8,,
e4,cancel,globex,2026-02-15,main,,,,
e5,upsell,acme,2026-03-01,main,,12,,
"""


@pytest.fixture
def ledger(rl):
    rl("import", rl.write("events.csv", EVENTS))
    return rl


def header_row(ws, first: str) -> int:
    for row in ws.iter_rows(min_col=1, max_col=1):
        if row[0].value == first:
            return row[0].row
    raise AssertionError(f"no header starting {first!r}")


def records(ws, first: str) -> list[dict]:
    top = header_row(ws, first)
    keys = [c.value for c in ws[top]]
    out = []
    for row in ws.iter_rows(min_row=top + 1):
        out.append({k: c for k, c in zip(keys, row)})
    return out


def test_movements_workbook_has_numbers_not_text(ledger, tmp_path):
    path = tmp_path / "movements.xlsx"
    result = ledger("movements", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "xlsx", "--out", str(path))
    assert "wrote 5 movements" in result.stdout
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["movements"]
    ws = book["movements"]
    assert ws["A1"].value.startswith("Movements 2026-01-01 – 2026-03-31 (USD), as known at ")
    rows = records(ws, "date")
    assert [r["customer"].value for r in rows] == ["acme", "globex", "acme", "globex", "acme"]
    churn = rows[3]
    assert churn["category"].value == "churn"
    assert churn["from MRR"].value == pytest.approx(2500.10) and churn["from MRR"].data_type == "n"
    assert churn["amount"].number_format == "#,##0.00"
    assert Decimal(str(churn["amount"].value)) == Decimal("2500.10")
    assert churn["date"].value == datetime(2026, 2, 15)


def test_xlsx_needs_a_file(ledger):
    result = ledger("movements", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "xlsx", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == "revledger: --format xlsx writes a workbook: give it a file with --out FILE.xlsx"


def test_metrics_workbook_matches_the_json(ledger, tmp_path):
    path = tmp_path / "metrics.xlsx"
    ledger("metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "xlsx", "--out", str(path))
    report = ledger("metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "json").json()
    ws = openpyxl.load_workbook(path)["metrics"]
    rows = records(ws, "start")
    assert len(rows) == len(report["periods"]) == 3
    for row, period in zip(rows, report["periods"]):
        assert Decimal(str(row["closing_mrr"].value)) == Decimal(period["closing_mrr"])
        assert row["closing_mrr"].number_format == "#,##0.00"
        if period["retention"]["nrr"] is not None:
            assert Decimal(str(row["retention.nrr"].value)) == Decimal(period["retention"]["nrr"])
            assert row["retention.nrr"].number_format == "0.00%"
        assert row["customers.closing"].value == period["customers"]["closing"]
    february = rows[1]
    assert Decimal(str(february["bridge.churn"].value)) == Decimal("2500.10")
    assert Decimal(str(february["bridge.contraction"].value)) == Decimal("200.00")


def test_cohorts_and_explain_workbooks(ledger, tmp_path):
    cohorts = tmp_path / "cohorts.xlsx"
    ledger("cohorts", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "xlsx", "--out", str(cohorts))
    rows = records(openpyxl.load_workbook(cohorts)["cohorts"], "cohort")
    assert [(r["cohort"].value, r["k"].value) for r in rows] == [("2026-01", 0), ("2026-01", 1), ("2026-01", 2)]
    assert Decimal(str(rows[0]["mrr"].value)) == Decimal("3500.10")
    assert rows[2]["nrr"].number_format == "0.00%"

    explain = tmp_path / "explain.xlsx"
    ledger("explain", "bridge.churn", "--from", "2026-02-01", "--to", "2026-02-28", "--format", "xlsx", "--out", str(explain))
    book = openpyxl.load_workbook(explain)
    assert book.sheetnames == ["figure", "customers", "movements", "events"]
    figure = records(book["figure"], "metric")[0]
    assert figure["metric"].value == "bridge.churn" and Decimal(str(figure["value"].value)) == Decimal("2500.10")
    events = records(book["events"], "customer_id")
    assert [(e["customer_id"].value, e["event_id"].value, e["sequence"].value) for e in events] == [("globex", "e4", 4)]
