"""The customer fold (ledger/customer.py, SPEC §3–§5): a contract's events in, MRR per day and what moved it out.

Each test is a small ledger: the events inline (a CSV table read the way a file
row is, through ``parse_row`` and ``to_event``, numbered in table order), and
beside them the MRR, the causes or the problem that a finance reader works out
by hand. The tests read the timeline only through what the projections read
(``add``, ``mrr_on``, ``lines_on``, ``days`` with their MRR and effects,
``changed_from``), never its private state.
"""

from __future__ import annotations

import csv
import io
import textwrap
from datetime import date
from decimal import Decimal

import pytest

from ledger.customer import MAX_MRR, Timeline, fold
from ledger.events import Event
from ledger.inputs import parse_row, shape_problems, to_event
from ledger.money import D
from ledger.settings import LedgerSettings

USD = LedgerSettings("USD")
WITH_EUR = LedgerSettings("USD", rates=(("EUR", D("1.10")),))


def rows(table: str, settings: LedgerSettings = USD, first: int = 1) -> list[Event]:
    """Events from a CSV table, read as a file's rows are (customer ``acme`` unless a row says otherwise),
    numbered from ``first`` in table order."""
    reader = csv.DictReader(io.StringIO(textwrap.dedent(table).strip()))
    result = []
    for n, cells in enumerate(reader):
        cells = {k.strip(): v.strip() for k, v in cells.items() if v is not None and v.strip() != ""}
        cells.setdefault("customer_id", "acme")
        row, problems = parse_row(cells)
        assert row is not None and not problems, (cells, problems)
        assert shape_problems(row, settings) == [], cells
        event = to_event(row)
        if not event.event_id:  # a void without an id of its own
            event = event.with_record(event_id=f"v{first + n}")
        result.append(event.with_record(sequence=first + n))
    return result


def timeline(table: str, settings: LedgerSettings = USD) -> Timeline:
    """A customer's timeline from its events, in log order, every one accepted."""
    t = Timeline("acme", settings)
    for event in rows(table, settings):
        assert t.add(event) == [], event
    return t


def added(t: Timeline, table: str, first: int) -> list[tuple[str, str]]:
    """The problems ``t.add`` reports for one more event (sequence ``first``)."""
    [event] = rows(table, t.settings, first=first)
    return t.add(event)


def day_mrr(t: Timeline) -> list[tuple[str, str]]:
    """(date, MRR at the end of it) of every day with events."""
    return [(d.date.isoformat(), str(d.mrr)) for d in t.days]


def causes(t: Timeline, day: str) -> dict[str, Decimal]:
    """What moved the MRR on ``day``: the net change per cause (SPEC §5), as a movement sums it."""
    [found] = [d for d in t.days if d.date == date.fromisoformat(day)]
    totals: dict[str, Decimal] = {}
    for effect in found.effects:
        totals[effect.cause] = totals.get(effect.cause, Decimal(0)) + effect.delta
    return totals


def mrr(t: Timeline, day: str) -> str:
    return str(t.mrr_on(date.fromisoformat(day)))


HEAD = "event_id,type,effective_date,subscription_id,plan,quantity,unit_price,amount,billing_months,discount_pct"


# -- a line's MRR (SPEC §4) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        ("pro,10,1200.00,,12,10", "900.00"),  # 10 × 1200 × 0.9 / 12
        ("pro,10,100.00,,,", "1000.00"),  # billing_months 1 and no discount by default
        ("flat,,,99.99,,", "99.99"),
        ("flat,,,100.00,3,", "33.33"),  # 33.333… to the cent
        ("flat,,,0.05,2,", "0.02"),  # 0.025: half to even, down
        ("flat,,,0.15,2,", "0.08"),  # 0.075: half to even, up
        ("pro,3,0.335,,,", "1.00"),  # 1.005, rounded once (half to even); per seat it would be 3 × 0.34
        ("pro,3,33.33,,1,33.333", "66.66"),  # 99.99 × 0.66667 = 66.6603…
        ("pro,0,100.00,,,", "0.00"),  # zero seats
        ("free,,,0,,", "0.00"),
        ("pro,7,10.00,,,100", "0.00"),  # a full discount
    ],
)
def test_a_lines_mrr_is_base_less_discount_over_billing_months_to_the_cent(terms, expected):
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,{terms}
        """)
    assert mrr(t, "2026-01-01") == expected
    assert [(line.subscription_id, str(line.mrr)) for line in t.lines_on(date(2026, 1, 1))] == [("s1", expected)]


def test_each_line_is_rounded_once_and_the_customer_sums_the_cents():
    # 100.00 / 3 = 33.33 per line; the customer is 66.66, not the 66.67 of 200.00 / 3
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,q,,,100.00,3,
        a2,subscription_started,2026-01-01,s2,q,,,100.00,3,
        """)
    assert mrr(t, "2026-01-01") == "66.66"


def test_a_foreign_line_is_converted_at_the_ledgers_rate_then_rounded_once():
    t = timeline("""
        event_id,type,effective_date,subscription_id,plan,amount,currency
        a1,subscription_started,2026-01-01,s1,eu,33.33,EUR
        a2,subscription_started,2026-01-01,s2,us,10.00,
        """, WITH_EUR)
    # 33.33 EUR × 1.10 = 36.663 -> 36.66 USD, plus the USD line
    assert [(line.subscription_id, line.currency, str(line.mrr)) for line in t.lines_on(date(2026, 1, 1))] == [
        ("s1", "EUR", "36.66"), ("s2", "USD", "10.00"),
    ]
    assert mrr(t, "2026-01-01") == "46.66"


# -- MRR per day -----------------------------------------------------------------------------------


def test_mrr_is_at_the_end_of_the_day_and_a_cancel_date_is_the_first_day_without_revenue():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-10,s1,pro,10,100.00,,,
        a2,cancel,2026-03-01,s1,,,,,,
        """)
    assert [mrr(t, d) for d in ("2026-01-09", "2026-01-10", "2026-02-28", "2026-03-01", "2027-01-01")] == [
        "0.00", "1000.00", "1000.00", "0.00", "0.00",
    ]
    assert day_mrr(t) == [("2026-01-10", "1000.00"), ("2026-03-01", "0.00")]


def test_all_of_a_days_events_apply_before_its_mrr_is_read():
    # started and cancelled on one day: the day ends with nothing, and the customer was never active
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-10,s1,pro,10,100.00,,,
        a2,cancel,2026-01-10,s1,,,,,,
        a3,subscription_started,2026-02-01,s2,pro,,,50.00,,
        """)
    assert day_mrr(t) == [("2026-01-10", "0.00"), ("2026-02-01", "50.00")]
    assert [d.ever_active for d in t.days] == [False, True]


def test_a_customer_is_active_only_with_mrr_above_zero():
    t = timeline("""
        event_id,type,effective_date,subscription_id,plan,amount,segment
        a1,subscription_started,2026-01-01,s1,free,0,
        a2,customer_updated,2026-01-05,,,,SMB
        a3,subscription_changed,2026-02-01,s1,,20.00,
        a4,cancel,2026-03-01,s1,,,
        a5,subscription_started,2026-04-01,s1,again,5.00,
        """)
    assert day_mrr(t) == [("2026-01-01", "0.00"), ("2026-01-05", "0.00"), ("2026-02-01", "20.00"),
                          ("2026-03-01", "0.00"), ("2026-04-01", "5.00")]
    # the zero-priced line never made it active; from February it has been
    assert [d.ever_active for d in t.days] == [False, False, True, True, True]


# -- terms are partial updates folded in (effective_date, sequence) order --------------------------


def test_a_change_keeps_every_term_it_does_not_give():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,12,20
        a2,subscription_changed,2026-02-01,s1,enterprise,,,,,
        a3,seat_change,2026-03-01,s1,,15,,,,
        """)
    [line] = t.lines_on(date(2026, 3, 1))
    assert (line.plan, line.quantity, line.unit_price, line.billing_months, line.discount_pct) == (
        "enterprise", 15, Decimal("100.00"), 12, Decimal("20"))
    # 1000 × 0.8 / 12 = 66.666… -> 66.67; then 1500 × 0.8 / 12 = 100.00
    assert day_mrr(t) == [("2026-01-01", "66.67"), ("2026-02-01", "66.67"), ("2026-03-01", "100.00")]


def test_a_backdated_change_flows_into_later_changes_that_did_not_touch_its_field():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        a2,seat_change,2026-03-01,s1,,20,,,,
        """)
    # recorded third, effective second: a 50% discount from February
    assert added(t, f"{HEAD}\na3,price_change,2026-02-01,s1,,,,,,50", first=3) == []
    assert day_mrr(t) == [("2026-01-01", "1000.00"), ("2026-02-01", "500.00"), ("2026-03-01", "1000.00")]
    assert t.changed_from == date(2026, 2, 1)  # the projections recompute from here on
    assert causes(t, "2026-02-01") == {"price": Decimal("-500.00")}
    assert causes(t, "2026-03-01") == {"seats": Decimal("500.00")}  # 10 -> 20 seats at the discounted price


def test_events_of_one_day_apply_in_sequence_order_even_when_recorded_out_of_order():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        a2,seat_change,2026-03-01,s1,,12,,,,
        a3,seat_change,2026-04-01,s1,,13,,,,
        """)
    # a fourth event on March 1st comes after a2 that day: its 15 seats stand at the day's end
    assert added(t, f"{HEAD}\na4,seat_change,2026-03-01,s1,,15,,,,", first=4) == []
    assert day_mrr(t) == [("2026-01-01", "1000.00"), ("2026-03-01", "1500.00"), ("2026-04-01", "1300.00")]
    assert t.changed_from == date(2026, 3, 1)


def test_an_event_after_every_other_changes_from_its_own_date():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        """)
    assert added(t, f"{HEAD}\na2,seat_change,2026-05-01,s1,,11,,,,", first=2) == []
    assert t.changed_from == date(2026, 5, 1)


def test_fold_replays_a_log_to_the_same_days_as_adding_event_by_event():
    table = f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        a2,seat_change,2026-03-01,s1,,20,,,,
        a3,price_change,2026-02-01,s1,,,,,,50
        """
    replayed = fold("acme", rows(table), USD)
    assert day_mrr(replayed) == day_mrr(timeline(table)) == [
        ("2026-01-01", "1000.00"), ("2026-02-01", "500.00"), ("2026-03-01", "1000.00")]


def test_fold_refuses_a_log_that_does_not_fold():
    with pytest.raises(ValueError, match=r"event \d+ \(a2\) does not fold into its customer's timeline: line s2 is not open on 2026-01-02"):
        fold("acme", rows(f"{HEAD}\na1,subscription_started,2026-01-01,s1,pro,3,10.00,,,\na2,seat_change,2026-01-02,s2,,3,,,,"), USD)


# -- causes (SPEC §5) --------------------------------------------------------------------------------


def test_each_kind_of_change_has_its_cause():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        a2,subscription_started,2026-01-01,u1,usage,,,200.00,,
        a3,subscription_started,2026-02-01,x1,addon,,,50.00,,
        a4,subscription_changed,2026-03-01,s1,enterprise,12,120.00,,,
        a5,seat_change,2026-04-01,s1,,10,,,,
        a6,price_change,2026-05-01,s1,,,100.00,,,
        a7,subscription_changed,2026-06-01,s1,,,,,,0
        a8,usage_change,2026-07-01,u1,,,,260.00,,
        a9,cancel,2026-08-01,x1,,,,,,
        """)
    assert {d.date.isoformat(): causes(t, d.date.isoformat()) for d in t.days} == {
        "2026-01-01": {"cross_sell": Decimal("1200.00")},
        "2026-02-01": {"cross_sell": Decimal("50.00")},
        "2026-03-01": {"plan": Decimal("440.00")},  # the plan differs, though seats and price moved too
        "2026-04-01": {"seats": Decimal("-240.00")},
        "2026-05-01": {"price": Decimal("-200.00")},
        "2026-06-01": {},  # discount 0 on a line without one: no MRR moved, so no cause
        "2026-07-01": {"usage": Decimal("60.00")},
        "2026-08-01": {"line_removed": Decimal("-50.00")},
    }


def test_a_change_of_discount_or_billing_months_is_a_price_cause():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,120.00,,,
        a2,price_change,2026-02-01,s1,,,,,,25
        a3,subscription_changed,2026-03-01,s1,,,,,12,
        """)
    assert causes(t, "2026-02-01") == {"price": Decimal("-300.00")}  # 1200 -> 900
    assert causes(t, "2026-03-01") == {"price": Decimal("-825.00")}  # 900 -> 75 a month, billed yearly


def test_a_days_causes_are_those_of_the_events_that_moved_mrr():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        a2,subscription_started,2026-01-01,s2,addon,,,50.00,,
        a3,seat_change,2026-03-01,s1,,12,,,,
        a4,cancel,2026-03-01,s2,,,,,,
        a5,subscription_changed,2026-03-01,s1,renamed,,,,,
        """)
    # +200 seats and −50 add-on net to +150; the rename moved nothing and is no cause
    assert causes(t, "2026-03-01") == {"seats": Decimal("200.00"), "line_removed": Decimal("-50.00")}
    assert mrr(t, "2026-03-01") == "1200.00"
    [day] = [d for d in t.days if d.date == date(2026, 3, 1)]
    assert [e.event_id for e in day.events] == ["a3", "a4", "a5"]


def test_customer_updated_moves_no_mrr():
    t = timeline("""
        event_id,type,effective_date,subscription_id,plan,amount,segment
        a1,subscription_started,2026-01-01,s1,pro,100.00,
        a2,customer_updated,2026-02-01,,,,SMB
        """)
    assert day_mrr(t) == [("2026-01-01", "100.00"), ("2026-02-01", "100.00")]
    assert causes(t, "2026-02-01") == {}


# -- cancel and restart -------------------------------------------------------------------------------


def test_a_cancel_without_subscription_id_ends_every_line_open_at_that_date():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        a2,subscription_started,2026-01-01,s2,addon,,,50.00,,
        a3,subscription_started,2026-01-01,s3,old,,,30.00,,
        a4,cancel,2026-02-01,s3,,,,,,
        a5,cancel,2026-03-01,,,,,,,
        """)
    assert mrr(t, "2026-02-28") == "1050.00" and mrr(t, "2026-03-01") == "0.00"
    assert causes(t, "2026-03-01") == {"line_removed": Decimal("-1050.00")}
    assert [(line.subscription_id, line.open) for line in t.lines_on(date(2026, 3, 1))] == [
        ("s1", False), ("s2", False), ("s3", False)]
    # and with nothing open, there is nothing to cancel
    assert added(t, f"{HEAD}\na6,cancel,2026-04-01,,,,,,,", first=6) == [
        ("subscription_id", "customer acme has no open line on 2026-04-01")]


def test_a_cancelled_line_may_start_again_with_new_terms_and_even_a_new_kind_of_pricing():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        a2,cancel,2026-03-01,s1,,,,,,
        a3,subscription_started,2026-06-15,s1,flat,,,400.00,,
        a4,usage_change,2026-07-01,s1,,,,450.00,,
        """)
    assert day_mrr(t) == [("2026-01-01", "1000.00"), ("2026-03-01", "0.00"), ("2026-06-15", "400.00"),
                          ("2026-07-01", "450.00")]
    assert causes(t, "2026-06-15") == {"cross_sell": Decimal("400.00")}
    [line] = t.lines_on(date(2026, 7, 1))
    assert (line.plan, line.quantity, line.unit_price, line.amount) == ("flat", None, None, Decimal("450.00"))


def test_restarting_an_open_line_or_changing_a_closed_one_is_refused():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        a2,cancel,2026-03-01,s1,,,,,,
        """)
    assert added(t, f"{HEAD}\nb1,subscription_started,2026-02-01,s1,pro,1,1.00,,,", first=3) == [
        ("subscription_id", "line s1 is already open on 2026-02-01")]
    assert added(t, f"{HEAD}\nb2,seat_change,2026-03-01,s1,,3,,,,", first=3) == [
        ("subscription_id", "line s1 is not open on 2026-03-01")]
    assert added(t, f"{HEAD}\nb3,cancel,2026-04-01,s1,,,,,,", first=3) == [
        ("subscription_id", "line s1 is not open on 2026-04-01")]
    assert added(t, f"{HEAD}\nb4,seat_change,2025-12-31,s1,,3,,,,", first=3) == [
        ("subscription_id", "line s1 is not open on 2025-12-31")]
    assert added(t, f"{HEAD}\nb5,seat_change,2026-02-01,s9,,3,,,,", first=3) == [
        ("subscription_id", "line s9 is not open on 2026-02-01")]
    assert day_mrr(t) == [("2026-01-01", "1000.00"), ("2026-03-01", "0.00")]  # nothing refused got in


# -- whole-timeline consistency of backdated events (SPEC §3) ------------------------------------------


LATER_CHANGES = f"""
    {HEAD}
    a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
    a2,seat_change,2026-03-01,s1,,20,,,,
    a3,seat_change,2026-05-01,s1,,25,,,,
    """


def test_a_backdated_event_that_strands_a_later_change_is_refused_and_changes_nothing():
    t = timeline(LATER_CHANGES)
    before = day_mrr(t)
    assert added(t, f"{HEAD}\nb1,cancel,2026-02-01,s1,,,,,,", first=4) == [
        ("effective_date", "this backdated event would make seat_change a2 effective 2026-03-01 invalid: "
                           "line s1 is not open on 2026-03-01")]
    assert day_mrr(t) == before


def test_a_backdated_event_that_leaves_later_events_valid_is_folded_in_between():
    t = timeline(LATER_CHANGES)
    assert added(t, f"{HEAD}\nb1,subscription_started,2026-04-01,s2,x,,,1.00,,", first=4) == []
    assert day_mrr(t) == [("2026-01-01", "1000.00"), ("2026-03-01", "2000.00"), ("2026-04-01", "2001.00"),
                          ("2026-05-01", "2501.00")]


def test_a_backdated_start_of_a_line_that_starts_later_is_refused_naming_the_later_start():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-03-01,s1,pro,10,100.00,,,
        """)
    assert added(t, f"{HEAD}\nb1,subscription_started,2026-01-01,s1,pro,5,100.00,,,", first=2) == [
        ("effective_date", "this backdated event would make subscription_started a1 effective 2026-03-01 invalid: "
                           "line s1 is already open on 2026-03-01")]


def test_a_backdated_event_that_is_itself_invalid_reports_its_own_problem():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-03-01,s1,pro,10,100.00,,,
        a2,seat_change,2026-04-01,s1,,12,,,,
        """)
    assert added(t, f"{HEAD}\nb1,seat_change,2026-02-01,s1,,3,,,,", first=3) == [
        ("subscription_id", "line s1 is not open on 2026-02-01")]


# -- voids ---------------------------------------------------------------------------------------------

VOIDS = "event_id,type,effective_date,subscription_id,plan,quantity,unit_price,target_event_id,reason"


def test_a_void_removes_its_target_and_the_fold_reads_as_if_it_never_was():
    t = timeline(f"""
        {VOIDS}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,
        a2,seat_change,2026-02-01,s1,,30,,,
        a3,seat_change,2026-03-01,s1,,12,,,
        """)
    assert day_mrr(t) == [("2026-01-01", "1000.00"), ("2026-02-01", "3000.00"), ("2026-03-01", "1200.00")]
    assert added(t, f"{VOIDS}\nv1,void,2026-02-01,,,,,a2,keyed 30 for 13", first=4) == []
    assert day_mrr(t) == [("2026-01-01", "1000.00"), ("2026-03-01", "1200.00")]
    assert t.changed_from == date(2026, 2, 1)  # the target's day: recompute from there
    assert t.event("a2") is None and t.event("a3") is not None
    assert causes(t, "2026-03-01") == {"seats": Decimal("200.00")}


@pytest.mark.parametrize(
    ("void", "problem"),
    [
        ("w1,void,2026-01-01,,,,,nope,typo", ("target_event_id", "customer acme has no event nope")),
        ("w1,void,2026-02-01,,,,,a2,again", ("target_event_id", "event a2 was already voided by v1")),
        ("w1,void,2026-02-01,,,,,v1,undo", ("target_event_id", "event v1 is itself a void; a void cannot be voided")),
        ("w1,void,2026-01-01,,,,,a1,wrong start",
         ("target_event_id", "voiding a1 would leave the timeline inconsistent: that would make seat_change a3 "
                             "effective 2026-03-01 invalid: line s1 is not open on 2026-03-01")),
    ],
)
def test_a_void_is_refused_when_its_target_is_missing_already_voided_a_void_or_needed(void, problem):
    t = timeline(f"""
        {VOIDS}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,
        a2,seat_change,2026-02-01,s1,,30,,,
        v1,void,2026-02-01,,,,,a2,keyed 30 for 13
        a3,seat_change,2026-03-01,s1,,12,,,
        """)
    before = day_mrr(t)
    assert added(t, f"{VOIDS}\n{void}", first=5) == [problem]
    assert day_mrr(t) == before


def test_voiding_a_cancel_lets_the_line_run_on_and_voiding_the_restart_first_makes_that_possible():
    t = timeline(f"""
        {VOIDS}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,
        a2,cancel,2026-02-10,,,,,,budget
        a3,subscription_started,2026-03-01,s1,pro,5,100.00,,
        """)
    # with the restart still there, the line would be started while open
    assert added(t, f"{VOIDS}\nv1,void,2026-02-10,,,,,a2,did not leave", first=4) == [
        ("target_event_id", "voiding a2 would leave the timeline inconsistent: that would make subscription_started "
                            "a3 effective 2026-03-01 invalid: line s1 is already open on 2026-03-01")]
    assert added(t, f"{VOIDS}\nv2,void,2026-03-01,,,,,a3,never came back", first=5) == []
    assert added(t, f"{VOIDS}\nv3,void,2026-02-10,,,,,a2,did not leave", first=6) == []
    assert day_mrr(t) == [("2026-01-01", "1000.00")]
    assert mrr(t, "2026-12-31") == "1000.00"


# -- the type's own claim (SPEC §3) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("upsell,2026-02-01,s1,,12,,,,", None),
        ("upsell,2026-02-01,s1,,10,,,,", "an upsell must raise line s1's MRR, but it goes from 1000.00 to 1000.00"),
        ("upsell,2026-02-01,s1,,,99.99,,,", "an upsell must raise line s1's MRR, but it goes from 1000.00 to 999.90"),
        ("upsell,2026-02-01,s1,enterprise,,,,,", "an upsell must raise line s1's MRR, but it goes from 1000.00 to 1000.00"),
        ("downgrade,2026-02-01,s1,,,,,,5", None),
        ("downgrade,2026-02-01,s1,,11,,,,", "a downgrade must lower line s1's MRR, but it goes from 1000.00 to 1100.00"),
        ("downgrade,2026-02-01,s1,,,,,1,", "a downgrade must lower line s1's MRR, but it goes from 1000.00 to 1000.00"),
        ("subscription_changed,2026-02-01,s1,,10,,,,", None),  # no claim, so no change is fine
    ],
)
def test_upsell_must_raise_and_downgrade_must_lower_the_lines_mrr(change, problem):
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        """)
    found = added(t, f"{HEAD}\nb1,{change}", first=2)
    assert found == ([] if problem is None else [("type", problem)])


def test_the_claim_is_checked_against_the_timeline_as_known_when_recorded_not_after():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        a2,upsell,2026-03-01,s1,,12,,,,
        """)
    # a backdated change to 15 seats in February: the March "upsell" to 12 now lowers MRR, and still stands
    assert added(t, f"{HEAD}\nb1,seat_change,2026-02-01,s1,,15,,,,", first=3) == []
    assert day_mrr(t) == [("2026-01-01", "1000.00"), ("2026-02-01", "1500.00"), ("2026-03-01", "1200.00")]
    # and a replay of the log does not check it either
    assert day_mrr(fold("acme", [e for d in t.days for e in d.events], USD)) == day_mrr(t)


def test_an_upsell_backdated_into_the_timeline_is_checked_where_it_lands():
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        a2,seat_change,2026-03-01,s1,,20,,,,
        """)
    # 11 seats is more than 10 in February (it would be less than March's 20)
    assert added(t, f"{HEAD}\nb1,upsell,2026-02-01,s1,,11,,,,", first=3) == []
    assert added(t, f"{HEAD}\nb2,upsell,2026-02-15,s1,,11,,,,", first=4) == [
        ("type", "an upsell must raise line s1's MRR, but it goes from 1100.00 to 1100.00")]


# -- pricing kinds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("seat_change,2026-02-01,f1,,3,,,,", ("quantity", "line f1 is priced by amount (flat or usage), not per seat")),
        ("subscription_changed,2026-02-01,f1,,,9.00,,,", ("unit_price", "line f1 is priced by amount (flat or usage), not per seat")),
        ("usage_change,2026-02-01,s1,,,,9.00,,", ("amount", "line s1 is priced per seat (quantity × unit_price), not by amount")),
        ("price_change,2026-02-01,s1,,,,9.00,,", ("amount", "line s1 is priced per seat (quantity × unit_price), not by amount")),
        ("price_change,2026-02-01,f1,,,,9.00,,", None),
        ("price_change,2026-02-01,s1,,,9.00,,,", None),
    ],
)
def test_a_line_keeps_its_kind_of_pricing(change, problem):
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,10,100.00,,,
        a2,subscription_started,2026-01-01,f1,flat,,,300.00,,
        """)
    assert added(t, f"{HEAD}\nb1,{change}", first=3) == ([] if problem is None else [problem])


# -- the MAX_MRR guard -----------------------------------------------------------------------------------


def test_a_contract_whose_mrr_would_not_fit_is_refused_and_one_at_the_limit_is_kept():
    assert MAX_MRR == Decimal(10) ** 13
    t = Timeline("acme", USD)
    at_limit = Event(event_id="a1", type="subscription_started", customer_id="acme", effective_date=date(2026, 1, 1),
                     subscription_id="s1", plan="big", quantity=10_000, unit_price=D("1000000000.00"), sequence=1)
    assert t.add(at_limit) == []
    assert mrr(t, "2026-01-01") == "10000000000000.00"  # 10⁴ seats × 10⁹: exactly the limit
    # one cent more, on another line: the customer's MRR, not the line's, is what must fit
    assert added(t, f"{HEAD}\na2,subscription_started,2026-01-01,s2,cent,,,0.01,,", first=2) == [
        ("amount", "would bring customer acme's MRR above 10,000,000,000,000, more than revledger keeps")]
    assert mrr(t, "2026-01-01") == "10000000000000.00"


@pytest.mark.parametrize(
    ("seats", "problem"),
    [
        ("10000", None),  # 9,999,999,990,000.00: just below
        ("10001", ("quantity", "would bring customer acme's MRR above 10,000,000,000,000, more than revledger keeps")),
    ],
)
def test_the_mrr_guard_applies_to_changes_and_names_the_field_given(seats, problem):
    t = timeline(f"""
        {HEAD}
        a1,subscription_started,2026-01-01,s1,pro,1,999999999.00,,,
        """)
    assert added(t, f"{HEAD}\na2,seat_change,2026-02-01,s1,,{seats},,,,", first=2) == ([] if problem is None else [problem])
