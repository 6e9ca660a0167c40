"""The event store's contract, run against SQLite and PostgreSQL alike.

``StoreContract`` holds the tests; each backend subclasses it once and says
only where a fresh ledger lives. Then, for PostgreSQL: its URLs, its errors,
and the whole command line against it (the same answers as on SQLite).
"""

from __future__ import annotations

import socket
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, Revledger
from ledger.errors import ConflictError, LedgerExistsError, LedgerNotFoundError, StorageError
from ledger.events import Event, canonical
from ledger.integrity import GENESIS, chained, first_break
from ledger.settings import LedgerSettings
from ledger.location import open_store
from ledger.store import EventStore, Head, unstored

SETTINGS = LedgerSettings(currency="EUR", rates=(("GBP", Decimal("1.1700")), ("USD", Decimal("0.92"))))

HOSTILE = [
    "'; DROP TABLE stored_events; --",
    'say "cheese"',
    "back\\slash \\x00 \\u0000",
    "new\nline\r\ttab",
    "nul\x00inside",
    "ünïcödé ✓ 🚀 日本語 עברית",
    "\u202eright-to-left\u202c",
    "\ufeffbyte order mark",
    "  spaces around  ",
    "%s %(name)s {0} $1 ? :name",
    "x" * 10_000,
]


def numbered(start: int, contents: list[dict], previous_hash: str) -> list[Event]:
    """Events numbered from ``start`` and chained after ``previous_hash``, as the write side hands them over."""
    events = []
    for offset, content in enumerate(contents):
        sequence = start + offset
        fields = {
            "event_id": f"e{sequence}",
            "type": "subscription_started",
            "customer_id": "acme",
            "effective_date": date(2026, 1, 1),
            "subscription_id": "s1",
            "amount": Decimal("100.00"),
            **content,
        }
        events.append(
            Event(**fields, sequence=sequence, recorded_at=f"2026-03-01T09:00:00.{sequence:06d}Z", actor="test", source="cli")
        )
    return chained(events, previous_hash)


def append(store: EventStore, count: int = 1, **content) -> list[Event]:
    """Append ``count`` events after the store's head; return them."""
    head = store.head()
    events = numbered(head.sequence + 1, [dict(content) for _ in range(count)], head.hash)
    store.append(events)
    return events


def texts(events) -> list[str]:
    """The stored form of each event: equal texts mean equal to the last digit and character."""
    return [canonical(e.record()) for e in events]


class StoreContract:
    """What every event store does. Subclasses provide the ``location`` of a fresh ledger."""

    @pytest.fixture
    def location(self) -> str:  # pragma: no cover - every backend overrides it
        raise NotImplementedError

    @pytest.fixture
    def store(self, location: str):
        store = open_store(location, create=True)
        store.initialise(SETTINGS)
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, location: str, store: EventStore):
        """Open the same ledger again, as another process or machine would."""
        opened: list[EventStore] = []

        def again() -> EventStore:
            opened.append(open_store(location))
            return opened[-1]

        yield again
        for other in opened:
            other.close()

    # -- a ledger's life -------------------------------------------------------------

    def test_opening_where_no_ledger_is_says_so(self, location):
        with pytest.raises(LedgerNotFoundError, match="no ledger at"):
            open_store(location)

    def test_init_creates_a_ledger_that_opens_and_refuses_a_second_init(self, location, store, reopen):
        assert reopen().head() == Head(0, GENESIS, "")
        with pytest.raises(LedgerExistsError, match="a ledger already exists at"):
            open_store(location, create=True)
        assert reopen().settings().ledger_id == store.settings().ledger_id  # the second init changed nothing

    def test_settings_round_trip_exactly(self, store, reopen):
        settings = reopen().settings()
        assert settings.currency == "EUR"
        assert [(code, str(rate)) for code, rate in settings.rates] == [("GBP", "1.1700"), ("USD", "0.92")]
        assert settings.ledger_id and settings.ledger_id == store.settings().ledger_id

    # -- appending -------------------------------------------------------------------------

    def test_an_empty_log_has_the_genesis_head(self, store):
        assert store.head() == Head(0, GENESIS, "")
        assert list(store.events()) == [] and store.notifications() == []

    def test_append_moves_the_head_for_every_reader(self, store, reopen):
        events = append(store, 3)
        expected = Head(3, events[-1].hash, "2026-03-01T09:00:00.000003Z")
        assert store.head() == expected
        assert reopen().head() == expected
        assert texts(reopen().events()) == texts(events)

    def test_a_second_writer_appending_the_same_sequence_conflicts_and_writes_nothing(self, store, reopen):
        other = reopen()
        mine = numbered(1, [{}, {}], GENESIS)
        theirs = numbered(1, [{"customer_id": "globex"}], GENESIS)
        store.append(mine)
        with pytest.raises(ConflictError, match="another writer appended sequence 1 first"):
            other.append(theirs)
        # a batch that collides on its first event loses its later events too: all or nothing
        late = numbered(2, [{"customer_id": "globex"}, {"customer_id": "globex"}], mine[0].hash)
        with pytest.raises(ConflictError, match="another writer appended sequence 2 first"):
            other.append(late)
        assert texts(store.events()) == texts(mine)
        assert store.head().sequence == 2

    def test_a_long_append_is_one_transaction_written_in_chunks(self, store, reopen, monkeypatch):
        monkeypatch.setattr("ledger.store.PAGE_SIZE", 3)
        events = numbered(1, [{}] * 10, GENESIS)
        assert store.append_stream(e for e in events) == 10
        assert texts(reopen().events()) == texts(events)
        # a stream that collides in its third chunk leaves nothing of the first two
        more = numbered(11, [{}] * 7, events[-1].hash) + numbered(5, [{}], GENESIS)
        with pytest.raises(ConflictError, match="another writer appended sequence 11 first"):
            reopen().append_stream(e for e in more)
        assert store.head() == Head(10, events[-1].hash, events[-1].recorded_at)
        assert store.append_stream(iter([])) == 0

    def test_appending_nothing_is_a_no_op(self, store):
        store.append([])
        assert store.head().sequence == 0

    # -- reading -----------------------------------------------------------------------------

    def test_notifications_page_through_the_log_without_gaps(self, store, reopen):
        other = reopen()
        expected: list[Event] = []
        for size in (1, 4, 2, 5):
            expected += append(store, size)
            with pytest.raises(ConflictError):  # a lost race between batches must leave no hole
                other.append(numbered(1, [{}], GENESIS))
        pages, after = [], 0
        while page := other.notifications(after=after, limit=3):
            assert len(page) <= 3
            pages.append(page)
            after = page[-1][0]
        seen = [item for page in pages for item in page]
        ids = [notification_id for notification_id, _, _ in seen]
        assert ids == sorted(set(ids))  # strictly increasing positions
        assert [e.sequence for _, e, _ in seen] == list(range(1, 13))  # every event, once, in log order
        assert texts(e for _, e, _ in seen) == texts(expected)
        assert [text for _, _, text in seen] == texts(expected)  # the stored text itself, not re-encoded
        assert len(pages) == 4
        # starting from any position gives exactly the rest
        middle = ids[6]
        assert [e.sequence for _, e, _ in other.notifications(after=middle)] == list(range(8, 13))

    def test_events_after_a_sequence_and_the_raw_log(self, store):
        events = append(store, 6)
        assert [e.sequence for e in store.events(after=4)] == [5, 6]
        raw = list(store.raw_events())
        assert [position for position, _ in raw] == [1, 2, 3, 4, 5, 6]
        assert texts(unstored(state) for _, state in raw) == texts(events)
        assert first_break((position, unstored(state)) for position, state in raw) is None

    # -- what goes in comes out ------------------------------------------------------------

    @pytest.mark.parametrize(
        "content",
        [
            {"amount": Decimal("0.1")},
            {"amount": Decimal("1234567890123456789.123456789")},
            {"amount": Decimal("1E+3")},
            {"amount": Decimal("0.00")},
            {"amount": None, "quantity": 12, "unit_price": Decimal("49.995"), "discount_pct": Decimal("12.5000")},
            {"amount": Decimal("19.90"), "billing_months": 36, "currency": "GBP"},
        ],
        ids=["tenth", "huge", "exponent", "zero-cents", "seats", "annual"],
    )
    def test_decimal_content_round_trips_to_the_last_digit(self, store, reopen, content):
        events = append(store, 1, **content)
        (stored,) = list(reopen().events())
        assert texts([stored]) == texts(events)
        for name in ("amount", "unit_price", "discount_pct"):
            value = getattr(stored, name)
            assert value is None or isinstance(value, Decimal)
            assert str(value) == str(content.get(name, Decimal("100.00") if name == "amount" else None))

    @pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
    def test_hostile_strings_round_trip(self, store, reopen, text):
        events = append(
            store,
            1,
            event_id=f"id {text}",
            customer_id=text,
            subscription_id=text,
            plan=text,
            note=text,
            reason=text,
            attributes=(("attr.x", text), ("segment", text)),
        )
        again = reopen()
        assert texts(again.events()) == texts(events)
        assert texts(e for _, e, _ in again.notifications()) == texts(events)
        assert first_break((p, unstored(s)) for p, s in again.raw_events()) is None

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors])
    @given(words=st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40), min_size=1, max_size=5))
    def test_any_text_round_trips(self, store, words):
        before = store.head().sequence
        events = append(store, len(words), note=" | ".join(words))
        for event, word in zip(events, words):
            assert word in event.note
        assert texts(store.events(after=before)) == texts(events)

    # -- what an import keeps beside the log (SPEC §14) --

    def test_import_state_round_trips_and_is_replaced_by_key(self, store):
        assert store.import_state("invoices") is None
        store.keep_import_state({"invoices": '{"lines": []}', "invoices.as_of": "2026-01-31"})
        store.keep_import_state({"invoices": '{"lines": [1]}'})
        assert store.import_state("invoices") == '{"lines": [1]}'
        assert store.import_state("invoices.as_of") == "2026-01-31"
        assert store.import_state("other") is None

    def test_import_state_commits_with_the_append_or_not_at_all(self, store):
        events = numbered(1, [{}, {}, {}], GENESIS)
        store.append_stream(events[:2], state={"k": "first"})
        assert store.import_state("k") == "first"
        with pytest.raises(ConflictError):
            store.append_stream(events[1:], state={"k": "second"})  # sequence 2 is taken: all rolled back
        assert store.import_state("k") == "first"
        assert store.head().sequence == 2



class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def location(self, tmp_path: Path) -> str:
        return str(tmp_path / "ledger.db")


@pytest.mark.postgres
class TestPostgresStore(StoreContract):
    @pytest.fixture
    def location(self, postgres_url: str) -> str:
        return postgres_url


# -- PostgreSQL: locations and errors (no server needed) ------------------------------------


@pytest.mark.parametrize(
    "url, shown, cache",
    [
        ("postgresql://ana:s3cret@db.example.com:6543/finance", "postgresql://ana@db.example.com:6543/finance",
         "db.example.com_6543_finance"),
        ("postgresql://ana@db/finance?schema=emea", "postgresql://ana@db/finance?schema=emea", "db_5432_finance_emea"),
        ("postgres://u%40corp:p%3Aw@[::1]/my%20db?sslmode=require", "postgresql://u@corp@[::1]/my db",
         "--1_5432_my-db"),
        ("postgresql:///finance", "postgresql:///finance", "localhost_5432_finance"),
    ],
)
def test_a_postgres_url_is_shown_without_its_password_and_names_its_cache(url, shown, cache):
    from ledger.postgres import parse_url

    where = parse_url(url)
    assert str(where) == shown
    assert where.cache_name() == cache
    assert "s3cret" not in str(where) and "p:w" not in str(where)


def test_libpq_options_in_the_url_reach_the_connection():
    from ledger.postgres import parse_url

    where = parse_url("postgresql://ana:pw@db:5433/finance?schema=emea&sslmode=require&application_name=close")
    kwargs = where.connection_kwargs()
    assert kwargs["sslmode"] == "require" and kwargs["application_name"] == "close"
    assert (kwargs["host"], kwargs["port"], kwargs["dbname"], kwargs["user"], kwargs["password"]) == (
        "db", "5433", "finance", "ana", "pw",
    )
    assert "schema" not in kwargs and where.schema == "emea"


def test_a_malformed_postgres_url_is_one_clear_error():
    with pytest.raises(StorageError, match="not a PostgreSQL URL"):
        open_store("postgresql://db/finance?nonsense=1")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_server_is_one_line_without_a_traceback(tmp_path):
    url = f"postgresql://ana:s3cret@127.0.0.1:{closed_port()}/finance"
    with pytest.raises(StorageError) as raised:
        open_store(url)
    message = str(raised.value)
    assert message.startswith(f"cannot connect to PostgreSQL at postgresql://ana@127.0.0.1:")
    assert "\n" not in message and "s3cret" not in message
    runner = Revledger(tmp_path)
    runner.db = url
    result = runner("mrr", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("revledger: cannot connect to PostgreSQL at postgresql://ana@127.0.0.1:")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# -- PostgreSQL: the command line, read models in the local cache ---------------------------


@pytest.fixture
def on_postgres(postgres_url: str, tmp_path: Path, monkeypatch) -> Revledger:
    """A fresh ledger on PostgreSQL, driven through the command line, its cache under tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ledger = Revledger(tmp_path)
    ledger.db = postgres_url
    ledger("init", "--currency", "USD")
    return ledger


@pytest.mark.postgres
def test_the_example_ledger_answers_the_same_on_postgres_and_sqlite(on_postgres, rl):
    example = str(FIXTURES / "example.csv")
    assert "appended 212 events" in on_postgres("import", example).stdout
    assert "appended 212 events" in rl("import", example).stdout
    for args in (
        ("mrr", "--as-of", "2026-06-30", "--format", "json"),
        ("mrr", "--as-of", "2025-12-31", "--by", "segment", "--format", "json"),
        ("movements", "--from", "2025-01-01", "--to", "2026-12-31", "--format", "json"),
    ):
        pg, lite = on_postgres(*args).json(), rl(*args).json()
        if isinstance(pg, dict):
            pg.pop("known_at"), lite.pop("known_at")  # the two imports ran microseconds apart
        assert pg == lite, args
    assert len(on_postgres("movements", "--from", "2025-01-01", "--to", "2026-12-31", "--format", "json").json()["movements"]) > 100
    # the events themselves: the same content, sequences and chain shape
    strip = lambda records: [{k: v for k, v in r.items() if k not in ("recorded_at", "hash", "actor")} for r in records]
    assert strip(on_postgres.events()) == strip(rl.events())


@pytest.mark.postgres
def test_the_read_models_live_in_the_local_cache_and_rebuild_from_postgres(on_postgres, tmp_path):
    on_postgres("import", str(FIXTURES / "example.csv"))
    cached = list((tmp_path / "cache" / "revledger").glob("*.projections.db"))
    assert len(cached) == 1
    assert cached[0].name.endswith(f"_{on_postgres.db.rpartition('schema=')[2]}.projections.db")
    before = on_postgres("mrr", "--as-of", "2026-06-30", "--format", "json").json()
    assert "rebuilt the read models from 212 events" in on_postgres("rebuild").stdout
    assert on_postgres("mrr", "--as-of", "2026-06-30", "--format", "json").json() == before
    # an analyst elsewhere, with a cache of their own, sees the same ledger
    other = tmp_path / "elsewhere.db"
    assert on_postgres("--cache", str(other), "mrr", "--as-of", "2026-06-30", "--format", "json").json() == before
    assert other.exists()


@pytest.mark.postgres
def test_two_ledgers_in_two_schemas_of_one_database_are_separate(postgres_server, postgres_url):
    store = open_store(postgres_url, create=True)
    store.initialise(SETTINGS)
    append(store, 2)
    with pytest.raises(LedgerNotFoundError, match="no ledger at"):
        open_store(postgres_url.replace("schema=", "schema=other_"))
    assert open_store(postgres_url).head().sequence == 2
    store.close()


@pytest.mark.postgres
def test_a_postgres_ledger_cannot_be_created_twice_through_the_cli(on_postgres):
    result = on_postgres("init", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("revledger: a ledger already exists at postgresql://")


def test_a_sqlite_ledger_keeps_its_read_models_beside_it(rl):
    rl("import", str(FIXTURES / "example.csv"))
    assert Path(rl.db).with_suffix(".projections.db").exists()
    assert rl("mrr", "--as-of", "2026-06-30", "--format", "json").json()["customers"] == 31

