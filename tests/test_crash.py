"""Crash safety (issue 7, item 3): an import killed with SIGKILL at random moments loses and invents nothing.

Each kill is timed from the moment the import is under way (the process has
the ledger open), so kills land while it reads, validates and appends, not
while Python starts. After every kill: SQLite's integrity_check is ok on the
ledger and its read models, `verify` passes (when the command exists), the
stored events are a prefix of the file's rows (all or nothing: an import is
one transaction), and re-running the import finishes with every event exactly
once. At least one kill must have caught an import under way with nothing
committed, or the test has not tested a crash.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import IN_CI, installed_revledger, run_installed, Revledger

from ledger.sqlite import SQLiteEventStore
from projections.readmodel import default_path

KILLS = 30 if IN_CI else 5
ROWS_WANTED = 4_000 if IN_CI else 1_500
SEED = int(os.environ.get("REVLEDGER_CRASH_SEED", time.time_ns() % 1_000_000))


def large_file(path: Path, rows: int) -> list[str]:
    """A valid CSV of about ``rows`` events over many customers; returns the event ids in file order."""
    lines = ["event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount,segment,note"]
    ids = []
    customer = 0
    while len(ids) < rows:
        c = f"cust-{customer:05d}"
        month = 1 + customer % 12
        seats = 5 + customer % 40
        rows_of = [
            f"{c}-1,subscription_started,{c},2025-{month:02d}-01,s1,pro,{seats},{12 + customer % 9}.50,,,",
            f"{c}-2,customer_updated,{c},2025-{month:02d}-01,,,,,,{('smb', 'mid', 'ent')[customer % 3]},",
            f"{c}-3,upsell,{c},2025-{month:02d}-15,s1,,{seats + 3},,,,grew",
            f"{c}-4,subscription_started,{c},2025-{month:02d}-20,u1,usage,,,{customer % 500}.{customer % 100:02d},,",
        ]
        if customer % 4 == 0:
            rows_of.append(f"{c}-5,cancel,{c},2026-{month:02d}-01,,,,,,,churned")
        for row in rows_of:
            lines.append(row)
            ids.append(row.split(",", 1)[0])
        customer += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


def integrity(path: str) -> str:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def has_open(pid: int, path: str) -> bool:
    """Whether process ``pid`` has the file at ``path`` open (Linux /proc)."""
    target = os.path.realpath(path)
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False


def start_import(db: Path, source: Path, folder: Path) -> tuple[subprocess.Popen, float | None]:
    """Start `revledger import` and wait until it is under way: how long until it had the ledger open (None: it never did)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [installed_revledger(), "--db", str(db), "import", str(source)],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    while proc.poll() is None:
        if has_open(proc.pid, str(db)):
            return proc, time.monotonic() - started
        time.sleep(0.001)
    return proc, None


def stored_count(path: str) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1) as conn:
            return conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]
    except sqlite3.Error:
        return 0


def has_verify() -> bool:
    import typer.main

    from cli.app import app

    return "verify" in typer.main.get_command(app).commands  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    """The file, an empty ledger to copy, and one uninterrupted import: the events expected, and how long
    the import runs once under way."""
    if not os.path.isdir(f"/proc/{os.getpid()}/fd"):
        pytest.skip("needs /proc to see when an import is under way")
    folder = tmp_path_factory.mktemp("crash")
    source = folder / "big.csv"
    ids = large_file(source, ROWS_WANTED)
    empty = folder / "empty.db"
    assert run_installed("--db", str(empty), "init", cwd=folder).exit_code == 0
    reference = folder / "reference.db"
    shutil.copy(empty, reference)
    proc, opened = start_import(reference, source, folder)
    assert opened is not None, "the import never had the ledger open"
    under_way = time.monotonic()
    committed = None
    while proc.poll() is None:
        if committed is None and stored_count(str(reference)) == len(ids):
            committed = time.monotonic() - under_way
        time.sleep(0.002)
    assert proc.returncode == 0
    took = time.monotonic() - under_way
    committed = took if committed is None else committed
    events = run_installed("--db", str(reference), "log", "--format", "json", cwd=folder).json()
    assert [e["event_id"] for e in events] == ids
    return folder, source, empty, events, committed, took


def content(event: dict) -> dict:
    """What the file said: everything but when, by whom and the chain (those differ per run)."""
    return {k: v for k, v in event.items() if k not in ("recorded_at", "hash", "actor")}


def test_the_event_store_uses_wal_with_full_sync(rl):
    store = SQLiteEventStore(rl.db)
    try:
        with store.datastore.transaction(commit=False) as c:
            c.execute("PRAGMA journal_mode")
            journal = c.fetchone()[0]
            c.execute("PRAGMA synchronous")
            synchronous = c.fetchone()[0]
    finally:
        store.close()
    assert journal == "wal"
    assert synchronous == 2  # FULL: every commit is synced to disk before the import reports success
    with sqlite3.connect(rl.db) as plain:  # WAL is recorded in the file itself
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.slow
def test_an_import_killed_at_random_moments_loses_and_duplicates_nothing(workload):
    folder, source, empty, expected, committed, took = workload
    rng = random.Random(SEED)
    verify = has_verify()
    outcomes = {"killed mid-import": 0, "killed after the commit": 0, "finished first": 0}
    for kill in range(KILLS):
        where = f"kill {kill + 1}/{KILLS} (seed {SEED}; set REVLEDGER_CRASH_SEED to repeat)"
        db = folder / f"killed-{kill}.db"
        shutil.copy(empty, db)
        proc, opened = start_import(db, source, folder)
        assert opened is not None, f"{where}: the import ended before it had the ledger open"
        # every other kill before the point where the reference run committed, the rest while it caught up its read models or after
        time.sleep(rng.uniform(0, committed) if kill % 2 == 0 else rng.uniform(committed, took * 1.1))
        proc.send_signal(signal.SIGKILL)  # (a no-op when the import has already finished)
        returncode = proc.wait()
        assert returncode in (0, -signal.SIGKILL), f"{where}: the import failed by itself ({returncode})"

        assert integrity(str(db)) == "ok", where
        read_models = default_path(str(db))
        if os.path.exists(read_models):
            assert integrity(read_models) == "ok", where
        rl = Revledger(folder)  # the checks in-process: quicker than starting the command each time
        rl.db = str(db)
        stored = rl("log", "--format", "json", ok=False)
        assert stored.exit_code == 0, f"{where}: {stored.stderr}"
        events = stored.json()
        assert [content(e) for e in events] == [content(e) for e in expected[: len(events)]], where
        assert len(events) in (0, len(expected)), f"{where}: an import is one transaction, yet {len(events)} were kept"
        assert returncode != 0 or events, f"{where}: the import exited 0 yet kept nothing"
        if returncode == 0:
            outcomes["finished first"] += 1
        else:  # killed before its one transaction committed (nothing kept), or after (everything)
            outcomes["killed mid-import" if not events else "killed after the commit"] += 1
        if verify:
            checked = rl("verify", ok=False)
            assert checked.exit_code == 0, f"{where}: {checked.stdout}{checked.stderr}"

        again = rl("import", str(source), ok=False)
        assert again.exit_code == 0, f"{where}: {again.stderr}"
        final = rl("log", "--format", "json").json()
        assert [content(e) for e in final] == [content(e) for e in expected], where
        assert [e["sequence"] for e in final] == list(range(1, len(expected) + 1)), where
        if verify and kill == KILLS - 1:  # (the log is checked event by event above; verify once at the end)
            assert rl("verify", ok=False).exit_code == 0, where
        for suffix in ("", "-wal", "-shm"):
            for path in (str(db), read_models):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
    print(f"\n{KILLS} kills of a {len(expected)}-event import (seed {SEED}): {outcomes}")
    assert outcomes["killed mid-import"] >= 1, f"no kill landed while the import was under way (seed {SEED}): {outcomes}"
