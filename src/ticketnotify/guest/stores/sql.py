"""What the SQLite and PostgreSQL code stores share: two tables and every statement.

Statements are written once with ``%s`` placeholders (SQLite's store swaps in ``?``).
What differs for a reason stays in each store: column types, how an instant is stored,
and how concurrent sends of one key are serialised (SQLite's single writer against
PostgreSQL's per-key advisory locks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from ...databases import Cursor, Database
from .base import Attempt, CodeStore, RateLimit, StoredCode, longest, next_allowed

CODE_COLUMNS = "ticket_id, address_key, code_hash, created_at, expires_at, attempts_left"


def schema(text: str, instant: str, integer: str) -> tuple[str, ...]:
    """The tables and indexes, in a dialect's column types."""
    return (
        f"""CREATE TABLE IF NOT EXISTS guest_codes (
            ticket_id {text} NOT NULL,
            address_key {text} NOT NULL,
            code_hash {text} NOT NULL,
            created_at {instant} NOT NULL,
            expires_at {instant} NOT NULL,
            attempts_left {integer} NOT NULL,
            PRIMARY KEY (ticket_id, address_key)
        )""",
        "CREATE INDEX IF NOT EXISTS guest_codes_expiry ON guest_codes (expires_at)",
        f"""CREATE TABLE IF NOT EXISTS guest_sends (
            send_key {text} NOT NULL,
            sent_at {instant} NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS guest_sends_key ON guest_sends (send_key, sent_at)",
        "CREATE INDEX IF NOT EXISTS guest_sends_age ON guest_sends (sent_at)",
    )


class SQLCodeStore(CodeStore):
    """The shared half of the SQL code stores; each dialect supplies the hooks below."""

    _db: Database  # the connection holder: its dialect and transactions
    _ROW_ID = "rowid"  # the column that names one physical row (PostgreSQL: ctid)

    def _transaction(self) -> AbstractContextManager[Cursor]:
        return self._db.transaction(statements=2)

    def _to_db(self, moment: datetime) -> Any:
        return self._db.dialect.to_db(moment)

    def _from_db(self, value: Any) -> datetime:
        return self._db.dialect.from_db(value)

    def _lock_keys(self, cur: Cursor, keys: list[str]) -> None:  # noqa: B027 - optional
        """Serialise sends of these keys until the transaction ends (if the writer is not alone)."""

    def _run(self, cur: Cursor, sql: str, params: Sequence[Any] = ()) -> Cursor:
        cur.execute(self._db.dialect.sql(sql), params)
        return cur

    def _code(self, row: Sequence[Any]) -> StoredCode:
        return StoredCode(row[0], row[1], row[2], self._from_db(row[3]), self._from_db(row[4]),
                          row[5])

    def reserve_send(
        self, limits: Mapping[str, Sequence[RateLimit]], now: datetime
    ) -> datetime | None:
        with self._transaction() as cur:
            self._lock_keys(cur, sorted(limits))  # one lock order everywhere: no deadlocks
            retry: datetime | None = None
            for key, key_limits in limits.items():
                self._run(cur, "DELETE FROM guest_sends WHERE send_key = %s AND sent_at <= %s",
                          (key, self._to_db(now - longest(key_limits))))
                sent = self._run(cur, "SELECT sent_at FROM guest_sends WHERE send_key = %s",
                                 (key,)).fetchall()
                allowed = next_allowed([self._from_db(row[0]) for row in sent], key_limits, now)
                if allowed is not None and (retry is None or allowed > retry):
                    retry = allowed
            if retry is None:
                for key in limits:
                    self._run(cur, "INSERT INTO guest_sends (send_key, sent_at) VALUES (%s, %s)",
                              (key, self._to_db(now)))
            return retry

    def release_send(self, keys: Sequence[str], sent_at: datetime) -> None:
        with self._transaction() as cur:
            for key in keys:  # one row each: a concurrent send at the same instant keeps its own
                self._run(cur, f"DELETE FROM guest_sends WHERE {self._ROW_ID} IN (SELECT "
                          f"{self._ROW_ID} FROM guest_sends WHERE send_key = %s AND sent_at = %s "
                          "LIMIT 1)", (key, self._to_db(sent_at)))

    def put_code(self, code: StoredCode) -> None:
        with self._transaction() as cur:
            self._run(
                cur,
                f"INSERT INTO guest_codes ({CODE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (ticket_id, address_key) DO UPDATE SET code_hash = "
                "excluded.code_hash, created_at = excluded.created_at, expires_at = "
                "excluded.expires_at, attempts_left = excluded.attempts_left",
                (code.ticket_id, code.address_key, code.code_hash, self._to_db(code.created_at),
                 self._to_db(code.expires_at), code.attempts_left),
            )

    def take_attempt(self, ticket_id: str, address_key: str) -> Attempt | None:
        with self._transaction() as cur:
            rows = self._run(
                cur, "UPDATE guest_codes SET attempts_left = attempts_left - 1 WHERE ticket_id = "
                f"%s AND address_key = %s AND attempts_left > 0 RETURNING {CODE_COLUMNS}",
                (ticket_id, address_key)).fetchall()
            if rows:
                return Attempt(self._code(rows[0]), allowed=True)
            rows = self._run(
                cur, f"SELECT {CODE_COLUMNS} FROM guest_codes WHERE ticket_id = %s "
                "AND address_key = %s", (ticket_id, address_key)).fetchall()
            return Attempt(self._code(rows[0]), allowed=False) if rows else None

    def discard_code(self, ticket_id: str, address_key: str, code_hash: str) -> bool:
        with self._transaction() as cur:
            return self._run(
                cur, "DELETE FROM guest_codes WHERE ticket_id = %s AND address_key = %s "
                "AND code_hash = %s", (ticket_id, address_key, code_hash)).rowcount == 1

    def purge(self, now: datetime, keep_sends_for: timedelta) -> int:
        with self._transaction() as cur:
            codes = self._run(cur, "DELETE FROM guest_codes WHERE expires_at <= %s",
                              (self._to_db(now),)).rowcount
            sends = self._run(cur, "DELETE FROM guest_sends WHERE sent_at <= %s",
                              (self._to_db(now - keep_sends_for),)).rowcount
            return codes + sends
