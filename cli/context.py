"""The ledger a command works on: its location, its event store and its read models, opened on first use."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from ledger.location import cache_name, is_postgres, open_store
from ledger.store import EventStore
from projections.readmodel import ReadModel, default_path

if TYPE_CHECKING:
    from ledger.application import Ledger


class State:
    """The ledger a command works on, opened on first use."""

    def __init__(self, location: str, cache: str | None):
        self.location = location
        self._cache = cache
        self._store: EventStore | None = None
        self._read_model: ReadModel | None = None

    @property
    def cache(self) -> str:
        """The read models' file: --cache, or the default for the ledger's location."""
        if self._cache is None:
            self._cache = default_cache(self.location)
        elif os.path.isdir(self._cache) or not os.path.isdir(os.path.dirname(os.path.abspath(self._cache))):
            from ledger.errors import UsageError

            what = "is a folder" if os.path.isdir(self._cache) else "is in a folder that does not exist"
            raise UsageError(f"--cache {self._cache} {what}; give the read models a file name in an existing folder")
        return self._cache

    @property
    def store(self) -> EventStore:
        if self._store is None:
            self._store = open_store(self.location)
        return self._store

    @property
    def read_model(self) -> ReadModel:
        """The read models, caught up with the log."""
        if self._read_model is None:
            self._read_model = ReadModel(self.cache, self.store)
            self._read_model.catch_up()
        return self._read_model

    def reading(self, known_at: str | None, policy: list[str] | None = None):
        """The read models and what an answer may use: the log as known at ``--known-at`` (everything when None).

        With ``--policy`` settings, the answer is a preview under that policy instead (nothing is recorded).
        """
        from cli.options import instant
        from projections.preview import preview
        from projections.queries import knowledge

        rm = self.read_model
        known = knowledge(rm, instant(known_at))
        if policy:
            return preview(rm, known, known.policy.with_settings(policy))
        return rm, known

    def ledger(self, actor: str | None) -> Ledger:
        from ledger.application import Ledger  # the write side (and pydantic) only when writing

        return Ledger(self.store, self.read_model, actor=actor)


def default_cache(location: str) -> str:
    """Where the read models live when --cache is not given.

    Beside a SQLite ledger; for a PostgreSQL ledger, in this machine's cache
    folder ($XDG_CACHE_HOME/revledger, default ~/.cache/revledger), one file
    per server, port, database and schema: each analyst's own fast copy.
    """
    if not is_postgres(location):
        return default_path(location)
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(root, "revledger")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"{cache_name(location)}.projections.db")


def state(ctx: typer.Context) -> State:
    return ctx.obj
