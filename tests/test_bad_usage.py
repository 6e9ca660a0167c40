"""Every mistake a new user makes gets a one-line answer (issue 17), and the ledger does not change.

Each case asserts the exact line on stderr, the exit status (1: refused; 2: a
command line that could not be read) and that the log's head — its event
count and hash, as `revledger checkpoint` prints them — is what it was.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest

from conftest import Revledger, run_installed

HISTORY = """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,segment,attr.tier
    a0,customer_updated,acme,2026-01-01,,,,,,SMB,gold
    a1,subscription_started,acme,2026-01-01,s1,pro,10,50.00,,,
    g0,customer_updated,globex,2026-01-15,,,,,,Enterprise,
    g1,subscription_started,globex,2026-01-15,u1,usage,,,300.00,,
    """


@pytest.fixture
def ledger(rl: Revledger) -> Revledger:
    rl("import", rl.write("history.csv", HISTORY))
    return rl


def head(rl: Revledger) -> str:
    return rl("checkpoint").stdout.strip()


def refused(rl: Revledger, *args: str, code: int = 1) -> str:
    """The one line a refused command prints; the log's head is unchanged."""
    before = head(rl)
    result = rl(*args, ok=False)
    assert result.exit_code == code, (result.exit_code, result.stderr, result.stdout)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert head(rl) == before
    return lines[0]


# -- the command line itself: one line, exit status 2 ------------------------------------------------


@pytest.mark.parametrize("args, line", [
    (["metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--period", "weekly"],
     "revledger: --period: 'weekly' is not one of month, quarter, year"),
    (["metrics", "--from", "2026-01-01"], "revledger: metrics needs --to"),
    (["metrics", "--from"], "revledger: --from needs a value"),
    (["metrics", "--frm", "2026-01-01"], "revledger: metrics has no option --frm (did you mean --from or --format?)"),
    (["mrr", "--format", "xml"], "revledger: --format: 'xml' is not one of table, json, csv, xlsx"),
    (["metrix"], "revledger: no such command 'metrix' (did you mean metrics?)"),
    (["explain"], "revledger: METRIC is required (revledger explain METRIC [OPTIONS])"),
    (["mrr", "2026-03-31"], "revledger: mrr does not take '2026-03-31' (revledger mrr [OPTIONS])"),
    (["close", "2026-01", "--lock=yes"], "revledger: --lock takes no value"),
    (["generate", "--customers", "0", "--months", "1", "--out", "x.csv"], "revledger: --customers: must be 1 or more, not 0"),
    (["generate", "--customers", "ten", "--months", "1", "--out", "x.csv"], "revledger: --customers: 'ten' is not a whole number"),
    (["record", "refund"], "revledger: TYPE: 'refund' is not one of subscription_started, subscription_changed, upsell, "
                           "downgrade, seat_change, price_change, usage_change, cancel, customer_updated, void"),
])
def test_a_command_line_that_cannot_be_read_is_one_line_and_exit_2(ledger, args, line):
    assert refused(ledger, *args, code=2) == line


def test_the_installed_command_says_the_same_in_one_line(ledger, tmp_path):
    result = run_installed("--db", ledger.db, "metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--period", "weekly",
                           cwd=tmp_path)
    assert (result.exit_code, result.stderr) == (2, "revledger: --period: 'weekly' is not one of month, quarter, year\n")


# -- --out: folders, missing folders, for every command that writes a file --------------------------------

EXPORTS = [
    ["log"],
    ["mrr", "--as-of", "2026-03-31"],
    ["movements", "--from", "2026-01-01", "--to", "2026-03-31"],
    ["metrics", "--from", "2026-01-01", "--to", "2026-03-31"],
    ["metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "xlsx"],
    ["cohorts", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "xlsx"],
    ["explain", "bridge.new", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "xlsx"],
    ["report", "--from", "2026-01-01", "--to", "2026-03-31"],
    ["generate", "--customers", "2", "--months", "2"],
]


@pytest.mark.parametrize("args", EXPORTS, ids=lambda a: " ".join(a[:1] + a[-1:]))
def test_out_a_folder_is_refused(ledger, args):
    folder = ledger.folder / "reports"
    folder.mkdir()
    assert refused(ledger, *args, "--out", str(folder)) == f"revledger: --out {folder}: is a folder; give a file name"
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("args", EXPORTS, ids=lambda a: " ".join(a[:1] + a[-1:]))
def test_out_in_a_folder_that_does_not_exist_is_refused(ledger, args):
    out = ledger.folder / "nonexistent" / "dir" / "m.xlsx"
    line = refused(ledger, *args, "--out", str(out))
    assert line == f"revledger: --out {out}: no such folder {out.parent}"
    assert not out.parent.exists()


# -- dates at the ends of the calendar -------------------------------------------------------------------


@pytest.mark.parametrize("args, line", [
    (["metrics", "--from", "2026-01-01", "--to", "9999-12-31", "--period", "year"],
     "revledger: --from 2026-01-01 --to 9999-12-31 is 7,974 years; revledger answers at most 1,200 at once: "
     "narrow the range"),
    (["metrics", "--from", "2026-01-01", "--to", "9999-12-31"],
     "revledger: --from 2026-01-01 --to 9999-12-31 is 95,688 months; revledger answers at most 1,200 at once: "
     "narrow the range or use a longer --period"),
    (["cohorts", "--from", "2026-01-01", "--to", "9999-12-31"],
     "revledger: --from 2026-01-01 --to 9999-12-31 is 95,688 months of cohorts; revledger answers at most 1,200 at "
     "once: narrow the range"),
    (["report", "--from", "2026-01-01", "--to", "9999-12-31", "--out", "{folder}/r.html"],
     "revledger: --from 2026-01-01 --to 9999-12-31 is 95,688 months of cohorts; revledger answers at most 1,200 at "
     "once: narrow the range"),
    (["close", "0000"], "revledger: '0000' is not a period: the calendar starts in year 0001"),
    (["metrics", "--from", "2026-02-29", "--to", "2026-03-31"], "revledger: '2026-02-29' is not a real date"),
])
def test_ranges_beyond_what_the_ledger_answers_are_refused(ledger, args, line):
    assert refused(ledger, *(a.format(folder=ledger.folder) for a in args)) == line
    assert not (ledger.folder / "r.html").exists()


def test_the_last_month_of_the_calendar_is_answered(ledger):
    """9999-12 has no day after it; its figures are still computed, from the same history."""
    ledger("record", "subscription_started", "--customer", "far", "--date", "9999-12-31", "--subscription", "f1",
           "--plan", "pro", "--amount", "10.00")
    (period,) = ledger("metrics", "--from", "9999-12-01", "--to", "9999-12-31", "--format", "json").json()["periods"]
    # acme 10 × 50.00 + globex 300.00 at opening, far's 10.00 new on the last day
    assert (period["opening_mrr"], period["bridge"]["new"], period["closing_mrr"]) == ("800.00", "10.00", "810.00")
    cohorts = ledger("cohorts", "--from", "9999-01-01", "--to", "9999-12-31", "--format", "json").json()["cohorts"]
    assert [(c["cohort"], c["customers"], c["mrr_0"]) for c in cohorts] == [("9999-12", 1, "10.00")]
    ledger("report", "--from", "9999-01-01", "--to", "9999-12-31", "--out", str(ledger.folder / "far.html"))


def test_the_first_month_of_the_calendar_is_answered(ledger):
    (period,) = ledger("metrics", "--from", "0001-01-01", "--to", "0001-01-31", "--format", "json").json()["periods"]
    assert (period["opening_mrr"], period["closing_mrr"]) == ("0.00", "0.00")
    ledger("report", "--from", "0001-01-01", "--to", "0001-12-31", "--out", str(ledger.folder / "early.html"))


# -- names checked against the ledger --------------------------------------------------------------------


@pytest.mark.parametrize("args, line", [
    (["metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--by", "attr.nonexistent"],
     "revledger: --by attr.nonexistent: no customer has that attribute; known attributes, closest first: "
     "attr.tier, channel, customer_name, region, segment"),
    (["retention", "--from", "2026-01-01", "--to", "2026-03-31", "--by", "attr.tire"],
     "revledger: --by attr.tire: no customer has that attribute; known attributes, closest first: "
     "attr.tier, channel, customer_name, region, segment"),
    (["durability", "--from", "2026-01-01", "--to", "2026-03-31", "--by", "attr.tire"],
     "revledger: --by attr.tire: no customer has that attribute; known attributes, closest first: "
     "attr.tier, channel, customer_name, region, segment"),
    (["mrr", "--by", "attr.tire"],
     "revledger: --by attr.tire: no customer has that attribute; known attributes, closest first: "
     "attr.tier, channel, customer_name, region, segment"),
    (["explain", "bridge.new", "--from", "2026-01-01", "--to", "2026-03-31", "--group", "Nope"],
     "revledger: --group Nope: no customer's segment is 'Nope' on 2026-03-31; known segment values, closest first: "
     "Enterprise, SMB"),
    (["explain", "bridge.new", "--from", "2026-01-01", "--to", "2026-03-31", "--group", "smb"],
     "revledger: --group smb: no customer's segment is 'smb' on 2026-03-31; known segment values, closest first: "
     "SMB, Enterprise"),
    (["explain", "bridge.new", "--from", "2026-01-01", "--to", "2026-03-31", "--by", "attr.tier", "--group", "silver"],
     "revledger: --group silver: no customer's attr.tier is 'silver' on 2026-03-31; known attr.tier values, closest "
     "first: gold"),
    (["mrr", "--customer", "acmee"], "revledger: --customer acmee: no such customer; known customers, closest first: "
                                     "acme, globex"),
    (["mrr", "--customer", "nobody"], "revledger: --customer nobody: no such customer; known customers, closest first: "
                                      "acme, globex"),
    (["log", "--customer", "Globex"], "revledger: --customer Globex: no such customer; known customers, closest first: "
                                      "globex, acme"),
    (["movements", "--from", "2026-01-01", "--to", "2026-03-31", "--customer", "acme "],
     "revledger: --customer acme : no such customer; known customers, closest first: acme, globex"),
    (["movements", "--from", "2026-01-01", "--to", "2026-03-31", "--category", "expanson"],
     "revledger: --category expanson: not a movement category; one of, closest first: expansion, churn, contraction, "
     "new, reactivation"),
    (["explain", "bridge.expanson", "--from", "2026-01-01", "--to", "2026-03-31"],
     "revledger: cannot explain 'bridge.expanson'; known metrics, closest first: bridge.expansion, retention.expansion, "
     "bridge.reactivation, bridge.new, bridge.net_new, bridge.churn, retention.expansion_rate, causes.expansion.plan, "
     "… (55 metrics)"),
    (["mrr", "--customer", "acme\nglobex\x1b[31m"],
     "revledger: --customer acme\\nglobex\\x1b[31m: no such customer; known customers, closest first: globex, acme"),
    (["mrr", "--by", "segment", "--customer", "acme"],
     "revledger: --by and --customer do not go together: --by groups every customer, --customer shows one's lines"),
    (["mrr", "--top", "3", "--customer", "acme"],
     "revledger: --top and --customer do not go together: --top ranks every customer, --customer shows one's lines"),
    (["explain", "bridge.new", "--from", "2026-01-01", "--to", "2026-03-31", "--by", "region"],
     "revledger: --by region names the attribute --group refers to: give --group VALUE too"),
])
def test_a_name_the_ledger_does_not_know_is_refused_with_the_known_ones_closest_first(ledger, args, line):
    assert refused(ledger, *args) == line


def test_names_are_as_known_at_the_knowledge_time(ledger):
    first = ledger.events()[-1]["recorded_at"]  # the history's import, known whole once its last event is
    ledger("record", "subscription_started", "--customer", "initech", "--date", "2026-02-01", "--subscription", "i1",
           "--plan", "pro", "--amount", "99.00")
    line = refused(ledger, "mrr", "--customer", "initech", "--known-at", first)
    assert line == f"revledger: --customer initech: no such customer as known at {first}; known customers, closest first: acme, globex"
    assert ledger("mrr", "--customer", "initech", "--as-of", "2026-02-01", "--format", "json").json()["mrr"] == "99.00"


def test_a_known_name_answers_as_before(ledger):
    """The checks refuse only what is unknown: a real attribute, group and customer answer."""
    groups = ledger("mrr", "--as-of", "2026-01-31", "--by", "attr.tier", "--format", "json").json()["groups"]
    assert [(g["group"], g["mrr"]) for g in groups] == [("gold", "500.00"), (None, "300.00")]
    explained = ledger("explain", "opening_mrr", "--from", "2026-02-01", "--to", "2026-02-28", "--group", "SMB",
                       "--format", "json").json()
    assert (explained["value"], [i["customer_id"] for i in explained["items"]]) == ("500.00", ["acme"])


# -- imports and record ------------------------------------------------------------------------------


def test_a_file_refused_for_many_rows_shows_the_first_50_problems_and_counts_the_rest_by_kind(ledger):
    rows = ["type,customer_id,effective_date,subscription_id,quantity"]
    rows += [f"seat_change,acme,2026-02-{30 + n % 2},s1,5" for n in range(60)]  # 2026-02-30 and 2026-02-31
    rows += ["seat_change,acme,2026-03-01,s1,2.5"] * 5
    rows += ["seat_change,acme,2026-03-01,s1,-1"] * 3
    path = ledger.write("many.csv", "\n".join(rows) + "\n")
    before = head(ledger)
    result = ledger("import", path, ok=False)
    lines = result.stderr.splitlines()
    assert result.exit_code == 1 and head(ledger) == before
    assert len(lines) == 52
    assert lines[0] == f"{path}:2: effective_date: '2026-02-30' is not a real date"
    assert lines[49] == f"{path}:51: effective_date: '2026-02-31' is not a real date"
    assert lines[50] == ("… and 18 more: 10 × effective_date is not a real date, 5 × quantity is not a whole number of "
                         "seats, 3 × quantity must be 0 or more, not -1")
    assert lines[51] == "revledger: 68 problems; nothing was written"


PERIODS = "customer_id,start_date,end_date,monthly_amount\nacme,2026-01-01,,100\n"


@pytest.mark.parametrize("name, text, args, says", [
    ("events.jsonl", HISTORY.strip().replace("    ", "") + "\n", ["--format", "jsonl"],
     "this looks like an event CSV (its header has type, customer_id, effective_date, …), not --format jsonl: "
     "import it with --format csv"),
    ("periods.csv", PERIODS, ["--format", "csv"],
     "this looks like a periods CSV (its header has customer_id, start_date, end_date, monthly_amount), not "
     "--format csv: import it with --format periods"),
    ("semicolons.csv", PERIODS.replace(",", ";"), [],
     "this looks like CSV separated by semicolons; revledger reads comma-separated CSV: save it with commas "
     "(in Excel: CSV UTF-8 (Comma delimited))"),
    ("header.csv", "type,customer_id,effective_date\n", [], "the file has a header row but no rows: nothing to import"),
    ("exports", None, [], "is a folder; import its files one at a time"),
])
def test_an_import_of_the_wrong_kind_of_file_is_one_line_and_the_ledger_is_unchanged(ledger, name, text, args, says):
    """The issue's import cases on a ledger that holds events: one line (not one per row), the head as it was."""
    path = ledger.folder / name
    if text is None:
        path.mkdir()
    else:
        path.write_text(text, encoding="utf-8")
    assert refused(ledger, "import", str(path), *args) == f"revledger: {path}: {says}"


def test_a_utf16_file_is_one_problem_in_its_own_words_and_the_ledger_is_unchanged(ledger):
    path = ledger.folder / "excel.csv"
    path.write_bytes("type,customer_id,effective_date\ncancel,acme,2026-03-01\n".encode("utf-16"))
    before = head(ledger)
    result = ledger("import", str(path), ok=False)
    assert (result.exit_code, result.stderr.splitlines()) == (1, [
        f"{path}:1: -: is not UTF-8 text: the file is UTF-16; save it as UTF-8 (in Excel: CSV UTF-8) and import it again",
        "revledger: 1 problem; nothing was written"])
    assert head(ledger) == before


def test_import_errors_takes_text_or_json(ledger):
    assert refused(ledger, "import", ledger.write("one.csv", HISTORY), "--errors", "yaml") == (
        "revledger: --errors yaml: one of text, json")


def test_import_errors_json_still_lists_every_problem(ledger):
    rows = ["type,customer_id,effective_date,subscription_id,quantity"] + ["seat_change,acme,2026-02-30,s1,5"] * 60
    result = ledger("import", ledger.write("many.csv", "\n".join(rows) + "\n"), "--errors", "json", ok=False)
    assert len(result.json()) == 60


@pytest.mark.parametrize("args, line", [
    (["record", "seat_change", "--date", "2026-02-01", "--subscription", "s1", "--quantity", "5"],
     "revledger: --customer: is required for seat_change"),
    (["record", "seat_change", "--customer", "acme", "--date", "2026-02-01", "--subscription", "s1", "--quantity", "2.5"],
     "revledger: --quantity: '2.5' is not a whole number of seats"),
    (["record", "subscription_started", "--customer", "x", "--date", "2026-02-01", "--subscription", "s1", "--plan", "p",
      "--amount", "5", "--currency", "XYZ"], "revledger: --currency: 'XYZ' is not an ISO 4217 currency code (e.g. USD, EUR, GBP)"),
    (["record", "customer_updated", "--customer", "acme", "--date", "2026-02-01", "--attr", "bad name=x"],
     "revledger: --attr: is not a valid attribute name (attr.NAME, letters, digits, _ . -)"),
    (["record", "seat_change", "--customer", "nobody", "--date", "2026-02-01", "--subscription", "platform",
      "--quantity", "3"],
     "revledger: --customer: no customer nobody: its first event must start a line (subscription_started) or describe "
     "it (customer_updated), not seat_change"),
    (["record", "cancel", "--customer", "nobody", "--date", "2026-02-01"],
     "revledger: --customer: no customer nobody: its first event must start a line (subscription_started) or describe "
     "it (customer_updated), not cancel"),
])
def test_record_names_its_options_in_one_line(ledger, args, line):
    assert refused(ledger, *args) == line


def test_a_change_for_a_customer_never_seen_in_a_file_says_no_customer(ledger):
    path = ledger.write("late.csv", """
        type,customer_id,effective_date,subscription_id,quantity
        seat_change,nobody,2026-02-01,platform,3
        """)
    result = ledger("import", path, ok=False)
    assert result.stderr.splitlines()[0] == (
        f"{path}:2: customer_id: no customer nobody: its first event must start a line (subscription_started) or "
        "describe it (customer_updated), not seat_change"
    )


# -- ledger safety ------------------------------------------------------------------------------------


def test_currencies_are_upper_cased_on_entry(tmp_path):
    rl = Revledger(tmp_path)
    assert rl("init", "--currency", "usd", "--rate", "eur=1.10").stdout == f"created a ledger at {rl.db} (currency USD)\n"
    rl("record", "subscription_started", "--customer", "fr", "--date", "2026-01-01", "--subscription", "s1", "--plan",
       "pro", "--amount", "100.00", "--currency", "Eur")
    rl("record", "subscription_started", "--customer", "us", "--date", "2026-01-01", "--subscription", "s1", "--plan",
       "pro", "--amount", "100.00", "--currency", "USD")
    assert [e["currency"] for e in rl.events()] == ["EUR", "USD"]
    report = rl("mrr", "--as-of", "2026-01-31", "--format", "json").json()
    assert (report["currency"], report["mrr"]) == ("USD", "210.00")  # 100 × 1.10 + 100


@pytest.mark.parametrize("args, line", [
    (["--currency", "XYZ"], "revledger: --currency: 'XYZ' is not an ISO 4217 currency code (e.g. USD, EUR, GBP)"),
    (["--currency", "dollars"], "revledger: --currency: 'dollars' is not a currency code (three letters, ISO 4217, e.g. USD)"),
    (["--rate", "xyz=1.1"], "revledger: --rate xyz=1.1: 'xyz' is not an ISO 4217 currency code (e.g. USD, EUR, GBP)"),
    (["--rate", "usd=1"], "revledger: --rate usd=1: USD is the ledger currency"),
    (["--rate", "eur=1.1", "--rate", "EUR=1.2"], "revledger: --rate EUR=1.2: EUR is given twice"),
    (["--rate", "EUR=0"], "revledger: --rate EUR=0: a rate must be positive"),
    (["--rate", "EUR=1,1"], "revledger: --rate EUR=1,1: '1,1' is not a decimal number (write it like 1234.50)"),
])
def test_init_refuses_a_currency_that_is_not_iso_4217(tmp_path, args, line):
    rl = Revledger(tmp_path)
    result = rl("init", *args, ok=False)
    assert (result.exit_code, result.stderr) == (1, line + "\n")
    assert not os.path.exists(rl.db)


def test_init_refuses_a_file_that_holds_another_database(tmp_path):
    other = tmp_path / "crm.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE contacts (id INTEGER, name TEXT)")
        conn.execute("INSERT INTO contacts VALUES (1, 'Ada')")
    before = other.read_bytes()
    rl = Revledger(tmp_path)
    rl.db = str(other)
    result = rl("init", ok=False)
    assert (result.exit_code, result.stderr) == (
        1, f"revledger: {other} is another database (its tables: contacts), not a revledger ledger; "
           "init creates a ledger only in a new or empty file\n")
    assert other.read_bytes() == before


@pytest.mark.parametrize("content, line", [
    (b"customer_id,amount\nacme,10\n", "{path} exists and is not a revledger ledger (file is not a database); "
                                       "init creates a ledger only in a new or empty file"),
    (None, "a ledger already exists at {path}"),
])
def test_init_refuses_a_file_that_is_not_empty(rl, content, line):
    path = Path(rl.db) if content is None else rl.folder / "notes.csv"
    if content is not None:
        path.write_bytes(content)
    before = path.read_bytes()
    other = Revledger(rl.folder)
    other.db = str(path)
    result = other("init", ok=False)
    assert (result.exit_code, result.stderr) == (1, "revledger: " + line.format(path=path) + "\n")
    assert path.read_bytes() == before


@pytest.mark.parametrize("db, line", [
    ("{folder}", "revledger: {folder} is a folder, not a ledger; give the ledger's file, e.g. {folder}/revledger.db"),
    ("{folder}/missing/l.db", "revledger: cannot create a ledger at {folder}/missing/l.db: there is no folder {folder}/missing"),
    ("", "revledger: --db is empty: give a SQLite file path or a postgresql:// URL"),
    ("mysql://host/ledger", "revledger: --db mysql://host/ledger: revledger keeps a ledger in a SQLite file (give its path) "
                            "or in PostgreSQL (postgresql://…), not mysql://"),
    ("sqlite:///tmp/l.db", "revledger: --db sqlite:///tmp/l.db: give a SQLite ledger as its file path (/tmp/l.db), not a URL"),
])
def test_a_ledger_location_that_cannot_be_one_is_refused(tmp_path, db, line):
    rl = Revledger(tmp_path)
    rl.db = db.format(folder=tmp_path)
    result = rl("init", ok=False)
    assert (result.exit_code, result.stderr) == (1, line.format(folder=tmp_path) + "\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_postgresql_url_without_the_driver_says_how_to_install_it(ledger, monkeypatch):
    import ledger as package

    for name in [m for m in sys.modules if m == "ledger.postgres" or m.startswith(("psycopg", "eventsourcing.postgres"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` now fails as when it is not installed
    monkeypatch.delattr(package, "postgres", raising=False)
    ledger.db = "postgresql://localhost/revledger"
    result = ledger("mrr", ok=False)
    assert (result.exit_code, result.stderr) == (
        1, "revledger: postgresql:// ledgers need PostgreSQL support (psycopg is not installed): "
           "pip install 'revledger[postgres]'\n")


def test_the_installed_command_without_the_driver_says_how_to_install_it(tmp_path):
    fake = tmp_path / "site" / "psycopg"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ModuleNotFoundError("No module named \'psycopg\'", name="psycopg")\n')
    env = {"PYTHONPATH": str(fake.parent), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = run_installed("--db", "postgresql://localhost/revledger", "mrr", cwd=tmp_path, env=env)
    assert (result.exit_code, result.stderr) == (
        1, "revledger: postgresql:// ledgers need PostgreSQL support (psycopg is not installed): "
           "pip install 'revledger[postgres]'\n")


def test_close_refuses_a_period_that_has_not_ended(ledger):
    assert refused(ledger, "close", "2999-01") == (
        "revledger: 2999-01 has not ended: its last day is 2999-01-31 (today is "
        f"{__import__('datetime').datetime.now(__import__('datetime').UTC).date()}, UTC); close it from 2999-02-01 on, "
        'or give --force "reason" to close it now'
    )
    assert refused(ledger, "close", "2999-01", "--force", " ") == (
        'revledger: --force needs the reason the period is closed before it ends: --force "reason"'
    )


def test_close_with_force_records_its_reason(ledger):
    closed = ledger("close", "2999-Q1", "--force", "board pack preview", "--format", "json").json()
    (event,) = [e for e in ledger.events() if e["type"] == "period_closed"]
    assert closed["period"] == "2999-Q1" and '"force":"board pack preview"' in event["details"]
    text = ledger("close", "2999-Q2", "--force", "forecast").stdout.splitlines()
    assert text[0] == "2999-Q2 ends on 2999-06-30; closed before it ended because: forecast"


def test_close_says_already_closed_for_a_repeat_and_lets_a_lock_in(ledger):
    first = ledger("close", "2026-03", "--format", "json").json()
    assert refused(ledger, "close", "2026-03") == (
        f"revledger: 2026-03 is already closed at {first['recorded_at']} (sequence {first['sequence']}); "
        "`revledger restatements --period 2026-03` shows what has changed since; --lock locks it; "
        '--force "reason" closes it again with its figures as now known'
    )
    locked = ledger("close", "2026-03", "--lock").stdout.splitlines()
    assert locked[0] == f"2026-03 was closed at {first['recorded_at']}; this close records its figures again and locks it"
    lock = [e for e in ledger.events() if e["type"] == "period_closed"][-1]
    assert refused(ledger, "close", "2026-03", "--lock") == (
        f"revledger: 2026-03 is already closed at {lock['recorded_at']} (sequence {lock['sequence']}) and locked; "
        "`revledger restatements --period 2026-03` shows what has changed since; "
        '--force "reason" closes it again with its figures as now known'
    )
    assert sum(e["type"] == "period_closed" for e in ledger.events()) == 2


def test_restatements_of_a_period_never_closed_says_so(ledger):
    ledger("close", "2026-03")
    assert refused(ledger, "restatements", "--period", "2026-04") == (
        "revledger: --period 2026-04: 2026-04 was never closed (closed periods: 2026-03); "
        "`revledger close 2026-04` closes it"
    )
    quiet = ledger("restatements", "--period", "2026-03").stdout
    assert quiet.startswith("2026-03 is not restated: its figures as known at ")
    assert quiet.endswith(" are those recorded at its close\n")
