"""SQLite code store: survives a restart, and may share one WAL file with the SQLite outbox.

Its tables are prefixed ``guest_`` and created with ``IF NOT EXISTS``; it leaves
``PRAGMA user_version`` to the outbox, which versions its own schema with it.
"""

from __future__ import annotations

import os

from ...databases import SQLiteFile
from ..errors import CodeStoreUnavailableError
from .sql import SQLCodeStore, schema

SCHEMA = schema(text="TEXT", instant="INTEGER", integer="INTEGER")  # instants: UTC microseconds


class SQLiteCodeStore(SQLCodeStore):
    """Codes and send records in one SQLite file (WAL); several processes may share it.

    Args:
        path: The database file (created with its tables if missing); may be the SQLite
            outbox's own file.
        busy_timeout: Seconds a write waits for another process's write lock before
            ``CodeStoreUnavailableError``.

    Raises:
        ConfigurationError: The file cannot be opened or created (missing directory,
            permissions, not a database).
        CodeStoreUnavailableError: The file is locked or the disk is full.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self._db = SQLiteFile(path, what="SQLite code store",
                              unavailable=CodeStoreUnavailableError, busy_timeout=busy_timeout)
        self.path = self._db.path
        with self._db.write() as conn:
            for statement in SCHEMA:
                conn.execute(statement)

    def close(self) -> None:
        """Close the connection; the file keeps every code and send record."""
        self._db.close()
