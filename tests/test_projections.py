"""Projections (SPEC §4, §5): point-in-time MRR and movements, as now known and as known at any past moment."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

from hypothesis import HealthCheck, given, settings

import oracle
from conftest import IN_CI, Revledger, record_history
from ledger.clock import parse_instant
from ledger.money import from_cents
from projections import queries
from strategies import event_histories


def moves(rl: Revledger, *args: str) -> list[tuple]:
    rows = rl("movements", "--from", "2020-01-01", "--to", "2030-12-31", "--format", "json", *args).json()["movements"]
    return [(m["date"], m["customer_id"], m["category"], m["cause"], m["from_mrr"], m["to_mrr"], m["amount"]) for m in rows]


def mrr(rl: Revledger, day: str, *args: str) -> str:
    return rl("mrr", "--as-of", day, "--format", "json", *args).json()["mrr"]


# -- ledgers worked by hand ------------------------------------------------------------------


def test_annual_plan_with_discount(rl):
    rl("record", "subscription_started", "--customer", "acme", "--date", "2026-01-01", "--subscription", "s1",
       "--plan", "pro", "--quantity", "10", "--unit-price", "1200", "--billing-months", "12", "--discount", "10")
    # 10 × 1200 × 0.9 / 12 = 900.00 a month
    assert mrr(rl, "2026-01-01") == "900.00"
    assert mrr(rl, "2025-12-31") == "0.00"


def test_same_day_events_net_into_one_movement_with_a_mixed_cause(rl):
    path = rl.write("e.csv", """
        type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
        subscription_started,acme,2026-01-01,s1,pro,10,100.00,
        subscription_started,acme,2026-01-01,s2,addon,,,50.00
        seat_change,acme,2026-03-01,s1,,12,,
        cancel,acme,2026-03-01,s2,,,,
        price_change,acme,2026-04-01,s1,,,90.00,
        """)
    rl("import", path)
    assert moves(rl) == [
        ("2026-01-01", "acme", "new", None, "0.00", "1050.00", "1050.00"),
        # +200 seats, -50 add-on removed: one expansion of 150, two causes
        ("2026-03-01", "acme", "expansion", "mixed", "1050.00", "1200.00", "150.00"),
        ("2026-04-01", "acme", "contraction", "price", "1200.00", "1080.00", "120.00"),
    ]


def test_cancel_date_is_the_first_day_without_revenue_and_a_restart_is_a_reactivation(rl):
    path = rl.write("e.csv", """
        type,customer_id,effective_date,subscription_id,plan,amount,reason
        subscription_started,acme,2026-01-01,s1,pro,500.00,
        cancel,acme,2026-03-01,,,,budget
        subscription_started,acme,2026-06-15,s1,pro,400.00,
        """)
    rl("import", path)
    assert mrr(rl, "2026-02-28") == "500.00"
    assert mrr(rl, "2026-03-01") == "0.00"
    assert [m[2:4] for m in moves(rl)] == [("new", None), ("churn", None), ("reactivation", None)]


def test_backdated_change_flows_into_later_changes_that_did_not_touch_its_field(rl):
    rl("record", "subscription_started", "--customer", "acme", "--date", "2026-01-01", "--subscription", "s1",
       "--plan", "pro", "--quantity", "10", "--unit-price", "100")
    rl("record", "seat_change", "--customer", "acme", "--date", "2026-03-01", "--subscription", "s1", "--quantity", "20")
    # recorded later, effective earlier: a discount from February
    rl("record", "price_change", "--customer", "acme", "--date", "2026-02-01", "--subscription", "s1", "--discount", "50")
    assert mrr(rl, "2026-02-15") == "500.00"
    assert mrr(rl, "2026-03-15") == "1000.00"  # 20 × 100 × 0.5: the March change kept the discount
    assert [m[2:4] for m in moves(rl)] == [("new", None), ("contraction", "price"), ("expansion", "seats")]


def test_a_void_changes_the_answer_only_from_the_moment_it_is_recorded(rl):
    rl("import", rl.write("a.csv", """
        event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price
        a1,subscription_started,acme,2026-01-01,s1,pro,10,100.00
        a2,seat_change,acme,2026-02-01,s1,,30,
        """), "--recorded-at", "2026-02-10")
    said = rl("record", "void", "--event", "a2", "--reason", "keyed 30 for 13").stdout
    assert "movement on 2026-02-01: was acme expansion (seats) 1,000.00 -> 3,000.00; now none" in said
    assert mrr(rl, "2026-02-15") == "1000.00"
    assert mrr(rl, "2026-02-15", "--known-at", "2026-02-10") == "3000.00"
    assert moves(rl, "--known-at", "2026-02-10")[-1][2] == "expansion"
    assert [m[2] for m in moves(rl)] == ["new"]


def test_zero_priced_lines_do_not_make_a_customer_active(rl):
    rl("record", "subscription_started", "--customer", "free", "--date", "2026-01-01", "--subscription", "s1",
       "--plan", "free", "--amount", "0")
    report = rl("mrr", "--as-of", "2026-02-01", "--format", "json").json()
    assert report["customers"] == 0 and report["mrr"] == "0.00"
    assert moves(rl) == []


def test_mrr_by_segment_and_customer_lines(rl):
    rl("import", rl.write("a.csv", """
        type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,segment
        subscription_started,acme,2026-01-01,s1,pro,10,100.00,,
        subscription_started,acme,2026-01-01,s2,addon,,,99.99,
        customer_updated,acme,2026-01-01,,,,,,Enterprise
        subscription_started,bob,2026-01-01,s1,pro,1,100.00,,
        customer_updated,bob,2026-02-01,,,,,,SMB
        """))
    report = rl("mrr", "--as-of", "2026-01-15", "--by", "segment", "--format", "json").json()
    assert report["groups"] == [
        {"group": "Enterprise", "mrr": "1099.99", "arr": "13199.88", "customers": 1},
        {"group": None, "mrr": "100.00", "arr": "1200.00", "customers": 1},
    ]
    lines = rl("mrr", "--as-of", "2026-01-15", "--customer", "acme", "--format", "json").json()["lines"]
    assert [(line["subscription_id"], line["mrr"]) for line in lines] == [("s1", "1000.00"), ("s2", "99.99")]


# -- against an independent re-fold, at every knowledge cut-off ------------------------------


def _check_history(tmp_path, history):
    rm, recorded, store = record_history(tmp_path, history)
    days = sorted({oracle.as_date(e["effective_date"]) for e in history if e.get("effective_date")})
    probe_days = sorted({d + dt.timedelta(days=k) for d in days for k in (-1, 0)} | {dt.date(2027, 1, 1)})
    customers = sorted({e["customer_id"] for e in history})
    for cut in range(1, len(history) + 1):
        known = queries.knowledge(rm, parse_instant(recorded[cut - 1]))
        assert known.sequence == cut
        got = queries.movement_rows(rm, dt.date(2000, 1, 1), dt.date(2100, 1, 1), known.sequence)
        expected = oracle.movements(history, known_seq=cut)
        assert [
            (m["date"], m["customer_id"], m["category"], m["cause"], m["from_mrr"], m["to_mrr"], m["amount"], m["event_ids"])
            for m in got
        ] == [
            (m["date"].isoformat(), m["customer_id"], m["category"], m["cause"], f"{m['from_mrr']:.2f}",
             f"{m['to_mrr']:.2f}", f"{m['amount']:.2f}", list(m["event_ids"]))
            for m in expected
        ], f"movements differ as known at sequence {cut}"
        for day in probe_days:
            per_customer = queries.customer_mrr_cents(rm, day, known.sequence)
            for customer in customers:
                want = oracle.customer_mrr(history, customer, day, known_seq=cut)
                assert from_cents(per_customer.get(customer, 0)) == want, (customer, day, cut)
            # the total, read from the month summaries and the day's month of movements
            wants = [oracle.customer_mrr(history, c, day, known_seq=cut) for c in customers]
            total, active = queries.mrr_total_cents(rm, day, known.sequence)
            assert (from_cents(total), active) == (sum(wants, Decimal(0)), sum(1 for w in wants if w > 0)), (day, cut)
        # opening MRR + the day's movements = closing MRR, for every customer and day
        for m in got:
            before = dt.date.fromisoformat(m["date"]) - dt.timedelta(days=1)
            opening = queries.customer_mrr_cents(rm, before, known.sequence, m["customer_id"]).get(m["customer_id"], 0)
            sign = 1 if m["category"] in ("new", "expansion", "reactivation") else -1
            assert from_cents(opening) + sign * Decimal(m["amount"]) == Decimal(m["to_mrr"])
    rm.close()
    store.close()


@settings(
    max_examples=200 if IN_CI else 40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
@given(history=event_histories(min_events=1, max_events=25, customers=3))
def test_mrr_and_movements_equal_a_naive_refold_at_every_cut_off(tmp_path, history):
    _check_history(tmp_path, history)


# -- reproducibility ---------------------------------------------------------------------------

BATCHES = [
    """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,segment
    b1,subscription_started,acme,2026-01-01,s1,pro,10,100.00,,
    b2,customer_updated,acme,2026-01-01,,,,,,Enterprise
    b3,subscription_started,bob,2026-01-10,s1,team,,,250.00,
    """,
    """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,segment
    b4,seat_change,acme,2026-02-01,s1,,15,,,
    b5,price_change,bob,2026-01-10,s1,,,,200.00,
    b6,customer_updated,bob,2026-01-01,,,,,,SMB
    """,
    """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,target_event_id,reason
    b7,void,acme,2026-02-01,,,,,,b4,wrong quantity
    b8,seat_change,acme,2026-02-01,s1,,12,,,,
    b9,cancel,bob,2026-01-20,,,,,,,
    """,
]

READS = [
    ("mrr", "--as-of", "2026-01-31"),
    ("mrr", "--as-of", "2026-02-28", "--by", "segment"),
    ("mrr", "--as-of", "2026-02-28", "--customer", "acme"),
    ("movements", "--from", "2026-01-01", "--to", "2026-12-31"),
    ("log",),
    ("metrics", "--from", "2026-01-01", "--to", "2026-03-31"),
    ("metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--period", "quarter", "--by", "segment"),
    ("cohorts", "--from", "2026-01-01", "--to", "2026-03-31"),
]


def _outputs(rl: Revledger, *extra: str) -> dict:
    outputs = {
        (read, fmt): rl(*read, "--format", fmt, *extra).stdout
        for read in READS
        for fmt in ("table", "json", "csv")
    }
    outputs["explain"] = rl("explain", "bridge.expansion", "--from", "2026-01-01", "--to", "2026-03-31",
                            "--format", "json", *extra).stdout
    return outputs


def test_known_at_reproduces_byte_for_byte_what_each_import_printed(rl):
    times = ["2026-01-31T18:00:00Z", "2026-02-15T18:00:00Z", "2026-03-05T18:00:00Z"]
    printed = []
    for batch, at in zip(BATCHES, times):
        rl("import", rl.write("batch.csv", batch), "--recorded-at", at)
        printed.append(_outputs(rl))
    for at, then in zip(times, printed):
        assert _outputs(rl, "--known-at", at) == then
    assert printed[0] != printed[1] != printed[2]


def test_rebuild_gives_byte_identical_output_for_every_command(rl):
    for batch in BATCHES:
        rl("import", rl.write("batch.csv", batch))
    before = _outputs(rl)
    before_then = _outputs(rl, "--known-at", rl.events()[4]["recorded_at"])
    assert "rebuilt the read models from 9 events" in rl("rebuild").stdout
    assert _outputs(rl) == before
    assert _outputs(rl, "--known-at", rl.events()[4]["recorded_at"]) == before_then


EMPTY_PERIOD = {
    "group": None, "opening_mrr": "0.00", "closing_mrr": "0.00", "arr": "0.00",
    "bridge": {"new": "0.00", "expansion": "0.00", "contraction": "0.00", "churn": "0.00", "reactivation": "0.00",
               "net_new": "0.00"},
    "retention": {"expansion": "0.00", "contraction": "0.00", "churn": "0.00", "nrr": None, "grr": None,
                  "expansion_rate": None, "contraction_rate": None, "churn_rate": None},
    "customers": {"opening": 0, "closing": 0, "new": 0, "reactivated": 0, "churned": 0, "logo_churn_rate": None},
    "causes": {"expansion": {}, "contraction": {}},
    "arpa": None, "quick_ratio": None, "expansion_share": None,
}
JANUARY, FEBRUARY = ("2026-01-01", "2026-01-31"), ("2026-02-01", "2026-02-28")


def test_reads_on_an_empty_ledger_as_json(rl):
    """Nothing recorded: zero MRR, no movements, every period listed with zeros and null ratios, known_at null."""
    policy = {"churn_recognition": "cancel_date", "reactivation_grace_days": 0, "movement_grain": "day"}
    mrr_report = {"as_of": "2026-01-01", "known_at": None, "currency": "USD", "policy": policy,
                  "mrr": "0.00", "arr": "0.00", "customers": 0}
    assert rl("mrr", "--as-of", "2026-01-01", "--format", "json").json() == mrr_report
    assert rl("mrr", "--as-of", "2026-01-01", "--by", "segment", "--format", "json").json() == {**mrr_report, "groups": []}
    refused = rl("mrr", "--as-of", "2026-01-01", "--customer", "acme", "--format", "json", ok=False)  # a typo, not "0.00"
    assert (refused.exit_code, refused.stderr) == (1, "revledger: --customer acme: no such customer; there are no customers yet\n")
    assert rl("movements", "--from", "2026-01-01", "--to", "2026-01-31", "--format", "json").json() == {
        "currency": "USD", "known_at": None, "policy": policy, "movements": [],
    }
    assert rl("log", "--format", "json").json() == []
    assert rl("metrics", "--from", "2026-01-01", "--to", "2026-02-28", "--format", "json").json() == {
        "currency": "USD", "known_at": None, "policy": policy,
        "periods": [{"start": s, "end": e, **EMPTY_PERIOD} for s, e in (JANUARY, FEBRUARY)],
    }
    # with --by, a group is listed only where it has MRR or a movement: none here
    assert rl("metrics", "--from", "2026-01-01", "--to", "2026-01-31", "--by", "segment", "--format", "json").json() == {
        "currency": "USD", "known_at": None, "policy": policy, "periods": [],
    }
    assert rl("cohorts", "--from", "2026-01-01", "--to", "2026-02-28", "--format", "json").json() == {
        "currency": "USD", "known_at": None, "policy": policy, "cohorts": [],
    }
    assert rl("explain", "bridge.new", "--from", "2026-01-01", "--to", "2026-01-31", "--format", "json").json() == {
        "metric": "bridge.new", "start": "2026-01-01", "end": "2026-01-31", "group": None, "currency": "USD",
        "known_at": None, "policy": policy, "value": "0.00", "items": [],
    }
    assert rl("restatements", "--format", "json").json() == {
        "currency": "USD", "known_at": None, "policy": policy, "restatements": [],
    }


def test_reads_on_an_empty_ledger_as_csv(rl):
    """A header and nothing else where there are no rows; zeros and empty (null) cells where there are."""
    def csv(*read: str) -> list[str]:
        return rl(*read, "--format", "csv").stdout.splitlines()

    assert csv("mrr", "--as-of", "2026-01-01") == ["as_of,known_at,currency,mrr,arr,customers", "2026-01-01,,USD,0.00,0.00,0"]
    assert csv("movements", "--from", "2026-01-01", "--to", "2026-01-31") == [
        "date,customer_id,category,cause,from_mrr,to_mrr,amount,net_change,event_ids"
    ]
    header, *rows = csv("metrics", "--from", "2026-01-01", "--to", "2026-02-28")
    columns = header.split(",")
    assert columns[:6] == ["start", "end", "group", "opening_mrr", "closing_mrr", "arr"]
    causes = [c for c in columns if c.startswith("causes.")]  # every cause, in one fixed order, zeros shown
    assert len(causes) == 14 and causes[0] == "causes.expansion.cross_sell"
    periods = [dict(zip(columns, row.split(","))) for row in rows]
    assert [(p["start"], p["end"]) for p in periods] == [JANUARY, FEBRUARY]
    for p in periods:
        assert {p[c] for c in columns if c.startswith(("bridge.", "retention.")) and not c.endswith(("rr", "_rate"))} == {"0.00"}
        assert {p[c] for c in causes} == {"0.00"}
        assert {p[c] for c in ("retention.nrr", "retention.grr", "customers.logo_churn_rate", "arpa", "quick_ratio",
                               "expansion_share", "group")} == {""}
        assert [p[c] for c in ("opening_mrr", "closing_mrr", "customers.opening", "customers.closing")] == [
            "0.00", "0.00", "0", "0"]
    assert len(csv("log")) == 1 and csv("log")[0].startswith("event_id,type,customer_id,effective_date,")  # importable
    assert {"sequence", "recorded_at", "hash"} <= set(csv("log")[0].split(","))
    assert csv("cohorts", "--from", "2026-01-01", "--to", "2026-02-28") == [
        "cohort,customers,mrr_0,k,month,as_of,mrr,nrr,active,logo_retention,contraction,contraction_rate"
    ]
    assert csv("restatements") == ["period,closed_at,metric,closed,now,difference,events,by_policy,by_events"]


def test_reads_on_an_empty_ledger_as_tables(rl):
    """Each table says the ledger is empty (no \"as known at\": nothing is known yet) and shows zeros or (none)."""
    out = rl("mrr", "--as-of", "2026-01-01").stdout.splitlines()
    assert out[0] == "MRR on 2026-01-01 (USD), empty ledger"
    assert out[1].split() == ["MRR", "ARR", "customers"] and out[-1].split() == ["0.00", "0.00", "0"]
    out = rl("movements", "--from", "2026-01-01", "--to", "2026-01-31").stdout.splitlines()
    assert out[0] == "Movements 2026-01-01 – 2026-01-31 (USD), empty ledger" and out[-1] == "(none)"
    out = rl("metrics", "--from", "2026-01-01", "--to", "2026-02-28").stdout.splitlines()
    assert out[0] == "Metrics by month (USD), empty ledger" and out[1].split() == ["2026-01", "2026-02"]
    rows = {line[:26].strip(): line[26:].split() for line in out[3:] if line.strip()}
    assert rows["Opening MRR"] == rows["Closing MRR"] == rows["= Net new MRR"] == rows["ARR"] == ["0.00", "0.00"]
    assert rows["Customers at closing"] == ["0", "0"]
    assert rows["Net revenue retention"] == rows["Logo churn rate"] == rows["Quick ratio"] == ["n/a", "n/a"]
    out = rl("log").stdout.splitlines()
    assert out[0] == "Event log (0 events), empty ledger" and out[-1] == "(none)"
    out = rl("cohorts", "--from", "2026-01-01", "--to", "2026-02-28").stdout.splitlines()
    assert out == ["Cohorts by month of first revenue (USD), empty ledger", "(no cohorts in that range)"]
    assert rl("restatements").stdout.strip() == "no closed period is restated, empty ledger"
    out = rl("explain", "bridge.new", "--from", "2026-01-01", "--to", "2026-01-31").stdout.splitlines()
    assert out[0] == "bridge.new 2026-01-01 – 2026-01-31 (USD), empty ledger: 0.00 from 0 customers"


def test_a_null_arpa_reads_n_a_in_the_table(rl):
    out = rl("metrics", "--from", "2026-01-01", "--to", "2026-01-31").stdout.splitlines()
    [arpa] = [line for line in out if line.startswith("ARPA")]
    assert arpa.split() == ["ARPA", "n/a"]


def test_read_models_of_a_ledger_re_created_at_the_same_path_are_rebuilt(tmp_path):
    rl = Revledger(tmp_path)
    rl("init")
    rl("record", "subscription_started", "--customer", "old", "--date", "2026-01-01", "--subscription", "s1",
       "--plan", "pro", "--amount", "100")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(rl.db + suffix):
            os.remove(rl.db + suffix)  # the read models are left behind
    rl("init")
    rl("record", "subscription_started", "--customer", "new", "--date", "2026-01-01", "--subscription", "s1",
       "--plan", "pro", "--amount", "7")
    assert mrr(rl, "2026-01-31") == "7.00"
    assert [e["customer_id"] for e in rl.events()] == ["new"]


# -- one pass: the writer's in-process projection against a catch-up from the log ------------------

TIMES = ["2026-01-31T18:00:00Z", "2026-02-15T18:00:00Z", "2026-03-05T18:00:00Z"]
TABLES = {  # every read-model table, its rows in a stable order, without the surrogate ids
    "events": "SELECT * FROM events ORDER BY sequence",
    "movements": "SELECT customer_id, grain, date, category, cause, from_cents, to_cents, amount_cents, event_ids, "
                 "parts, known_from, known_to FROM movements ORDER BY 1, 2, 3, 11",
    "attributes": "SELECT customer_id, name, value, effective_date, event_sequence, known_from, known_to "
                  "FROM attributes ORDER BY 1, 2, 5, 6",
    "contributions": "SELECT * FROM contributions ORDER BY customer_id, month, known_from",
    "tracking": "SELECT position, sequence FROM tracking",
}


def _tables(rl: Revledger) -> dict[str, list[tuple]]:
    import sqlite3

    from projections.readmodel import default_path

    with sqlite3.connect(default_path(rl.db)) as db:
        found = {name: db.execute(sql).fetchall() for name, sql in TABLES.items()}
        found["contributions"] = [row[1:] for row in found["contributions"]]  # (without the id)
    return found


def _answers(rl: Revledger) -> list[dict]:
    return [_outputs(rl), *(_outputs(rl, "--known-at", at) for at in TIMES)]


def _import_all(rl: Revledger, crash_after: int | None = None, monkeypatch=None) -> None:
    """Import the batches, each from the same path whatever the ledger (a source names its file)."""
    from ledger.errors import StorageError
    from projections import readmodel

    shared = Revledger(rl.folder.parent)
    for i, (batch, at) in enumerate(zip(BATCHES, TIMES)):
        if i == crash_after:
            def lost(self, position):  # the log has committed; the read models' own commit never happens
                raise StorageError("the read models could not be written (simulated crash)")
            with monkeypatch.context() as m:
                m.setattr(readmodel.Projection, "commit", lost)
                out = rl("import", shared.write("batch.csv", batch), "--recorded-at", at, ok=False)
            assert out.exit_code == 1 and "appended 3 events" in out.stdout
            assert out.stderr == ("revledger: the read models could not be written (simulated crash); the log has the "
                                  "events, and the read models catch up on their next use\n")
        else:
            rl("import", shared.write("batch.csv", batch), "--recorded-at", at)


def test_the_in_process_projection_and_a_catch_up_from_the_log_keep_identical_read_models(tmp_path, monkeypatch):
    """One pass: the rows the writer projects from its own fold equal the rows a catch-up folds from the log.

    ``direct``: every append projected in the writer's process. ``crashed``: the second
    append's read-model commit is lost after the log committed, so the third import
    first catches it up from the log. ``replayed``: its read models deleted after
    the last import, so every row comes from a catch-up of the whole log.
    """
    ledgers = {}
    for name in ("direct", "crashed", "replayed"):
        (tmp_path / name).mkdir()
        ledgers[name] = Revledger(tmp_path / name)
        ledgers[name]("init", "--currency", "USD")
    _import_all(ledgers["direct"])
    _import_all(ledgers["crashed"], crash_after=1, monkeypatch=monkeypatch)
    _import_all(ledgers["replayed"])
    from projections.readmodel import default_path

    for suffix in ("", "-wal", "-shm"):
        path = default_path(ledgers["replayed"].db) + suffix
        if os.path.exists(path):
            os.remove(path)

    direct = _answers(ledgers["direct"])
    assert _answers(ledgers["crashed"]) == direct
    assert _answers(ledgers["replayed"]) == direct
    rows = _tables(ledgers["direct"])
    assert rows["movements"] and rows["contributions"] and rows["tracking"] == [(9, 9)]
    assert _tables(ledgers["crashed"]) == rows
    assert _tables(ledgers["replayed"]) == rows
