"""SQLite outbox: the embedded default, one file in WAL mode, safe across processes."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from ..databases import SQLiteFile, from_micros, to_micros
from ..errors import ConfigurationError
from .base import (
    ChannelCount,
    Job,
    JobStatus,
    NewJob,
    Outbox,
    Outcome,
    OutcomeKind,
    outcome_groups,
)

TABLE = "ticketnotify_outbox"

# Each entry moves the schema one version up; ``PRAGMA user_version`` records where a file is.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"""CREATE TABLE IF NOT EXISTS {TABLE} (
            id INTEGER PRIMARY KEY,  -- no AUTOINCREMENT: it costs every publish a write
            idempotency_key TEXT NOT NULL UNIQUE,
            channel TEXT NOT NULL,
            message TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'delivered', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL,
            lease_until INTEGER,
            leased_by TEXT,
            last_error TEXT,
            detail TEXT,
            created_at INTEGER NOT NULL,
            finished_at INTEGER
        )""",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (next_attempt_at, id) "
        "WHERE status = 'pending'",
        # No index on created_at: ``status`` and ``purge`` scan instead, because each index
        # costs every publish a page write and publishing is the hot path here.
    ),
)

_COLUMNS = (
    "id, idempotency_key, channel, message, status, attempts, next_attempt_at, "
    "lease_until, last_error, created_at"
)


# Where an outcome applies: with a worker id (the last two parameters), only while that
# worker still holds the job's lease and the job is pending; without one, unconditionally.
_FENCE = "WHERE id = ? AND (? IS NULL OR (status = 'pending' AND leased_by = ?))"

# What each kind of outcome sets; ``v`` is the row of (job_id, note, moment) it came with.
_OUTCOME_SET = {
    OutcomeKind.DELIVERED: "status = 'delivered', attempts = attempts + 1, lease_until = NULL,"
    " leased_by = NULL, last_error = NULL, detail = v.note, finished_at = v.moment",
    OutcomeKind.RETRY: "attempts = attempts + 1, last_error = v.note, next_attempt_at = v.moment,"
    " lease_until = NULL, leased_by = NULL",
    OutcomeKind.DEAD: "status = 'dead', attempts = attempts + 1, lease_until = NULL,"
    " leased_by = NULL, last_error = v.note, finished_at = v.moment",
}
_ROWS_PER_UPDATE = 500  # well under SQLite's limit on parameters per statement




def _job(row: sqlite3.Row | tuple[Any, ...]) -> Job:
    return Job(
        id=row[0], idempotency_key=row[1], channel=row[2], message=json.loads(row[3]),
        status=JobStatus(row[4]), attempts=row[5], next_attempt_at=from_micros(row[6]),
        lease_until=None if row[7] is None else from_micros(row[7]), last_error=row[8],
        created_at=from_micros(row[9]),
    )


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class SQLiteOutbox(Outbox):
    """Outbox in one SQLite file; several worker processes may share it (writes serialise).

    ``durability="normal"`` (default) keeps every committed publish through any process
    crash, SIGKILL included, but a power cut or kernel crash may roll back the last
    commits; ``"full"`` fsyncs each commit so even that loses nothing, at a fraction
    of the publish rate. Neither ever corrupts the file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: Literal["full", "normal"] = "normal",
        busy_timeout: float = 30.0,
    ) -> None:
        if durability not in ("full", "normal"):
            raise ConfigurationError(
                f"durability must be 'full' or 'normal', not {durability!r}"
            )
        if sqlite3.sqlite_version_info < (3, 35):
            raise ConfigurationError(
                f"SQLiteOutbox needs SQLite 3.35 or newer (UPDATE ... RETURNING); this Python "
                f"has {sqlite3.sqlite_version}: upgrade Python or use PostgresOutbox"
            )
        self._db = SQLiteFile(path, what="SQLite outbox", busy_timeout=busy_timeout, pragmas=(
            f"synchronous={durability.upper()}",
            # Checkpoint the WAL less often and keep hot pages cached: publishing writes a
            # few pages per transaction, and frequent checkpoints cost more than the writes.
            "wal_autocheckpoint=10000",
            "cache_size=-16000",
        ))
        self.path = self._db.path
        self.create_schema()

    def create_schema(self) -> None:
        """Apply the migrations this file has not seen yet (idempotent, safe to race)."""
        with self._db.write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, statements in enumerate(MIGRATIONS, start=1):
                if number <= version:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number}")

    def add(
        self,
        jobs: Sequence[NewJob],
        now: datetime,
        *,
        transaction: object | None = None,
    ) -> int:
        """Store all jobs in one transaction; ``transaction`` joins a host connection's own.

        A host connection must be open on this same file; its commit or rollback then
        decides for the ticket update and its notifications together.
        """
        at = to_micros(now)
        rows = [(j.idempotency_key, j.channel, _dump(j.message), at, at) for j in jobs]
        sql = (
            f"INSERT INTO {TABLE} (idempotency_key, channel, message, next_attempt_at, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING"
        )
        if transaction is not None:
            if not isinstance(transaction, sqlite3.Connection):
                raise ConfigurationError(
                    "SQLiteOutbox joins only a sqlite3.Connection open on the outbox file, "
                    f"not {type(transaction).__name__}"
                )
            before = transaction.total_changes
            transaction.executemany(sql, rows)
            return transaction.total_changes - before
        if not rows:
            return 0
        with self._db.write() as conn:
            before = conn.total_changes
            conn.executemany(sql, rows)
            return conn.total_changes - before

    def claim(self, now: datetime, limit: int, lease_seconds: float, worker_id: str) -> list[Job]:
        at = to_micros(now)
        lease = to_micros(now + timedelta(seconds=lease_seconds))
        with self._db.write() as conn:
            rows = conn.execute(
                f"UPDATE {TABLE} SET lease_until = ?, leased_by = ? WHERE id IN ("
                f" SELECT id FROM {TABLE} WHERE status = 'pending' AND next_attempt_at <= ?"
                "  AND (lease_until IS NULL OR lease_until <= ?)"
                "  ORDER BY next_attempt_at, id LIMIT ?)"
                f" RETURNING {_COLUMNS}",
                (lease, worker_id, at, at, limit),
            ).fetchall()
        jobs = [_job(r) for r in rows]
        jobs.sort(key=lambda j: (j.next_attempt_at, j.id))
        return jobs

    def _execute(self, sql: str, params: Sequence[Any]) -> int:
        with self._db.write() as conn:
            return conn.execute(sql, params).rowcount

    def mark_delivered(
        self, job_id: int, now: datetime, detail: str = "", *, worker_id: str | None = None
    ) -> bool:
        return self.record([Outcome(job_id, OutcomeKind.DELIVERED, now, detail)],
                           worker_id=worker_id)[0]

    def mark_retry(
        self, job_id: int, next_attempt_at: datetime, error: str, *, worker_id: str | None = None
    ) -> bool:
        return self.record([Outcome(job_id, OutcomeKind.RETRY, next_attempt_at, error)],
                           worker_id=worker_id)[0]

    def mark_dead(
        self, job_id: int, now: datetime, error: str, *, worker_id: str | None = None
    ) -> bool:
        return self.record([Outcome(job_id, OutcomeKind.DEAD, now, error)],
                           worker_id=worker_id)[0]

    def record(
        self, outcomes: Sequence[Outcome], *, worker_id: str | None = None
    ) -> list[bool]:
        """All outcomes in one transaction, one UPDATE per kind: few statements, one commit.

        Few statements matter as much as one commit: sqlite3 lets go of the GIL at every
        step (each row too), and under a busy event loop each hand-back costs up to a
        switch interval. So rows come back (RETURNING) only when a lease was lost.
        """
        results = [False] * len(outcomes)
        with self._db.write() as conn:
            for kind, group in outcome_groups(outcomes):
                for start in range(0, len(group), _ROWS_PER_UPDATE):
                    chunk = group[start:start + _ROWS_PER_UPDATE]
                    applied = self._apply(conn, kind, [o for _, o in chunk], worker_id)
                    for (position, _), ok in zip(chunk, applied, strict=True):
                        results[position] = ok
        return results

    @staticmethod
    def _apply(
        conn: sqlite3.Connection, kind: OutcomeKind, chunk: list[Outcome], worker_id: str | None
    ) -> list[bool]:
        """One UPDATE for outcomes of one kind on distinct jobs; which ones the fence let in."""
        values = ", ".join(["(?, ?, ?)"] * len(chunk))
        with_rows = f"WITH v(job_id, note, moment) AS (VALUES {values})"
        fence = ("o.id = v.job_id"
                 " AND (? IS NULL OR (o.status = 'pending' AND o.leased_by = ?))")
        params: list[Any] = [x for o in chunk for x in (o.job_id, o.text, to_micros(o.at))]
        params += [worker_id, worker_id]
        update = f"{with_rows} UPDATE {TABLE} AS o SET {_OUTCOME_SET[kind]} FROM v WHERE {fence}"
        # The write lock is ours since BEGIN IMMEDIATE: what this counts still holds below.
        held = conn.execute(f"{with_rows} SELECT count(*) FROM v, {TABLE} AS o WHERE {fence}",
                            params).fetchone()[0]
        if held == len(chunk):
            conn.execute(update, params)
            return [True] * len(chunk)
        # SQLite's RETURNING sees the target table only, by its own name.
        applied = {row[0] for row in conn.execute(f"{update} RETURNING id", params)}
        return [o.job_id in applied for o in chunk]

    def release(self, job_ids: Sequence[int], *, worker_id: str | None = None) -> int:
        if not job_ids:
            return 0
        with self._db.write() as conn:
            before = conn.total_changes
            conn.executemany(
                f"UPDATE {TABLE} SET lease_until = NULL, leased_by = NULL {_FENCE}"
                " AND status = 'pending'",
                [(i, worker_id, worker_id) for i in dict.fromkeys(job_ids)],
            )
            return conn.total_changes - before

    def counts(self) -> list[ChannelCount]:
        with self._db.lock:
            rows = self._db.conn.execute(
                f"SELECT channel, status, count(*) FROM {TABLE}"
                " GROUP BY channel, status ORDER BY channel, status"
            ).fetchall()
        return [ChannelCount(c, JobStatus(s), n) for c, s, n in rows]

    def oldest_pending(self) -> datetime | None:
        with self._db.lock:
            value = self._db.conn.execute(
                f"SELECT min(created_at) FROM {TABLE} WHERE status = 'pending'"
            ).fetchone()[0]
        return None if value is None else from_micros(value)

    def retry_dead(self, now: datetime, channel: str | None = None) -> int:
        return self._execute(
            f"UPDATE {TABLE} SET status = 'pending', attempts = 0, next_attempt_at = ?,"
            " lease_until = NULL, leased_by = NULL, finished_at = NULL"
            " WHERE status = 'dead' AND (? IS NULL OR channel = ?)",
            (to_micros(now), channel, channel),
        )

    def purge(self, older_than: datetime) -> int:
        return self._execute(
            f"DELETE FROM {TABLE} WHERE status <> 'pending' AND created_at < ?",
            (to_micros(older_than),),
        )

    def get(self, idempotency_key: str) -> Job | None:
        with self._db.lock:
            row = self._db.conn.execute(
                f"SELECT {_COLUMNS} FROM {TABLE} WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
        return None if row is None else _job(row)

    def dead_letters(self, limit: int = 10) -> list[Job]:
        with self._db.lock:
            rows = self._db.conn.execute(
                f"SELECT {_COLUMNS} FROM {TABLE} WHERE status = 'dead'"
                " ORDER BY finished_at DESC, id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_job(r) for r in rows]

    def close(self) -> None:
        self._db.close()
