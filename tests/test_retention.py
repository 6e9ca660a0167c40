"""Trailing windows (SPEC §15): hand-worked windows, the NRR bands, and equality with `metrics` for one period."""

from __future__ import annotations

import datetime as dt
import itertools

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
from projections.metrics import figures_for, group_order
from projections.readmodel import ReadModel, default_path
from projections.retention import band, retention_report, trailing_figures, trailing_windows
from strategies import event_histories

# Flat monthly lines (amounts are MRR):
#   a  1000 from 2025-12-01 · 1200 from 2026-02-10 · 900 from 2026-04-05        Enterprise
#   b   500 from 2025-12-15 · cancelled 2026-03-01                              SMB
#   c   300 from 2026-02-01                      SMB, Enterprise from 2026-04-30 (a last day counts)
#   d   200 from 2025-11-01 · 260 from 2026-05-20                               Enterprise
LEDGER = """
    event_id,type,customer_id,effective_date,subscription_id,plan,amount,segment
    r01,customer_updated,d,2025-11-01,,,,Enterprise
    r02,subscription_started,d,2025-11-01,s,pro,200.00,
    r03,customer_updated,a,2025-12-01,,,,Enterprise
    r04,subscription_started,a,2025-12-01,s,pro,1000.00,
    r05,customer_updated,b,2025-12-15,,,,SMB
    r06,subscription_started,b,2025-12-15,s,pro,500.00,
    r07,customer_updated,c,2026-02-01,,,,SMB
    r08,subscription_started,c,2026-02-01,s,pro,300.00,
    r09,upsell,a,2026-02-10,s,,1200.00,
    r10,cancel,b,2026-03-01,s,,,
    r11,downgrade,a,2026-04-05,s,,900.00,
    r12,customer_updated,c,2026-04-30,,,,Enterprise
    r13,upsell,d,2026-05-20,s,,260.00,
    """

KEYS = ["month", "start", "end", "group", "opening_mrr", "closing_mrr", "nrr", "grr", "expansion_rate",
        "contraction_rate", "churn_rate", "logo_churn_rate", "band"]


def retention(rl: Revledger, *args: str) -> dict:
    return rl("retention", "--format", "json", *args).json()


def row(entry: dict) -> tuple:
    return tuple(entry[k] for k in KEYS[3:])


@pytest.fixture
def ledger(rl):
    rl("import", rl.write("r.csv", LEDGER))
    return rl


def test_hand_worked_three_month_windows(ledger):
    report = retention(ledger, "--from", "2026-03-01", "--to", "2026-05-31", "--window", "3")
    assert list(report) == ["currency", "known_at", "policy", "window", "months"]
    assert report["window"] == 3 and report["policy"]["movement_grain"] == "day"
    assert [list(m) for m in report["months"]] == [KEYS] * 3
    assert [(m["month"], m["start"], m["end"]) for m in report["months"]] == [
        ("2026-03", "2026-01-01", "2026-03-31"),
        ("2026-04", "2026-02-01", "2026-04-30"),
        ("2026-05", "2026-03-01", "2026-05-31"),
    ]
    assert [row(m) for m in report["months"]] == [
        # S = a 1000, b 500, d 200 (1,700.00). a +200, b churns 500: 1,400 / 1,700. c is new: closing 1,700.
        (None, "1700.00", "1700.00", "0.823529", "0.705882", "0.117647", "0.000000", "0.294118", "0.333333", "below 90%"),
        # S as of 01-31 is the same; a ends at 900 (-100), b churned: 1,100 / 1,700.
        (None, "1700.00", "1400.00", "0.647059", "0.647059", "0.000000", "0.058824", "0.294118", "0.333333", "below 90%"),
        # S as of 02-28: a 1200, b 500, c 300, d 200 (2,200). a -300, b -500, d +60: 1,460 / 2,200.
        (None, "2200.00", "1460.00", "0.663636", "0.636364", "0.027273", "0.136364", "0.227273", "0.250000", "below 90%"),
    ]


def test_groups_take_the_attribute_as_of_each_months_last_day(ledger):
    report = retention(ledger, "--from", "2026-03-01", "--to", "2026-04-30", "--window", "3", "--by", "segment")
    assert [(m["month"], *row(m)) for m in report["months"]] == [
        # March: c is still SMB. Enterprise S = a 1000, d 200: 1,400 / 1,200.
        ("2026-03", "Enterprise", "1200.00", "1400.00", "1.166667", "1.000000", "0.166667", "0.000000", "0.000000",
         "0.000000", "110–120%"),
        ("2026-03", "SMB", "500.00", "300.00", "0.000000", "0.000000", "0.000000", "0.000000", "1.000000", "1.000000",
         "below 90%"),
        # April: c is Enterprise as of 04-30, its opening (none, it started 02-01) and closing with it.
        ("2026-04", "Enterprise", "1200.00", "1400.00", "0.916667", "0.916667", "0.000000", "0.083333", "0.000000",
         "0.000000", "90–100%"),
        ("2026-04", "SMB", "500.00", "0.00", "0.000000", "0.000000", "0.000000", "0.000000", "1.000000", "1.000000",
         "below 90%"),
    ]


def test_months_are_those_whose_last_day_lies_in_the_range(ledger):
    report = retention(ledger, "--from", "2026-03-15", "--to", "2026-05-30", "--window", "1")
    assert [(m["month"], m["start"], m["end"]) for m in report["months"]] == [
        ("2026-03", "2026-03-01", "2026-03-31"), ("2026-04", "2026-04-01", "2026-04-30")]
    assert retention(ledger, "--from", "2026-03-02", "--to", "2026-03-30")["months"] == []
    # a window that opens before any revenue has no NRR, and so no band
    [early] = retention(ledger, "--from", "2025-11-01", "--to", "2025-11-30")["months"]
    assert (early["start"], early["opening_mrr"], early["closing_mrr"], early["nrr"], early["band"]) == (
        "2024-12-01", "0.00", "200.00", None, None)


BANDS = [
    ("0.000000", "below 90%"),
    ("0.899999", "below 90%"),
    ("0.900000", "90–100%"),
    ("0.999999", "90–100%"),
    ("1.000000", "100–110%"),
    ("1.099999", "100–110%"),
    ("1.100000", "110–120%"),
    ("1.200000", "120–130%"),
    ("1.299999", "120–130%"),
    ("1.300000", "130%+"),
    ("2.500000", "130%+"),
    (None, None),
]


@pytest.mark.parametrize(("nrr", "expected"), BANDS)
def test_each_band_includes_its_lower_bound(nrr, expected):
    assert band(nrr) == expected


@pytest.mark.parametrize(
    ("closing", "nrr", "expected"),
    [
        ("90.00", "0.900000", "90–100%"),
        ("100.00", "1.000000", "100–110%"),
        ("110.00", "1.100000", "110–120%"),
        ("120.00", "1.200000", "120–130%"),
        ("130.00", "1.300000", "130%+"),
        ("129.99", "1.299900", "120–130%"),
    ],
)
def test_boundaries_through_a_ledger(rl, closing, nrr, expected):
    rl("import", rl.write("b.csv", f"""
        event_id,type,customer_id,effective_date,subscription_id,plan,amount
        b1,subscription_started,acme,2026-01-01,s,pro,100.00
        b2,subscription_changed,acme,2026-02-15,s,,{closing}
        """))
    [feb] = retention(rl, "--from", "2026-02-01", "--to", "2026-02-28", "--window", "1")["months"]
    assert (feb["nrr"], feb["band"]) == (nrr, expected)


def test_the_band_reads_the_nrr_as_printed(rl):
    # 17,999.99 / 20,000.00 = 0.8999995, printed (half to even, six places) as 0.900000: in the 90–100% band.
    rl("import", rl.write("b.csv", """
        event_id,type,customer_id,effective_date,subscription_id,plan,amount
        b1,subscription_started,acme,2026-01-01,s,pro,20000.00
        b2,downgrade,acme,2026-02-15,s,,17999.99
        """))
    [feb] = retention(rl, "--from", "2026-02-01", "--to", "2026-02-28", "--window", "1")["months"]
    assert (feb["nrr"], feb["band"]) == ("0.900000", "90–100%")


def test_table_shows_the_band_beside_the_nrr_and_rates_as_percentages(ledger):
    out = ledger("retention", "--from", "2026-03-01", "--to", "2026-05-31", "--window", "3").stdout
    lines = out.splitlines()
    assert lines[0].startswith("Trailing 3-month retention (USD), as known at ")
    assert lines[1].split() == ["month", "window", "opening", "MRR", "closing", "MRR", "NRR", "band", "GRR",
                                "expansion", "contraction", "churn", "logo", "churn"]
    assert lines[3].split() == ["2026-03", "2026-01-01", "–", "2026-03-31", "1,700.00", "1,700.00", "82.35%", "below",
                                "90%", "70.59%", "11.76%", "0.00%", "29.41%", "33.33%"]
    csv_text = ledger("retention", "--from", "2026-03-01", "--to", "2026-03-31", "--window", "3", "--format", "csv").stdout
    assert csv_text.splitlines() == [
        ",".join(KEYS),
        "2026-03,2026-01-01,2026-03-31,,1700.00,1700.00,0.823529,0.705882,0.117647,0.000000,0.294118,0.333333,below 90%",
    ]


def test_xlsx_has_a_retention_sheet_with_real_numbers(ledger, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "r.xlsx"
    result = ledger("retention", "--from", "2026-03-01", "--to", "2026-05-31", "--window", "3", "--format", "xlsx",
                    "--out", str(out))
    assert "retention" in result.stdout
    sheet = load_workbook(out)["retention"]
    values = [[cell.value for cell in r] for r in sheet.iter_rows()]
    header = values.index(KEYS)
    first = dict(zip(KEYS, values[header + 1]))
    assert first["month"] == "2026-03" and first["band"] == "below 90%"
    assert first["opening_mrr"] == 1700 and round(first["nrr"], 6) == 0.823529  # numbers, not text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--window", "0"), "--window 0: a whole number of months from 1 to 120"),
        (("--window", "121"), "--window 121: a whole number of months from 1 to 120"),
        (("--by", "colour"), "--by 'colour'"),
        (("--to", "2025-12-31"), "--to 2025-12-31 is before --from 2026-01-01"),
    ],
)
def test_bad_options_are_one_line_errors(ledger, args, message):
    options = {"--from": "2026-01-01", "--to": "2026-06-30", **dict(zip(args[::2], args[1::2]))}
    result = ledger("retention", *[x for kv in options.items() for x in kv], ok=False)
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_monthly_grain_needs_whole_months(ledger):
    rm = ReadModel(default_path(ledger.db), open_store(ledger.db))
    rm.catch_up()
    known = queries.knowledge(rm, None)
    monthly = queries.Knowledge(known.sequence, known.recorded_at, Policy(movement_grain="month"))
    with pytest.raises(UsageError, match="--from 2026-03-15: movements are netted per month"):
        retention_report(rm, dt.date(2026, 3, 15), dt.date(2026, 5, 31), monthly)
    assert len(retention_report(rm, dt.date(2026, 3, 1), dt.date(2026, 5, 31), monthly)["months"]) == 3
    rm.close()


# -- a trailing window ending on month M is `metrics` for that one period ---------------------------------


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Revledger:
    ledger = Revledger(tmp_path_factory.mktemp("example"))
    ledger("init", "--currency", "USD")
    ledger("import", str(FIXTURES / "example.csv"))
    # a later restatement, so that --known-at before it answers differently
    ledger("record", "seat_change", "--customer", "cust-038", "--subscription", "platform", "--quantity", "10",
           "--date", "2025-12-20")
    return ledger


# window → the metrics period whose calendar periods are exactly those windows, and the months that end one
ALIGNED = {1: ("month", range(1, 13)), 3: ("quarter", (3, 6, 9, 12)), 12: ("year", (12,))}


@pytest.mark.parametrize("window", sorted(ALIGNED))
@pytest.mark.parametrize("by", [None, "segment"])
@pytest.mark.parametrize("earlier", [False, True])
def test_each_window_equals_metrics_for_that_period_figure_for_figure(example, window, by, earlier):
    period, months = ALIGNED[window]
    common = ["--format", "json"] + (["--by", by] if by else [])
    if earlier:
        common += ["--known-at", example.events()[-2]["recorded_at"]]
    trailing = example("retention", "--from", "2025-01-01", "--to", "2026-12-31", "--window", str(window), *common).json()
    metrics = example("metrics", "--from", "2025-01-01", "--to", "2026-12-31", "--period", period, *common).json()
    assert trailing["known_at"] == metrics["known_at"]
    expected = [
        {
            "month": p["end"][:7], "start": p["start"], "end": p["end"], "group": p["group"],
            "opening_mrr": p["opening_mrr"], "closing_mrr": p["closing_mrr"],
            **{k: p["retention"][k] for k in ("nrr", "grr", "expansion_rate", "contraction_rate", "churn_rate")},
            "logo_churn_rate": p["customers"]["logo_churn_rate"], "band": band(p["retention"]["nrr"]),
        }
        for p in metrics["periods"]
    ]
    got = [m for m in trailing["months"] if int(m["month"][5:]) in months]
    assert got == expected
    assert len(got) >= 2


def test_every_window_length_equals_one_period_of_metrics(example):
    """Windows no calendar period matches (5, 7, 13 months …), against the metrics pass over that one span."""
    rm = ReadModel(default_path(example.db), open_store(example.db))
    rm.catch_up()
    fields = ("opening", "closing", "opening_count", "closing_count", "retention_expansion", "retention_contraction",
              "retention_churn", "logos_lost")
    for window, by, cut in itertools.product((2, 5, 7, 13, 24), (None, "segment", "attr.industry"), (None, 150)):
        known = queries.knowledge(rm, None) if cut is None else queries.Knowledge(cut, "t")
        spans = trailing_windows(dt.date(2025, 1, 1), dt.date(2026, 12, 31), window)
        fast = trailing_figures(rm, spans, known, by)
        slow = figures_for(rm, spans, known, by)
        assert [(s, e, {g: [getattr(f, x) for x in fields] for g, f in found.items()}) for s, e, found in fast] == [
            (s, e, {g: [getattr(f, x) for x in fields] for g, f in found.items()}) for s, e, found in slow
        ], (window, by, cut)
    rm.close()


# -- against the naive reference (tests/oracle.py) --------------------------------------------------

DAYS = st.dates(min_value=dt.date(2024, 12, 1), max_value=dt.date(2027, 1, 31))


@settings(
    max_examples=120 if IN_CI else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
@given(
    history=event_histories(min_events=1, max_events=20, customers=3),
    first=DAYS,
    length=st.integers(0, 500),
    window=st.one_of(st.sampled_from([1, 3, 12]), st.integers(1, 30)),
    by=st.sampled_from([None, None, "segment", "region", "attr.tier"]),
    data=st.data(),
)
def test_retention_equals_a_naive_computation_as_now_known_and_at_earlier_cut_offs(
    tmp_path, history, first, length, window, by, data
):
    rm, recorded, store = record_history(tmp_path, history)
    last = first + dt.timedelta(days=length)
    cuts = sorted({len(history), *data.draw(st.lists(st.integers(1, len(history)), max_size=2), label="cut-offs")})
    try:
        for cut in cuts:
            known = queries.knowledge(rm, parse_instant(recorded[cut - 1]))
            report = retention_report(rm, first, last, known, window=window, by=by)
            assert report["known_at"] == recorded[cut - 1] and report["window"] == window
            want = oracle.retention(history, first, last, window=window, by=by, known_seq=cut)
            assert report["months"] == sorted(want, key=lambda m: (m["month"], group_order(m["group"]))), (
                f"retention differs as known at sequence {cut}"
            )
    finally:
        rm.close()
        store.close()
