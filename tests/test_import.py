"""Getting events in: idempotent imports, dry runs, the recorded clock, and the hash chain."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from conftest import run_installed

FILE = """\
event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,segment
e1,subscription_started,acme,2026-01-01,s1,pro,200,50.00,,
e2,customer_updated,acme,2026-01-01,,,,,,Enterprise
e3,seat_change,acme,2026-02-01,s1,,150,,,
,subscription_started,globex,2026-01-15,u1,usage,,,300.00,
"""


def test_importing_a_file_twice_leaves_the_log_unchanged(rl):
    path = rl.write("events.csv", FILE)
    first = rl("import", path)
    assert "appended 4 events (sequence 1–4" in first.stdout
    log = rl.events()
    again = rl("import", path)
    assert "nothing new; all 4 events were already recorded" in again.stdout
    assert rl.events() == log


def test_a_row_without_event_id_gets_one_derived_from_its_content(rl):
    rl("import", rl.write("events.csv", FILE))
    derived = rl.events()[3]["event_id"]
    assert derived.startswith("ev-")
    # the same content in another file, another position: the same id, so a no-op
    rl("import", rl.write("again.csv", "type,customer_id,effective_date,subscription_id,plan,amount\n"
                                        "subscription_started,globex,2026-01-15,u1,usage,300.00\n"))
    assert [e["event_id"] for e in rl.events()].count(derived) == 1


def test_dry_run_writes_nothing(rl):
    path = rl.write("events.csv", FILE)
    result = rl("import", path, "--dry-run")
    assert "4 events valid" in result.stdout and "nothing written" in result.stdout
    assert rl.events() == []


def test_recorded_at_sets_the_time_of_a_whole_import(rl):
    rl("import", rl.write("events.csv", FILE), "--recorded-at", "2026-02-01T09:00:00Z")
    times = [e["recorded_at"] for e in rl.events()]
    assert times[-1] == "2026-02-01T09:00:00.000000Z"  # the import is fully known at the time given
    assert times == sorted(times) and len(set(times)) == 4  # strictly increasing


def test_recorded_at_refuses_a_time_before_the_latest(rl):
    rl("import", rl.write("a.csv", FILE), "--recorded-at", "2026-02-01T09:00:00Z")
    more = rl.write("b.csv", "type,customer_id,effective_date,subscription_id,quantity\nseat_change,acme,2026-03-01,s1,100\n")
    result = rl("import", more, "--recorded-at", "2026-01-15", ok=False)
    assert result.exit_code == 1
    assert "is not later than the log's latest recorded time 2026-02-01T09:00:00.000000Z" in result.stderr
    assert len(rl.events()) == 4


def test_recorded_at_refuses_the_future(rl):
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    result = rl("import", rl.write("a.csv", FILE), "--recorded-at", future, ok=False)
    assert "is in the future" in result.stderr
    assert rl.events() == []


def test_log_json_returns_the_events_with_a_hash_chain_that_recomputes(rl):
    rl("import", rl.write("events.csv", FILE))
    rl("record", "upsell", "--customer", "acme", "--date", "2026-03-01", "--subscription", "s1", "--quantity", "180",
       "--actor", "maria")
    events = rl.events()
    assert [e["sequence"] for e in events] == [1, 2, 3, 4, 5]
    assert [e["event_id"] for e in events[:3]] == ["e1", "e2", "e3"]
    assert events[0]["unit_price"] == "50.00" and events[0]["quantity"] == 200
    assert events[1]["segment"] == "Enterprise"
    assert events[2]["source"].endswith("events.csv:4") and events[4]["source"] == "cli"
    assert events[4]["actor"] == "maria"
    # SPEC §9, recomputed here independently: sha256(previous hash, canonical content)
    previous = "0" * 64
    for event in events:
        content = {k: v for k, v in event.items() if k != "hash"}
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        previous = hashlib.sha256(f"{previous}\n{text}".encode()).hexdigest()
        assert event["hash"] == previous


def test_log_filters_by_customer_and_known_at(rl):
    rl("import", rl.write("a.csv", FILE), "--recorded-at", "2026-02-01")  # a bare date: the end of that day
    rl("record", "seat_change", "--customer", "acme", "--date", "2026-03-01", "--subscription", "s1", "--quantity", "10")
    assert [e["event_id"] for e in rl.events("--customer", "globex")] == [rl.events()[3]["event_id"]]
    assert len(rl.events("--known-at", "2026-02-01")) == 4
    assert len(rl.events("--known-at", "2026-01-31")) == 0


def test_periods_become_starts_and_cancels(rl):
    path = rl.write(
        "periods.csv",
        "customer_id,start_date,end_date,monthly_amount\n"
        "acme,2026-01-01,2026-03-31,100.00\n"
        "acme,2026-04-01,,120.00\n",
    )
    rl("import", path, "--format", "periods")
    moves = rl("movements", "--from", "2026-01-01", "--to", "2026-12-31", "--format", "json").json()["movements"]
    assert [(m["date"], m["category"], m["cause"], m["to_mrr"]) for m in moves] == [
        ("2026-01-01", "new", None, "100.00"),
        ("2026-04-01", "expansion", "mixed", "120.00"),  # one line ends the day another starts
    ]


def test_periods_end_exclusive(rl):
    path = rl.write("p.csv", "customer_id,start_date,end_date,monthly_amount\nacme,2026-01-01,2026-04-01,100.00\n")
    rl("import", path, "--format", "periods", "--end-exclusive")
    moves = rl("movements", "--from", "2026-01-01", "--to", "2026-12-31", "--format", "json").json()["movements"]
    assert [(m["date"], m["category"]) for m in moves] == [("2026-01-01", "new"), ("2026-04-01", "churn")]


def test_the_installed_command_works_end_to_end(tmp_path):
    (tmp_path / "events.csv").write_text(FILE)
    env = {"REVLEDGER_DB": str(tmp_path / "x.db")}
    assert run_installed("init", cwd=tmp_path, env=env).exit_code == 0
    assert run_installed("import", "events.csv", cwd=tmp_path, env=env).exit_code == 0
    result = run_installed("mrr", "--as-of", "2026-02-01", "--format", "json", cwd=tmp_path, env=env)
    assert result.exit_code == 0, result.stderr
    assert result.json()["mrr"] == "7800.00"  # 150 × 50.00 + 300.00
    bad = run_installed("import", "missing.csv", cwd=tmp_path, env=env)
    assert bad.exit_code == 1 and bad.stderr == "revledger: missing.csv: no such file\n"


def test_no_ledger_is_a_one_line_error(tmp_path):
    result = run_installed("--db", str(tmp_path / "none.db"), "log", cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.startswith("revledger: no ledger at") and "Traceback" not in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_init_twice_is_refused(tmp_path):
    env = {"REVLEDGER_DB": str(tmp_path / "x.db")}
    run_installed("init", cwd=tmp_path, env=env)
    again = run_installed("init", cwd=tmp_path, env=env)
    assert again.exit_code == 1 and "a ledger already exists" in again.stderr
