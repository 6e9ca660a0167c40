"""Hostile strings (issue 7, item 6): what a user types is stored and given back byte for byte, never run.

Customer names, notes, reasons, custom attributes and ids holding SQL, quotes,
NUL, right-to-left marks, emoji, line breaks and 10,000-character strings
round-trip exactly through `import` (CSV and JSON Lines) and `log --format
json`, and the schema of the ledger and of its read models is unchanged.
A static check keeps user values out of SQL text.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


from conftest import ROOT, Revledger

HOSTILE = [
    "'); DROP TABLE stored_events; --",
    "Robert'); DROP TABLE events;--",
    '"; DELETE FROM movements WHERE 1=1; --',
    "' OR '1'='1",
    "x' UNION SELECT record FROM events --",
    "100% _off_ \\ LIKE %' ESCAPE '\\",
    "O'Brien & \"Sons\" `Ltd`",
    "''''''''",
    '""""',
    "nul\x00in the middle",
    "\x00",
    "\u202eevil\u202c spoof",
    "\u200fRTL mark \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "emoji 👩‍👩‍👧‍👦 🇺🇸 💸 🏳️‍🌈",
    "e\u0301 (decomposed) vs é (composed)",
    "\ufeffBOM at the start",
    "line one\nline two",
    "carriage\rreturn",
    "windows\r\nline end",
    "tab\tseparated,comma,\"quote\"",
    "\u2028line separator\u2029paragraph",
    "control \x01\x02\x1b[31mred\x1b[0m \x7f",
    "  padded  ",
    "{\"json\": [1, 2, 3]}",
    "\\u0000 as text",
    "<script>alert(1)</script>",
    "x" * 10_000,
    "🙂" * 10_000,
    ("'); DROP TABLE attributes; -- " * 400)[:10_000],
]

HOSTILE_IDS = [
    "o'brien; DROP TABLE stored_events;--",
    'acme "quoted"',
    "🙂-customer",
    "\u202eevil",
    "a%_b\\c",
    "id" * 100,
]

COLUMNS = ["event_id", "type", "customer_id", "effective_date", "subscription_id", "plan", "quantity", "unit_price",
           "reason", "note", "customer_name", "segment", "attr.remark"]


def hostile_events(tag: str, texts: list[str]) -> list[dict]:
    """Events carrying each hostile string in every free-text field, for customers named by ``tag``."""
    rows = []
    for n, text in enumerate(texts):
        customer = f"{tag}-{n}"
        rows.append({"event_id": f"{customer}-start", "type": "subscription_started", "customer_id": customer,
                     "effective_date": "2026-01-01", "subscription_id": "s1", "plan": text[:20_000],
                     "quantity": "3", "unit_price": "10.00", "reason": text, "note": text})
        rows.append({"event_id": f"{customer}-who", "type": "customer_updated", "customer_id": customer,
                     "effective_date": "2026-01-01", "customer_name": text, "segment": text, "attr.remark": text,
                     "note": text})
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)  # \r\n line ends: a field holding \r or \n is quoted
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.get(c, "") for c in COLUMNS])
    path.write_bytes(out.getvalue().encode("utf-8"))


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_bytes("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))


def schema(path: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()


def schemas(rl) -> tuple[list[tuple], list[tuple]]:
    from projections.readmodel import default_path

    return schema(rl.db), schema(default_path(rl.db))


def assert_round_trip(rows: list[dict], logged: list[dict]) -> None:
    by_id = {e["event_id"]: e for e in logged}
    for row in rows:
        stored = by_id[row["event_id"]]
        for key, value in row.items():
            if key in ("quantity",):
                continue
            assert stored[key] == value, (row["event_id"], key, value[:80], stored.get(key, "<missing>")[:80])
            assert stored[key].encode("utf-8") == value.encode("utf-8")


def test_hostile_strings_round_trip_through_csv_and_jsonl_and_leave_the_schema_alone(tmp_path):
    rl = Revledger(tmp_path)
    rl("init")
    rl("import", rl.write("plain.csv", "type,customer_id,effective_date,subscription_id,plan,amount\n"
                                       "subscription_started,plain,2026-01-01,s1,basic,5.00\n"))
    before = schemas(rl)
    for fmt, write in (("csv", write_csv), ("jsonl", write_jsonl)):
        rows = hostile_events(fmt, HOSTILE)
        path = tmp_path / f"hostile.{fmt}"
        write(path, rows)
        result = rl("import", str(path))
        assert f"appended {len(rows)} events" in result.stdout
        assert_round_trip(rows, rl.events())
    assert schemas(rl) == before
    # Every table still answers, and the money is what was imported: 2 × 29 customers × 30.00, plus 5.00.
    assert rl("mrr", "--as-of", "2026-01-31", "--format", "json").json()["mrr"] == f"{2 * len(HOSTILE) * 30 + 5}.00"
    assert len(rl.events()) == 1 + 4 * len(HOSTILE)


def test_hostile_ids_are_kept_and_looked_up_exactly(tmp_path):
    rl = Revledger(tmp_path)
    rl("init")
    rows = [{"event_id": f"e{n}:{c[:50]}", "type": "subscription_started", "customer_id": c, "effective_date": "2026-01-01",
             "subscription_id": c[::-1] if c == c.strip() else "s", "plan": "pro", "quantity": "1",
             "unit_price": f"{n + 1}.00"} for n, c in enumerate(HOSTILE_IDS)]
    path = tmp_path / "ids.jsonl"
    write_jsonl(path, rows)
    rl("import", str(path))
    before = schemas(rl)
    assert_round_trip(rows, rl.events())
    for n, customer in enumerate(HOSTILE_IDS):
        report = rl("mrr", "--as-of", "2026-01-31", "--customer", customer, "--format", "json").json()
        assert report["mrr"] == f"{n + 1}.00", customer
        assert [e["customer_id"] for e in rl.events("--customer", customer)] == [customer]
        rl("record", "seat_change", "--customer", customer, "--date", "2026-02-01", "--subscription", rows[n]["subscription_id"],
           "--quantity", "2", "--note", HOSTILE[n])
    assert rl("mrr", "--as-of", "2026-02-28", "--format", "json").json()["mrr"] == f"{2 * sum(range(1, 7))}.00"
    # A LIKE-style or injected id matches nothing rather than everything.
    for pattern in ("%", "' OR '1'='1"):  # looked up exactly: a wildcard or injected SQL names no customer
        refused = rl("mrr", "--as-of", "2026-01-31", "--customer", pattern, ok=False)
        assert refused.stderr.startswith(f"revledger: --customer {pattern}: no such customer"), refused.stderr
        assert rl("log", "--customer", pattern, ok=False).exit_code == 1
    assert schemas(rl) == before


def test_record_keeps_hostile_options_byte_for_byte(tmp_path):
    rl = Revledger(tmp_path)
    rl("init")
    for n, text in enumerate(HOSTILE[:12]):
        rl("record", "customer_updated", "--customer", f"c{n}", "--date", "2026-01-01", "--name", text,
           "--attr", f"remark={text}", "--note", text)
    for n, event in enumerate(rl.events()):
        assert event["customer_name"] == event["attr.remark"] == event["note"] == HOSTILE[n]


def test_a_hostile_ledger_file_name_is_a_file_name(tmp_path):
    """The path reaches SQLite as a quoted URI: '#', '?' and '%' stay part of the name."""
    rl = Revledger(tmp_path)
    for name in ["x#1.db", "y?mode=rwc.db", "p%41.db", "o'brien; DROP TABLE x.db"]:
        rl.db = str(tmp_path / name)
        rl("init")
        again = rl("init", ok=False)
        assert again.exit_code == 1 and "a ledger already exists" in again.stderr, again.stderr
        rl("record", "customer_updated", "--customer", "c", "--date", "2026-01-01", "--name", name)
        assert [e["customer_name"] for e in rl.events()] == [name]
    names = [p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm", ".projections.db"))]
    assert sorted(names) == sorted(
        ["x#1.db", "y?mode=rwc.db", "p%41.db", "o'brien; DROP TABLE x.db"]
    )


free_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(free_text, min_size=1, max_size=4), fmt=st.sampled_from(["csv", "jsonl"]))
def test_any_text_round_trips(tmp_path_factory, texts, fmt):
    rl = Revledger(tmp_path_factory.mktemp("any"))
    rl("init")
    rows = hostile_events("any", texts)
    path = rl.folder / f"any.{fmt}"
    (write_csv if fmt == "csv" else write_jsonl)(path, rows)
    rl("import", str(path))
    assert_round_trip(rows, rl.events())


# -- no user value reaches SQL by string formatting ------------------------------------------------

SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|WHERE|PRAGMA|VALUES)\b")
# Names that may be formatted into SQL text: constants and placeholder lists built by the code itself.
SAFE_IN_SQL = {
    "VISIBLE",          # projections.queries: the known_from/known_to condition, a constant
    "SETTINGS_TABLE",   # ledger.store: the settings table's name, a constant
    "STATE_TABLE",      # ledger.store: the import state table's name, a constant
    "marks",            # ",".join("?" * n): placeholders for an IN (...) list
    "table",            # loops over constant table names
    "columns",          # column lists from constant tables
    "MOVE_COLUMNS",     # projections.explain: the movements columns it reads, a constant
    "CURRENT",          # projections.readmodel: known_to of a row still in force, an integer constant
    "index_name",       # projections.readmodel: the names of its own indexes, constants
    "schema",           # projections.verify: "main" or "stored", the two read-model files it compares
}


def formatted_sql(path: Path) -> list[tuple[int, str]]:
    """(line, expression) of every value formatted into an f-string that reads like SQL."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.JoinedStr):
            continue
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        if not SQL_WORDS.search(text):
            continue
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                found.append((node.lineno, ast.unparse(value.value)))
    return found


def test_no_user_value_is_formatted_into_sql():
    offending = []
    for folder in ("ledger", "projections", "cli"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for line, expression in formatted_sql(path):
                if expression not in SAFE_IN_SQL:
                    offending.append(f"{path.relative_to(ROOT)}:{line}: {{{expression}}}")
    assert not offending, "values formatted into SQL text (use ? parameters):\n" + "\n".join(offending)


def test_the_sql_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('def q(db, name):\n    return db.execute(f"SELECT * FROM events WHERE customer_id = \'{name}\'")\n')
    assert formatted_sql(bad) == [(2, "name")]
