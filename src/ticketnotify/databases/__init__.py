"""The connections the stores share (outbox, guest codes): one SQLite file, one PostgreSQL link.

Both turn a driver's exception into ours at the edge, so no caller ever sees ``sqlite3`` or
``psycopg`` errors: an outage (server down, connection lost, file locked, disk full)
becomes the store's ``StoreUnavailableError`` subclass, every time it happens; a setup
that cannot work (missing directory, unknown database or role, failed login, missing
tables) becomes ``ConfigurationError``. What is neither (a bug, a value the database
refuses) passes through unchanged.
"""

from __future__ import annotations

from .common import (
    POSTGRES,
    SQLITE,
    Cursor,
    Database,
    Dialect,
    Unavailable,
    aware,
    first_line,
    from_micros,
    to_micros,
)
from .postgres import ConnectionFactory, PostgresConnection, import_psycopg
from .sqlite import WAL_LIMIT, SQLiteFile

__all__ = ["POSTGRES", "SQLITE", "WAL_LIMIT", "ConnectionFactory", "Cursor", "Database",
           "Dialect", "PostgresConnection", "SQLiteFile", "Unavailable", "aware", "first_line",
           "from_micros", "import_psycopg", "to_micros"]
