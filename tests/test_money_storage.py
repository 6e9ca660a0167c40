"""Money in storage (issue 7, item 7): Decimals in, the same Decimals out; never a binary float.

* hypothesis imports amounts and reads them back through the event store, the
  read models (`log`) and `mrr`, exactly;
* no column of either SQLite file has REAL (or NUMERIC) affinity, and no
  stored value is a REAL;
* a million line MRRs summed as integer cents through the read model equal
  their Decimal sum to the cent.
"""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, IN_CI, Revledger
from ledger.customer import MAX_MRR
from ledger.money import money_text, to_cents
from ledger.location import open_store
from projections import queries
from projections.readmodel import CURRENT, ReadModel, default_path

LINES = 1_000_000 if IN_CI else 250_000


def exact_mrr(base: Decimal, discount: Decimal, months: int) -> Decimal:
    """SPEC §4 with enough precision that nothing is rounded before the one quantization to cents."""
    with localcontext() as ctx:
        ctx.prec = 100
        return (base * (1 - discount / 100) / months).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def plain(value: Decimal) -> str:
    return format(value, "f")


# Amounts as a file gives them: at most 12 digits before the point, at most 6 after.
amounts = st.builds(lambda n, places: Decimal(n).scaleb(-places), st.integers(0, 10**12 - 1), st.integers(0, 6)).map(
    lambda d: d if d.adjusted() < 12 else Decimal(0)
)
discounts = st.builds(lambda n, places: Decimal(n).scaleb(-places), st.integers(0, 100), st.integers(0, 6)).filter(
    lambda d: d <= 100
)

_customers = itertools.count()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    rl = Revledger(tmp_path_factory.mktemp("money"))
    rl("init")
    return rl


@settings(max_examples=60 if not IN_CI else 300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    price=amounts,
    seats=st.one_of(st.integers(0, 10), st.integers(0, 999_999_999)),
    discount=discounts,
    months=st.sampled_from([1, 3, 12, 24, 36, 7]),
    flat=st.booleans(),
    fmt=st.sampled_from(["csv", "jsonl-text", "jsonl-number"]),
)
@example(price=Decimal("0.015"), seats=1, discount=Decimal(0), months=1, flat=True, fmt="csv")  # a half cent: to even
@example(price=Decimal("0.025"), seats=1, discount=Decimal(0), months=1, flat=True, fmt="jsonl-number")
@example(price=Decimal("999999999999.999999"), seats=999_999_999, discount=Decimal("0.000001"), months=7, flat=False,
         fmt="jsonl-number")
@example(price=Decimal("33.33"), seats=3, discount=Decimal("33.333333"), months=12, flat=False, fmt="jsonl-number")
def test_amounts_round_trip_exactly_through_both_stores_and_mrr(ledger, price, seats, discount, months, flat, fmt):
    customer = f"m{next(_customers)}"
    cells = {"event_id": customer, "type": "subscription_started", "customer_id": customer,
             "effective_date": "2026-01-01", "subscription_id": "s1", "plan": "p", "billing_months": months,
             "discount_pct": plain(discount)}
    cells.update({"amount": plain(price)} if flat else {"quantity": seats, "unit_price": plain(price)})
    if fmt == "csv":
        path = ledger.folder / "money.csv"
        path.write_text(",".join(cells) + "\n" + ",".join(str(v) for v in cells.values()) + "\n", encoding="utf-8")
    else:
        path = ledger.folder / "money.jsonl"
        text = json.dumps(cells)
        if fmt == "jsonl-number":  # bare JSON numbers: read as Decimal, never float
            for name in ("amount", "unit_price", "discount_pct"):
                if name in cells:
                    text = text.replace(f'"{name}": "{cells[name]}"', f'"{name}": {cells[name]}')
        path.write_text(text + "\n", encoding="utf-8")
    base = price if flat else seats * price
    expected = exact_mrr(base, discount, months)
    result = ledger("import", str(path), ok=False)
    if expected > MAX_MRR:  # its cents would not fit the read model's 64-bit columns: refused at entry
        assert result.exit_code == 1 and "more than revledger keeps" in result.stderr, result.stderr
        unknown = ledger("log", "--customer", customer, ok=False)  # nothing of it was written
        assert unknown.stderr.startswith(f"revledger: --customer {customer}: no such customer"), unknown.stderr
        return
    assert result.exit_code == 0, result.stderr

    money_field = "amount" if flat else "unit_price"
    (logged,) = ledger.events("--customer", customer)
    assert Decimal(logged[money_field]) == price and logged[money_field] == str(Decimal(plain(price)))
    assert Decimal(logged["discount_pct"]) == discount
    store = open_store(ledger.db)
    try:
        (stored,) = [e for e in store.events(after=logged["sequence"] - 1) if e.event_id == customer]
    finally:
        store.close()
    assert getattr(stored, money_field) == price and isinstance(getattr(stored, money_field), Decimal)
    assert str(getattr(stored, money_field)) == logged[money_field]

    report = ledger("mrr", "--as-of", "2026-01-31", "--customer", customer, "--format", "json").json()
    assert report["mrr"] == money_text(expected), (base, discount, months)
    assert report["arr"] == money_text(expected * 12)


@pytest.mark.postgres
@pytest.mark.parametrize("price, seats, discount, months", [
    (Decimal("0.015"), 1, Decimal(0), 1),
    (Decimal("999999999.999999"), 9_999, Decimal("0.000001"), 7),
    (Decimal("33.33"), 3, Decimal("33.333333"), 12),
    (Decimal("0.000001"), 999_999_999, Decimal("12.5"), 36),
    (Decimal("1234567.89"), 0, Decimal("100"), 1),
])
def test_amounts_round_trip_exactly_on_postgres(postgres_url, tmp_path, price, seats, discount, months):
    rl = Revledger(tmp_path)
    rl.db = postgres_url
    rl("init")
    row = {"type": "subscription_started", "customer_id": "pg", "effective_date": "2026-01-01",
           "subscription_id": "s1", "plan": "p", "quantity": seats, "unit_price": plain(price),
           "discount_pct": plain(discount), "billing_months": months}
    text = json.dumps(row).replace(f'"{plain(price)}"', plain(price))  # a bare JSON number: read as Decimal
    path = tmp_path / "pg.jsonl"
    path.write_text(text + "\n", encoding="utf-8")
    rl("import", str(path))
    (logged,) = rl.events()
    assert logged["unit_price"] == str(price) and Decimal(logged["discount_pct"]) == discount
    store = open_store(postgres_url)
    try:
        (stored,) = list(store.events())
    finally:
        store.close()
    assert stored.unit_price == price and str(stored.unit_price) == str(price)
    report = rl("mrr", "--as-of", "2026-01-31", "--format", "json").json()
    assert report["mrr"] == money_text(exact_mrr(seats * price, discount, months))


# -- no REAL anywhere ----------------------------------------------------------------------

def affinity(declared: str) -> str:
    """SQLite's column affinity rules (https://sqlite.org/datatype3.html §3.1)."""
    kind = declared.upper()
    if "INT" in kind:
        return "INTEGER"
    if any(word in kind for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in kind or not kind:
        return "BLOB"
    if any(word in kind for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def test_the_affinity_rules_are_sqlites():
    with sqlite3.connect(":memory:") as conn:
        conn.execute("CREATE TABLE t (a INTEGER, b TEXT, c BLOB, d FLOAT, e DECIMAL(10,2), f)")
        conn.execute("INSERT INTO t VALUES ('1', 2, '3.50', '4.50', '5.50', '6.50')")
        typeof = conn.execute("SELECT typeof(a), typeof(b), typeof(c), typeof(d), typeof(e), typeof(f) FROM t").fetchone()
    assert [affinity(t) for t in ("INTEGER", "TEXT", "BLOB", "FLOAT", "DECIMAL(10,2)", "")] == [
        "INTEGER", "TEXT", "BLOB", "REAL", "NUMERIC", "BLOB"]
    assert typeof == ("integer", "text", "text", "real", "real", "text")  # NUMERIC turns '5.50' into a float too


def test_no_column_of_either_file_can_hold_money_as_a_float(ledger, tmp_path):
    rl = Revledger(tmp_path)
    rl("init", "--rate", "EUR=1.085")
    rl("import", str(FIXTURES / "example.csv"))
    rl("record", "subscription_started", "--customer", "eu", "--date", "2026-01-01", "--subscription", "e1",
       "--plan", "pro", "--amount", "1000.005", "--currency", "EUR", "--discount", "12.5")
    rl("close", "2026-01")
    rl("metrics", "--from", "2026-01-01", "--to", "2026-03-31")
    checked = []
    for path in (rl.db, default_path(rl.db)):
        with sqlite3.connect(path) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            assert tables
            for table in tables:
                for _, column, declared, *_ in conn.execute(f'PRAGMA table_info("{table}")'):
                    checked.append(f"{table}.{column}")
                    assert affinity(declared) in ("INTEGER", "TEXT", "BLOB"), f"{path}: {table}.{column} is {declared}"
                    reals = conn.execute(f'SELECT count(*) FROM "{table}" WHERE typeof("{column}") = \'real\'').fetchone()
                    assert reals == (0,), f"{path}: {table}.{column} holds REAL values"
    assert {"movements.from_cents", "movements.to_cents", "movements.amount_cents", "stored_events.state"} <= set(checked)


# -- a million line MRRs -------------------------------------------------------------------

@pytest.mark.slow
def test_a_million_line_mrrs_sum_to_the_cent(tmp_path):
    """Line MRRs (SPEC §4, quantized once) stored as integer cents sum exactly, through the read model's query."""
    rng = random.Random(20260101)
    rl = Revledger(tmp_path)
    rl("init")
    rl("record", "customer_updated", "--customer", "anchor", "--date", "2026-01-01", "--name", "anchor")
    store = open_store(rl.db)
    rm = ReadModel(default_path(rl.db), store)
    rm.catch_up()
    # Line MRRs as SPEC §4 leaves them: Decimals quantized to cents, from a cent to ten million.
    line_mrrs = [Decimal(rng.randrange(1, 10**9)).scaleb(-2) for _ in range(LINES)]
    rows = ((f"c{n:07d}", "2026-01-01", "new", None, 0, to_cents(m), to_cents(m), "[]", "{}", 1, CURRENT)
            for n, m in enumerate(line_mrrs))
    rm.db.execute("BEGIN")
    rm.db.executemany(
        "INSERT INTO movements (customer_id, date, category, cause, from_cents, to_cents, amount_cents, "
        "event_ids, parts, known_from, known_to, grain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        rows,
    )
    rm.db.execute("COMMIT")
    expected = sum(line_mrrs, Decimal(0))
    report = queries.mrr_report(rm, date(2026, 1, 31), queries.knowledge(rm, None))
    assert report["mrr"] == money_text(expected)
    assert report["arr"] == money_text(12 * expected)
    assert report["customers"] == sum(1 for m in line_mrrs if m > 0)
    (total,) = rm.db.execute("SELECT sum(to_cents) FROM movements WHERE known_to = ?", (CURRENT,)).fetchone()
    assert isinstance(total, int) and total == to_cents(expected)
    as_float = sum(float(m) for m in line_mrrs)
    print(f"\n{LINES:,} line MRRs: Decimal sum {expected}, float sum {as_float!r} (off by {float(expected) - as_float!r})")
    rm.close()
    store.close()
