"""`revledger generate`: a synthetic file that is the same for a seed, and valid row by row in file order."""

from __future__ import annotations

import csv
import io
from collections import Counter
from decimal import Decimal

import pytest

from conftest import IN_CI
from ledger.events import EVENT_TYPES
from cli.synthetic import COLUMNS, generate, write


def rows_of(customers: int, months: int = 36, seed: int = 1) -> list[dict[str, str]]:
    return list(generate(customers, months, seed))


def test_the_same_seed_writes_the_same_bytes(rl):
    first = rl.folder / "first.csv"
    second = rl.folder / "second.csv"
    other = rl.folder / "other.csv"
    rl("generate", "--customers", "200", "--months", "12", "--seed", "42", "--out", str(first))
    rl("generate", "--customers", "200", "--months", "12", "--seed", "42", "--out", str(second))
    rl("generate", "--customers", "200", "--months", "12", "--seed", "43", "--out", str(other))
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_generate_reports_what_it_wrote(rl):
    out = rl.folder / "events.csv"
    result = rl("generate", "--customers", "50", "--months", "6", "--seed", "3", "--out", str(out))
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert result.stdout == f"{out}: wrote {len(lines) - 1} events for 50 customers over 6 months (seed 3)\n"


def test_generate_refuses_a_folder_that_does_not_exist(rl):
    result = rl("generate", "--customers", "5", "--months", "2", "--out", str(rl.folder / "no" / "x.csv"), ok=False)
    assert result.exit_code == 1
    assert result.stderr == f"revledger: --out {rl.folder / 'no' / 'x.csv'}: no such folder {rl.folder / 'no'}\n"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt, seed", [("csv", 11), ("jsonl", 12)])
def test_every_generated_row_imports_cleanly_in_file_order(rl, fmt, seed):
    out = rl.folder / f"events.{fmt}"
    rl("generate", "--customers", "120", "--months", "36", "--seed", str(seed), "--format", fmt, "--out", str(out))
    rows = sum(1 for line in out.read_text().splitlines() if line) - (fmt == "csv")
    result = rl("import", str(out))
    assert f"appended {rows} events (sequence 1–{rows}" in result.stdout
    # the projections agree with the ledger's own invariant over every month
    report = rl("metrics", "--from", "2024-01-01", "--to", "2026-12-31", "--format", "json").json()
    for period in report["periods"]:
        assert Decimal(period["opening_mrr"]) + Decimal(period["bridge"]["net_new"]) == Decimal(period["closing_mrr"])


@pytest.mark.slow
def test_many_seeds_import_cleanly(rl):
    """Validity by construction, over more seeds (a wrong claim or a stranded event would be refused)."""
    for seed in range(20 if IN_CI else 4):
        out = rl.folder / f"seed{seed}.csv"
        rl("generate", "--customers", "60", "--months", "36", "--seed", str(seed), "--out", str(out))
        # one ledger per seed: customer ids repeat across seeds
        rl.db = str(rl.folder / f"seed{seed}.db")
        rl("init", "--currency", "USD")
        assert "appended" in rl("import", str(out)).stdout, f"seed {seed}"


def test_every_event_type_appears():
    kinds = Counter(row["type"] for row in rows_of(400))
    assert set(kinds) == set(EVENT_TYPES)


def test_about_ten_events_per_customer_over_36_months():
    rows = rows_of(1000)
    assert 8_000 <= len(rows) <= 12_000


def test_the_file_has_what_a_finance_team_sees():
    rows = rows_of(400)
    started = [r for r in rows if r["type"] == "subscription_started"]
    cancels = [r for r in rows if r["type"] == "cancel"]
    assert any("quantity" in r for r in started) and any("amount" in r for r in started)  # seat and flat lines
    assert any(r.get("billing_months") == "12" for r in started)  # annual plans
    assert any("discount_pct" in r for r in started)
    assert any("subscription_id" in r for r in cancels) and any("subscription_id" not in r for r in cancels)
    updates = [r for r in rows if r["type"] == "customer_updated"]
    for name in ("segment", "channel", "region", "attr.industry", "customer_name"):
        assert any(name in r for r in updates), name
    # a customer starts its main line again after cancelling everything: a reactivation
    seen: dict[tuple[str, str], int] = Counter()
    for r in started:
        seen[r["customer_id"], r["subscription_id"]] += 1
    assert any(count > 1 and sid == "main" for (_, sid), count in seen.items())


def test_late_backdated_corrections_and_voids_appear():
    rows = rows_of(400)
    latest: dict[str, str] = {}
    backdated = 0
    for r in rows:
        if r["type"] == "void":
            continue
        if r["effective_date"] < latest.get(r["customer_id"], ""):
            backdated += 1
        latest[r["customer_id"]] = max(latest.get(r["customer_id"], ""), r["effective_date"])
    assert backdated >= 10
    ids = {r["event_id"]: r for r in rows}
    voids = [r for r in rows if r["type"] == "void"]
    assert len(voids) >= 5
    for void in voids:
        target = ids[void["target_event_id"]]
        assert target["customer_id"] == void["customer_id"]
        assert target["type"] in ("customer_updated", "price_change")
        assert rows.index(target) < rows.index(void)


def test_rows_come_out_in_recording_order_month_by_month():
    """Streamed month by month: apart from backdated corrections, effective dates never go back a month."""
    rows = rows_of(200, months=12)
    months = [r["effective_date"][:7] for r in rows if r["type"] != "void" and "note" not in r]
    assert months == sorted(months)
    assert months[0] == "2024-01" and months[-1] == "2024-12"


def test_event_ids_are_unique():
    rows = rows_of(300)
    assert len({r["event_id"] for r in rows}) == len(rows)


def test_csv_and_jsonl_carry_the_same_rows():
    as_csv, as_jsonl = io.StringIO(), io.StringIO()
    assert write(generate(30, 6, 5), as_csv, "csv") == write(generate(30, 6, 5), as_jsonl, "jsonl")
    from_csv = [{k: v for k, v in row.items() if v} for row in csv.DictReader(io.StringIO(as_csv.getvalue()))]
    import json

    from_jsonl = [{k: str(v) for k, v in json.loads(line).items()} for line in as_jsonl.getvalue().splitlines()]
    assert from_csv == from_jsonl
