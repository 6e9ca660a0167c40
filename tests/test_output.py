"""`--out`: every read writes its answer to the file, in the format asked for, whole or not at all.

A scheduled export that writes nothing and exits 0 is the worst failure an
export can have; these tests hold every read command to the same rules.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys

import pytest

from cli import render
from cli.output import deliver
from ledger.errors import UsageError

EVENTS = """\
event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,segment
e1,subscription_started,acme,2026-01-05,main,Pro,10,100,,
e2,subscription_started,globex,2026-01-10,main,Flat,,,2500.10,
e3,seat_change,acme,2026-02-01,main,,8,,,
e4,cancel,globex,2026-02-15,main,,,,,
e5,customer_updated,acme,2026-01-05,,,,,,Enterprise
"""
SPAN = ("--from", "2026-01-01", "--to", "2026-03-31")

# Every read that prints a table, with the arguments it needs.
READS = {
    "log": ("log",),
    "mrr": ("mrr", "--as-of", "2026-01-31", "--by", "segment"),
    "movements": ("movements", *SPAN),
    "metrics": ("metrics", *SPAN),
    "cohorts": ("cohorts", *SPAN),
    "explain": ("explain", "bridge.churn", *SPAN),
    "restatements": ("restatements",),
    "diff": ("diff", "metrics", "--known-at", "2000-01-01", "--known-at", "now", *SPAN),
}


@pytest.fixture
def ledger(rl):
    rl("import", rl.write("events.csv", EVENTS))
    rl("close", "2026-01")
    return rl


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
@pytest.mark.parametrize("read", sorted(READS))
def test_out_writes_the_file_every_read_prints(ledger, tmp_path, read, fmt):
    args = READS[read]
    printed = ledger(*args, "--format", fmt).stdout
    out = tmp_path / f"{read}.{ {'table': 'txt'}.get(fmt, fmt) }"
    result = ledger(*args, "--format", fmt, "--out", str(out))
    assert result.stdout.startswith(f"wrote {out}") and result.stdout.count("\n") == 1
    assert out.read_text(encoding="utf-8") == printed
    if fmt == "json":
        json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("read", sorted(READS))
def test_every_read_writes_a_workbook(ledger, tmp_path, read):
    import openpyxl

    out = tmp_path / f"{read}.xlsx"
    result = ledger(*READS[read], "--format", "xlsx", "--out", str(out))
    assert f"{out} (" in result.stdout
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[0] == "about" and len(book.sheetnames) >= 2


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx", "table"])
def test_out_into_a_missing_folder_or_onto_a_folder_is_one_line(ledger, tmp_path, fmt):
    name = f"m.{ {'table': 'txt'}.get(fmt, fmt) }"
    missing = tmp_path / "no" / "such" / name
    result = ledger("metrics", *SPAN, "--format", fmt, "--out", str(missing), ok=False)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == f"revledger: --out {missing}: no such folder {missing.parent}\n"
    folder = tmp_path / "exports.csv" if fmt == "csv" else tmp_path
    folder.mkdir(exist_ok=True)
    result = ledger("metrics", *SPAN, "--format", fmt, "--out", str(folder), ok=False)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == f"revledger: --out {folder}: is a folder; give a file name\n"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_failed_export_leaves_the_old_file_and_no_half_file(ledger, tmp_path, monkeypatch):
    import zipfile

    out = tmp_path / "metrics.xlsx"
    out.write_bytes(b"last month's workbook")
    written = zipfile.ZipFile.writestr

    def disk_full(self, name, data, *args, **kwargs):  # the disk fills after the first part of the workbook
        if len(self.namelist()) >= 1:
            raise OSError(28, "No space left on device")
        return written(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", disk_full)
    result = ledger("metrics", *SPAN, "--format", "xlsx", "--out", str(out), ok=False)
    assert result.exit_code == 1
    assert result.stderr == f"revledger: --out {out}: cannot write: No space left on device\n"
    assert out.read_bytes() == b"last month's workbook"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".revledger-")]
    monkeypatch.undo()

    import cli.output

    def half_then_fail(path, text):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text[: len(text) // 2])
        raise OSError(5, "Input/output error")

    csv = tmp_path / "metrics.csv"
    monkeypatch.setattr(cli.output, "_write_text", half_then_fail)
    result = ledger("metrics", *SPAN, "--format", "csv", "--out", str(csv), ok=False)
    assert result.exit_code == 1 and not csv.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".revledger-")]


def test_the_file_gets_the_permissions_of_any_new_file(ledger, tmp_path):
    """Not the private 0600 of the temporary file it was written as: a shared export folder stays readable."""
    mask = os.umask(0o022)
    try:
        out = tmp_path / "m.csv"
        ledger("metrics", *SPAN, "--format", "csv", "--out", str(out))
    finally:
        os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_an_export_never_overwrites_a_ledger(ledger, tmp_path):
    before = open(ledger.db, "rb").read()
    result = ledger("metrics", *SPAN, "--format", "table", "--out", ledger.db, ok=False)
    assert result.exit_code == 1
    assert result.stderr == f"revledger: --out {ledger.db}: is a SQLite database (a ledger?); revledger will not overwrite it\n"
    assert open(ledger.db, "rb").read() == before
    assert len(ledger.events()) == 6


def test_a_name_that_says_another_format_is_refused(ledger, tmp_path):
    out = tmp_path / "m.csv"
    result = ledger("metrics", *SPAN, "--out", str(out), ok=False)
    assert result.exit_code == 1 and not out.exists()
    assert result.stderr == f"revledger: --out {out}: the name says csv but --format is table; give --format csv\n"


def test_a_table_written_to_a_file_has_no_colour_codes(tmp_path, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    rows = [{"category": "churn", "net_change": "-99.00"}]
    columns = [render.Column("category", "category"), render.Column("net_change", "net change", "change")]
    out = tmp_path / "t.txt"
    deliver("table", str(out), table=lambda: render.table(rows, columns))
    assert "\x1b" not in out.read_text(encoding="utf-8") and "-99.00" in out.read_text(encoding="utf-8")
    deliver("table", None, table=lambda: render.table(rows, columns))
    assert "\x1b[31m" in terminal.getvalue().split("\n", 1)[1]  # on the terminal itself, colour as before


def test_a_format_the_command_does_not_write_is_refused_in_one_line():
    with pytest.raises(UsageError) as refused:
        deliver("csv", None, table=lambda: "t", json=lambda: {})
    assert str(refused.value) == "--format csv: this command writes table, json"
