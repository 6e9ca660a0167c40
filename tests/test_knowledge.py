"""SPEC §2: an append is known whole. `--known-at` inside an import's microseconds sees none of it; at its last, all of it.

Two imports recorded at set times (`import --recorded-at T` puts an import's
events one microsecond apart, the last at T), then `mrr`, `movements` and
`metrics` asked at each edge of the second import's span. The figures beside
each question are worked by hand from the rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from conftest import Revledger

# January: acme 10 seats × 50.00 = 500.00 from 01-01; globex 300.00 flat from 01-15.
JANUARY = """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
    a1,subscription_started,acme,2026-01-01,s1,pro,10,50.00,
    g1,subscription_started,globex,2026-01-15,u1,usage,,,300.00
    """
# February, imported later: acme to 20 seats (1,000.00) and initech new at 99.00 on 02-01; globex cancels 02-15.
FEBRUARY = """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
    a2,seat_change,acme,2026-02-01,s1,,20,,
    i1,subscription_started,initech,2026-02-01,i1,pro,,,99.00
    g2,cancel,globex,2026-02-15,u1,,,,
    """
JANUARY_AT = "2026-02-01T09:00:00.000000Z"
FEBRUARY_AT = "2026-03-01T09:00:00.000000Z"  # its events: 08:59:59.999998, 08:59:59.999999 and 09:00:00.000000


def at(text: str, microseconds: int = 0) -> str:
    instant = datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(microseconds=microseconds)
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def imported(rl: Revledger) -> Revledger:
    rl("import", rl.write("january.csv", JANUARY), "--recorded-at", JANUARY_AT)
    rl("import", rl.write("february.csv", FEBRUARY), "--recorded-at", FEBRUARY_AT)
    return rl


def test_the_imports_span_the_microseconds_the_spec_gives_them(imported):
    recorded = [(e["event_id"], e["recorded_at"]) for e in imported.events()]
    assert recorded == [
        ("a1", at(JANUARY_AT, -1)), ("g1", JANUARY_AT),
        ("a2", at(FEBRUARY_AT, -2)), ("i1", at(FEBRUARY_AT, -1)), ("g2", FEBRUARY_AT),
    ]


# What each knowledge time sees: before February's import, or all of it.
BEFORE = {"mrr": "800.00", "customers": 2, "known_at": JANUARY_AT, "movements": [],
          "bridge": ("800.00", "0.00", "0.00", "0.00", "800.00")}
AFTER = {"mrr": "1099.00", "customers": 2, "known_at": FEBRUARY_AT,
         "movements": [("2026-02-01", "acme", "expansion", "seats", "500.00", "1000.00"),
                       ("2026-02-01", "initech", "new", None, "0.00", "99.00"),
                       ("2026-02-15", "globex", "churn", None, "300.00", "0.00")],
         "bridge": ("800.00", "99.00", "500.00", "300.00", "1099.00")}
EDGES = [
    pytest.param(at(FEBRUARY_AT, -3), BEFORE, id="the microsecond before the import"),
    pytest.param(at(FEBRUARY_AT, -2), BEFORE, id="the import's first microsecond"),
    pytest.param(at(FEBRUARY_AT, -1), BEFORE, id="inside the import"),
    pytest.param(FEBRUARY_AT, AFTER, id="the import's last microsecond"),
    pytest.param(at(FEBRUARY_AT, 1), AFTER, id="the microsecond after"),
    pytest.param("2026-03-01", AFTER, id="a bare date: the end of that day"),
    pytest.param("now", AFTER, id="now"),
]


@pytest.mark.parametrize("known_at, seen", EDGES)
def test_mrr_counts_an_import_whole_or_not_at_all(imported, known_at, seen):
    report = imported("mrr", "--as-of", "2026-02-28", "--known-at", known_at, "--format", "json").json()
    assert (report["mrr"], report["customers"], report["known_at"]) == (seen["mrr"], seen["customers"], seen["known_at"])


@pytest.mark.parametrize("known_at, seen", EDGES)
def test_movements_count_an_import_whole_or_not_at_all(imported, known_at, seen):
    report = imported("movements", "--from", "2026-02-01", "--to", "2026-02-28", "--known-at", known_at,
                      "--format", "json").json()
    rows = [(m["date"], m["customer_id"], m["category"], m["cause"], m["from_mrr"], m["to_mrr"]) for m in report["movements"]]
    assert (rows, report["known_at"]) == (seen["movements"], seen["known_at"])


@pytest.mark.parametrize("known_at, seen", EDGES)
def test_metrics_count_an_import_whole_or_not_at_all(imported, known_at, seen):
    report = imported("metrics", "--from", "2026-02-01", "--to", "2026-02-28", "--known-at", known_at,
                      "--format", "json").json()
    (february,) = report["periods"]
    bridge = february["bridge"]
    figures = (february["opening_mrr"], bridge["new"], bridge["expansion"], bridge["churn"], february["closing_mrr"])
    assert (figures, report["known_at"]) == (seen["bridge"], seen["known_at"])
    opening, *_, closing = figures
    assert Decimal(bridge["net_new"]) == Decimal(closing) - Decimal(opening)  # the bridge holds whichever is seen


def test_before_the_first_import_ends_nothing_is_known(imported):
    report = imported("mrr", "--as-of", "2026-01-31", "--known-at", at(JANUARY_AT, -1), "--format", "json").json()
    assert (report["mrr"], report["customers"], report["known_at"]) == ("0.00", 0, None)


def test_now_is_the_current_time(imported):
    """`--known-at now` answers exactly as no --known-at does; a record made after it is not yet known to it."""
    now = imported("metrics", "--from", "2026-01-01", "--to", "2026-02-28", "--known-at", "now", "--format", "json")
    assert now.stdout == imported("metrics", "--from", "2026-01-01", "--to", "2026-02-28", "--format", "json").stdout
    before_record = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    imported("record", "seat_change", "--customer", "acme", "--date", "2026-02-20", "--subscription", "s1",
             "--quantity", "30")
    then = imported("mrr", "--as-of", "2026-02-28", "--known-at", before_record, "--format", "json").json()
    assert then["mrr"] == "1099.00"
    assert imported("mrr", "--as-of", "2026-02-28", "--known-at", "now", "--format", "json").json()["mrr"] == "1599.00"


def test_an_amendment_is_known_whole(imported):
    """A void and its corrected event are one append: at the void's microsecond neither is known."""
    imported("amend", "i1", "--amount", "199.00", "--reason", "the contract says 199")
    void, corrected = imported.events()[-2:]
    assert (void["type"], corrected["type"]) == ("void", "subscription_started")
    assert corrected["recorded_at"] > void["recorded_at"]

    def mrr(known_at: str) -> str:
        return imported("mrr", "--as-of", "2026-02-28", "--known-at", known_at, "--format", "json").json()["mrr"]

    assert mrr(void["recorded_at"]) == "1099.00"  # initech still at 99.00: the void alone is never seen
    assert mrr(corrected["recorded_at"]) == "1199.00"  # 1,000.00 + 199.00
