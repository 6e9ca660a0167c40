"""Fuzzing the importer (issue 7, item 2): random and mutated files never crash it nor half-write them.

hypothesis feeds `import` random bytes, random rows (CSV and JSON Lines, text
and JSON values of every kind) and valid files with bytes or cells mutated.
Every outcome must be a clean answer: exit 0 having appended exactly what it
says, or exit 1 having written nothing — never an unhandled exception (the
in-process runner re-raises any), never "internal error", never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import re
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bad_input import FIELDS, HISTORY, json_line, stored_count

from conftest import IN_CI, Revledger
from ledger import events as ev

EXAMPLES = 1_000 if IN_CI else 80
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
APPENDED = re.compile(r"appended (\d+) events? ")

VALID = """\
type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,billing_months,discount_pct,note
subscription_started,fz-a,2026-01-01,s1,pro,10,25.00,,,,first
seat_change,fz-a,2026-02-01,s1,,12,,,,,more seats
subscription_started,fz-b,2026-01-15,u1,usage,,,199.99,12,10,annual
usage_change,fz-b,2026-03-01,u1,,,,250.00,,,
upsell,fz-a,2026-04-01,s1,team,20,30.00,,,,
cancel,fz-b,2026-06-01,,,,,,,,gone
"""


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    rl = Revledger(tmp_path_factory.mktemp("fuzz"))
    rl("init", "--rate", "EUR=1.08")
    path = rl.folder / "history.jsonl"
    path.write_text("".join(json_line(r) + "\n" for r in HISTORY), encoding="utf-8")
    rl("import", str(path))
    return rl


def attempt(rl, data: bytes, fmt: str) -> None:
    """Import ``data``: a clean yes (exactly what it reports appended) or a clean no (nothing written)."""
    path = rl.folder / f"fuzz.{'csv' if fmt == 'periods' else fmt}"
    path.write_bytes(data)
    before = stored_count(rl.db)
    result = rl("import", str(path), "--format", fmt, ok=False)  # an unhandled exception propagates and fails here
    after = stored_count(rl.db)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    if result.exit_code == 0:
        found = APPENDED.search(result.stdout)
        assert after - before == (int(found[1]) if found else 0), result.stdout
    else:
        assert result.exit_code == 1, (result.exit_code, result.stderr)
        assert after == before, "a refused import wrote events"
        assert result.stderr.splitlines()[-1].startswith("revledger: "), result.stderr
        assert all(line.strip() for line in result.stderr.splitlines())


# -- raw bytes -----------------------------------------------------------------------------

@pytest.mark.slow
@FUZZ
@given(data=st.binary(max_size=2_000), fmt=st.sampled_from(["csv", "jsonl", "periods"]))
def test_random_bytes(ledger, data, fmt):
    attempt(ledger, data, fmt)


@pytest.mark.slow
@FUZZ
@given(data=st.data(), fmt=st.sampled_from(["csv", "jsonl", "periods"]))
def test_mutated_bytes_of_a_valid_file(ledger, data, fmt):
    text = VALID if fmt != "jsonl" else "".join(json_line(r) + "\n" for r in csv.DictReader(io.StringIO(VALID)))
    if fmt == "periods":
        text = "customer_id,start_date,end_date,monthly_amount\nfz-p,2026-01-01,2026-03-31,100.00\nfz-q,2026-02-01,,50\n"
    raw = bytearray(text.encode())
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        where = data.draw(st.integers(0, max(len(raw) - 1, 0)), label="at")
        how = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"]), label="how")
        if how == "flip" and raw:
            raw[where] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        elif how == "delete" and raw:
            del raw[where]
        elif how == "insert":
            raw[where:where] = data.draw(st.binary(min_size=1, max_size=4), label="bytes")
        elif how == "truncate":
            del raw[where:]
        elif how == "duplicate":
            raw[where:where] = raw[where : where + data.draw(st.integers(1, 80), label="length")]
    attempt(ledger, bytes(raw), fmt)


# -- structured rows -----------------------------------------------------------------------

CUSTOMERS = ["acme", "globex", "initech", "fz-a", "fz-b", "new-1", "new-2", ""]
cells = st.one_of(
    st.sampled_from(["", "0", "1", "-1", "2.5", "12", "100", "101", "1e3", "NaN", "1,000.00", "50.00", "0.005",
                     "2026-01-01", "2026-02-30", "2026-06-15", "01/02/2026", "s1", "u1", "y1", "n1", "pro", "EUR",
                     "USD", "GBP", "a1", "g1", "g2", "i1", " ", "\x00", "'; DROP TABLE stored_events; --"]),
    st.sampled_from(CUSTOMERS),
    st.sampled_from(ev.EVENT_TYPES),
    st.text(max_size=30),
    st.text(string.digits + ".-", max_size=14),
)
columns = st.lists(st.sampled_from([*FIELDS, "attr.tier", "segment", "bogus", ""]), min_size=1, max_size=10, unique=True)


def row_for(columns_: list[str]):
    """A row that is often nearly valid: a real type and customer and a sensible date, the rest drawn freely."""
    base = st.fixed_dictionaries(
        {"type": st.sampled_from(ev.EVENT_TYPES), "customer_id": st.sampled_from(CUSTOMERS[:-1]),
         "effective_date": st.sampled_from(["2026-01-10", "2026-02-01", "2026-05-05", "2025-12-31"])}
    )
    return st.tuples(base, st.fixed_dictionaries({c: cells for c in columns_})).map(lambda p: {**p[0], **p[1]})


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_random_csv_rows(ledger, data):
    cols = ["type", "customer_id", "effective_date", *[c for c in data.draw(columns, label="columns")
                                                       if c not in ("type", "customer_id", "effective_date")]]
    rows = data.draw(st.lists(row_for(cols), min_size=1, max_size=8), label="rows")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(cols)
    for row in rows:
        writer.writerow([row.get(c, "") for c in cols])
    attempt(ledger, out.getvalue().encode(), "csv")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20) | cells,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_random_jsonl_objects(ledger, data):
    lines = []
    for _ in range(data.draw(st.integers(1, 6), label="lines")):
        base = data.draw(row_for([]), label="base")
        extra = data.draw(st.dictionaries(st.sampled_from([*FIELDS, "attr.tier", "bogus"]), json_values, max_size=6),
                          label="fields")
        value = {**base, **extra}
        if data.draw(st.booleans(), label="as a bare value"):
            value = data.draw(json_values, label="value")
        lines.append(json.dumps(value, ensure_ascii=data.draw(st.booleans(), label="ascii")))
    attempt(ledger, ("\n".join(lines) + "\n").encode(), "jsonl")


def test_the_ledger_is_still_consistent_after_the_fuzzing(ledger):
    """Whatever was accepted forms a valid log: a rebuild replays it to the same answers."""
    events = ledger.events()
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    before = ledger("mrr", "--as-of", "2026-06-30", "--format", "json").json()
    ledger("rebuild")
    assert ledger("mrr", "--as-of", "2026-06-30", "--format", "json").json() == before
    assert ledger("verify").exit_code == 0
