"""PostgreSQL outbox: the scale-out store; any number of workers on any number of machines."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..databases import ConnectionFactory, PostgresConnection
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

if TYPE_CHECKING:
    import psycopg

TABLE = "ticketnotify_outbox"
SCHEMA_TABLE = "ticketnotify_schema"
COMPONENT = "outbox"

# Each entry moves the schema one version up; ``ticketnotify_schema`` records where a DB is.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"""CREATE TABLE IF NOT EXISTS {TABLE} (
            id bigserial PRIMARY KEY,
            idempotency_key text NOT NULL UNIQUE,
            channel text NOT NULL,
            message jsonb NOT NULL,
            status text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'delivered', 'dead')),
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL,
            lease_until timestamptz,
            leased_by text,
            last_error text,
            detail text,
            created_at timestamptz NOT NULL,
            finished_at timestamptz
        )""",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (next_attempt_at, id) "
        "WHERE status = 'pending'",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_pending_age ON {TABLE} (created_at) "
        "WHERE status = 'pending'",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_finished_age ON {TABLE} (created_at) "
        "WHERE status <> 'pending'",
    ),
)

_COLUMNS = (
    "id, idempotency_key, channel, message, status, attempts, next_attempt_at, "
    "lease_until, last_error, created_at"
)


# Where an outcome applies: with a worker id (the last two parameters), only while that
# worker still holds the job's lease and the job is pending; without one, unconditionally.
# The same clause as SQLite's, with psycopg's placeholders and a type for the NULL test.
_FENCE = "AND (%s::text IS NULL OR (o.status = 'pending' AND o.leased_by = %s))"

# What each kind of outcome sets; ``v`` is the row of (job_id, note, moment) it came with.
_OUTCOME_SET = {
    OutcomeKind.DELIVERED: "status = 'delivered', attempts = attempts + 1, lease_until = NULL,"
    " leased_by = NULL, last_error = NULL, detail = v.note, finished_at = v.moment",
    OutcomeKind.RETRY: "attempts = attempts + 1, last_error = v.note, next_attempt_at = v.moment,"
    " lease_until = NULL, leased_by = NULL",
    OutcomeKind.DEAD: "status = 'dead', attempts = attempts + 1, lease_until = NULL,"
    " leased_by = NULL, last_error = v.note, finished_at = v.moment",
}


def _aware(moment: datetime) -> datetime:
    """Naive datetimes mean UTC, as everywhere in the library; never the session's zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _job(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0], idempotency_key=row[1], channel=row[2], message=row[3],
        status=JobStatus(row[4]), attempts=row[5], next_attempt_at=row[6],
        lease_until=row[7], last_error=row[8], created_at=row[9],
    )


class PostgresOutbox(Outbox):
    """Outbox in a PostgreSQL table; claims use ``FOR UPDATE SKIP LOCKED`` so workers never collide.

    ``conninfo`` is a libpq connection string or URL, or a callable returning a fresh
    psycopg connection (for hosts that configure SSL, pools or search paths themselves).
    The store keeps one autocommit connection of its own and reopens it if it breaks.
    """

    def __init__(
        self, conninfo: str | ConnectionFactory, *, create_schema: bool = True
    ) -> None:
        self._pg = PostgresConnection(conninfo, what="outbox")
        if create_schema:
            self.create_schema()

    @contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[Any]]:
        with self._pg.lock, self._pg.get().cursor() as cur:
            yield cur

    def create_schema(self) -> None:
        """Apply missing migrations under an advisory lock, so racing workers apply each once."""
        with self._pg.lock:
            conn = self._pg.get()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (SCHEMA_TABLE,))
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE}"
                    " (component text PRIMARY KEY, version integer NOT NULL)"
                )
                row = conn.execute(
                    f"SELECT version FROM {SCHEMA_TABLE} WHERE component = %s", (COMPONENT,)
                ).fetchone()
                version = 0 if row is None else row[0]
                for number, statements in enumerate(MIGRATIONS, start=1):
                    if number <= version:
                        continue
                    for statement in statements:
                        conn.execute(statement)
                conn.execute(
                    f"INSERT INTO {SCHEMA_TABLE} (component, version) VALUES (%s, %s)"
                    " ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
                    (COMPONENT, len(MIGRATIONS)),
                )

    def add(
        self,
        jobs: Sequence[NewJob],
        now: datetime,
        *,
        transaction: object | None = None,
    ) -> int:
        """Store all jobs in one statement; ``transaction`` runs it on the host's connection.

        On a host connection nothing is committed here: the host's commit or rollback
        decides for its ticket update and these notifications together.
        """
        if not jobs:
            return 0
        at = _aware(now)
        params = (
            [j.idempotency_key for j in jobs],
            [j.channel for j in jobs],
            [json.dumps(j.message, separators=(",", ":"), ensure_ascii=False) for j in jobs],
            at,
        )
        sql = (
            f"INSERT INTO {TABLE} (idempotency_key, channel, message, next_attempt_at,"
            " created_at) SELECT k, c, m::jsonb, %s, %s"
            " FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(k, c, m)"
            " ON CONFLICT (idempotency_key) DO NOTHING"
        )
        args = (at, at, params[0], params[1], params[2])
        if transaction is not None:
            if not isinstance(transaction, self._pg.psycopg.Connection):
                raise ConfigurationError(
                    "PostgresOutbox joins only a psycopg Connection with an open transaction, "
                    f"not {type(transaction).__name__}"
                )
            with transaction.cursor() as host_cur:
                host_cur.execute(sql, args)
                return int(host_cur.rowcount)
        with self._cursor() as cur:
            cur.execute(sql, args)
            return cur.rowcount

    def claim(self, now: datetime, limit: int, lease_seconds: float, worker_id: str) -> list[Job]:
        at = _aware(now)
        with self._cursor() as cur:
            cur.execute(
                f"WITH due AS (SELECT id FROM {TABLE}"
                " WHERE status = 'pending' AND next_attempt_at <= %(now)s"
                " AND (lease_until IS NULL OR lease_until <= %(now)s)"
                " ORDER BY next_attempt_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
                f" UPDATE {TABLE} AS o SET lease_until = %(lease)s, leased_by = %(worker)s"
                f" FROM due WHERE o.id = due.id RETURNING "
                + ", ".join(f"o.{c.strip()}" for c in _COLUMNS.split(",")),
                {"now": at, "limit": limit, "worker": worker_id,
                 "lease": at + timedelta(seconds=lease_seconds)},
            )
            jobs = [_job(r) for r in cur.fetchall()]
        jobs.sort(key=lambda j: (j.next_attempt_at, j.id))
        return jobs

    def _execute(self, sql: str, params: Sequence[Any]) -> int:
        with self._cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount

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
        """All outcomes in one transaction, one UPDATE per kind: few round trips, one commit."""
        results = [False] * len(outcomes)
        if not outcomes:
            return results
        groups = outcome_groups(outcomes)
        with self._pg.lock:
            conn = self._pg.get()
            # One statement is its own transaction: BEGIN and COMMIT would only add trips.
            many = conn.transaction() if len(groups) > 1 else nullcontext()
            with many, conn.cursor() as cur:
                for kind, group in groups:
                    cur.execute(
                        f"UPDATE {TABLE} AS o SET {_OUTCOME_SET[kind]}"
                        " FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[])"
                        f" AS v(job_id, note, moment) WHERE o.id = v.job_id {_FENCE}"
                        " RETURNING o.id",
                        ([o.job_id for _, o in group],
                         # PostgreSQL text cannot hold NUL; a peer's reply might, and one
                         # unstorable outcome must not fail every outcome recorded with it.
                         [o.text.replace("\x00", "\ufffd") for _, o in group],
                         [_aware(o.at) for _, o in group], worker_id, worker_id),
                    )
                    applied = {row[0] for row in cur.fetchall()}
                    for position, o in group:
                        results[position] = o.job_id in applied
        return results

    def release(self, job_ids: Sequence[int], *, worker_id: str | None = None) -> int:
        if not job_ids:
            return 0
        return self._execute(
            f"UPDATE {TABLE} SET lease_until = NULL, leased_by = NULL"
            " WHERE id = ANY(%s) AND status = 'pending'"
            " AND (%s::text IS NULL OR leased_by = %s)",
            (list(job_ids), worker_id, worker_id),
        )

    def counts(self) -> list[ChannelCount]:
        with self._cursor() as cur:
            cur.execute(
                f"SELECT channel, status, count(*) FROM {TABLE}"
                " GROUP BY channel, status ORDER BY channel, status"
            )
            return [ChannelCount(c, JobStatus(s), n) for c, s, n in cur.fetchall()]

    def oldest_pending(self) -> datetime | None:
        with self._cursor() as cur:
            cur.execute(f"SELECT min(created_at) FROM {TABLE} WHERE status = 'pending'")
            row = cur.fetchone()
        return None if row is None else row[0]

    def retry_dead(self, now: datetime, channel: str | None = None) -> int:
        return self._execute(
            f"UPDATE {TABLE} SET status = 'pending', attempts = 0, next_attempt_at = %s,"
            " lease_until = NULL, leased_by = NULL, finished_at = NULL"
            " WHERE status = 'dead' AND (%s::text IS NULL OR channel = %s)",
            (_aware(now), channel, channel),
        )

    def purge(self, older_than: datetime) -> int:
        return self._execute(
            f"DELETE FROM {TABLE} WHERE status <> 'pending' AND created_at < %s",
            (_aware(older_than),),
        )

    def get(self, idempotency_key: str) -> Job | None:
        with self._cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM {TABLE} WHERE idempotency_key = %s",
                (idempotency_key,),
            )
            row = cur.fetchone()
        return None if row is None else _job(row)

    def dead_letters(self, limit: int = 10) -> list[Job]:
        with self._cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM {TABLE} WHERE status = 'dead'"
                " ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT %s", (limit,)
            )
            return [_job(r) for r in cur.fetchall()]

    def close(self) -> None:
        self._pg.close()
