"""Shared test helpers: run revledger in-process or as the installed command, on a fresh ledger."""

from __future__ import annotations

import gc
import functools
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.testing
from typer.testing import CliRunner

from cli.app import app

# Typer rebuilds the click command from the app's signatures on every invoke (most of an
# in-process call); the app does not change during a test run, so build it once.
typer.testing._get_command = functools.lru_cache(maxsize=None)(typer.testing._get_command)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


class Revledger:
    """A ledger in a temporary folder, driven through the command line."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.db = str(folder / "ledger.db")
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True) -> Result:
        result = self.runner.invoke(app, ["--db", self.db, *args], catch_exceptions=False)
        outcome = Result(result.exit_code, result.stdout, result.stderr)
        if ok and result.exit_code != 0:
            raise AssertionError(f"revledger {' '.join(args)} failed ({result.exit_code}):\n{result.stderr}{result.stdout}")
        return outcome

    def write(self, name: str, text: str) -> str:
        """Write a file into the ledger's folder (text is dedented) and return its path."""
        path = self.folder / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return str(path)

    def events(self, *args: str) -> list[dict]:
        return self("log", "--format", "json", *args).json()


@pytest.fixture
def rl(tmp_path: Path) -> Revledger:
    ledger = Revledger(tmp_path)
    ledger("init", "--currency", "USD")
    return ledger


# -- PostgreSQL ------------------------------------------------------------------------

POSTGRES_URL = os.environ.get("REVLEDGER_TEST_POSTGRES_URL", "").strip()


def _postgres_unavailable() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can."""
    if not POSTGRES_URL:
        return "REVLEDGER_TEST_POSTGRES_URL is not set (`bash .ci/run` starts a throwaway server; see docs/postgres.md)"
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=5).close()
    except psycopg.Error as e:
        return f"cannot reach PostgreSQL at REVLEDGER_TEST_POSTGRES_URL: {' '.join(str(e).split())}"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of the PostgreSQL server for the PostgreSQL tests.

    Skipped, with the reason, when there is none; in CI (CI=true) a missing
    server fails the test instead: there the PostgreSQL half must run.
    """
    reason = _postgres_unavailable()
    if reason is None:
        return POSTGRES_URL
    if IN_CI:
        pytest.fail(f"CI=true, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def postgres_url(postgres_server: str):
    """A ledger URL of its own for one test: a fresh, empty schema, dropped afterwards."""
    import psycopg
    from psycopg import sql

    schema = f"t_{uuid.uuid4().hex[:16]}"
    joiner = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{joiner}schema={schema}"
    gc.collect()  # close the connection pools of stores the test left open
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def installed_revledger() -> str:
    """The real console script, as a user would run it."""
    candidate = Path(sys.executable).parent / "revledger"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("revledger")
    if not found:
        pytest.skip("the revledger command is not installed (pip install -e .)")
    return found


def run_installed(*args: str, cwd: Path, env: dict | None = None, input: str | None = None) -> Result:
    proc = subprocess.run(
        [installed_revledger(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=input,
        timeout=300,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def record_history(tmp_path: Path, history: list[dict]):
    """Record a generated history event by event (each with its own recorded_at) into a fresh ledger.

    Returns the caught-up read model, each event's recorded_at, and the store.
    """
    from ledger.application import Ledger
    from ledger.settings import LedgerSettings
    from ledger.location import open_store
    from projections.readmodel import ReadModel, default_path

    db = str(tmp_path / "history.db")
    for path in (db, default_path(db)):
        for extra in ("", "-wal", "-shm"):
            if os.path.exists(path + extra):
                os.remove(path + extra)
    store = open_store(db, create=True)
    store.initialise(LedgerSettings("USD"))
    rm = ReadModel(default_path(db), store)
    ledger = Ledger(store, rm, actor="test")
    recorded = []
    for event in history:
        result = ledger.record({k: v for k, v in event.items() if k != "sequence"})
        assert [e.sequence for e in result.events] == [event["sequence"]]
        recorded.append(result.events[0].recorded_at)
    rm.catch_up()
    return rm, recorded, store
