"""Cohorts (SPEC §6): by month of first `new` movement, followed month by month."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oracle
from conftest import FIXTURES, IN_CI, record_history
from ledger.clock import parse_instant
from projections import queries
from projections.cohorts import cohorts_report
from strategies import event_histories

LEDGER = """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,reason
    a1,subscription_started,acme,2026-01-05,s1,pro,10,100.00,,
    b1,subscription_started,bob,2026-01-20,s1,team,,,500.00,
    a2,seat_change,acme,2026-01-25,s1,,8,,,
    a3,seat_change,acme,2026-02-10,s1,,6,,,
    b2,cancel,bob,2026-03-01,,,,,,budget
    c1,subscription_started,carl,2026-02-14,s1,team,,,300.00,
    a4,seat_change,acme,2026-03-15,s1,,9,,,
    """


def cohorts(rl, start, end, *args):
    return rl("cohorts", "--from", start, "--to", end, "--format", "json", *args).json()["cohorts"]


def test_a_hand_worked_cohort_table(rl):
    rl("import", rl.write("e.csv", LEDGER))
    jan, feb = cohorts(rl, "2026-01-01", "2026-03-31")
    # January: acme (800 after its January contraction, which is month 0) and bob (500)
    assert (jan["cohort"], jan["customers"], jan["mrr_0"]) == ("2026-01", 2, "1300.00")
    assert [(o["k"], o["month"], o["mrr"], o["nrr"], o["active"], o["logo_retention"], o["contraction"], o["contraction_rate"])
            for o in jan["offsets"]] == [
        (0, "2026-01", "1300.00", "1.000000", 2, "1.000000", "0.00", "0.000000"),
        # February: acme 8 -> 6 seats, a 200 contraction
        (1, "2026-02", "1100.00", "0.846154", 2, "1.000000", "200.00", "0.153846"),
        # March: bob churns (not a contraction), acme back to 9 seats
        (2, "2026-03", "900.00", "0.692308", 1, "0.500000", "200.00", "0.153846"),
    ]
    assert feb["cohort"] == "2026-02" and feb["mrr_0"] == "300.00" and len(feb["offsets"]) == 2


def test_the_last_month_is_measured_at_the_end_of_the_range(rl):
    rl("import", rl.write("e.csv", LEDGER))
    [jan, feb] = cohorts(rl, "2026-01-01", "2026-03-10")
    assert jan["offsets"][-1]["as_of"] == "2026-03-10"
    assert jan["offsets"][-1]["mrr"] == "600.00"  # acme at 6 seats, bob gone
    # a range starting in February leaves the January cohort out
    assert [c["cohort"] for c in cohorts(rl, "2026-02-15", "2026-03-31")] == ["2026-02"]


def test_tables_and_csv(rl):
    rl("import", rl.write("e.csv", LEDGER))
    table = rl("cohorts", "--from", "2026-01-01", "--to", "2026-03-31").stdout
    assert table.startswith("Cohorts by month of first revenue (USD), as known at ")
    assert "Net revenue retention" in table and "Logo retention" in table and "84.62%" in table
    csv_text = rl("cohorts", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "csv").stdout
    assert csv_text.splitlines()[0] == "cohort,customers,mrr_0,k,month,as_of,mrr,nrr,active,logo_retention,contraction,contraction_rate"
    assert len(csv_text.splitlines()) == 1 + 3 + 2


def expected(cohort: dict) -> dict:
    def text(value, places=2):
        return None if value is None else f"{value:.{places}f}"

    return {
        "cohort": cohort["cohort"].isoformat()[:7],
        "customers": cohort["customers"],
        "mrr_0": text(cohort["mrr_0"]),
        "offsets": [
            {
                "k": o["k"],
                "month": o["month"].isoformat()[:7],
                "as_of": o["as_of"].isoformat(),
                "mrr": text(o["mrr"]),
                "nrr": text(o["nrr"], 6),
                "active": o["active"],
                "logo_retention": text(o["logo_retention"], 6),
                "contraction": text(o["contraction"]),
                "contraction_rate": text(o["contraction_rate"], 6),
            }
            for o in cohort["offsets"]
        ],
    }


def test_the_example_ledger_equals_the_naive_computation(rl):
    rl("import", str(FIXTURES / "example.csv"))
    history = rl.events()
    got = cohorts(rl, "2025-01-01", "2026-12-31")
    assert got == [expected(c) for c in oracle.cohorts(history, "2025-01-01", "2026-12-31")]
    assert len(got) > 3


@settings(
    max_examples=100 if IN_CI else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
@given(
    history=event_histories(min_events=1, max_events=20, customers=3),
    first=st.dates(min_value=dt.date(2024, 12, 1), max_value=dt.date(2026, 12, 31)),
    length=st.integers(0, 800),
    to_month_end=st.booleans(),
    data=st.data(),
)
def test_cohorts_equal_a_naive_computation_as_now_known_and_at_earlier_cut_offs(
    tmp_path, history, first, length, to_month_end, data
):
    rm, recorded, store = record_history(tmp_path, history)
    last = first + dt.timedelta(days=length)
    if to_month_end:  # a range ending on a month's last day is answered from the month summaries
        last = oracle.month_end(last)
    cuts = sorted({len(history), *data.draw(st.lists(st.integers(1, len(history)), max_size=2), label="cut-offs")})
    try:
        for cut in cuts:
            known = queries.knowledge(rm, parse_instant(recorded[cut - 1]))
            got = cohorts_report(rm, first, last, known)["cohorts"]
            assert got == [expected(c) for c in oracle.cohorts(history, first, last, known_seq=cut)], f"at sequence {cut}"
    finally:
        rm.close()
        store.close()
