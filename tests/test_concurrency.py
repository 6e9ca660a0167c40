"""Many writers, one log (SQLite and PostgreSQL).

Four writer processes record events on overlapping customers at once, while
two reader processes keep their own read-model caches caught up. At the end
every event is stored exactly once (sequences 1..N, unique ids, the hash chain
holds), every lost race was retried or reported as a clear conflict, the
readers never saw a gap, and every read model equals one rebuilt from scratch.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
import traceback
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from ledger.application import Ledger, init_ledger
from ledger.errors import ConflictError, RejectedError
from ledger.integrity import first_break
from ledger.settings import LedgerSettings
from ledger.location import open_store
from ledger.store import unstored
from projections import queries
from projections.readmodel import ReadModel, default_path

# As conftest.IN_CI; not imported from there, so the spawned processes start without the CLI.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
WRITERS = 4
APPENDS = 50 if IN_CI else 30  # records per writer
READERS = 2
CUSTOMERS = [f"c{n:02d}" for n in range(12)]
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
# Every lost race ends in one of these, never in a traceback or a silent loss.
CLEAR_CONFLICTS = ("another writer appended sequence", "other writers kept appending; gave up after")

START = """\
event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,segment
"""


def opening_file() -> str:
    """Every customer with a seat line and a usage line from 2025-01-01."""
    rows = [START.strip()]
    for c in CUSTOMERS:
        rows.append(f"{c}-1,subscription_started,{c},2025-01-01,seats,team,10,10.00,,")
        rows.append(f"{c}-2,subscription_started,{c},2025-01-01,usage,usage,,,100.00,")
        rows.append(f"{c}-3,customer_updated,{c},2025-01-01,,,,,,SMB")
    return "\n".join(rows) + "\n"


def plan(writer: int, count: int) -> list[dict[str, str]]:
    """A writer's records: valid in any interleaving with the other writers' (each its own lines)."""
    records = []

    def customer(i: int) -> str:
        return CUSTOMERS[(writer * 5 + i) % len(CUSTOMERS)]  # writers overlap on every customer

    def day(i: int) -> date:
        return date(2025, 2, 1) + timedelta(days=(writer * 97 + i * 31) % 540)  # backdated, out of order

    for i in range(count):
        cells = {"event_id": f"w{writer}-{i:03d}", "customer_id": customer(i), "effective_date": day(i).isoformat()}
        kind = i % 5
        if kind == 0:
            cells |= {"type": "seat_change", "subscription_id": "seats", "quantity": str(1 + (writer * 13 + i * 7) % 60)}
        elif kind == 1:
            cells |= {"type": "usage_change", "subscription_id": "usage",
                      "amount": f"{100 + (writer * 37 + i * 11) % 900}.{(writer + i) % 100:02d}"}
        elif kind == 2:
            cells |= {"type": "customer_updated", "segment": SEGMENTS[(writer + i) % 3]}
        elif kind == 3:
            cells |= {"type": "subscription_started", "subscription_id": f"w{writer}-{i}", "plan": "addon", "amount": "49.99"}
        else:  # cancel the add-on started one step earlier, a month after it started
            cells |= {"type": "cancel", "customer_id": customer(i - 1), "subscription_id": f"w{writer}-{i - 1}",
                      "effective_date": (day(i - 1) + timedelta(days=30)).isoformat()}
        records.append(cells)
    return records


# -- the processes (spawned: each a fresh interpreter, as another user's would be) -------------


def write(location: str, cache: str, writer: int, count: int, barrier, results) -> None:
    outcome = {"writer": writer, "appended": 0, "skipped": 0, "store_conflicts": 0, "reported": [], "seconds": 0.0, "error": None}
    try:
        store = open_store(location)
        ledger = Ledger(store, ReadModel(cache, store), actor=f"writer-{writer}")
        append = store.append_stream

        def counted(events):  # every lost race at the store, retried or not
            try:
                return append(events)
            except ConflictError:
                outcome["store_conflicts"] += 1
                raise

        store.append_stream = counted
        barrier.wait(timeout=120)
        began = time.perf_counter()
        for cells in plan(writer, count):
            while True:
                try:
                    result = ledger.record(cells)
                except ConflictError as e:  # the write side gave up: reported, and the user tries again
                    outcome["reported"].append(str(e))
                    time.sleep(random.uniform(0, 0.02))
                    continue
                outcome["appended"] += len(result.events)
                outcome["skipped"] += result.skipped
                break
        outcome["seconds"] = time.perf_counter() - began
        store.close()
    except BaseException:  # noqa: BLE001 - everything goes back to the test
        outcome["error"] = traceback.format_exc()
    results.put(outcome)


def read(location: str, cache: str, reader: int, barrier, stop, results) -> None:
    outcome = {"reader": reader, "catch_ups": 0, "advanced": 0, "sequence": 0, "error": None}
    try:
        store = open_store(location)
        model = ReadModel(cache, store)
        barrier.wait(timeout=120)
        sequence = 0
        while not stop.is_set():
            latest = model.catch_up()  # raises on a gap in the log
            outcome["catch_ups"] += 1
            outcome["advanced"] += latest > sequence
            assert latest >= sequence, f"went back from {sequence} to {latest}"
            sequence = latest
            time.sleep(0.005)  # an analyst's cache polling the log, not a busy loop
        outcome["sequence"] = model.catch_up()
        model.close()
        store.close()
    except BaseException:  # noqa: BLE001
        outcome["error"] = traceback.format_exc()
    results.put(outcome)


def run_together(location: str, writer_caches: list[str], reader_caches: list[str]) -> tuple[list[dict], list[dict]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(writer_caches) + len(reader_caches))
    stop, results = context.Event(), context.Queue()
    writers = [
        context.Process(target=write, args=(location, cache, n, APPENDS, barrier, results))
        for n, cache in enumerate(writer_caches)
    ]
    readers = [
        context.Process(target=read, args=(location, cache, n, barrier, stop, results))
        for n, cache in enumerate(reader_caches)
    ]
    for process in writers + readers:
        process.start()
    outcomes = [results.get(timeout=300) for _ in writers]
    stop.set()
    outcomes += [results.get(timeout=120) for _ in readers]
    for process in writers + readers:
        process.join(timeout=60)
    return [o for o in outcomes if "writer" in o], [o for o in outcomes if "reader" in o]


# -- what must hold afterwards ----------------------------------------------------------------


def snapshot(model: ReadModel, head: int) -> dict:
    """What the read model answers: movements as known at several moments, MRR and attributes."""
    everything = (date(2024, 1, 1), date(2028, 12, 31))
    return {
        "movements": {known: queries.movement_rows(model, *everything, known) for known in range(0, head + 1, 23)}
        | {head: queries.movement_rows(model, *everything, head)},
        "mrr": [
            queries.mrr_report(model, day, queries.Knowledge(head, None), by="segment")
            for day in (date(2025, 1, 31), date(2025, 9, 30), date(2026, 6, 30))
        ],
        "attributes": model.db.execute(
            "SELECT customer_id, name, value, effective_date, event_sequence, known_from, known_to FROM attributes "
            "ORDER BY customer_id, name, event_sequence, known_from"
        ).fetchall(),
        "events": model.db.execute("SELECT sequence, event_id, record FROM events ORDER BY sequence").fetchall(),
    }


def check(location: str, tmp_path: Path, writers: list[dict], readers: list[dict], caches: list[str]) -> None:
    for outcome in writers + readers:
        assert outcome["error"] is None, outcome["error"]
    opening = 3 * len(CUSTOMERS)
    total = opening + WRITERS * APPENDS

    # every event stored exactly once, in one unbroken chain
    store = open_store(location)
    raw = list(store.raw_events())
    events = [unstored(state) for _, state in raw]
    assert [position for position, _ in raw] == list(range(1, total + 1))
    assert [e.sequence for e in events] == list(range(1, total + 1))
    assert len({e.event_id for e in events}) == total
    assert first_break((position, unstored(state)) for position, state in raw) is None
    assert Counter(e.actor for e in events[opening:]) == {f"writer-{n}": APPENDS for n in range(WRITERS)}
    for n in range(WRITERS):  # each writer's records in the order it made them
        ids = [e.event_id for e in events if e.actor == f"writer-{n}"]
        assert ids == [f"w{n}-{i:03d}" for i in range(APPENDS)]
    for outcome in writers:
        assert outcome["appended"] == APPENDS and outcome["skipped"] == 0, outcome
        for message in outcome["reported"]:
            assert message.startswith(CLEAR_CONFLICTS), message

    # the readers kept up without a gap, and every read model equals a rebuild
    for outcome in readers:
        assert outcome["sequence"] == total and outcome["catch_ups"] >= 1, outcome
    rebuilt = ReadModel(str(tmp_path / "rebuilt.db"), store)
    assert rebuilt.catch_up() == total
    expected = snapshot(rebuilt, total)
    assert len(expected["movements"][total]) > WRITERS * APPENDS // 2
    for cache in caches:
        model = ReadModel(cache, store)
        assert model.catch_up() == total
        assert snapshot(model, total) == expected, cache
        model.close()
    rebuilt.close()
    store.close()
    races = sum(o["store_conflicts"] for o in writers)
    gave_up = sum(len(o["reported"]) for o in writers)
    seconds = max(o["seconds"] for o in writers)
    print(f"\n{location}: {WRITERS}×{APPENDS} records in {seconds:.1f} s; {races} lost races at the store, "
          f"{gave_up} given up by the write side and retried by the writer; reader catch-ups {[o['catch_ups'] for o in readers]}")


def create(location: str, tmp_path: Path) -> None:
    store = open_store(location, create=True)
    init_ledger(store, LedgerSettings(currency="USD"))
    opening = tmp_path / "opening.csv"
    opening.write_text(opening_file())
    Ledger(store, ReadModel(str(tmp_path / "setup.db"), store), actor="setup").import_file(str(opening), "csv")
    store.close()


@pytest.mark.slow
def test_four_writers_and_two_readers_on_sqlite(tmp_path):
    location = str(tmp_path / "ledger.db")
    create(location, tmp_path)
    shared = default_path(location)  # users on one machine share the read models beside the ledger
    readers = [str(tmp_path / f"reader-{n}.db") for n in range(READERS)]
    writers, reading = run_together(location, [shared] * WRITERS, readers)
    check(location, tmp_path, writers, reading, [shared, *readers])


@pytest.mark.slow
@pytest.mark.postgres
def test_four_writers_and_two_readers_on_postgres(postgres_url, tmp_path):
    create(postgres_url, tmp_path)
    own = [str(tmp_path / f"writer-{n}.db") for n in range(WRITERS)]  # one machine each, its own cache
    readers = [str(tmp_path / f"reader-{n}.db") for n in range(READERS)]
    writers, reading = run_together(postgres_url, own, readers)
    check(postgres_url, tmp_path, writers, reading, [*own, *readers])


# -- one lost race, step by step ---------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def location(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return request.getfixturevalue("postgres_url")


def two_writers(location: str, tmp_path: Path, race: dict[str, str]) -> tuple[Ledger, Ledger]:
    """Ana and Ben on one ledger, each with a cache of their own; Ben appends ``race`` just before Ana does."""
    create(location, tmp_path)
    stores = open_store(location), open_store(location)
    ana = Ledger(stores[0], ReadModel(str(tmp_path / "ana.db"), stores[0]), actor="ana")
    ben = Ledger(stores[1], ReadModel(str(tmp_path / "ben.db"), stores[1]), actor="ben")
    append = stores[0].append_texts

    def ben_first(texts, **kwargs):
        if race:
            ben.record(race.copy())
            race.clear()
        return append(texts, **kwargs)

    stores[0].append_texts = ben_first
    return ana, ben


def test_the_loser_of_a_race_is_validated_again_against_the_winner(location, tmp_path):
    ben_cancels = {"event_id": "ben-1", "type": "cancel", "customer_id": "c00", "subscription_id": "seats",
                   "effective_date": "2026-03-01"}
    ana, _ = two_writers(location, tmp_path, ben_cancels)
    ana_changes = {"event_id": "ana-1", "type": "seat_change", "customer_id": "c00", "subscription_id": "seats",
                   "quantity": "25", "effective_date": "2026-04-01"}
    # Ana's change was valid when she checked it, but Ben's cancel got in first: her retry sees it and refuses
    with pytest.raises(RejectedError) as refused:
        ana.record(ana_changes)
    assert [str(p) for p in refused.value.problems] == ["cli: subscription_id: line seats is not open on 2026-04-01"]
    events = list(open_store(location).events())
    assert [e.event_id for e in events[-1:]] == ["ben-1"] and len(events) == 3 * len(CUSTOMERS) + 1


def test_the_loser_of_a_race_still_valid_after_it_is_appended_after_the_winner(location, tmp_path):
    ben_changes = {"event_id": "ben-1", "type": "seat_change", "customer_id": "c00", "subscription_id": "seats",
                   "quantity": "40", "effective_date": "2026-03-01"}
    ana, _ = two_writers(location, tmp_path, ben_changes)
    result = ana.record({"event_id": "ana-1", "type": "usage_change", "customer_id": "c00", "subscription_id": "usage",
                         "amount": "250.00", "effective_date": "2026-04-01"})
    opening = 3 * len(CUSTOMERS)
    assert [e.sequence for e in result.events] == [opening + 2]
    events = list(open_store(location).events())
    assert [(e.sequence, e.event_id, e.actor) for e in events[opening:]] == [
        (opening + 1, "ben-1", "ben"),
        (opening + 2, "ana-1", "ana"),
    ]
    assert first_break((e.sequence, e) for e in events) is None
    # c00 on 2026-04-30: 40 seats × 10.00 + usage 250.00
    model = ReadModel(str(tmp_path / "check.db"), open_store(location))
    head = model.catch_up()
    assert queries.customer_mrr_cents(model, date(2026, 4, 30), head, "c00") == {"c00": 65000}
