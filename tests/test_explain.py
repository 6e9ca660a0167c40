"""explain (SPEC §8): the customers, movements and events behind a figure add up to it exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oracle
from conftest import FIXTURES, IN_CI, Revledger, record_history
from ledger.clock import parse_instant
from ledger.location import open_store
from projections import queries
from projections.explain import COUNT_METRICS, MONEY_METRICS, RATIOS, explain
from projections.metrics import report_for
from projections.readmodel import ReadModel, default_path
from strategies import event_histories

PERIODS = [("2025-01-01", "2025-03-31"), ("2025-07-01", "2025-07-31"), ("2026-01-01", "2026-06-30"), ("2025-01-01", "2026-12-31")]


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Revledger:
    ledger = Revledger(tmp_path_factory.mktemp("example"))
    ledger("init", "--currency", "USD")
    ledger("import", str(FIXTURES / "example.csv"))
    return ledger


def lookup(entry: dict, metric: str):
    if metric.startswith("causes."):
        _, kind, cause = metric.split(".", 2)
        return entry["causes"][kind].get(cause, "0.00")
    value = entry
    for key in metric.split("."):
        value = value[key]
    return value


def test_every_metric_of_every_group_adds_up_to_the_metrics_figure(example):
    rm = ReadModel(default_path(example.db), open_store(example.db))
    rm.catch_up()
    known = queries.knowledge(rm, None)
    checked = 0
    for start, end in PERIODS:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        for by in (None, "segment"):
            [*entries] = report_for(rm, [(first, last)], known, by=by)["periods"]
            assert entries
            for entry in entries:
                causes = [f"causes.{kind}.{c}" for kind in ("expansion", "contraction") for c in entry["causes"][kind]]
                for metric in [*MONEY_METRICS, *COUNT_METRICS, *causes, "causes.expansion.mixed"]:
                    report = explain(rm, metric, first, last, known, group=entry["group"], by=by)
                    value = lookup(entry, metric)
                    assert report["value"] == str(value), (metric, start, end, entry["group"])
                    if metric in COUNT_METRICS:
                        assert all(item["amount"] == "1" for item in report["items"])
                        assert len(report["items"]) == value
                    else:
                        assert sum((Decimal(i["amount"]) for i in report["items"]), Decimal("0.00")) == Decimal(value)
                    for item in report["items"]:
                        assert item["movements"], (metric, item)
                        for m in item["movements"]:
                            assert m["events"], (metric, item)
                            assert set(m["events"][0]) == {"event_id", "sequence", "effective_date", "recorded_at", "actor", "source"}
                    checked += 1
    rm.close()
    assert checked > 300
    # and through the command line, for a named group
    [jan] = example("metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--period", "quarter", "--by", "segment",
                    "--format", "json").json()["periods"][:1]
    report = example("explain", "closing_mrr", "--from", "2026-01-01", "--to", "2026-03-31", "--group", jan["group"],
                     "--by", "segment", "--format", "json").json()
    assert report["group"] == jan["group"] and report["value"] == jan["closing_mrr"]
    assert sum(Decimal(i["amount"]) for i in report["items"]) == Decimal(jan["closing_mrr"])


def test_the_null_group_and_a_range_across_years_also_add_up(example):
    rm = ReadModel(default_path(example.db), open_store(example.db))
    rm.catch_up()
    known = queries.knowledge(rm, None)
    start, end = dt.date(2025, 1, 1), dt.date(2026, 12, 31)
    for group, by in ((None, None), (None, "attr.industry"), ("Fintech", "attr.industry")):
        for metric in [*MONEY_METRICS, *COUNT_METRICS]:
            report = explain(rm, metric, start, end, known, group=group, by=by)
            total = sum(Decimal(i["amount"]) for i in report["items"])
            assert total == Decimal(report["value"]), (metric, group, by)
    rm.close()


LEDGER = """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,segment,reason
    a1,subscription_started,acme,2026-01-01,s1,pro,10,100.00,,,
    a2,subscription_started,acme,2026-01-01,s2,addon,,,50.00,,
    b1,subscription_started,bob,2026-01-15,s1,team,,,300.00,,
    a3,seat_change,acme,2026-03-01,s1,,12,,,,
    a4,cancel,acme,2026-03-01,s2,,,,,,not used
    b2,cancel,bob,2026-03-10,,,,,,,budget
    """


def test_a_mixed_expansion_lists_its_parts_and_every_event_is_traced(rl):
    rl("import", rl.write("e.csv", LEDGER))
    report = rl("explain", "causes.expansion.mixed", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "json").json()
    assert report["value"] == "150.00"
    [item] = report["items"]
    assert item["customer_id"] == "acme" and item["amount"] == "150.00"
    [move] = item["movements"]
    assert (move["date"], move["category"], move["cause"], move["amount"]) == ("2026-03-01", "expansion", "mixed", "150.00")
    assert move["parts"] == {"line_removed": "-50.00", "seats": "200.00"}
    assert [e["event_id"] for e in move["events"]] == ["a3", "a4"]
    event = move["events"][0]
    assert event["sequence"] == 4 and event["effective_date"] == "2026-03-01" and event["source"].endswith("e.csv:5")
    assert event["actor"] and event["recorded_at"].endswith("Z")


def test_retention_and_counts_list_customers_active_at_opening(rl):
    rl("import", rl.write("e.csv", LEDGER))
    churn = rl("explain", "retention.churn", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "json").json()
    assert churn["value"] == "300.00"
    assert [(i["customer_id"], i["amount"], [m["category"] for m in i["movements"]]) for i in churn["items"]] == [
        ("bob", "300.00", ["churn"])
    ]
    opening = rl("explain", "customers.opening", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "json").json()
    assert opening["value"] == "2" and [i["amount"] for i in opening["items"]] == ["1", "1"]
    # the movement that set each customer's opening MRR
    assert [m["date"] for i in opening["items"] for m in i["movements"]] == ["2026-01-01", "2026-01-15"]
    net = rl("explain", "bridge.net_new", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "json").json()
    assert net["value"] == "1200.00"
    assert [(i["customer_id"], i["amount"]) for i in net["items"]] == [("acme", "1200.00"), ("bob", "0.00")]


def test_table_output_names_the_figure_and_its_events(rl):
    rl("import", rl.write("e.csv", LEDGER))
    out = rl("explain", "bridge.churn", "--from", "2026-03-01", "--to", "2026-03-31").stdout
    first = out.splitlines()[0]
    assert first.startswith("bridge.churn 2026-03-01 – 2026-03-31 (USD), as known at ")
    assert first.endswith(": 300.00 from 1 customers")
    assert "bob" in out and "b2 (#6" in out


@pytest.mark.parametrize("metric", sorted(RATIOS))
def test_ratios_are_refused_naming_their_parts(rl, metric):
    result = rl("explain", metric, "--from", "2026-01-01", "--to", "2026-01-31", ok=False)
    assert result.exit_code == 1
    assert f"{metric} is a ratio" in result.stderr and "explain its parts instead" in result.stderr


def test_unknown_metrics_are_refused(rl):
    result = rl("explain", "bridge.upsell", "--from", "2026-01-01", "--to", "2026-01-31", ok=False)
    assert result.exit_code == 1 and "cannot explain 'bridge.upsell'" in result.stderr


# -- against the naive computation -------------------------------------------------------------

def _naive_items(history, metric: str, start: dt.date, end: dt.date, cut: int) -> list[tuple[str, str]]:
    """(customer, amount) per customer making up ``metric`` over [start, end], from the oracle's re-fold."""
    seen = oracle.visible(history, cut)
    moves = [m for m in oracle.movements(history, known_seq=cut) if start <= m["date"] <= end]
    items = []
    for c in oracle.customer_ids(seen):
        o = oracle.customer_mrr(seen, c, start - dt.timedelta(days=1))
        k = oracle.customer_mrr(seen, c, end)
        theirs = [m for m in moves if m["customer_id"] == c]
        amount: Decimal | int | None = None
        if metric == "opening_mrr" and o > 0:
            amount = o
        elif metric == "customers.closing" and k > 0:
            amount = 1
        elif metric == "bridge.net_new" and theirs:
            amount = k - o
        elif metric.startswith("bridge.") and metric != "bridge.net_new":
            kind = [m["amount"] for m in theirs if m["category"] == metric[len("bridge."):]]
            amount = sum(kind, Decimal(0)) if kind else None
        elif metric == "customers.new" and any(m["category"] == "new" for m in theirs):
            amount = 1
        elif metric == "retention.churn" and o > 0 and k == 0:
            amount = o
        elif metric == "retention.expansion" and 0 < o < k:
            amount = k - o
        elif metric == "retention.contraction" and 0 < k < o:
            amount = o - k
        if amount is not None:
            items.append((c, str(amount) if isinstance(amount, int) else f"{amount:.2f}"))
    return items


NAIVE_METRICS = ["opening_mrr", "customers.closing", "bridge.net_new", "bridge.new", "bridge.expansion",
                 "bridge.contraction", "bridge.churn", "bridge.reactivation", "customers.new", "retention.churn",
                 "retention.expansion", "retention.contraction"]


@settings(max_examples=100 if IN_CI else 25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], print_blob=True)
@given(
    history=event_histories(min_events=1, max_events=20, customers=3),
    first=st.dates(min_value=dt.date(2024, 12, 1), max_value=dt.date(2026, 12, 31)),
    length=st.integers(0, 400),
    cut_share=st.floats(0.3, 1.0),
)
def test_each_figures_items_are_the_customers_a_naive_re_fold_finds(tmp_path, history, first, length, cut_share):
    rm, recorded, store = record_history(tmp_path, history)
    last = first + dt.timedelta(days=length)
    cut = max(1, round(cut_share * len(history)))
    try:
        known = queries.knowledge(rm, parse_instant(recorded[cut - 1]))
        for metric in NAIVE_METRICS:
            got = [(i["customer_id"], i["amount"]) for i in explain(rm, metric, first, last, known)["items"]]
            assert got == _naive_items(history, metric, first, last, cut), (metric, cut)
    finally:
        rm.close()
        store.close()
