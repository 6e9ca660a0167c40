"""Where a batch waits (ledger/staging.py): `Drafts` in memory and `StagedDrafts` on disk behave the same.

One suite, run against both: a few drafts go in, in batch order, as the write
side stages them (add … finish, then skip/replace), and the same questions get
the same answers from both — find, duplicates, by_customer, in_order, count.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ledger import staging
from ledger.events import Event, canonical
from ledger.staging import Draft, Drafts, StagedDrafts


def in_memory(folder: Path) -> Drafts:
    return Drafts()


def on_disk(folder: Path) -> Drafts:
    return StagedDrafts(str(folder))


KINDS = [pytest.param(in_memory, id="Drafts"), pytest.param(on_disk, id="StagedDrafts")]


def event(event_id: str, customer: str, kind: str = "seat_change", **fields) -> Event:
    return Event(event_id=event_id, type=kind, customer_id=customer, effective_date=date(2026, 2, 1), **fields)


# A file's rows, line 2 on (line 1 is the header): two customers interleaved, one id repeated.
BATCH = [
    event("a1", "acme", "subscription_started", subscription_id="s1", plan="pro", quantity=10, unit_price=Decimal("20.00")),
    event("g1", "globex", "subscription_started", subscription_id="u1", plan="usage", amount=Decimal("300.000001"),
          currency="USD", billing_months=12, discount_pct=Decimal("12.5")),
    event("a2", "acme", quantity=12, subscription_id="s1", note="grew", reason="expansion"),
    event("c1", "carl", "customer_updated", attributes=(("attr.tier", "gold"), ("segment", "SMB"))),
    event("a2", "acme", quantity=12, subscription_id="s1", note="grew", reason="expansion"),  # line 6 repeats line 4
    event("g2", "globex", "cancel", reason="budget", restatement="late news"),
    event("a3", "acme", "void", target_event_id="a2", reason="typo"),
]


def staged(kind, folder: Path, events=BATCH) -> Drafts:
    drafts = kind(folder)
    for position, e in enumerate(events):
        drafts.add(Draft(position, f"f.csv:{position + 2}", position + 2, e))
    drafts.finish()
    return drafts


def ids(drafts: list[Draft]) -> list[tuple[int, str]]:
    return [(d.position, d.event.event_id) for d in drafts]


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


def test_every_draft_comes_back_as_it_went_in(kind, tmp_path):
    with staged(kind, tmp_path) as drafts:
        back = [d for chunk in drafts.in_order() for d in chunk]
    assert back == [Draft(p, f"f.csv:{p + 2}", p + 2, e) for p, e in enumerate(BATCH)]
    # and to the digit: the canonical content (what is hashed) is unchanged, 300.000001 and 20.00 included
    assert [canonical(d.event.content()) for d in back] == [canonical(e.content()) for e in BATCH]
    assert str(back[0].event.unit_price) == "20.00" and str(back[1].event.amount) == "300.000001"


def test_in_order_is_batch_order_in_chunks(kind, tmp_path):
    with staged(kind, tmp_path) as drafts:
        assert [ids(chunk) for chunk in drafts.in_order(3)] == [
            [(0, "a1"), (1, "g1"), (2, "a2")], [(3, "c1"), (4, "a2"), (5, "g2")], [(6, "a3")]]
        assert [len(chunk) for chunk in drafts.in_order(7)] == [7]
        assert [len(chunk) for chunk in drafts.in_order(100)] == [7]


def test_by_customer_gives_each_customers_drafts_in_batch_order_customers_by_id(kind, tmp_path):
    with staged(kind, tmp_path) as drafts:
        assert [(customer, ids(group)) for customer, group in drafts.by_customer()] == [
            ("acme", [(0, "a1"), (2, "a2"), (4, "a2"), (6, "a3")]),
            ("carl", [(3, "c1")]),
            ("globex", [(1, "g1"), (5, "g2")]),
        ]


def test_duplicates_pair_each_later_draft_with_the_first_of_its_id(kind, tmp_path):
    events = [*BATCH, event("a2", "acme", quantity=13, subscription_id="s1"), event("g1", "nobody", "cancel")]
    with staged(kind, tmp_path, events) as drafts:
        pairs = sorted((first.position, later.position) for first, later in drafts.duplicates())
        assert pairs == [(1, 8), (2, 4), (2, 7)]
        [(first, later)] = [(f, l) for f, l in drafts.duplicates() if l.position == 7]
        assert (first.event.quantity, later.event.quantity, later.source, later.line) == (12, 13, "f.csv:9", 9)


def test_find_gives_the_first_draft_with_an_id_skipped_or_not(kind, tmp_path):
    with staged(kind, tmp_path) as drafts:
        assert drafts.find("nope") is None
        found = drafts.find("a2")
        assert (found.position, found.source, found.line) == (2, "f.csv:4", 4)
        drafts.skip(2)
        assert drafts.find("a2").position == 2  # a void may still name it as its target
        assert drafts.find("a3").event.target_event_id == "a2"


def test_skipped_drafts_are_counted_and_left_out_of_every_walk(kind, tmp_path):
    with staged(kind, tmp_path) as drafts:
        assert (drafts.count(), drafts.skipped()) == (7, 0)
        drafts.skip(4)
        drafts.skip(1)
        drafts.skip(4)  # skipping twice is skipping once
        assert (drafts.count(), drafts.skipped()) == (5, 2)
        assert [ids(chunk) for chunk in drafts.in_order(10)] == [[(0, "a1"), (2, "a2"), (3, "c1"), (5, "g2"), (6, "a3")]]
        assert [(c, ids(g)) for c, g in drafts.by_customer()] == [
            ("acme", [(0, "a1"), (2, "a2"), (6, "a3")]), ("carl", [(3, "c1")]), ("globex", [(5, "g2")])]
        # a duplicate is still one, skipped or not: the write side decides what it means
        assert sorted((f.position, l.position) for f, l in drafts.duplicates()) == [(2, 4)]


def test_replace_changes_the_draft_at_its_position_everywhere(kind, tmp_path):
    with staged(kind, tmp_path) as drafts:
        corrected = BATCH[5]._replace(event_id="g2-restated", customer_id="gamma", restatement="restated")
        drafts.replace(Draft(5, "f.csv:7", 7, corrected))
        assert drafts.find("g2") is None
        assert drafts.find("g2-restated") == Draft(5, "f.csv:7", 7, corrected)
        assert [c for c, _ in drafts.by_customer()] == ["acme", "carl", "gamma", "globex"]
        assert [d.event for chunk in drafts.in_order() for d in chunk][5] == corrected
        assert drafts.count() == 7


def test_an_empty_batch(kind, tmp_path):
    with staged(kind, tmp_path, []) as drafts:
        assert (drafts.count(), drafts.skipped()) == (0, 0)
        assert list(drafts.in_order()) == [] and list(drafts.by_customer()) == [] and list(drafts.duplicates()) == []
        assert drafts.find("a1") is None


def test_a_batch_larger_than_one_write_of_the_staging_file(kind, tmp_path):
    n = staging.FLUSH_EVERY + 3
    events = [event(f"e{i}", f"c{i % 5}", quantity=i, subscription_id="s1") for i in range(n)]
    with staged(kind, tmp_path, events) as drafts:
        assert drafts.count() == n
        assert [len(chunk) for chunk in drafts.in_order()] == [staging.FLUSH_EVERY, 3]
        assert drafts.find(f"e{n - 1}").event.quantity == n - 1 and drafts.find("e0").position == 0
        sizes = {customer: len(group) for customer, group in drafts.by_customer()}
        assert sizes == {f"c{k}": len(range(k, n, 5)) for k in range(5)}


def test_closing_leaves_nothing_behind_even_after_an_error(kind, tmp_path):
    with pytest.raises(RuntimeError):
        with staged(kind, tmp_path):
            raise RuntimeError("the import failed half way")
    assert list(tmp_path.iterdir()) == []


# -- where the two disagree ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "which",
    [
        pytest.param(in_memory, id="Drafts"),
        pytest.param(on_disk, id="StagedDrafts"),
    ],
)
def test_find_position_gives_the_draft_at_a_position(which, tmp_path):
    with staged(which, tmp_path) as drafts:
        assert drafts.find_position(3) == Draft(3, "f.csv:5", 5, BATCH[3])
        assert drafts.find_position(99) is None


@pytest.mark.parametrize(
    "which",
    [
        pytest.param(in_memory, id="Drafts"),
        pytest.param(on_disk, id="StagedDrafts"),
    ],
)
def test_replace_takes_the_new_drafts_source_and_line(which, tmp_path):
    with staged(which, tmp_path) as drafts:
        drafts.replace(Draft(2, "cli", 0, BATCH[2]))
        assert drafts.find("a2") == Draft(2, "cli", 0, BATCH[2])


@pytest.mark.parametrize(
    "which",
    [
        pytest.param(in_memory, id="Drafts"),
        pytest.param(on_disk, id="StagedDrafts"),
    ],
)
def test_skipping_a_position_no_draft_holds_skips_nothing(which, tmp_path):
    with staged(which, tmp_path) as drafts:
        drafts.skip(99)
        assert (drafts.count(), drafts.skipped()) == (7, 0)
