"""PostgreSQL code store: the scale-out choice, when web servers on many machines send codes.

Same tables as the SQLite store (``guest_codes``, ``guest_sends``), created with
``IF NOT EXISTS`` so it can live in the outbox's database. Rate-limit checks take a
transaction-scoped advisory lock per key, so two servers cannot both slip under a limit.
"""

from __future__ import annotations

from ...databases import ConnectionFactory, Cursor, PostgresConnection
from ..errors import CodeStoreUnavailableError
from .sql import SQLCodeStore, schema

SCHEMA = schema(text="text", instant="timestamptz", integer="integer")
# Serialise concurrent CREATE ... IF NOT EXISTS, which can still collide in the catalog.
_SCHEMA_LOCK = 0x6775657374  # "guest"


class PostgresCodeStore(SQLCodeStore):
    """Codes and send records in PostgreSQL; one connection of its own, reopened if it breaks.

    Args:
        conninfo: A libpq string or URL, or a callable returning a fresh psycopg connection.
        create_schema: Create the tables now if missing (False: the host's migrations do).

    Raises:
        ConfigurationError: The connection string is not understood, or the server refused
            the login or database (only when ``create_schema`` connects).
        CodeStoreUnavailableError: The server cannot be reached now (likewise).
    """

    def __init__(self, conninfo: str | ConnectionFactory, *, create_schema: bool = True) -> None:
        self._db = PostgresConnection(conninfo, what="code store",
                                      unavailable=CodeStoreUnavailableError)
        if create_schema:
            with self._transaction() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in SCHEMA:
                    cur.execute(statement)

    _ROW_ID = "ctid"

    def _lock_keys(self, cur: Cursor, keys: list[str]) -> None:
        for key in keys:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                        (f"guest_sends:{key}",))

    def close(self) -> None:
        """Close the store's connection; the database keeps everything."""
        self._db.close()
