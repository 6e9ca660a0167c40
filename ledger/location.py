"""Which event store a location names: a SQLite file path, or a ``postgresql://`` URL.

Apart from both backends, so neither imports the other and ``ledger/store.py`` imports none.
"""

from __future__ import annotations

from ledger.errors import StorageError
from ledger.store import EventStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str) -> bool:
    return location.startswith(POSTGRES_SCHEMES)


def open_store(location: str, *, create: bool = False) -> EventStore:
    """The event store at ``location``: a SQLite file path, or a ``postgresql://`` URL."""
    if is_postgres(location):
        try:
            from ledger.postgres import PostgresEventStore
        except ImportError as e:  # installed without the postgres extra
            raise StorageError(
                f"{location.split('://')[0]}:// ledgers need PostgreSQL support ({e.name} is not installed): "
                "pip install 'revledger[postgres]'"
            ) from None

        return PostgresEventStore(location, create=create)
    from ledger.sqlite import SQLiteEventStore

    return SQLiteEventStore(location, create=create)
