"""`query` (SPEC §16): the documented views on a small ledger worked by hand, against the ledger's own reads and
an independent fold for generated histories, and read-only however it is asked to write.

The hand-worked ledger, in three appends and a close:

    15 Feb  acme smb (gold) from 01-01; core 10 × 100.00 from 01-05; 15 seats from 02-01
            beta enterprise from 01-10; core flat 3000.00 from 01-20; upsell to 9000.00 on 02-10 (a typo)
    20 Feb  the upsell voided
    1 May   acme cancels 03-01; mid from 03-15; restarts flat 800.00 on 04-01; mid again 05-01 (no change)
    now     January closed and locked by the controller
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oracle
from conftest import IN_CI, Revledger, installed_revledger, record_history, run_installed
from ledger.clock import parse_instant
from ledger.money import from_cents
from projections import queries, views
from projections.metrics import metrics_report
from projections.query import QueryRefused, answer, check_statement, run
from projections.readmodel import default_path
from strategies import FIRST_DAY, LAST_DAY, event_histories

FEB = """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,segment,attr.tier
    a1,customer_updated,acme,2026-01-01,,,,,,smb,gold
    a2,subscription_started,acme,2026-01-05,core,team,10,100.00,,,
    b1,customer_updated,beta,2026-01-10,,,,,,enterprise,
    b2,subscription_started,beta,2026-01-20,core,flat,,,3000.00,,
    a3,seat_change,acme,2026-02-01,core,,15,,,,
    b3,upsell,beta,2026-02-10,core,,,,9000.00,,
    """
VOID = """
    event_id,type,customer_id,effective_date,target_event_id,reason
    v1,void,beta,2026-02-10,b3,typo
    """
MAY = """
    event_id,type,customer_id,effective_date,subscription_id,plan,amount,segment
    a4,cancel,acme,2026-03-01,core,,,
    a5,customer_updated,acme,2026-03-15,,,,mid
    a6,subscription_started,acme,2026-04-01,core,platform,800.00,
    a7,customer_updated,acme,2026-05-01,,,,mid
    """
AFTER_FEB = "2026-02-16"  # --known-at: the typo in, not yet voided


@pytest.fixture
def ledger(rl):
    rl("import", rl.write("feb.csv", FEB), "--recorded-at", "2026-02-15T09:00:00Z")
    rl("import", rl.write("void.csv", VOID), "--recorded-at", "2026-02-20T09:00:00Z")
    rl("import", rl.write("may.csv", MAY), "--recorded-at", "2026-05-01T09:00:00Z")
    rl("close", "2026-01", "--lock", "--actor", "controller")
    return rl


def select(rl: Revledger, sql: str, *options: str) -> list[tuple]:
    return [tuple(row) for row in rl("query", sql, "--format", "json", *options).json()["rows"]]


# -- the views, worked by hand --------------------------------------------------------------------------


def test_every_view_has_exactly_the_documented_columns(ledger):
    spec = {  # SPEC §16, and the two more views docs/query.md documents
        "events": ["sequence", "event_id", "type", "customer_id", "effective_date", "recorded_at", "actor", "source",
                   "hash", "record"],
        "movements": ["customer_id", "date", "category", "cause", "from_cents", "to_cents", "amount_cents", "event_ids",
                      "segment", "channel", "region"],
        "customer_mrr": ["customer_id", "valid_from", "valid_to", "mrr_cents"],
        "attributes": ["customer_id", "name", "value", "valid_from", "valid_to"],
        "closes": ["period", "start", "end", "locked", "sequence", "recorded_at", "actor"],
        "lines": ["customer_id", "subscription_id", "plan", "quantity", "billing_months", "valid_from", "valid_to",
                  "mrr_cents"],
        "knowledge": ["sequence", "known_at", "policy"],
    }
    assert {name: [c.name for c in columns] for name, columns in views.VIEWS.items()} == spec
    for name, columns in spec.items():
        assert ledger("query", f"SELECT * FROM {name} LIMIT 0", "--format", "json").json()["columns"] == columns


def test_customer_mrr_runs_from_the_first_event_zero_runs_included(ledger):
    assert select(ledger, "SELECT * FROM customer_mrr ORDER BY customer_id, valid_from") == [
        ("acme", "2026-01-01", "2026-01-05", 0),  # its first event is the attribute update of 1 January
        ("acme", "2026-01-05", "2026-02-01", 100000),
        ("acme", "2026-02-01", "2026-03-01", 150000),
        ("acme", "2026-03-01", "2026-04-01", 0),
        ("acme", "2026-04-01", None, 80000),
        ("beta", "2026-01-10", "2026-01-20", 0),
        ("beta", "2026-01-20", None, 300000),  # the voided upsell is gone
    ]


def test_customer_mrr_as_known_before_the_void(ledger):
    assert select(ledger, "SELECT * FROM customer_mrr WHERE customer_id = 'beta' ORDER BY valid_from", "--known-at",
                  AFTER_FEB) == [
        ("beta", "2026-01-10", "2026-01-20", 0),
        ("beta", "2026-01-20", "2026-02-10", 300000),
        ("beta", "2026-02-10", None, 900000),
    ]


def test_movements_carry_cents_and_the_attributes_as_of_their_date(ledger):
    assert select(ledger, "SELECT * FROM movements ORDER BY date, customer_id") == [
        ("acme", "2026-01-05", "new", None, 0, 100000, 100000, '["a2"]', "smb", None, None),
        ("beta", "2026-01-20", "new", None, 0, 300000, 300000, '["b2"]', "enterprise", None, None),
        ("acme", "2026-02-01", "expansion", "seats", 100000, 150000, 50000, '["a3"]', "smb", None, None),
        ("acme", "2026-03-01", "churn", None, 150000, 0, 150000, '["a4"]', "smb", None, None),
        ("acme", "2026-04-01", "reactivation", None, 0, 80000, 80000, '["a6"]', "mid", None, None),
    ]
    # the same question as known before the last append: acme had not cancelled, beta's typo stood... then was voided
    assert select(ledger, "SELECT customer_id, date, category, amount_cents FROM movements ORDER BY date, customer_id",
                  "--known-at", AFTER_FEB) == [
        ("acme", "2026-01-05", "new", 100000), ("beta", "2026-01-20", "new", 300000),
        ("acme", "2026-02-01", "expansion", 50000), ("beta", "2026-02-10", "expansion", 600000),
    ]


def test_money_in_the_views_is_integer_cents_never_real(ledger):
    found = select(ledger, """
        SELECT DISTINCT typeof(from_cents), typeof(to_cents), typeof(amount_cents) FROM movements
        UNION SELECT DISTINCT typeof(mrr_cents), typeof(mrr_cents), typeof(mrr_cents) FROM customer_mrr
        UNION SELECT DISTINCT typeof(mrr_cents), typeof(mrr_cents), typeof(mrr_cents) FROM lines""")
    assert found == [("integer", "integer", "integer")]


def test_attributes_keep_the_attr_prefix_and_join_runs_of_one_value(ledger):
    assert select(ledger, "SELECT * FROM attributes ORDER BY customer_id, name, valid_from") == [
        ("acme", "attr.tier", "gold", "2026-01-01", None),
        ("acme", "segment", "smb", "2026-01-01", "2026-03-15"),
        ("acme", "segment", "mid", "2026-03-15", None),  # set to mid again on 05-01: the same run
        ("beta", "segment", "enterprise", "2026-01-10", None),
    ]
    assert select(ledger, "SELECT * FROM attributes WHERE customer_id = 'acme' AND name = 'segment'",
                  "--known-at", AFTER_FEB) == [("acme", "segment", "smb", "2026-01-01", None)]


def test_of_two_settings_on_one_day_the_later_recorded_counts(ledger):
    ledger("record", "customer_updated", "--customer", "beta", "--date", "2026-01-20", "--segment", "mid", "--restate", "late")
    ledger("record", "customer_updated", "--customer", "beta", "--date", "2026-01-20", "--segment", "large", "--restate", "late")
    assert select(ledger, "SELECT value, valid_from, valid_to FROM attributes WHERE customer_id = 'beta'") == [
        ("enterprise", "2026-01-10", "2026-01-20"), ("large", "2026-01-20", None)]
    assert select(ledger, "SELECT date, segment FROM movements WHERE customer_id = 'beta'") == [("2026-01-20", "large")]


def test_a_line_changed_twice_in_one_day_has_one_run_for_the_day(rl):
    rl("import", rl.write("day.csv", """
        event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price
        s1,subscription_started,acme,2026-01-05,core,team,10,100.00
        s2,seat_change,acme,2026-02-01,core,,12,
        s3,seat_change,acme,2026-02-01,core,,20,
        s4,seat_change,acme,2026-02-01,core,,10,
        s5,cancel,acme,2026-03-01,core,,,
        s6,subscription_started,acme,2026-03-01,core,pro,10,150.00
        """))
    # 1 February ends where it began (10 seats): no new run; on 1 March a cancel and a restart, netted
    assert select(rl, "SELECT plan, quantity, valid_from, valid_to, mrr_cents FROM lines ORDER BY valid_from") == [
        ("team", 10, "2026-01-05", "2026-03-01", 100000), ("pro", 10, "2026-03-01", None, 150000)]
    assert select(rl, "SELECT valid_from, valid_to, mrr_cents FROM customer_mrr") == [
        ("2026-01-05", "2026-03-01", 100000), ("2026-03-01", None, 150000)]


def test_events_hold_every_event_voided_ones_and_closes_included(ledger):
    found = select(ledger, "SELECT sequence, event_id, type, customer_id, effective_date, actor FROM events ORDER BY sequence")
    assert [row[:5] for row in found[:-1]] == [
        (1, "a1", "customer_updated", "acme", "2026-01-01"), (2, "a2", "subscription_started", "acme", "2026-01-05"),
        (3, "b1", "customer_updated", "beta", "2026-01-10"), (4, "b2", "subscription_started", "beta", "2026-01-20"),
        (5, "a3", "seat_change", "acme", "2026-02-01"), (6, "b3", "upsell", "beta", "2026-02-10"),
        (7, "v1", "void", "beta", "2026-02-10"), (8, "a4", "cancel", "acme", "2026-03-01"),
        (9, "a5", "customer_updated", "acme", "2026-03-15"), (10, "a6", "subscription_started", "acme", "2026-04-01"),
        (11, "a7", "customer_updated", "acme", "2026-05-01"),
    ]
    close = found[-1]
    assert (close[0], close[2], close[3], close[4], close[5]) == (12, "period_closed", None, "2026-01-31", "controller")
    log = {e["sequence"]: e for e in ledger.events()}
    for sequence, recorded_at, source, hash_, record in select(
            ledger, "SELECT sequence, recorded_at, source, hash, record FROM events"):
        assert (recorded_at, source, hash_) == (log[sequence]["recorded_at"], log[sequence]["source"], log[sequence]["hash"])
        assert json.loads(record)["event_id"] == log[sequence]["event_id"]
    assert select(ledger, "SELECT count(*) FROM events", "--known-at", AFTER_FEB) == [(6,)]


def test_closes_carry_the_close_s_own_sequence(ledger):
    found = select(ledger, "SELECT * FROM closes")
    assert [row[:5] + row[6:] for row in found] == [("2026-01", "2026-01-01", "2026-01-31", 1, 12, "controller")]
    assert found[0][5] == ledger.events()[-1]["recorded_at"]
    assert select(ledger, "SELECT count(*) FROM closes", "--known-at", "2026-05-02") == [(0,)]


def test_lines_list_each_open_line_s_runs(ledger):
    assert select(ledger, "SELECT * FROM lines ORDER BY customer_id, valid_from") == [
        ("acme", "core", "team", 10, 1, "2026-01-05", "2026-02-01", 100000),
        ("acme", "core", "team", 15, 1, "2026-02-01", "2026-03-01", 150000),
        ("acme", "core", "platform", None, 1, "2026-04-01", None, 80000),  # restarted flat after the cancel
        ("beta", "core", "flat", None, 1, "2026-01-20", None, 300000),
    ]


def test_knowledge_names_what_the_answer_knew(ledger):
    assert select(ledger, "SELECT sequence, known_at FROM knowledge", "--known-at", AFTER_FEB) == [
        (6, "2026-02-15T09:00:00.000000Z")]


def test_json_is_the_spec_shape_and_csv_and_table_read_alike(ledger):
    report = ledger("query", "SELECT customer_id, money(sum(amount_cents)) AS total FROM movements GROUP BY 1 ORDER BY 1",
                    "--format", "json", "--known-at", AFTER_FEB).json()
    assert report == {
        "known_at": "2026-02-15T09:00:00.000000Z",
        "policy": {"churn_recognition": "cancel_date", "reactivation_grace_days": 0, "movement_grain": "day"},
        "columns": ["customer_id", "total"],
        "rows": [["acme", "1500.00"], ["beta", "9000.00"]],
    }
    csv = ledger("query", "SELECT customer_id, sum(amount_cents) AS cents FROM movements GROUP BY 1 ORDER BY 1",
                 "--format", "csv").stdout
    assert csv.splitlines() == ["customer_id,cents", "acme,380000", "beta,300000"]
    table = ledger("query", "SELECT customer_id, money(sum(amount_cents)) AS total FROM movements GROUP BY 1 ORDER BY 1").stdout
    assert table.splitlines()[0].startswith("Query (2 rows), as known at ")
    assert "3,800.00" in table  # money() text is shown as money


def test_a_repeated_column_name_is_made_unique(ledger):
    assert ledger("query", "SELECT 1 AS n, 2 AS n", "--format", "json").json()["columns"] == ["n", "n:1"]


def test_xlsx_and_out(ledger, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "q.xlsx"
    ledger("query", "SELECT customer_id, sum(amount_cents) AS cents FROM movements GROUP BY 1 ORDER BY 1",
           "--format", "xlsx", "--out", str(out))
    sheet = load_workbook(out)["query"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[-2:] == [["acme", 380000], ["beta", 300000]]
    json_out = tmp_path / "q.json"
    ledger("query", "SELECT 1 AS one", "--format", "json", "--out", str(json_out))
    assert json.loads(json_out.read_text())["rows"] == [[1]]


def test_snapshot_copies_every_view_into_a_new_file(ledger, tmp_path):
    path = tmp_path / "views.db"
    result = ledger("query", "--snapshot", str(path), "--known-at", AFTER_FEB)
    assert result.stdout.startswith(f"wrote {path} (views as known at 2026-02-15T09:00:00.000000Z: events 6, movements 4,")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT customer_id, valid_from, valid_to, mrr_cents FROM customer_mrr "
                            "WHERE customer_id = 'beta' ORDER BY valid_from").fetchall() == [
            ("beta", "2026-01-10", "2026-01-20", 0), ("beta", "2026-01-20", "2026-02-10", 300000),
            ("beta", "2026-02-10", None, 900000)]
        declared = {row[1]: row[2] for row in conn.execute("PRAGMA table_info(movements)")}
        assert declared["amount_cents"] == "INTEGER" and declared["date"] == "TEXT"
    again = ledger("query", "--snapshot", str(path), ok=False)
    assert again.stderr.splitlines() == [
        f"revledger: --snapshot {path}: the file exists; give a new file name (nothing is overwritten)"]


# A quarterly line, 900.00 a quarter (300.00 MRR) from 1 January, cancelled on 10 February: by the default policy
# it churns that day; with churn_recognition=term_end at the end of the quarter, 1 April; with movement_grain=month
# its movements are netted per month and dated each month's last day.
QUARTERLY = """
    event_id,type,customer_id,effective_date,subscription_id,plan,amount,billing_months
    q1,subscription_started,q,2026-01-01,s1,pro,900.00,3
    q2,cancel,q,2026-02-10,s1,,,
    """
MOVES = "SELECT date, category, amount_cents FROM movements"


def test_the_views_answer_under_a_previewed_policy_and_the_policy_in_force_at_t(rl):
    rl("import", rl.write("q.csv", QUARTERLY), "--recorded-at", "2026-03-01T00:00:00Z")
    assert select(rl, MOVES) == [("2026-01-01", "new", 30000), ("2026-02-10", "churn", 30000)]
    preview = rl("query", MOVES, "--policy", "churn_recognition=term_end", "--format", "json").json()
    assert preview["rows"] == [["2026-01-01", "new", 30000], ["2026-04-01", "churn", 30000]]
    assert (preview["policy"]["churn_recognition"], preview["preview"]) == ("term_end", True)
    assert select(rl, "SELECT valid_from, valid_to, mrr_cents FROM customer_mrr", "--policy",
                  "churn_recognition=term_end") == [("2026-01-01", "2026-04-01", 30000), ("2026-04-01", None, 0)]
    assert select(rl, MOVES, "--policy", "movement_grain=month") == [("2026-01-31", "new", 30000),
                                                                     ("2026-02-28", "churn", 30000)]
    assert "preview" not in rl("query", MOVES, "--format", "json").json()  # a preview records nothing
    rl("policy", "set", "churn_recognition=term_end", "--reason", "we count to the term end",
       "--recorded-at", "2026-03-02T00:00:00Z")
    assert select(rl, MOVES) == [("2026-01-01", "new", 30000), ("2026-04-01", "churn", 30000)]
    before = "2026-03-01T12:00:00Z"  # the policy in force then: the default
    assert select(rl, MOVES, "--known-at", before) == [("2026-01-01", "new", 30000), ("2026-02-10", "churn", 30000)]
    assert json.loads(select(rl, "SELECT policy FROM knowledge", "--known-at", before)[0][0])["churn_recognition"] == (
        "cancel_date")


# -- errors name what is wrong, in one line ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT nope FROM movements", "revledger: query: no such column: nope"),
        ("SELECT * FROM invoices", "revledger: query: no such table: invoices"),
        ("SELEC * FROM movements", 'revledger: query: near "SELEC": syntax error'),
        ("SELECT * FROM movements WHERE", 'revledger: query: incomplete input'),
        ("SELECT money(1.5)", "revledger: query: money() takes integer cents (a *_cents column or a sum of them)"),
        ("", "revledger: query: give one SELECT (or WITH … SELECT) statement"),
    ],
)
def test_a_bad_query_is_one_line_naming_it(ledger, sql, message):
    result = ledger("query", sql, ok=False)
    assert (result.exit_code, result.stderr.splitlines(), result.stdout) == (1, [message], "")


def test_too_many_rows_is_refused_and_nothing_is_written(ledger, tmp_path):
    out = tmp_path / "all.csv"
    result = ledger("query", "SELECT * FROM events", "--max-rows", "5", "--format", "csv", "--out", str(out), ok=False)
    assert result.stderr.splitlines() == [
        "revledger: query: more than 5 rows (--max-rows): aggregate, add a LIMIT, or raise --max-rows"]
    assert not out.exists()
    assert len(select(ledger, "SELECT * FROM events", "--max-rows", "12")) == 12


# -- read-only, however asked -------------------------------------------------------------------------------

WRITES = [
    ("INSERT INTO movements (customer_id) VALUES ('x')", "INSERT is refused"),
    ("REPLACE INTO events (sequence) VALUES (1)", "REPLACE is refused"),
    ("UPDATE movements SET amount_cents = 0", "UPDATE is refused"),
    ("DELETE FROM main.events", "DELETE is refused"),
    ("DROP TABLE main.movements", "DROP is refused"),
    ("DROP VIEW movements", "DROP is refused"),
    ("CREATE TABLE notes (a)", "CREATE is refused"),
    ("ALTER TABLE main.events ADD COLUMN x", "ALTER is refused"),
    ("ATTACH DATABASE 'other.db' AS other", "ATTACH is refused"),
    ("PRAGMA journal_mode = DELETE", "PRAGMA is refused"),
    ("pragma user_version = 7", "PRAGMA is refused"),
    ("VACUUM INTO 'copy.db'", "VACUUM is refused"),
    ("BEGIN IMMEDIATE", "BEGIN is refused"),
    ("/* hidden */ -- behind comments\n DELETE FROM events", "DELETE is refused"),
    ("SELECT load_extension('./evil')", "load_extension() is refused"),
    ("WITH x AS (SELECT 1) INSERT INTO knowledge SELECT 0, NULL, '{}'", "INSERT into knowledge is refused"),
    ("WITH x AS (SELECT 1) UPDATE lines SET mrr_cents = 0", "UPDATE of lines is refused"),
    ("WITH x AS (SELECT 1) DELETE FROM main.movements", "DELETE from movements is refused"),
    ("WITH x AS (SELECT 1) DELETE FROM movements", "movements is read-only: changing it is refused"),
    ("SELECT 1; DROP TABLE main.events", "one statement only: the text after the first ';' is refused"),
    ("SELECT * FROM pragma_journal_mode", "pragma journal_mode is refused"),
]


@pytest.fixture(scope="module")
def installed_ledger(tmp_path_factory):
    """A ledger read once by the installed command, so its read models are caught up and its files closed."""
    folder = tmp_path_factory.mktemp("readonly")
    for args in (["init"], ["import", str(Path(__file__).parent.parent / "fixtures" / "example.csv")], ["mrr"]):
        assert run_installed("--db", str(folder / "ledger.db"), *args, cwd=folder).exit_code == 0
    return folder


def fingerprint(folder: Path) -> dict[str, str]:
    """The bytes of every file in the folder (the ledger, the read models, any -wal or -shm), hashed."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(("sql", "refusal"), WRITES, ids=[w[0][:40] for w in WRITES])
def test_every_write_is_refused_in_one_line_and_both_files_are_unchanged(installed_ledger, sql, refusal):
    before = fingerprint(installed_ledger)
    assert {"ledger.db", "ledger.projections.db"} <= set(before)
    result = run_installed("--db", str(installed_ledger / "ledger.db"), "query", sql, cwd=installed_ledger)
    assert result.exit_code == 1, result.stdout
    (line,) = result.stderr.splitlines()
    assert line.startswith("revledger: query: ") and refusal in line, line
    assert fingerprint(installed_ledger) == before


def test_a_read_leaves_both_files_unchanged_too(installed_ledger):
    before = fingerprint(installed_ledger)
    db = str(installed_ledger / "ledger.db")
    result = run_installed("--db", db, "query", "SELECT count(*) FROM movements", "--format", "csv", cwd=installed_ledger)
    history = json.loads(run_installed("--db", db, "log", "--format", "json", cwd=installed_ledger).stdout)
    assert result.stdout.splitlines() == ["count(*)", str(len(oracle.movements(history)))]
    assert fingerprint(installed_ledger) == before


@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        ("INSERT INTO temp.knowledge VALUES (1, NULL, '{}')", "INSERT into knowledge is refused"),
        ("CREATE TEMP TABLE scratch (a)", r"a schema change \(CREATE, DROP or ALTER\) is refused"),
        ("DROP VIEW customer_mrr", r"a schema change \(CREATE, DROP or ALTER\) is refused"),
        ("CREATE TEMP VIEW mine AS SELECT 1", r"a schema change \(CREATE, DROP or ALTER\) is refused"),
        ("ATTACH DATABASE ':memory:' AS other", "ATTACH is refused"),
        ("PRAGMA query_only = OFF", "pragma query_only = OFF is refused"),
        ("PRAGMA writable_schema = ON", "pragma writable_schema = ON is refused"),
        ("DETACH DATABASE temp", "DETACH is refused"),
        ("BEGIN", "a transaction is refused"),
    ],
)
def test_the_authorizer_refuses_on_its_own(ledger, sql, refusal):
    """Past the first-word check (called directly), SQLite's authorizer still refuses: each guard holds alone."""
    rm, known = _reading(ledger)
    conn = views.open(rm, known)
    try:
        with pytest.raises(QueryRefused, match=refusal):
            run(conn, sql)
        assert run(conn, "SELECT sequence FROM knowledge").rows == [(known.sequence,)]
    finally:
        conn.close()
        rm.close()


def test_the_first_word_check_on_its_own():
    for sql in ("VACUUM", "  vacuum into 'x.db'", "-- note\nPRAGMA user_version=1", "/* a */ ATTACH 'x' AS y"):
        with pytest.raises(QueryRefused, match="is refused"):
            check_statement(sql)
    assert check_statement("  with x as (select 1) select * from x") and check_statement("select 1")


def test_a_runaway_query_stops_at_the_time_limit_in_one_line(installed_ledger):
    started = time.monotonic()
    # run apart, with a deadline of its own: without the time limit this would never end
    proc = subprocess.run(
        [installed_revledger(), "--db", str(installed_ledger / "ledger.db"), "query",
         "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r", "--timeout", "1"],
        capture_output=True, text=True, timeout=30,
    )
    assert time.monotonic() - started < 10
    assert (proc.returncode, proc.stderr.splitlines()) == (
        1, ["revledger: query: stopped after 1 second (--timeout): narrow the query or raise --timeout"])


def test_a_runaway_that_streams_rows_stops_too(ledger):
    # a runaway that streams rows is stopped too, by the row limit or the clock, whichever comes first
    endless = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r"
    assert "more than 100,000 rows" in ledger("query", endless, ok=False).stderr
    result = ledger("query", endless, "--timeout", "1", "--max-rows", "1000000000", ok=False)
    assert "stopped after 1 second" in result.stderr


def _reading(rl: Revledger):
    from ledger.location import open_store
    from projections.readmodel import ReadModel

    store = open_store(rl.db)
    rm = ReadModel(default_path(rl.db), store)
    rm.catch_up()
    return rm, queries.knowledge(rm, None)


# -- the views agree with the ledger's reads and with an independent fold, at every knowledge time ------------


def _rows(rm, known, sql: str, **params) -> list[tuple]:
    conn = views.open(rm, known, lines="lines" in sql)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


class _Views:
    """One views connection as known at one sequence, for many questions."""

    def __init__(self, rm, known):
        self.conn = views.open(rm, known, lines=True)

    def __call__(self, sql: str, **params) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()


def _check(rm, history, known, cut):
    select = _Views(rm, known)
    try:
        _compare(rm, history, known, cut, select)
    finally:
        select.conn.close()


def _compare(rm, history, known, cut, select):
    # Σ movements view per month and category = the metrics bridge (and opening/closing from customer_mrr)
    report = metrics_report(rm, FIRST_DAY, LAST_DAY, known, period="month")
    sums = {}
    for start, end, category, cents in select(
            "SELECT min(date), max(date), category, sum(amount_cents) FROM movements GROUP BY substr(date, 1, 7), category"):
        sums[(start[:7], category)] = cents
    mrr_at = "SELECT coalesce(sum(mrr_cents), 0) FROM customer_mrr WHERE valid_from <= :day AND (valid_to IS NULL OR valid_to > :day)"
    for period in report["periods"]:
        month = period["start"][:7]
        for category in ("new", "expansion", "contraction", "churn", "reactivation"):
            assert from_cents(sums.get((month, category), 0)) == Decimal(period["bridge"][category]), (month, category, cut)
        closing = select(mrr_at, day=period["end"])[0][0]
        assert from_cents(closing) == Decimal(period["closing_mrr"]), (month, cut)

    for view in ("customer_mrr", "attributes", "lines"):
        assert select(f"SELECT count(*) FROM {view} WHERE valid_to <= valid_from") == [(0,)], f"an empty run in {view}"

    seen = oracle.visible(history, cut)
    customers = oracle.customer_ids(seen)
    days = sorted({oracle.as_date(e["effective_date"]) for e in history})
    probes = sorted({d + dt.timedelta(days=k) for d in days for k in (-1, 0)} | {LAST_DAY})
    for day in probes:
        at = select("SELECT customer_id, mrr_cents FROM customer_mrr WHERE valid_from <= :day "
                    "AND (valid_to IS NULL OR valid_to > :day) ORDER BY customer_id", day=day.isoformat())
        per_customer = dict(at)
        assert len(per_customer) == len(at), "customer_mrr has overlapping runs"
        assert set(per_customer) <= set(customers), "a customer with no event in effect has MRR runs"
        # = mrr --as-of: in total, active customers, and customer by customer
        report = queries.mrr_report(rm, day, known)
        assert from_cents(sum(per_customer.values())) == Decimal(report["mrr"]), (day, cut)
        assert sum(1 for cents in per_customer.values() if cents > 0) == report["customers"], (day, cut)
        ledger_says = queries.customer_mrr_cents(rm, day, known.sequence)
        for customer in customers:
            first = min(oracle.as_date(e["effective_date"]) for e in seen if e["customer_id"] == customer)
            # a customer has exactly one run on each day from its first event in effect on, none before
            assert (customer in per_customer) == (day >= first), (customer, day, cut)
            want = oracle.customer_mrr(history, customer, day, known_seq=cut)
            assert from_cents(per_customer.get(customer, 0)) == want, (customer, day, cut)
            assert per_customer.get(customer, 0) == ledger_says.get(customer, 0), (customer, day, cut)
            for name in ("segment", "attr.tier"):
                value = select("SELECT value FROM attributes WHERE customer_id = :c AND name = :n "
                               "AND valid_from <= :day AND (valid_to IS NULL OR valid_to > :day)",
                               c=customer, n=name, day=day.isoformat())
                assert [v for (v,) in value] == ([] if (a := oracle.attribute(history, customer, name, day, cut)) is None
                                                 else [a]), (customer, name, day, cut)
        lines = select("SELECT customer_id, subscription_id, plan, mrr_cents FROM lines WHERE valid_from <= :day "
                       "AND (valid_to IS NULL OR valid_to > :day) ORDER BY 1, 2", day=day.isoformat())
        want_lines = []
        for customer in customers:
            folded = oracle.lines_at_end_of(oracle.events_of(seen, customer), day)
            for sid, mrr in oracle.customer_line_mrrs(history, customer, day, known_seq=cut).items():
                want_lines.append((customer, sid, folded[sid]["plan"], mrr))
        assert [(c, s, p, from_cents(m)) for c, s, p, m in lines] == want_lines, (day, cut)


@settings(
    max_examples=150 if IN_CI else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
@given(history=event_histories(min_events=1, max_events=20, customers=3), data=st.data())
def test_the_views_equal_the_bridge_mrr_as_of_and_a_naive_fold_as_now_known_and_earlier(tmp_path, history, data):
    rm, recorded, store = record_history(tmp_path, history)
    cuts = sorted({len(history), *data.draw(st.lists(st.integers(1, len(history)), max_size=2), label="cut-offs")})
    try:
        for cut in cuts:
            known = queries.knowledge(rm, parse_instant(recorded[cut - 1]))
            assert known.sequence == cut
            _check(rm, history, known, cut)
            assert _rows(rm, known, "SELECT max(sequence), count(*) FROM events") == [(cut, cut)]
    finally:
        rm.close()
        store.close()


def test_answer_runs_one_select_as_known(ledger):
    rm, known = _reading(ledger)
    try:
        found = answer(rm, known, "SELECT count(*) AS n FROM lines")
        assert (found.columns, found.rows) == (["n"], [(4,)])
    finally:
        rm.close()
