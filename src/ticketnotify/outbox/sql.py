"""What the SQLite and PostgreSQL outboxes share: one table, and every statement that reads alike.

Statements here are written once with ``%s`` placeholders and ``CAST`` (both dialects read
them; SQLite's store swaps in ``?``). What differs for a reason stays in each store: the
column types, claiming (``FOR UPDATE SKIP LOCKED`` against SQLite's single writer),
how a group of outcomes is passed (``unnest`` arrays against a ``VALUES`` list), and
joining a host's transaction.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ..databases import Cursor, Database
from ..errors import InvalidInputError
from .base import ChannelCount, Job, JobStatus, Outbox, Outcome, OutcomeKind, outcome_groups

TABLE = "ticketnotify_outbox"

COLUMNS = (
    "id, idempotency_key, channel, message, status, attempts, next_attempt_at, "
    "lease_until, last_error, created_at"
)

# What a worker reads of a claimed job: status (pending) and lease (the one it just set) are
# known already, and the finished-job columns (detail, finished_at) are never needed.
CLAIM_COLUMNS = (
    "id, idempotency_key, channel, message, attempts, next_attempt_at, last_error, created_at"
)

# Since schema version 2 (Outbox v2) ``message`` holds the delivery's facts (``{"v": 2, ...}``,
# ``ticketnotify.facts``); rows written before it keep their rendered message, which the
# worker sends as stored. The table itself is unchanged, so the upgrade is instant and an
# outbox of either age is read by the same statements.

# What each kind of outcome sets; ``v`` is the row of (job_id, note, moment) it came with.
OUTCOME_SET = {
    OutcomeKind.DELIVERED: "status = 'delivered', attempts = attempts + 1, lease_until = NULL,"
    " leased_by = NULL, last_error = NULL, detail = v.note, finished_at = v.moment",
    OutcomeKind.RETRY: "attempts = attempts + 1, last_error = v.note, next_attempt_at = v.moment,"
    " lease_until = NULL, leased_by = NULL",
    OutcomeKind.DEAD: "status = 'dead', attempts = attempts + 1, lease_until = NULL,"
    " leased_by = NULL, last_error = v.note, finished_at = v.moment",
}

# With a worker id (the two parameters), only while that worker still holds the job's
# lease and the job is pending; without one, unconditionally.
FENCE = "(CAST(%s AS TEXT) IS NULL OR (o.status = 'pending' AND o.leased_by = %s))"

ROWS_PER_STATEMENT = 500  # well under SQLite's limit on parameters per statement


def refused(exc: Exception) -> InvalidInputError:
    """A value the database would not store (a NUL in a message, a missing channel)."""
    return InvalidInputError(
        "jobs", f"the outbox refused a value ({type(exc).__name__}: "
        f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}); nothing was stored")


class SQLOutbox(Outbox):
    """The shared half of the SQL stores; each dialect supplies the hooks below."""

    _db: Database  # the connection holder: its dialect and transactions

    def _transaction(self, statements: int = 1) -> AbstractContextManager[Cursor]:
        return self._db.transaction(statements)

    def _sql(self, sql: str) -> str:
        return self._db.dialect.sql(sql)

    def _to_db(self, moment: datetime) -> Any:
        return self._db.dialect.to_db(moment)

    def _from_db(self, value: Any) -> datetime:
        return self._db.dialect.from_db(value)

    @abstractmethod
    def _load(self, message: Any) -> dict[str, Any]:
        """A stored message as the dialect returns it, made a dict."""

    @abstractmethod
    def _apply(self, cur: Cursor, kind: OutcomeKind, chunk: list[Outcome],
               worker_id: str | None) -> list[bool]:
        """One UPDATE for outcomes of one kind on distinct jobs; which ones the fence let in."""

    def _job(self, row: Sequence[Any]) -> Job:
        return Job(
            id=row[0], idempotency_key=row[1], channel=row[2], message=self._load(row[3]),
            status=JobStatus(row[4]), attempts=row[5], next_attempt_at=self._from_db(row[6]),
            lease_until=None if row[7] is None else self._from_db(row[7]), last_error=row[8],
            created_at=self._from_db(row[9]),
        )

    def _claimed(self, row: Sequence[Any], lease_until: datetime) -> Job:
        """A job from a ``CLAIM_COLUMNS`` row: pending, leased until ``lease_until``."""
        return Job(
            id=row[0], idempotency_key=row[1], channel=row[2], message=self._load(row[3]),
            status=JobStatus.PENDING, attempts=row[4], next_attempt_at=self._from_db(row[5]),
            lease_until=lease_until, last_error=row[6], created_at=self._from_db(row[7]),
        )

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._transaction() as cur:
            return int(cur.execute(self._sql(sql), params).rowcount)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._transaction() as cur:
            cur.execute(self._sql(sql), params)
            return cur.fetchall()

    def record(
        self, outcomes: Sequence[Outcome], *, worker_id: str | None = None
    ) -> list[bool]:
        """All outcomes in one transaction, one UPDATE per kind: few statements, one commit."""
        results = [False] * len(outcomes)
        pieces = [(kind, group[start:start + ROWS_PER_STATEMENT])
                  for kind, group in outcome_groups(outcomes)
                  for start in range(0, len(group), ROWS_PER_STATEMENT)]
        if not pieces:
            return results
        with self._transaction(len(pieces)) as cur:
            for kind, chunk in pieces:
                applied = self._apply(cur, kind, [o for _, o in chunk], worker_id)
                for (position, _), ok in zip(chunk, applied, strict=True):
                    results[position] = ok
        return results

    def release(self, job_ids: Sequence[int], *, worker_id: str | None = None) -> int:
        unique = list(dict.fromkeys(job_ids))  # an id listed twice is released once
        released = 0
        for chunk in _chunks(unique):
            marks = ", ".join(["%s"] * len(chunk))
            released += self._run(
                f"UPDATE {TABLE} AS o SET lease_until = NULL, leased_by = NULL"
                f" WHERE o.id IN ({marks}) AND o.status = 'pending' AND {FENCE}",
                [*chunk, worker_id, worker_id])
        return released

    def counts(self) -> list[ChannelCount]:
        rows = self._rows(f"SELECT channel, status, count(*) FROM {TABLE}"
                          " GROUP BY channel, status ORDER BY channel, status")
        return [ChannelCount(c, JobStatus(s), n) for c, s, n in rows]

    def oldest_pending(self) -> datetime | None:
        (value,), = self._rows(f"SELECT min(created_at) FROM {TABLE} WHERE status = 'pending'")
        return None if value is None else self._from_db(value)

    def oldest_due(self, now: datetime) -> datetime | None:
        (value,), = self._rows(f"SELECT min(next_attempt_at) FROM {TABLE}"
                               " WHERE status = 'pending' AND next_attempt_at <= %s",
                               (self._to_db(now),))
        return None if value is None else self._from_db(value)

    def retry_dead(self, now: datetime, channel: str | None = None) -> int:
        return self._run(
            f"UPDATE {TABLE} SET status = 'pending', attempts = 0, next_attempt_at = %s,"
            " lease_until = NULL, leased_by = NULL, finished_at = NULL"
            " WHERE status = 'dead' AND (CAST(%s AS TEXT) IS NULL OR channel = %s)",
            (self._to_db(now), channel, channel))

    def purge(self, older_than: datetime) -> int:
        return self._run(f"DELETE FROM {TABLE} WHERE status <> 'pending' AND created_at < %s",
                         (self._to_db(older_than),))

    def get(self, idempotency_key: str) -> Job | None:
        rows = self._rows(f"SELECT {COLUMNS} FROM {TABLE} WHERE idempotency_key = %s",
                          (idempotency_key,))
        return self._job(rows[0]) if rows else None


    def dead_letters(self, limit: int = 10) -> list[Job]:
        rows = self._rows(f"SELECT {COLUMNS} FROM {TABLE} WHERE status = 'dead'"
                          " ORDER BY finished_at IS NULL, finished_at DESC, id DESC LIMIT %s",
                          (limit,))
        return [self._job(r) for r in rows]

def _chunks(items: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(items), ROWS_PER_STATEMENT):
        yield items[start:start + ROWS_PER_STATEMENT]
