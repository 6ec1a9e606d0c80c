"""PostgreSQL code store: the scale-out choice, when web servers on many machines send codes.

Same tables as the SQLite store (``guest_codes``, ``guest_sends``), created with
``IF NOT EXISTS`` so it can live in the outbox's database. Rate-limit checks take a
transaction-scoped advisory lock per key, so two servers cannot both slip under a limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ...databases import ConnectionFactory, PostgresConnection
from .base import Attempt, CodeStore, RateLimit, StoredCode, longest, next_allowed

if TYPE_CHECKING:
    import psycopg

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS guest_codes (
        ticket_id text NOT NULL,
        address_key text NOT NULL,
        code_hash text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        attempts_left integer NOT NULL,
        PRIMARY KEY (ticket_id, address_key)
    )""",
    "CREATE INDEX IF NOT EXISTS guest_codes_expiry ON guest_codes (expires_at)",
    """CREATE TABLE IF NOT EXISTS guest_sends (
        send_key text NOT NULL,
        sent_at timestamptz NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS guest_sends_key ON guest_sends (send_key, sent_at)",
    "CREATE INDEX IF NOT EXISTS guest_sends_age ON guest_sends (sent_at)",
)
# Serialise concurrent CREATE ... IF NOT EXISTS, which can still collide in the catalog.
_SCHEMA_LOCK = 0x6775657374  # "guest"

_CODE_COLUMNS = "ticket_id, address_key, code_hash, created_at, expires_at, attempts_left"


def _code(row: Sequence[Any]) -> StoredCode:
    return StoredCode(row[0], row[1], row[2], row[3], row[4], row[5])


class PostgresCodeStore(CodeStore):
    """Codes and send records in PostgreSQL; one connection of its own, reopened if it breaks.

    ``conninfo`` is a libpq string or URL, or a callable returning a fresh psycopg connection.
    """

    def __init__(self, conninfo: str | ConnectionFactory, *, create_schema: bool = True) -> None:
        self._pg = PostgresConnection(conninfo, what="code store")
        if create_schema:
            with self._transaction() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in SCHEMA:
                    cur.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        with self._pg.lock:
            conn = self._pg.get()
            with conn.transaction(), conn.cursor() as cur:
                yield cur

    def reserve_send(
        self, limits: Mapping[str, Sequence[RateLimit]], now: datetime
    ) -> datetime | None:
        with self._transaction() as cur:
            for key in sorted(limits):  # one lock order everywhere: no deadlocks
                cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                            (f"guest_sends:{key}",))
            retry: datetime | None = None
            for key, key_limits in limits.items():
                cur.execute("DELETE FROM guest_sends WHERE send_key = %s AND sent_at <= %s",
                            (key, now - longest(key_limits)))
                cur.execute("SELECT sent_at FROM guest_sends WHERE send_key = %s", (key,))
                allowed = next_allowed([row[0] for row in cur.fetchall()], key_limits, now)
                if allowed is not None and (retry is None or allowed > retry):
                    retry = allowed
            if retry is None:
                cur.executemany("INSERT INTO guest_sends (send_key, sent_at) VALUES (%s, %s)",
                                [(key, now) for key in limits])
            return retry

    def release_send(self, keys: Sequence[str], sent_at: datetime) -> None:
        with self._transaction() as cur:
            for key in keys:  # one row each: a concurrent send at the same instant keeps its own
                cur.execute("DELETE FROM guest_sends WHERE ctid IN (SELECT ctid FROM guest_sends "
                            "WHERE send_key = %s AND sent_at = %s LIMIT 1)", (key, sent_at))

    def put_code(self, code: StoredCode) -> None:
        with self._transaction() as cur:
            cur.execute(
                f"INSERT INTO guest_codes ({_CODE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (ticket_id, address_key) DO UPDATE SET code_hash = "
                "EXCLUDED.code_hash, created_at = EXCLUDED.created_at, expires_at = "
                "EXCLUDED.expires_at, attempts_left = EXCLUDED.attempts_left",
                (code.ticket_id, code.address_key, code.code_hash, code.created_at,
                 code.expires_at, code.attempts_left),
            )

    def take_attempt(self, ticket_id: str, address_key: str) -> Attempt | None:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE guest_codes SET attempts_left = attempts_left - 1 WHERE ticket_id = %s "
                f"AND address_key = %s AND attempts_left > 0 RETURNING {_CODE_COLUMNS}",
                (ticket_id, address_key),
            )
            row = cur.fetchone()
            if row is not None:
                return Attempt(_code(row), allowed=True)
            cur.execute(
                f"SELECT {_CODE_COLUMNS} FROM guest_codes WHERE ticket_id = %s "
                "AND address_key = %s", (ticket_id, address_key),
            )
            row = cur.fetchone()
            return None if row is None else Attempt(_code(row), allowed=False)

    def discard_code(self, ticket_id: str, address_key: str, code_hash: str) -> bool:
        with self._transaction() as cur:
            cur.execute(
                "DELETE FROM guest_codes WHERE ticket_id = %s AND address_key = %s "
                "AND code_hash = %s", (ticket_id, address_key, code_hash),
            )
            return cur.rowcount == 1

    def purge(self, now: datetime, keep_sends_for: timedelta) -> int:
        with self._transaction() as cur:
            cur.execute("DELETE FROM guest_codes WHERE expires_at <= %s", (now,))
            codes = cur.rowcount
            cur.execute("DELETE FROM guest_sends WHERE sent_at <= %s", (now - keep_sends_for,))
            return codes + cur.rowcount

    def close(self) -> None:
        """Close the store's connection; the database keeps everything."""
        self._pg.close()
