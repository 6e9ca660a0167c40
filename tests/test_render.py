"""Terminal tables: aligned, thousands separators, losses marked without colour, byte-reproducible off a terminal."""

from __future__ import annotations

import io
import json
import re
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from cli import progress as progress_module
from cli.render import Column, _rich_table, figure_cell, lowers_mrr, money_cell, ratio_cell, table

EVENTS = """\
event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
e1,subscription_started,acme,2026-01-05,main,Pro,10,100,
e2,subscription_started,globex,2026-01-10,main,Flat,,,2500
e3,seat_change,acme,2026-02-01,main,,8,,
e4,cancel,globex,2026-02-15,main,,,,
e5,upsell,acme,2026-03-01,main,,12,,
"""

MOVEMENTS = """\
Movements 2026-01-01 – 2026-03-31 (USD), as known at {known_at}
date         customer   category        cause   from MRR     to MRR     amount   net change   events
────────────────────────────────────────────────────────────────────────────────────────────────────
2026-01-05   acme       ▲ new                       0.00   1,000.00   1,000.00    +1,000.00   e1
2026-01-10   globex     ▲ new                       0.00   2,500.00   2,500.00    +2,500.00   e2
2026-02-01   acme       ▼ contraction   seats   1,000.00     800.00     200.00      -200.00   e3
2026-02-15   globex     ▼ churn                 2,500.00       0.00   2,500.00    -2,500.00   e4
2026-03-01   acme       ▲ expansion     seats     800.00   1,200.00     400.00      +400.00   e5
"""


def ledger(rl):
    rl("import", rl.write("events.csv", EVENTS))
    return rl.events()[-1]["recorded_at"]


def test_movements_table_is_aligned_with_losses_marked_by_sign_and_arrow(rl):
    known_at = ledger(rl)
    out = rl("movements", "--from", "2026-01-01", "--to", "2026-03-31").stdout
    assert out == MOVEMENTS.format(known_at=known_at)
    assert "\x1b" not in out


def test_one_sign_convention_in_the_table_csv_json_and_explain(rl):
    """amount is a size (positive, its category says which way) and net_change the signed change, everywhere."""
    ledger(rl)
    span = ("--from", "2026-02-01", "--to", "2026-02-28")
    csv = rl("movements", *span, "--format", "csv").stdout.splitlines()
    assert csv[0] == "date,customer_id,category,cause,from_mrr,to_mrr,amount,net_change,event_ids"
    assert csv[1:] == ["2026-02-01,acme,contraction,seats,1000.00,800.00,200.00,-200.00,e3",
                       "2026-02-15,globex,churn,,2500.00,0.00,2500.00,-2500.00,e4"]
    moves = rl("movements", *span, "--format", "json").json()["movements"]
    assert [(m["amount"], m["net_change"]) for m in moves] == [("200.00", "-200.00"), ("2500.00", "-2500.00")]
    explained = rl("explain", "bridge.contraction", *span, "--format", "json").json()
    assert explained["value"] == "200.00" and explained["items"][0]["amount"] == "200.00"
    movement = explained["items"][0]["movements"][0]
    assert (movement["amount"], movement["net_change"]) == ("200.00", "-200.00")
    table = rl("explain", "bridge.contraction", *span).stdout
    assert "200.00      -200.00" in table and "+200.00" not in table
    net = rl("explain", "bridge.net_new", *span, "--format", "csv").stdout.splitlines()
    assert net[0] == "customer_id,item_amount,date,category,cause,from_mrr,to_mrr,amount,net_change,event_ids"
    assert net[1] == "acme,-200.00,2026-02-01,contraction,seats,1000.00,800.00,200.00,-200.00,e3"


def test_the_same_read_is_the_same_bytes_now_and_as_known_at_a_moment(rl):
    known_at = ledger(rl)
    first = rl("movements", "--from", "2026-01-01", "--to", "2026-03-31").stdout
    assert rl("movements", "--from", "2026-01-01", "--to", "2026-03-31").stdout == first
    rl("record", "seat_change", "--customer", "acme", "--subscription", "main", "--quantity", "9", "--date", "2026-02-10")
    later = rl("movements", "--from", "2026-01-01", "--to", "2026-03-31").stdout
    assert later != first
    assert rl("movements", "--from", "2026-01-01", "--to", "2026-03-31", "--known-at", known_at).stdout == first
    mrr = rl("mrr", "--as-of", "2026-02-28", "--known-at", known_at).stdout
    assert mrr == textwrap.dedent(f"""\
        MRR on 2026-02-28 (USD), as known at {known_at}
           MRR        ARR   customers
        ─────────────────────────────
        800.00   9,600.00           1
        """)


def test_the_log_table_names_what_it_knew(rl):
    known_at = ledger(rl)
    out = rl("log").stdout
    assert out.splitlines()[0] == f"Event log (5 events), as known at {known_at}"
    assert rl("log", "--known-at", "2000-01-01").stdout.splitlines()[0] == "Event log (0 events), empty ledger"


def test_cells():
    assert figure_cell("quick_ratio", "1.737884") == "1.74x"  # a multiple, never 173.79%
    assert figure_cell("retention.nrr", "0.990099") == "99.01%"
    assert figure_cell("arpa", "120.50") == "120.50" and figure_cell("customers.churned", 3) == "3"
    assert money_cell("1010000.00") == "1,010,000.00"
    assert money_cell("-0.50") == "-0.50"
    assert money_cell(None) == ""
    assert ratio_cell("0.990099") == "99.01%"
    assert ratio_cell("1.250000") == "125.00%"
    assert ratio_cell(None) == "n/a"


def test_numbers_right_text_left_and_an_empty_table_says_so():
    columns = [Column("name", "name"), Column("n", "count", "count"), Column("r", "rate", "ratio")]
    out = table([{"name": "a", "n": 1234, "r": "0.5"}, {"name": "bbbbbb", "n": 5, "r": None}], columns, "Title")
    assert out == textwrap.dedent("""\
        Title
        name     count     rate
        ───────────────────────
        a        1,234   50.00%
        bbbbbb       5      n/a""")
    assert table([], columns).endswith("(none)")


def test_on_a_terminal_losses_are_red_and_still_carry_their_sign():
    rows = [{"category": "churn", "net_change": "-99.00"}, {"category": "new", "net_change": "10.00"}]
    columns = [Column("category", "category"), Column("net_change", "net change", "change")]
    coloured = table(rows, columns, colour=True)
    assert "\x1b[31m" in coloured and "-99.00" in coloured and "▼ churn" in coloured
    plain = table(rows, columns, colour=False)
    assert "\x1b" not in plain and "-99.00" in plain and "+10.00" in plain
    assert lowers_mrr(rows[0]) and not lowers_mrr(rows[1])


def test_progress_is_silent_off_a_terminal(rl, capsys):
    result = rl("import", rl.write("events.csv", EVENTS))
    assert result.stderr == ""
    ticks = []
    with progress_module.progress("working", total=3) as tick:
        tick()
        ticks.append(tick)
    assert ticks[0] is progress_module._quiet
    assert capsys.readouterr().err == ""


def test_progress_draws_only_for_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert progress_module.wanted(Terminal()) is True
    assert progress_module.wanted(io.StringIO()) is False


def test_progress_appears_when_stderr_is_a_terminal(rl):
    import os
    import pty
    import select

    from conftest import FIXTURES, installed_revledger

    rl("import", str(FIXTURES / "example.csv"))
    pid, fd = pty.fork()
    if pid == 0:  # the child: revledger with stdout and stderr on a terminal
        os.environ.pop("REVLEDGER_NO_PROGRESS", None)
        os.execv(installed_revledger(), ["revledger", "--db", rl.db, "rebuild"])
    seen = b""
    while select.select([fd], [], [], 60)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.waitpid(pid, 0)
    assert b"rebuilding the read models" in seen and b"/212" in seen
    assert b"rebuilt the read models from 212 events" in seen
    # and off a terminal, the same command writes nothing on stderr
    assert rl("rebuild").stderr == ""


# The table is drawn directly for speed; rich, which drew it before, is the independent layout it must match.
_CELL_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12)
_MONEY = st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False, allow_infinity=False).map(str)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.fixed_dictionaries({"name": _CELL_TEXT, "amount": _MONEY, "category": st.sampled_from(
        ["new", "expansion", "contraction", "churn", "reactivation", None])}), max_size=6),
    title=st.none() | _CELL_TEXT,
    colour=st.booleans(),
)
def test_a_table_is_laid_out_as_rich_lays_it_out(rows, title, colour):
    columns = [Column("name", "customer 名前"), Column("amount", "amount", "money"), Column("category", "category")]
    drawn, reference = table(rows, columns, title, colour=colour), _rich_table(rows, columns, title, colour)
    if not colour:
        assert drawn == reference
    else:  # the same characters in the same places; colour codes may wrap the padding differently
        def visible(text: str) -> list[str]:
            return [line.rstrip() for line in re.sub(r"\x1b\[[0-9;]*m", "", text).split("\n")]

        assert visible(drawn) == visible(reference)
        assert ("\x1b[31m" in drawn) == ("\x1b[31m" in reference)
        assert ("\x1b[32m" in drawn) == ("\x1b[32m" in reference)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_json_is_written_as_json_dumps_writes_it(data):
    from cli.render import as_json

    assert as_json(data) == json.dumps(data, indent=2, ensure_ascii=False)
