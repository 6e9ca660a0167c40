"""The read model's own rows (projections/readmodel.py, projections/versioning.py), worked by hand.

Each append writes a customer's rows once, after all its events, and changes
only the rows whose values differ: a changed row is closed (``known_to`` = the
append's last sequence) and its successor opened from there; an unchanged row
keeps its bounds. A catch-up applies each append exactly once.
"""

from __future__ import annotations

import sqlite3

from conftest import Revledger
from ledger.location import open_store
from projections.readmodel import ReadModel, default_path
from projections.versioning import CURRENT

START = """
event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
b1,subscription_started,acme,2026-01-01,s1,pro,10,100.00,
b2,subscription_started,bob,2026-01-10,s1,team,,,250.00
"""
SEATS = """
event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
b3,seat_change,acme,2026-02-01,s1,,15,,
"""
# a backdated price change of acme, and bob untouched
PRICE = """
event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
b4,price_change,acme,2026-01-15,s1,,,120.00,
"""


def movements(rl: Revledger) -> list[tuple]:
    """Every day movement row: (customer, date, category, cause, from, to, events, known_from, known_to)."""
    with sqlite3.connect(default_path(rl.db)) as db:
        return db.execute(
            "SELECT customer_id, date, category, cause, from_cents, to_cents, event_ids, known_from, known_to "
            "FROM movements WHERE grain = 0 ORDER BY customer_id, date, known_from"
        ).fetchall()


def test_an_append_supersedes_only_the_rows_whose_values_change(rl):
    rl("import", rl.write("start.csv", START))  # sequences 1–2
    assert movements(rl) == [
        ("acme", "2026-01-01", "new", None, 0, 100000, '["b1"]', 2, CURRENT),
        ("bob", "2026-01-10", "new", None, 0, 25000, '["b2"]', 2, CURRENT),
    ]
    rl("import", rl.write("seats.csv", SEATS))  # sequence 3: a new row, nothing closed
    assert movements(rl) == [
        ("acme", "2026-01-01", "new", None, 0, 100000, '["b1"]', 2, CURRENT),
        ("acme", "2026-02-01", "expansion", "seats", 100000, 150000, '["b3"]', 3, CURRENT),
        ("bob", "2026-01-10", "new", None, 0, 25000, '["b2"]', 2, CURRENT),
    ]
    rl("import", rl.write("price.csv", PRICE))  # sequence 4: acme's January is re-priced, its February re-based
    assert movements(rl) == [
        ("acme", "2026-01-01", "new", None, 0, 100000, '["b1"]', 2, CURRENT),  # unchanged: keeps its bounds
        ("acme", "2026-01-15", "expansion", "price", 100000, 120000, '["b4"]', 4, CURRENT),
        ("acme", "2026-02-01", "expansion", "seats", 100000, 150000, '["b3"]', 3, 4),  # closed at 4 …
        ("acme", "2026-02-01", "expansion", "seats", 120000, 180000, '["b3"]', 4, CURRENT),  # … and re-opened
        ("bob", "2026-01-10", "new", None, 0, 25000, '["b2"]', 2, CURRENT),  # another customer: untouched
    ]


def test_a_void_closes_the_rows_of_what_it_voids(rl):
    rl("import", rl.write("start.csv", START))
    rl("import", rl.write("seats.csv", SEATS))
    rl("record", "void", "--customer", "acme", "--event", "b3", "--reason", "wrong seats")  # sequence 4
    rows = movements(rl)
    assert ("acme", "2026-02-01", "expansion", "seats", 100000, 150000, '["b3"]', 3, 4) in rows
    assert [r for r in rows if r[0] == "acme" and r[8] == CURRENT] == [
        ("acme", "2026-01-01", "new", None, 0, 100000, '["b1"]', 2, CURRENT),
    ]


def test_a_catch_up_applies_each_append_exactly_once(rl):
    rl("import", rl.write("start.csv", START))
    rl("import", rl.write("seats.csv", SEATS))
    before = movements(rl)
    rm = ReadModel(default_path(rl.db), open_store(rl.db))
    try:
        assert rm.catch_up() == 3 and rm.catch_up() == 3  # nothing new: nothing applied again
        assert rm.position()[1] == 3
    finally:
        rm.close()
    assert movements(rl) == before
    with sqlite3.connect(default_path(rl.db)) as db:
        assert db.execute("SELECT count(*), min(sequence), max(sequence) FROM events").fetchone() == (3, 1, 3)
