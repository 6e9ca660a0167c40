"""The real command line, driven with generated arguments (issue 17): no input ends in an internal error.

hypothesis builds whole command lines — every command, with option values
drawn from what breaks programs: dates at the ends of the calendar and
impossible ones, instants and `now`, unknown formats, periods, metrics,
attributes and customers, `--out` paths that are folders, in missing folders
or where nothing may be written, ledgers that are folders, other files or
other kinds of URL. Each runs in-process (an unhandled exception fails the
test with its traceback) and must end in exit 0, 1 (refused) or 2 (a command
line that could not be read), never 70, with every refusal one line starting
``revledger:`` on stderr. Commands that write run on a copy of the ledger, so
every example starts from the same one. CI (`CI=true`) runs 3,000 command
lines; a local run 300.
"""

from __future__ import annotations

import gc
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, IN_CI, Revledger

EXAMPLES = 3000 if IN_CI else 300

# Each list: the values that make sense, then (after None) the ones that break programs.
DATES = ["2026-01-01", "2026-03-31", "2026-06-30", "2026-12-31", "0001-01-01", "9999-12-31", "2024-02-29", None,
         "9999-12-01", "0001-01-31", "2026-02-29", "2026-13-01", "0000-01-01", "2026-1-1", "yesterday", "", " "]
INSTANTS = ["now", "2026-06-30", "2026-06-30T12:00:00Z", "0001-01-01", "9999-12-31T23:59:59.999999Z", None,
            "NOW", "0001-01-01T00:00:00Z", "9999-12-31", "2026-06-30T25:00:00Z", "2026-06-30T12:00:00+14:00",
            "tomorrow", "", "1e9"]
FORMATS = ["table", "json", "csv", None, "xlsx", "html", "JSON", ""]
EXPORTS = ["table", "json", "csv", "xlsx", None, "html", "JSON", ""]
PERIODS = ["month", "quarter", "year", None, "week", "Month", ""]
CLOSE_PERIODS = ["2026-03", "2026-Q1", "2026-q2", "2026", "2025-12", "0001-01", "9999-12", "2027-01", None,
                 "0000", "2026-13", "2026-Q5", "March", ""]
METRICS = ["opening_mrr", "closing_mrr", "arr", "bridge.new", "bridge.expansion", "bridge.net_new",
           "retention.churn", "customers.churned", "causes.expansion.seats", None,
           "retention.nrr", "causes.contraction.x", "bridge.upsell", "quick_ratio", "", "bridge."]
BY = ["segment", "channel", "region", "customer_name", "attr.industry", None, "attr.nope", "attr.", "colour", ""]
GROUPS = ["SMB", "Enterprise", None, "smb", "Nope", ""]
CUSTOMERS = ["cust-001", "cust-040", "cust-013", None, "nobody", "%", "' OR '1'='1", "", "cust-001\nx", "\x1b[2J\u2028"]
CATEGORIES = ["new", "expansion", "churn", None, "upsell", ""]
POLICIES = ["churn_recognition=term_end", "reactivation_grace_days=30", "movement_grain=month", None,
            "movement_grain=week", "reactivation_grace_days=-1", "nonsense", "=", "churn_recognition="]
CURRENCIES = ["USD", "usd", "EUR", None, "XYZ", "EURO", "€", ""]
NUMBERS = ["1", "2", "3", None, "0", "-1", "1.5", "x", "999999999999", ""]
EVENT_TYPES = ["subscription_started", "seat_change", "cancel", "customer_updated", "void", "upsell", None, "refund"]


def build_ledger(folder: Path) -> Revledger:
    """The example ledger (40 customers, 212 events) and the files and folders the commands are pointed at."""
    rl = Revledger(folder)
    rl("init", "--currency", "USD")
    rl("import", str(FIXTURES / "example.csv"))
    rl("checkpoint")  # the read models are built and caught up before the copies are taken
    (folder / "a-folder").mkdir()
    (folder / "text.txt").write_text("not a ledger\n", encoding="utf-8")
    with sqlite3.connect(folder / "other.db") as conn:
        conn.execute("CREATE TABLE invoices (id TEXT)")
    rl.write("valid.csv", """
        event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price
        fz-1,subscription_started,fuzz-co,2026-07-01,s1,pro,3,10.00
        """)
    rl.write("bad.csv", """
        type,customer_id,effective_date,subscription_id,quantity
        seat_change,nobody,2026-02-30,s1,2.5
        seat_change,cust-001,9999-12-31,platform,-1
        """)
    rl.write("periods.csv", """
        customer_id,start_date,end_date,monthly_amount
        fuzz-p,2026-01-01,2026-03-31,100.00
        """)
    rl.write("header-only.csv", "type,customer_id,effective_date\n")
    (folder / "empty.csv").write_bytes(b"")
    (folder / "utf16.csv").write_bytes("type,customer_id\ncancel,cust-001\n".encode("utf-16"))
    (folder / "binary.jsonl").write_bytes(bytes(range(256)))
    return rl


@pytest.fixture(scope="module")
def ledger(tmp_path_factory) -> Revledger:
    return build_ledger(tmp_path_factory.mktemp("cli-fuzz"))


HERE = "{here}"  # the folder of the ledger a command runs on, filled in when it runs
# Where --out may point: a file, a folder, a missing folder, under a file, where nothing may be written.
OUTS = [f"{HERE}/out.csv", f"{HERE}/out.xlsx", f"{HERE}/out.html", f"{HERE}/a-folder", f"{HERE}/missing/out.csv",
        f"{HERE}/text.txt/out.csv", "/proc/revledger-fuzz.csv", "/sys/revledger-fuzz.csv", ""]
# What --db may name besides the ledger: nothing, a folder, other files, other kinds of URL.
LEDGERS = [f"{HERE}/missing.db", f"{HERE}/a-folder", f"{HERE}/text.txt", f"{HERE}/other.db", f"{HERE}/missing/x.db",
           f"{HERE}/empty.csv", "mysql://host/db", "sqlite:///x.db", "", "postgresql://localhost:1/x"]
FILES = [f"{HERE}/{name}" if name else None for name in ("valid.csv", "bad.csv", "periods.csv", "", "header-only.csv",
                                                        "empty.csv", "utf16.csv", "binary.jsonl", "a-folder",
                                                        "missing.csv", "text.txt")]


def value(values: list) -> st.SearchStrategy[str]:
    """One of ``values``: three times in four one that makes sense (before the None), else one that does not."""
    cut = values.index(None) if None in values else len(values)
    good, bad = values[:cut], values[cut + 1:]
    return st.one_of(*[st.sampled_from(good)] * 3, *([st.sampled_from(bad)] if bad else []))


def maybe(flag: str, values) -> st.SearchStrategy[list[str]]:
    """``[]`` or ``[flag, value]``."""
    return st.one_of(st.just([]), value(values).map(lambda v: [flag, v]))


def given_(flag: str, values) -> st.SearchStrategy[list[str]]:
    """``[flag, value]`` nearly always (a required option), ``[]`` once in a while."""
    return st.one_of(*[value(values).map(lambda v: [flag, v])] * 7, st.just([]))


def switch(flag: str) -> st.SearchStrategy[list[str]]:
    return st.sampled_from([[], [flag]])


def argument(values) -> st.SearchStrategy[list[str]]:
    return value(values).map(lambda v: [v])


def flags(*parts: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    return st.tuples(*parts).map(lambda chosen: [word for part in chosen for word in part])


def read_options(formats=FORMATS) -> list[st.SearchStrategy[list[str]]]:
    return [maybe("--known-at", INSTANTS), maybe("--policy", POLICIES), maybe("--format", formats),
            maybe("--out", OUTS)]


def range_options() -> list[st.SearchStrategy[list[str]]]:
    return [given_("--from", DATES), given_("--to", DATES)]


def command_lines() -> st.SearchStrategy[tuple[list[str], bool]]:
    """(arguments, writes): a whole command line, and whether it may change the ledger."""
    reads = {
        "log": flags(maybe("--customer", CUSTOMERS), *read_options()),
        "mrr": flags(maybe("--as-of", DATES), maybe("--customer", CUSTOMERS), maybe("--by", BY), *read_options()),
        "movements": flags(*range_options(), maybe("--customer", CUSTOMERS), maybe("--category", CATEGORIES),
                           *read_options(EXPORTS)),
        "metrics": flags(*range_options(), maybe("--period", PERIODS), maybe("--by", BY), *read_options(EXPORTS)),
        "cohorts": flags(*range_options(), *read_options(EXPORTS)),
        "explain": flags(argument(METRICS), *range_options(), maybe("--group", GROUPS),
                         maybe("--by", BY), *read_options(["table", "json", "xlsx", None, "csv", ""])),
        "restatements": flags(maybe("--period", CLOSE_PERIODS), *read_options()),
        "diff": flags(argument(["metrics", "mrr", "movements", None, "log", ""]),
                      given_("--known-at", INSTANTS), given_("--known-at", INSTANTS), *range_options(),
                      maybe("--period", PERIODS), maybe("--by", BY), maybe("--as-of", DATES),
                      maybe("--customer", CUSTOMERS), maybe("--category", CATEGORIES), maybe("--format", FORMATS)),
        "report": flags(*range_options(), given_("--out", OUTS), maybe("--period", PERIODS), maybe("--by", BY),
                        maybe("--known-at", INSTANTS), maybe("--policy", POLICIES)),
        "verify": flags(maybe("--checkpoint", ["0:" + "0" * 64, None, "1:abc", "212:", "x", "99999:" + "f" * 64]),
                        maybe("--format", FORMATS)),
        "checkpoint": st.just([]),
        "generate": flags(given_("--customers", NUMBERS[:5] + ["x"]), given_("--months", NUMBERS[:5] + ["x"]),
                          given_("--out", OUTS), maybe("--start", DATES), maybe("--seed", NUMBERS),
                          maybe("--format", FORMATS)),
    }
    writes = {
        "init": flags(maybe("--currency", CURRENCIES), maybe("--rate", ["EUR=1.1", "gbp=0.8", None, "eur=0", "XYZ=1", "USD=1", "EUR"])),
        "import": flags(argument(FILES),
                        maybe("--format", ["csv", "jsonl", "periods", None, "invoices", "stripe", "xml", ""]),
                        switch("--dry-run"), maybe("--recorded-at", INSTANTS),
                        maybe("--errors", ["text", "json", None, "yaml"]), maybe("--restate", ["late data", None, ""])),
        "record": flags(argument(EVENT_TYPES), given_("--customer", CUSTOMERS),
                        given_("--date", DATES), maybe("--subscription", ["platform", "s1", None, ""]),
                        maybe("--plan", ["pro", None, ""]), maybe("--quantity", NUMBERS), maybe("--amount", NUMBERS),
                        maybe("--unit-price", NUMBERS), maybe("--currency", CURRENCIES),
                        maybe("--event", ["ex-0001", None, "nope", ""]), maybe("--reason", ["typo", None, ""]),
                        switch("--dry-run")),
        "amend": flags(argument(["ex-0001", "ex-0212", None, "nope", ""]), given_("--reason", ["typo", None, ""]), maybe("--date", DATES), maybe("--quantity", NUMBERS),
                       maybe("--amount", NUMBERS), switch("--dry-run")),
        "close": flags(argument(CLOSE_PERIODS), switch("--lock"),
                       maybe("--force", ["early close", None, ""]), maybe("--format", FORMATS)),
        "rebuild": st.just([]),
    }
    read = st.sampled_from(sorted(reads)).flatmap(lambda name: reads[name].map(lambda rest: ([name, *rest], False)))
    write = st.sampled_from(sorted(writes)).flatmap(lambda name: writes[name].map(lambda rest: ([name, *rest], True)))
    elsewhere = st.tuples(st.sampled_from([p for p in LEDGERS if p is not None]), st.sampled_from(["mrr", "init", "log", "verify"])).map(
        lambda pair: (["--db", pair[0], pair[1]], True)
    )
    garbage = st.lists(st.sampled_from(["--from", "--to", "mrr", "metrix", "--bogus", "-x", "--", "--help", "="]),
                       max_size=4).map(lambda words: (words, False))
    return st.one_of(read, read, read, write, write, elsewhere, garbage)


def copy_of(pristine: Path, into: Path) -> Revledger:
    """The fuzz ledger's folder — the ledger, its read models and the files around it — afresh, for a command that may write."""
    if into.exists():
        shutil.rmtree(into)
    shutil.copytree(pristine, into)
    return Revledger(into)


def check_outcome(args: list[str], result) -> None:
    """Exit 0, 1 or 2; never a traceback; every refusal ends with one ``revledger:`` line (a usage error is only that)."""
    shown = f"revledger {' '.join(repr(a) if not a or ' ' in a else a for a in args)}"
    assert result.exit_code in (0, 1, 2), f"{shown}: exit {result.exit_code}\n{result.stderr}"
    for text in (result.stdout, result.stderr):
        assert "Traceback" not in text and "internal error" not in text, f"{shown}:\n{text}"
    if result.exit_code == 0:
        return
    lines = result.stderr.splitlines()
    assert lines and lines[-1].startswith("revledger: "), f"{shown}: no one-line reason\n{result.stderr}"
    if result.exit_code == 2:
        assert len(lines) == 1, f"{shown}: a usage error of more than one line\n{result.stderr}"


def test_no_generated_command_line_ends_in_an_internal_error(ledger, tmp_path_factory):
    seen: Counter = Counter()
    gc.collect()  # every connection of the set-up closed, so the copy below is a whole, quiet ledger
    pristine = tmp_path_factory.mktemp("cli-fuzz-pristine") / "ledger"
    shutil.copytree(ledger.folder, pristine)
    scratch = tmp_path_factory.mktemp("cli-fuzz-copies") / "copy"

    @settings(max_examples=EXAMPLES, deadline=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(command_lines())
    # What the fuzz (and issue 17) found, tried first on every run.
    @example((["generate", "--customers", "1", "--months", "1", "--out", f"{HERE}/g.csv", "--start", "9999-12-31"], False))
    @example((["metrics", "--from", "9999-12-01", "--to", "9999-12-31"], False))
    @example((["metrics", "--from", "2026-01-01", "--to", "9999-12-31", "--period", "year"], False))
    @example((["cohorts", "--from", "2026-01-01", "--to", "9999-12-31"], False))
    @example((["report", "--from", "0001-01-01", "--to", "0001-12-31", "--out", f"{HERE}/r.html"], False))
    @example((["close", "9999-12"], True))
    @example((["--db", "", "init"], True))
    @example((["metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "xlsx", "--out", f"{HERE}/a-folder"], False))
    def run(call):
        args, writes = call
        target = copy_of(pristine, scratch) if writes else ledger
        args = [a.replace(HERE, str(target.folder)) for a in args]
        full = args if args[:1] == ["--db"] else ["--db", target.db, *args]
        result = target.runner.invoke(_app(), full, catch_exceptions=False)
        check_outcome(full, result)
        seen[(args[0] if args and args[0] != "--db" else "--db", result.exit_code)] += 1

    run()
    outcomes = Counter(code for (_, code) in seen.elements())
    print(f"\n{sum(seen.values())} command lines: " + ", ".join(f"exit {c}: {n}" for c, n in sorted(outcomes.items())))
    assert outcomes[0] and outcomes[1] and outcomes[2], outcomes  # answers, refusals and unreadable lines all tried
    assert len({name for name, _ in seen}) >= 15, sorted(seen)


def _app():
    from cli.app import app

    return app
