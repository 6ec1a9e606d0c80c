"""PostgreSQL outbox: the scale-out store; any number of workers on any number of machines."""

from __future__ import annotations

import json
import weakref
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..databases import ConnectionFactory, Cursor, PostgresConnection, aware
from ..errors import ConfigurationError, InvalidInputError, OutboxUnavailableError
from .base import Job, NewJob, Outcome, OutcomeKind
from .sql import CLAIM_COLUMNS, FENCE, OUTCOME_SET, TABLE, SQLOutbox, refused
from .wakeups import CHANNEL, PostgresWakeup, Wakeup

if TYPE_CHECKING:
    import psycopg

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
    # 2: Outbox v2. New jobs hold facts, old ones keep their rendered message (see sql.py):
    # nothing to rewrite, so the upgrade takes no lock beyond the schema table's row.
    (),
)


def _notifying(insert: str) -> str:
    """``insert`` (no RETURNING) made to ``pg_notify`` workers when it stored anything.

    One statement, so publishing costs no extra round trip. The notification leaves at
    commit (the host's, inside its transaction) and never after a rollback; PostgreSQL
    folds repeats within one transaction into one.
    """
    return (f"WITH added AS ({insert} RETURNING 1)"
            f" SELECT n, pg_notify('{CHANNEL}', '') FROM (SELECT count(*) AS n FROM added) AS c"
            " WHERE n > 0")


def _added(cur: Any) -> int:
    """How many rows a ``_notifying`` statement stored (it returns no row for none)."""
    row = cur.fetchone()
    return 0 if row is None else int(row[0])


# Where the connection's outbox table is: the same database and table means the same outbox.
_WHERE = "SELECT current_database(), to_regclass(%s)::oid"


class PostgresOutbox(SQLOutbox):
    """Outbox in a PostgreSQL table; claims use ``FOR UPDATE SKIP LOCKED`` so workers never collide.

    The store keeps one autocommit connection of its own and reopens it if it breaks.

    Args:
        conninfo: A libpq connection string or URL, or a callable returning a fresh
            psycopg connection (for hosts that configure SSL, pools or search paths).
        create_schema: Create or migrate the tables now (under an advisory lock, safe when
            many processes start at once). False if the host's migrations own the schema;
            then nothing connects until first use.

    Raises:
        ConfigurationError: The connection string is not understood, or the server
            refused the login or database (only when ``create_schema`` connects).
        OutboxUnavailableError: The server cannot be reached now (only when
            ``create_schema`` connects).
    """

    _db: PostgresConnection

    def __init__(
        self, conninfo: str | ConnectionFactory, *, create_schema: bool = True
    ) -> None:
        self._db = PostgresConnection(conninfo, what="outbox", unavailable=OutboxUnavailableError)
        self._conninfo = conninfo
        # Host connections already checked to reach this outbox (see ``add``).
        self._joined: weakref.WeakKeyDictionary[Any, None] = weakref.WeakKeyDictionary()
        self._where: tuple[str, int] | None = None
        if create_schema:
            self.create_schema()

    def create_schema(self) -> None:
        """Apply missing migrations under an advisory lock, so racing workers apply each once.

        Raises:
            OutboxUnavailableError: The server cannot be reached; nothing changed.
            ConfigurationError: The server refused the login, database or privileges.
        """
        with self._db.session() as conn, conn.transaction():
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

    def wakeup(self) -> Wakeup:
        """A ``LISTEN`` on its own connection (made like the store's) for one worker.

        Every ``add`` anywhere wakes it at commit. While that connection is down the
        worker polls, and it is woken once listening again.
        """
        def connect() -> Any:
            return PostgresConnection(self._conninfo, what="outbox wake-ups",
                                      unavailable=OutboxUnavailableError).get()
        return PostgresWakeup(connect)

    def check_schema(self) -> None:
        """Make sure the outbox table exists where this store connects (workers, tools).

        Raises:
            ConfigurationError: The database has no outbox table; it names the database.
            OutboxUnavailableError: The server cannot be reached.
        """
        database, table = self._location()
        if table is None:
            raise ConfigurationError(
                f"database {database!r} holds no ticketnotify outbox (no table {TABLE} on the "
                "search path): point at the database your publishers use, or open it once "
                "with create_schema=True")

    def _load(self, message: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = message  # jsonb comes back decoded
        return loaded

    def add(
        self, jobs: Sequence[NewJob], now: datetime, *, transaction: object | None = None
    ) -> int:
        """Store all jobs in one statement, or in the host's transaction (see ``Outbox.add``).

        ``transaction`` is the host's psycopg connection inside a transaction: either not
        in autocommit mode, or within ``with conn.transaction():``. Nothing is committed
        here; the host's commit or rollback decides for its ticket update and these
        notifications together. The jobs go in under a savepoint, so a failed insert leaves
        the host's transaction usable. The first use of a connection checks that it reaches
        this outbox's table (same database, same table), so jobs never land where no worker
        looks.
        """
        if not jobs:
            return 0
        at = aware(now)
        args = (
            at, at,
            [j.idempotency_key for j in jobs],
            [j.channel for j in jobs],
            [json.dumps(j.message, separators=(",", ":"), ensure_ascii=False) for j in jobs],
        )
        sql = (
            f"INSERT INTO {TABLE} (idempotency_key, channel, message, next_attempt_at,"
            " created_at) SELECT k, c, m::jsonb, %s, %s"
            " FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(k, c, m)"
            " ON CONFLICT (idempotency_key) DO NOTHING"
        )
        sql = _notifying(sql)
        psycopg = self._db.psycopg
        try:
            if transaction is not None:
                return self._add_in(transaction, sql, args)
            with self._transaction() as cur:
                return _added(cur.execute(sql, args))
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            raise refused(exc) from exc

    def _add_in(self, host: object, sql: str, args: Sequence[Any]) -> int:
        """Insert on the host's connection, inside its transaction, under a savepoint."""
        psycopg = self._db.psycopg
        if not isinstance(host, psycopg.Connection):
            raise InvalidInputError(
                "transaction", "PostgresOutbox joins only a psycopg Connection inside a "
                f"transaction, not {type(host).__name__}")
        status = host.info.transaction_status
        if status == psycopg.pq.TransactionStatus.INERROR:
            raise InvalidInputError(
                "transaction", "the connection's transaction has already failed (an earlier "
                "statement raised): roll it back; nothing was stored")
        if status == psycopg.pq.TransactionStatus.IDLE and host.autocommit:
            raise InvalidInputError(
                "transaction", "the connection is in autocommit mode and not inside a "
                "transaction, so the jobs would commit on their own: publish inside "
                "`with conn.transaction():` or use a connection with autocommit=False")
        try:
            if host not in self._joined:
                self._check_host(host)
            with host.cursor() as cur:
                cur.execute("SAVEPOINT ticketnotify_publish")
                try:
                    added = _added(cur.execute(sql, args))
                except BaseException:
                    with suppress(psycopg.Error):
                        cur.execute("ROLLBACK TO SAVEPOINT ticketnotify_publish")
                    raise
                cur.execute("RELEASE SAVEPOINT ticketnotify_publish")
                return added
        except psycopg.Error as exc:
            raise (self._db.problem(exc) or exc) from exc

    def _check_host(self, host: psycopg.Connection[Any]) -> None:
        """The host's connection must reach this outbox's own table; remember it if so."""
        database, table = host.execute(_WHERE, (TABLE,)).fetchone() or ("?", None)
        if table is None:
            raise InvalidInputError(
                "transaction", f"the connection's database {database!r} holds no ticketnotify "
                f"outbox (no table {TABLE} on its search path), so no worker would see the "
                "jobs: connect to the outbox's database; nothing was stored")
        ours = self._location()
        if (database, table) != ours:
            raise InvalidInputError(
                "transaction", f"the connection reaches database {database!r} (outbox table "
                f"oid {table}), but this outbox is in {ours[0]!r} (oid {ours[1]}), so no "
                "worker would see the jobs: connect to the outbox's database; nothing was "
                "stored")
        self._joined[host] = None

    def _location(self) -> tuple[str, int | None]:
        """This store's database name and outbox table oid (asked once)."""
        if self._where is None:
            with self._db.session() as conn:
                row = conn.execute(_WHERE, (TABLE,)).fetchone()
            assert row is not None
            if row[1] is None:
                return row[0], None
            self._where = (row[0], row[1])
        return self._where

    def claim(self, now: datetime, limit: int, lease_seconds: float, worker_id: str) -> list[Job]:
        at = aware(now)
        lease_until = at + timedelta(seconds=lease_seconds)
        with self._transaction() as cur:
            cur.execute(
                f"WITH due AS (SELECT id FROM {TABLE}"
                " WHERE status = 'pending' AND next_attempt_at <= %(now)s"
                " AND (lease_until IS NULL OR lease_until <= %(now)s)"
                " ORDER BY next_attempt_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
                f" UPDATE {TABLE} AS o SET lease_until = %(lease)s, leased_by = %(worker)s"
                f" FROM due WHERE o.id = due.id RETURNING "
                + ", ".join(f"o.{c.strip()}" for c in CLAIM_COLUMNS.split(",")),
                {"now": at, "limit": limit, "worker": worker_id, "lease": lease_until},
            )
            jobs = [self._claimed(r, lease_until) for r in cur.fetchall()]
        jobs.sort(key=lambda j: (j.next_attempt_at, j.id))
        return jobs

    def _apply(
        self, cur: Cursor, kind: OutcomeKind, chunk: list[Outcome], worker_id: str | None
    ) -> list[bool]:
        """Outcomes as three arrays (``unnest``): one statement whatever the group's size."""
        cur.execute(
            f"UPDATE {TABLE} AS o SET {OUTCOME_SET[kind]}"
            " FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[])"
            f" AS v(job_id, note, moment) WHERE o.id = v.job_id AND {FENCE} RETURNING o.id",
            ([o.job_id for o in chunk],
             # PostgreSQL text cannot hold NUL; a peer's reply might, and one unstorable
             # outcome must not fail every outcome recorded with it.
             [o.text.replace("\x00", "\ufffd") for o in chunk],
             [aware(o.at) for o in chunk], worker_id, worker_id),
        )
        applied = {row[0] for row in cur.fetchall()}
        return [o.job_id in applied for o in chunk]

    def close(self) -> None:
        """Close the store's connection; the database keeps every committed job."""
        self._db.close()
