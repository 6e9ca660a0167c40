"""Durability signals (SPEC §15): a hand-worked ledger, the windows' edges, groups, explain, and a naive reference."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oracle
from conftest import FIXTURES, IN_CI, Revledger, record_history
from ledger.clock import parse_instant
from ledger.errors import UsageError
from ledger.location import open_store
from ledger.policy import Policy
from projections import queries
from projections.durability import Grain, durability_report, nearest_rank
from projections.explain import DURABILITY_COUNTS, DURABILITY_MONEY, explain
from projections.metrics import group_order
from projections.preview import preview
from projections.readmodel import ReadModel, default_path
from strategies import event_histories

# Flat monthly lines; amounts are MRR. Worked by hand below, customer by customer (within 90 days):
#   e1  new 01-05 100 · expansion 01-20 +50 (anchor) · expansion 01-25 +20 · contraction 03-10 -50 (in 01-20's
#       window, which ends 04-20) · churn 04-25 (past it; in 03-10's window, which ends 06-08)
#   e2  new 2025-12-01 200 · expansion 01-10 +100, never followed
#   e3  new 01-15 50 · first expansion 05-14 +30, 119 days on
#   e4  new 01-31 400, never expands · contraction 02-15 -100 · contraction 03-01 -50 (a repeat) · churn 05-20
#       (past 02-15's window, which ends 05-16; inside 03-01's, which ends 05-30)
#   e5  new 02-01 100 · churn 02-20 · reactivation 03-01 (not an expansion) · expansion 06-01 +50, 120 days on
#   e6  new 01-10 100 · expansion 01-11 +10 · contraction 04-11 -10, exactly 90 days later: inside
#   e7  new 01-03 100 · expansion 03-04 +20, 60 days on
LEDGER = """
    event_id,type,customer_id,effective_date,subscription_id,plan,amount
    x01,subscription_started,e2,2025-12-01,s,pro,200.00
    x02,subscription_started,e7,2026-01-03,s,pro,100.00
    x03,subscription_started,e1,2026-01-05,s,pro,100.00
    x04,subscription_started,e6,2026-01-10,s,pro,100.00
    x05,upsell,e2,2026-01-10,s,,300.00
    x06,upsell,e6,2026-01-11,s,,110.00
    x07,subscription_started,e3,2026-01-15,s,pro,50.00
    x08,upsell,e1,2026-01-20,s,,150.00
    x09,upsell,e1,2026-01-25,s,,170.00
    x10,subscription_started,e4,2026-01-31,s,pro,400.00
    x11,subscription_started,e5,2026-02-01,s,pro,100.00
    x12,downgrade,e4,2026-02-15,s,,300.00
    x13,cancel,e5,2026-02-20,s,,
    x14,downgrade,e4,2026-03-01,s,,250.00
    x15,subscription_started,e5,2026-03-01,s,pro,100.00
    x16,upsell,e7,2026-03-04,s,,120.00
    x17,downgrade,e1,2026-03-10,s,,120.00
    x18,downgrade,e6,2026-04-11,s,,100.00
    x19,cancel,e1,2026-04-25,s,,
    x20,upsell,e3,2026-05-14,s,,80.00
    x21,cancel,e4,2026-05-20,s,,
    x22,upsell,e5,2026-06-01,s,,150.00
    """


def signals(entry: dict) -> tuple:
    e, c, f = entry["expansion"], entry["contraction"], entry["first_expansion"]
    return (
        (e["customers"], e["followed"], e["rate"], e["expansion_amount"], e["lost_amount"]),
        (c["customers"], c["churned"], c["churn_rate"], c["repeated"]),
        (f["customers"], f["expanded"], f["within_90"], f["within_180"], f["within_365"],
         f["p25_days"], f["median_days"], f["p75_days"]),
    )


NOTHING = ((0, 0, None, "0.00", "0.00"), (0, 0, None, 0), (0, 0, 0, 0, 0, None, None, None))


@pytest.fixture
def ledger(rl):
    rl("import", rl.write("d.csv", LEDGER))
    return rl


def durability(rl: Revledger, *args: str) -> dict:
    return rl("durability", "--format", "json", *args).json()


def test_a_hand_worked_half_year(ledger):
    report = durability(ledger, "--from", "2026-01-01", "--to", "2026-06-30")
    assert report["within"] == 90 and report["currency"] == "USD"
    assert report["policy"] == {"churn_recognition": "cancel_date", "reactivation_grace_days": 0, "movement_grain": "day"}
    got = {p["start"][:7]: signals(p) for p in report["periods"]}
    assert all(p["group"] is None for p in report["periods"])
    assert got == {
        # expansion: e2, e6, e1 (its first, 01-20); e1 and e6 followed, losing 50 + 10.
        # first expansion: e7, e1, e6, e3, e4 joined; days 1, 15, 60, 119 — an even count: the median
        # is the 2nd smallest (nearest rank ⌈0.5·4⌉), not the mean of 15 and 60.
        "2026-01": ((3, 2, "0.666667", "160.00", "60.00"), (0, 0, None, 0), (5, 4, 3, 4, 4, 1, 15, 60)),
        # contraction: e4 (02-15), repeated on 03-01, its churn on 05-20 four days too late.
        # first expansion: e5, 120 days on, after a churn and a reactivation.
        "2026-02": ((0, 0, None, "0.00", "0.00"), (1, 0, "0.000000", 1), (1, 1, 0, 1, 1, 120, 120, 120)),
        # expansion: e7, not followed; contraction: e4 (03-01) and e1 (03-10), both churned within 90 days.
        "2026-03": ((1, 0, "0.000000", "20.00", "0.00"), (2, 2, "1.000000", 0), NOTHING[2]),
        "2026-04": (NOTHING[0], (1, 0, "0.000000", 0), NOTHING[2]),  # e6's contraction, nothing after it
        "2026-05": ((1, 0, "0.000000", "30.00", "0.00"), NOTHING[1], NOTHING[2]),  # e3
        "2026-06": ((1, 0, "0.000000", "50.00", "0.00"), NOTHING[1], NOTHING[2]),  # e5
    }


def test_the_window_is_after_the_anchor_up_to_within_days_inclusive(ledger):
    def january(within: int) -> tuple:
        [jan] = durability(ledger, "--from", "2026-01-01", "--to", "2026-01-31", "--within", str(within))["periods"]
        return signals(jan)[0]

    assert january(89) == (3, 1, "0.333333", "160.00", "50.00")  # e6's contraction, 90 days on, falls out
    assert january(90) == (3, 2, "0.666667", "160.00", "60.00")
    assert january(94) == (3, 2, "0.666667", "160.00", "60.00")  # e1's churn is 95 days on
    assert january(95) == (3, 2, "0.666667", "160.00", "180.00")  # 50 + 120 churned + 10
    assert january(49) == (3, 1, "0.333333", "160.00", "50.00")  # e1's contraction is 49 days on
    assert january(48) == (3, 0, "0.000000", "160.00", "0.00")
    [mar] = durability(ledger, "--from", "2026-03-01", "--to", "2026-03-31", "--within", "45")["periods"]
    assert signals(mar)[1] == (2, 0, "0.000000", 0)  # e1's churn 46 days on, e4's 80


def test_first_expansion_within_n_days_includes_the_nth_day(rl):
    """SPEC §15: within_N counts a first expansion at most N days after the first revenue: day N in, day N+1 out."""
    # Five customers start on 2026-01-01; each first expands 90, 91, 180, 365 or 366 days later (2026 has 365 days).
    rows = [f"s{c},subscription_started,{c},2026-01-01,s,pro,100.00" for c in ("f1", "f2", "f3", "f4", "f5")]
    rows += [f"u{c},upsell,{c},{day},s,,150.00" for c, day in (("f1", "2026-04-01"), ("f2", "2026-04-02"),
                                                           ("f3", "2026-06-30"), ("f4", "2027-01-01"), ("f5", "2027-01-02"))]
    rl("import", rl.write("f.csv", "event_id,type,customer_id,effective_date,subscription_id,plan,amount\n" + "\n".join(rows)))
    jan = ("--from", "2026-01-01", "--to", "2026-01-31")
    [period] = durability(rl, *jan)["periods"]
    # days 90, 91, 180, 365, 366: ≤ 90 is f1; ≤ 180 f1–f3; ≤ 365 f1–f4. Nearest rank: ⌈1.25⌉ = 2nd, ⌈2.5⌉ = 3rd, ⌈3.75⌉ = 4th.
    assert signals(period)[2] == (5, 5, 1, 3, 4, 91, 180, 365)
    for figure, members in (("within_90", ["f1"]), ("within_180", ["f1", "f2", "f3"]), ("within_365", ["f1", "f2", "f3", "f4"])):
        assert [c for c, _, _ in trail(rl, f"durability.first_expansion.{figure}", "2026-01-01", "2026-01-31")] == members


def test_periods_are_quarters_or_years_and_clipped(ledger):
    [q1, q2] = durability(ledger, "--from", "2026-01-01", "--to", "2026-06-30", "--period", "quarter")["periods"]
    # Q1's expansion anchors are each customer's first in the quarter: e2, e6, e1 (01-20) and e7 (03-04).
    assert signals(q1)[0] == (4, 2, "0.500000", "180.00", "60.00")
    # e4 is anchored once (02-15), repeated 03-01; e1 (03-10) churned 04-25.
    assert signals(q1)[1] == (2, 1, "0.500000", 1)
    assert signals(q1)[2] == (6, 5, 3, 5, 5, 15, 60, 119)  # days 1, 15, 60, 119, 120: ranks 2, 3 and 4
    assert signals(q2)[1] == (1, 0, "0.000000", 0)
    [part] = durability(ledger, "--from", "2026-01-21", "--to", "2026-02-10", "--period", "year")["periods"]
    assert (part["start"], part["end"]) == ("2026-01-21", "2026-02-10")
    # e1's anchor is its 01-25 expansion now (the first in the period): its contraction 44 days on
    # and its churn exactly 90 days on both lie in the window
    assert signals(part)[0] == (1, 1, "1.000000", "20.00", "170.00")
    assert signals(part)[2] == (2, 1, 0, 1, 1, 120, 120, 120)  # e4 (never expands) and e5


def test_later_movements_count_wherever_they_fall_so_known_at_changes_the_answer(ledger):
    before = ledger.events()[-1]["recorded_at"]
    ledger("record", "downgrade", "--customer", "e2", "--subscription", "s", "--amount", "250.00", "--date", "2026-02-01")
    [jan] = durability(ledger, "--from", "2026-01-01", "--to", "2026-01-31")["periods"]
    assert signals(jan)[0] == (3, 3, "1.000000", "160.00", "110.00")
    [then] = durability(ledger, "--from", "2026-01-01", "--to", "2026-01-31", "--known-at", before)["periods"]
    assert signals(then)[0] == (3, 2, "0.666667", "160.00", "60.00")


GROUPED = """
    event_id,type,customer_id,effective_date,subscription_id,plan,amount,segment
    g1,customer_updated,big,2026-01-01,,,,Enterprise
    g2,subscription_started,big,2026-01-01,s,pro,1000.00,
    g3,customer_updated,small,2026-01-01,,,,SMB
    g4,subscription_started,small,2026-01-01,s,pro,100.00,
    g5,upsell,small,2026-02-10,s,,150.00,
    g6,customer_updated,small,2026-03-31,,,,Enterprise
    g7,downgrade,small,2026-04-01,s,,120.00,
    g8,subscription_started,quiet,2025-06-01,s,pro,10.00,
    """


def test_groups_take_the_attribute_as_of_each_periods_last_day(rl):
    rl("import", rl.write("g.csv", GROUPED))
    report = durability(rl, "--from", "2026-01-01", "--to", "2026-03-31", "--by", "segment")
    got = {(p["start"][:7], p["group"]): signals(p) for p in report["periods"]}
    # January: two joined; `quiet` (no segment) is listed each month, active with no movement.
    assert got[("2026-01", "Enterprise")][2][:2] == (1, 0)
    assert got[("2026-01", "SMB")][2][:2] == (1, 1)
    assert got[("2026-01", None)] == NOTHING
    # February: small's expansion in SMB, followed by its April contraction (50 days on).
    assert got[("2026-02", "SMB")][0] == (1, 1, "1.000000", "50.00", "30.00")
    assert got[("2026-02", "Enterprise")] == NOTHING  # big is active at opening
    # March: small is Enterprise as of 03-31; SMB has no customer left, so it is not listed.
    assert [g for (m, g) in got if m == "2026-03"] == ["Enterprise", None]
    assert list(got) == sorted(got, key=lambda key: (key[0], key[1] is None, key[1] or ""))
    # the January figure of small's new customer, explained within its group
    trail = rl("explain", "durability.first_expansion.expanded", "--from", "2026-01-01", "--to", "2026-01-31",
               "--by", "segment", "--group", "SMB", "--format", "json").json()
    assert [(i["customer_id"], i["days"], [m["date"] for m in i["movements"]]) for i in trail["items"]] == [
        ("small", 40, ["2026-01-01", "2026-02-10"])
    ]


def test_table_csv_and_xlsx_show_the_signals_per_period_and_group(rl, tmp_path):
    from openpyxl import load_workbook

    rl("import", rl.write("g.csv", GROUPED))
    out = rl("durability", "--from", "2026-02-01", "--to", "2026-02-28", "--by", "segment").stdout
    lines = out.splitlines()
    assert lines[0].startswith("Durability signals, within 90 days (USD), as known at ")
    assert lines[2] == "Expansion followed by contraction or churn"
    assert lines[3].split() == ["period", "segment", "expanded", "followed", "rate", "expansion", "lost"]
    assert lines[5].split() == ["2026-02", "Enterprise", "0", "0", "n/a", "0.00", "0.00"]
    assert lines[6].split() == ["2026-02", "SMB", "1", "1", "100.00%", "50.00", "30.00"]
    assert lines[7].split() == ["2026-02", "(none)", "0", "0", "n/a", "0.00", "0.00"]
    assert "Contraction followed by churn or another contraction" in out and "median days" in out
    header, *rows = rl("durability", "--from", "2026-01-01", "--to", "2026-01-31", "--format", "csv").stdout.splitlines()
    assert header.split(",")[:6] == ["start", "end", "group", "expansion.customers", "expansion.followed", "expansion.rate"]
    assert header.split(",")[-3:] == ["first_expansion.p25_days", "first_expansion.median_days", "first_expansion.p75_days"]
    assert rows == ["2026-01-01,2026-01-31,,0,0,,0.00,0.00,0,0,,0,2,1,1,1,1,40,40,40"]
    book = tmp_path / "d.xlsx"
    assert "durability" in rl("durability", "--from", "2026-01-01", "--to", "2026-02-28", "--format", "xlsx",
                              "--out", str(book)).stdout
    values = [[c.value for c in r] for r in load_workbook(book)["durability"].iter_rows()]
    header_row = next(i for i, r in enumerate(values) if r[:3] == ["start", "end", "group"])
    feb = dict(zip(values[header_row], values[header_row + 2]))
    # workbook cells are numbers (the reader gives them back as floats): compare as numbers
    assert feb["expansion.customers"] == 1 and feb["expansion.rate"] == 1 and feb["expansion.lost_amount"] == 30


def test_nearest_rank_percentiles():
    days = [119, 1, 60, 15]
    assert [nearest_rank(days, n, d) for n, d in ((1, 4), (1, 2), (3, 4))] == [1, 15, 60]
    assert [nearest_rank([7], n, d) for n, d in ((1, 4), (1, 2), (3, 4))] == [7, 7, 7]
    assert [nearest_rank([5, 1, 3, 2, 4], n, d) for n, d in ((1, 4), (1, 2), (3, 4))] == [2, 3, 4]  # ⌈1.25⌉, ⌈2.5⌉, ⌈3.75⌉
    assert nearest_rank([], 1, 2) is None


def test_monthly_grain_counts_windows_in_whole_months():
    grain = Grain(monthly=True)
    jan = dt.date(2026, 1, 31)
    assert grain.reach(90) == 3 and grain.reach(91) == 4 and grain.reach(30) == 1 and grain.reach(1) == 1
    assert [grain.within(jan, day, 90) for day in (dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 4, 30),
                                                    dt.date(2026, 5, 31))] == [False, True, True, False]
    assert Grain().within(jan, dt.date(2026, 5, 1), 90) and not Grain().within(jan, dt.date(2026, 5, 2), 90)


def test_monthly_grain_needs_whole_months(ledger):
    rm = ReadModel(default_path(ledger.db), open_store(ledger.db))
    rm.catch_up()
    known = queries.knowledge(rm, None)
    previewed, monthly = preview(rm, known, Policy(movement_grain="month"))
    with pytest.raises(UsageError, match="--from 2026-01-02: movements are netted per month"):
        durability_report(previewed, dt.date(2026, 1, 2), dt.date(2026, 1, 31), monthly)
    with pytest.raises(UsageError, match="--to 2026-01-30: .* must be a month's last day"):
        explain(previewed, "durability.expansion.customers", dt.date(2026, 1, 1), dt.date(2026, 1, 30), monthly)
    # Netted per month, January's only expansion is e2's 200.00 → 300.00 (e1's and e6's upsells fall in
    # the month they started: their one January movement is a new); nothing of e2's is lost in the three
    # months after January's.
    [jan] = durability_report(previewed, dt.date(2026, 1, 1), dt.date(2026, 1, 31), monthly)["periods"]
    assert signals(jan)[0] == (1, 0, "0.000000", "100.00", "0.00")
    previewed.close()
    rm.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--within", "0"), "--within 0: a whole number of days from 1 to 3660"),
        (("--within", "4000"), "--within 4000: a whole number of days"),
        (("--by", "colour"), "--by 'colour'"),
        (("--to", "2025-12-31"), "--to 2025-12-31 is before --from 2026-01-01"),
        (("--period", "week"), "'week' is not one of"),
    ],
)
def test_bad_options_are_one_line_errors(ledger, args, message):
    options = {"--from": "2026-01-01", "--to": "2026-06-30", **dict(zip(args[::2], args[1::2]))}
    result = ledger("durability", *[x for kv in options.items() for x in kv], ok=False)
    assert result.exit_code != 0 and message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


# -- explain ---------------------------------------------------------------------------------------


def trail(rl: Revledger, metric: str, start: str, end: str, *args: str) -> list[tuple]:
    report = rl("explain", metric, "--from", start, "--to", end, "--format", "json", *args).json()
    total = sum(Decimal(i["amount"]) for i in report["items"])
    assert total == Decimal(report["value"])
    return [(i["customer_id"], i["amount"], [(m["role"], m["date"], m["category"]) for m in i["movements"]])
            for i in report["items"]]


def test_explain_lists_each_customer_with_its_anchor_and_what_qualified_it(ledger):
    jan = ("2026-01-01", "2026-01-31")
    assert trail(ledger, "durability.expansion.followed", *jan) == [
        ("e1", "1", [("anchor", "2026-01-20", "expansion"), ("follows", "2026-03-10", "contraction")]),
        ("e6", "1", [("anchor", "2026-01-11", "expansion"), ("follows", "2026-04-11", "contraction")]),
    ]
    assert trail(ledger, "durability.expansion.lost_amount", *jan, "--within", "96") == [
        ("e1", "170.00", [("anchor", "2026-01-20", "expansion"), ("follows", "2026-03-10", "contraction"),
                          ("follows", "2026-04-25", "churn")]),
        ("e6", "10.00", [("anchor", "2026-01-11", "expansion"), ("follows", "2026-04-11", "contraction")]),
    ]
    assert [(c, a) for c, a, _ in trail(ledger, "durability.expansion.expansion_amount", *jan)] == [
        ("e1", "50.00"), ("e2", "100.00"), ("e6", "10.00")]
    assert [c for c, _, _ in trail(ledger, "durability.first_expansion.within_90", *jan)] == ["e1", "e6", "e7"]
    assert [c for c, _, _ in trail(ledger, "durability.first_expansion.customers", *jan)] == ["e1", "e3", "e4", "e6", "e7"]
    assert trail(ledger, "durability.contraction.repeated", "2026-02-01", "2026-02-28") == [
        ("e4", "1", [("anchor", "2026-02-15", "contraction"), ("follows", "2026-03-01", "contraction")])]
    assert trail(ledger, "durability.contraction.churned", "2026-03-01", "2026-03-31") == [
        ("e1", "1", [("anchor", "2026-03-10", "contraction"), ("follows", "2026-04-25", "churn")]),
        ("e4", "1", [("anchor", "2026-03-01", "contraction"), ("follows", "2026-05-20", "churn")]),
    ]
    report = ledger("explain", "durability.first_expansion.expanded", "--from", "2026-02-01", "--to", "2026-02-28",
                    "--format", "json").json()
    [item] = report["items"]
    assert (item["customer_id"], item["days"], report["within"]) == ("e5", 120, 90)
    [joined, expanded] = item["movements"]
    assert (joined["category"], expanded["category"], expanded["date"]) == ("new", "expansion", "2026-06-01")
    assert [e["event_id"] for e in expanded["events"]] == ["x22"]
    assert set(expanded["events"][0]) == {"event_id", "sequence", "effective_date", "recorded_at", "actor", "source"}


def test_explain_table_shows_the_roles(ledger):
    out = ledger("explain", "durability.contraction.repeated", "--from", "2026-02-01", "--to", "2026-02-28").stdout
    lines = out.splitlines()
    assert lines[0].startswith("durability.contraction.repeated 2026-02-01 – 2026-02-28, within 90 days (USD), as known at ")
    assert lines[0].endswith(": 1 from 1 customers")
    assert "anchor" in lines[3] and "2026-02-15" in lines[3] and "follows" in lines[4] and "2026-03-01" in lines[4]


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("durability.expansion.rate", "is a ratio, not a sum over customers: explain its parts instead "
                                      "(durability.expansion.followed and durability.expansion.customers)"),
        ("durability.contraction.churn_rate", "explain its parts instead (durability.contraction.churned and"),
        ("durability.first_expansion.median_days", "is a percentile of the days to first expansion"),
        ("durability.expansion.lost", "cannot explain 'durability.expansion.lost'"),
    ],
)
def test_explain_refuses_what_is_not_a_sum(ledger, metric, message):
    result = ledger("explain", metric, "--from", "2026-01-01", "--to", "2026-01-31", ok=False)
    assert result.exit_code == 1 and message in result.stderr


def test_within_is_refused_for_figures_without_a_window(ledger):
    result = ledger("explain", "bridge.new", "--from", "2026-01-01", "--to", "2026-01-31", "--within", "30", ok=False)
    assert result.exit_code == 1 and "--within: bridge.new has no window" in result.stderr


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Revledger:
    ledger = Revledger(tmp_path_factory.mktemp("example"))
    ledger("init", "--currency", "USD")
    ledger("import", str(FIXTURES / "example.csv"))
    return ledger


def test_every_count_and_amount_of_every_group_adds_up_to_the_durability_figure(example):
    rm = ReadModel(default_path(example.db), open_store(example.db))
    rm.catch_up()
    known = queries.knowledge(rm, None)
    checked = 0
    for start, end, period, within in (("2025-01-01", "2025-03-31", "quarter", 90), ("2025-07-01", "2025-07-31", "month", 30),
                                       ("2025-01-01", "2025-12-31", "year", 180), ("2026-04-01", "2026-06-30", "quarter", 365)):
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        for by in (None, "segment"):
            entries = durability_report(rm, first, last, known, period=period, within=within, by=by)["periods"]
            assert entries
            for entry in entries:
                for metric in (*DURABILITY_COUNTS, *DURABILITY_MONEY):
                    _, kind, figure = metric.split(".")
                    report = explain(rm, metric, first, last, known, group=entry["group"], by=by, within=within)
                    assert report["value"] == str(entry[kind][figure]), (metric, start, entry["group"])
                    if metric in DURABILITY_COUNTS:
                        assert [i["amount"] for i in report["items"]] == ["1"] * entry[kind][figure]
                    else:
                        assert sum(Decimal(i["amount"]) for i in report["items"]) == Decimal(entry[kind][figure])
                    for item in report["items"]:
                        assert item["movements"][0]["role"] == "anchor"
                        assert all(m["events"] for m in item["movements"])
                    checked += 1
    rm.close()
    assert checked >= 60


# -- against the naive reference (tests/oracle.py) --------------------------------------------------

DAYS = st.dates(min_value=dt.date(2024, 12, 1), max_value=dt.date(2027, 1, 31))
SETTINGS = settings(
    max_examples=120 if IN_CI else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)


def cut_offs(data, history) -> list[int]:
    return sorted({len(history), *data.draw(st.lists(st.integers(1, len(history)), max_size=2), label="cut-offs")})


def range_and_within(data, history, most: int) -> tuple[dt.date, int]:
    """The range's first day and `within`: random, or (half the time, when the history has one) aimed at a possible
    anchor (an expansion or contraction) and a later contraction or churn of the same customer, the range starting on
    or before the anchor and `within` its distance or one day less, so that the movement lies on the window's last day
    or the day after it. Random values alone almost never put a movement on the edge, and let an off-by-one through."""
    moves = oracle.movements(oracle.visible(history))
    pairs = [(anchor["date"], (later["date"] - anchor["date"]).days)
             for anchor in moves if anchor["category"] in ("expansion", "contraction")
             for later in moves if later["customer_id"] == anchor["customer_id"]
             and later["category"] in ("contraction", "churn") and 2 <= (later["date"] - anchor["date"]).days <= most]
    if pairs and data.draw(st.booleans(), label="aimed"):
        anchor, days = data.draw(st.sampled_from(pairs), label="anchor and distance")
        first = anchor - dt.timedelta(days=data.draw(st.integers(0, 120), label="days before the anchor"))
        return first, days - data.draw(st.sampled_from([0, 1]), label="on the edge or past it")
    first = data.draw(DAYS, label="first")
    return first, data.draw(st.one_of(st.sampled_from([1, 30, 90, 180, 365]), st.integers(1, most)), label="within")


@SETTINGS
@given(
    history=event_histories(min_events=1, max_events=20, customers=3),
    length=st.integers(0, 700),
    period=st.sampled_from(["month", "quarter", "year"]),
    by=st.sampled_from([None, None, "segment", "region", "attr.tier"]),
    data=st.data(),
)
def test_durability_equals_a_naive_computation_as_now_known_and_at_earlier_cut_offs(
    tmp_path, history, length, period, by, data
):
    first, within = range_and_within(data, history, 400)
    rm, recorded, store = record_history(tmp_path, history)
    last = first + dt.timedelta(days=length)
    try:
        for cut in cut_offs(data, history):
            known = queries.knowledge(rm, parse_instant(recorded[cut - 1]))
            report = durability_report(rm, first, last, known, period=period, within=within, by=by)
            assert report["known_at"] == recorded[cut - 1] and report["within"] == within
            want = oracle.durability(history, first, last, period=period, within=within, by=by, known_seq=cut)
            assert report["periods"] == sorted(want, key=lambda p: (p["start"], group_order(p["group"]))), (
                f"durability differs as known at sequence {cut}"
            )
    finally:
        rm.close()
        store.close()


@SETTINGS
@given(
    history=event_histories(min_events=1, max_events=20, customers=3),
    length=st.integers(0, 400),
    by=st.sampled_from([None, "segment", "attr.tier"]),
    figure=st.sampled_from(oracle.DURABILITY_FIGURES),
    data=st.data(),
)
def test_explain_lists_the_customers_anchors_and_qualifying_movements_of_a_naive_computation(
    tmp_path, history, length, by, figure, data
):
    first, within = range_and_within(data, history, 200)
    rm, recorded, store = record_history(tmp_path, history)
    last = first + dt.timedelta(days=length)
    try:
        for cut in cut_offs(data, history):
            known = queries.knowledge(rm, parse_instant(recorded[cut - 1]))
            groups = {None}
            if by:
                seen = oracle.visible(history, cut)
                groups = {oracle.attribute(seen, c, by, last) for c in oracle.customer_ids(seen)}
            for group in sorted(groups, key=group_order):
                report = explain(rm, f"durability.{figure}", first, last, known, group=group, by=by, within=within)
                want = oracle.durability_items(history, first, last, figure, within=within, group=group, by=by,
                                               known_seq=cut)
                assert report["value"] == str(len(want))
                got = [(i["customer_id"], [m["date"] for m in i["movements"]]) for i in report["items"]]
                assert got == [
                    (w["customer_id"], [w["anchor"]["date"].isoformat()]
                     + ([] if w["qualifying"] is None else [w["qualifying"]["date"].isoformat()]))
                    for w in want
                ], f"explain durability.{figure} differs as known at sequence {cut}"
    finally:
        rm.close()
        store.close()
