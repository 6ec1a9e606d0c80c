"""SQLite code store: survives a restart, and may share one WAL file with the SQLite outbox.

Its tables are prefixed ``guest_`` and created with ``IF NOT EXISTS``; it leaves
``PRAGMA user_version`` to the outbox, which versions its own schema with it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from ...databases import SQLiteFile, from_micros, to_micros
from ...errors import ConfigurationError
from .base import Attempt, CodeStore, RateLimit, StoredCode, longest, next_allowed

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS guest_codes (
        ticket_id TEXT NOT NULL,
        address_key TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        attempts_left INTEGER NOT NULL,
        PRIMARY KEY (ticket_id, address_key)
    )""",
    "CREATE INDEX IF NOT EXISTS guest_codes_expiry ON guest_codes (expires_at)",
    """CREATE TABLE IF NOT EXISTS guest_sends (
        send_key TEXT NOT NULL,
        sent_at INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS guest_sends_key ON guest_sends (send_key, sent_at)",
    "CREATE INDEX IF NOT EXISTS guest_sends_age ON guest_sends (sent_at)",
)

_CODE_COLUMNS = "ticket_id, address_key, code_hash, created_at, expires_at, attempts_left"




def _code(row: tuple[str, str, str, int, int, int]) -> StoredCode:
    return StoredCode(row[0], row[1], row[2], from_micros(row[3]), from_micros(row[4]), row[5])


class SQLiteCodeStore(CodeStore):
    """Codes and send records in one SQLite file (WAL); several processes may share it."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self._db = SQLiteFile(path, what="SQLite code store", busy_timeout=busy_timeout)
        self.path = self._db.path
        try:
            with self._db.write() as conn:
                for statement in SCHEMA:
                    conn.execute(statement)
        except sqlite3.Error as exc:
            raise ConfigurationError(
                f"cannot create the code store's tables in {self.path!r}: {exc}"
            ) from exc

    def reserve_send(
        self, limits: Mapping[str, Sequence[RateLimit]], now: datetime
    ) -> datetime | None:
        at = to_micros(now)
        with self._db.write() as conn:
            retry: datetime | None = None
            for key, key_limits in limits.items():
                conn.execute("DELETE FROM guest_sends WHERE send_key = ? AND sent_at <= ?",
                             (key, to_micros(now - longest(key_limits))))
                sent = [from_micros(row[0]) for row in conn.execute(
                    "SELECT sent_at FROM guest_sends WHERE send_key = ?", (key,))]
                allowed = next_allowed(sent, key_limits, now)
                if allowed is not None and (retry is None or allowed > retry):
                    retry = allowed
            if retry is None:
                conn.executemany("INSERT INTO guest_sends (send_key, sent_at) VALUES (?, ?)",
                                 [(key, at) for key in limits])
            return retry

    def release_send(self, keys: Sequence[str], sent_at: datetime) -> None:
        with self._db.write() as conn:
            for key in keys:  # one row each: a concurrent send at the same instant keeps its own
                conn.execute("DELETE FROM guest_sends WHERE rowid IN (SELECT rowid FROM "
                             "guest_sends WHERE send_key = ? AND sent_at = ? LIMIT 1)",
                             (key, to_micros(sent_at)))

    def put_code(self, code: StoredCode) -> None:
        with self._db.write() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO guest_codes ({_CODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (code.ticket_id, code.address_key, code.code_hash, to_micros(code.created_at),
                 to_micros(code.expires_at), code.attempts_left),
            )

    def take_attempt(self, ticket_id: str, address_key: str) -> Attempt | None:
        with self._db.write() as conn:
            row = conn.execute(
                "UPDATE guest_codes SET attempts_left = attempts_left - 1 WHERE ticket_id = ? "
                f"AND address_key = ? AND attempts_left > 0 RETURNING {_CODE_COLUMNS}",
                (ticket_id, address_key),
            ).fetchone()
            if row is not None:
                return Attempt(_code(row), allowed=True)
            row = conn.execute(
                f"SELECT {_CODE_COLUMNS} FROM guest_codes WHERE ticket_id = ? AND address_key = ?",
                (ticket_id, address_key),
            ).fetchone()
            return None if row is None else Attempt(_code(row), allowed=False)

    def discard_code(self, ticket_id: str, address_key: str, code_hash: str) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                "DELETE FROM guest_codes WHERE ticket_id = ? AND address_key = ? AND code_hash = ?",
                (ticket_id, address_key, code_hash),
            )
            return cursor.rowcount == 1

    def purge(self, now: datetime, keep_sends_for: timedelta) -> int:
        with self._db.write() as conn:
            codes = conn.execute("DELETE FROM guest_codes WHERE expires_at <= ?",
                                 (to_micros(now),)).rowcount
            sends = conn.execute("DELETE FROM guest_sends WHERE sent_at <= ?",
                                 (to_micros(now - keep_sends_for),)).rowcount
            return codes + sends

    def close(self) -> None:
        """Close the connection; the file keeps every code and send record."""
        self._db.close()
