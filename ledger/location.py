"""Which event store a location names: a SQLite file path, or a ``postgresql://`` URL.

Apart from both backends, so neither imports the other and ``ledger/store.py`` imports none.
"""

from __future__ import annotations

import re

from ledger.errors import StorageError
from ledger.store import EventStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+)://")


def is_postgres(location: str) -> bool:
    return location.startswith(POSTGRES_SCHEMES)


def _postgres(location: str):
    """The PostgreSQL backend module, or one line on how to install it."""
    try:
        from ledger import postgres
    except ImportError as e:  # installed without the postgres extra
        raise StorageError(
            f"{location.split('://')[0]}:// ledgers need PostgreSQL support ({e.name} is not installed): "
            "pip install 'revledger[postgres]'"
        ) from None
    return postgres


def check_location(location: str) -> None:
    """Refuse, in one line, a location that is neither a file path nor a PostgreSQL URL (an empty one, ``mysql://…``)."""
    if not location.strip():
        raise StorageError("--db is empty: give a SQLite file path or a postgresql:// URL")
    if (m := _URL.match(location)) and not is_postgres(location):
        if m[1].lower() == "sqlite":
            raise StorageError(f"--db {location}: give a SQLite ledger as its file path ({location[len(m[0]):]}), not a URL")
        raise StorageError(
            f"--db {location}: revledger keeps a ledger in a SQLite file (give its path) or in PostgreSQL "
            f"(postgresql://…), not {m[1]}://"
        )


def open_store(location: str, *, create: bool = False) -> EventStore:
    """The event store at ``location``: a SQLite file path, or a ``postgresql://`` URL."""
    check_location(location)
    if is_postgres(location):
        return _postgres(location).PostgresEventStore(location, create=create)
    from ledger.sqlite import SQLiteEventStore

    return SQLiteEventStore(location, create=create)


def cache_name(location: str) -> str:
    """A file-name-safe name for a PostgreSQL ledger's local read-model cache."""
    return _postgres(location).parse_url(location).cache_name()
