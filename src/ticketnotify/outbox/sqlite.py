"""SQLite outbox: the embedded default, one file in WAL mode, safe across processes."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, Literal

from ..databases import WAL_LIMIT, Cursor, SQLiteFile, to_micros
from ..errors import ConfigurationError, InvalidInputError, OutboxUnavailableError
from .base import Job, NewJob, Outcome, OutcomeKind
from .sql import CLAIM_COLUMNS, FENCE, OUTCOME_SET, TABLE, SQLOutbox, refused
from .wakeups import Wakeup, signal_for

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
    # 2: Outbox v2. New jobs hold facts, old ones keep their rendered message (see sql.py):
    # nothing to rewrite, the version tells tools which release last opened the file.
    (),
)


# One encoder made once: json.dumps would build it again for every job it is given options for.
_dump = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class SQLiteOutbox(SQLOutbox):
    """Outbox in one SQLite file; several worker processes may share it (writes serialise).

    The write-ahead log is folded back into the file (and its space given back) when a
    claim finds nothing due or the log has passed ``wal_limit``, when a write leaves it
    bigger than the free space on the disk, and before the next write after a disk-full.
    After a disk-full, publishing and delivery resume once the disk has room for the
    log's unfolded pages to move into the file.

    Args:
        path: The database file; created (with its tables) unless ``create`` is False.
        durability: ``"normal"`` (default) keeps every committed publish through any
            process crash, SIGKILL included, but a power cut or kernel crash may roll back
            the last commits; ``"full"`` fsyncs each commit so even that loses nothing, at
            a fraction of the publish rate. Neither ever corrupts the file.
        busy_timeout: Seconds a write waits for another process's write lock before
            ``OutboxUnavailableError``.
        create: False refuses a file that does not exist (workers and ``outbox status``
            must not create an empty outbox next to the one publishers fill).
        wal_limit: Bytes of write-ahead log after which a worker's claim folds it back
            (default 4 MB).

    Raises:
        ConfigurationError: Bad ``durability``; SQLite older than 3.35; the file cannot be
            opened or created; or it does not exist and ``create`` is False.
        OutboxUnavailableError: The file is locked past ``busy_timeout`` or the disk is full.
    """

    _db: SQLiteFile

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: Literal["full", "normal"] = "normal",
        busy_timeout: float = 30.0,
        create: bool = True,
        wal_limit: int = WAL_LIMIT,
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
        self._db = SQLiteFile(
            path, what="SQLite outbox", unavailable=OutboxUnavailableError,
            busy_timeout=busy_timeout, create=create, wal_limit=wal_limit, pragmas=(
                f"synchronous={durability.upper()}",
                # Let SQLite checkpoint the WAL rarely and keep hot pages cached: publishing
                # writes a few pages per transaction, and frequent checkpoints cost more than
                # the writes. SQLiteFile bounds the log's size itself.
                "wal_autocheckpoint=10000",
                "cache_size=-16000",
            ))
        self.path = self._db.path
        self.create_schema()
        stat = os.stat(self.path)
        self._signal = signal_for((stat.st_dev, stat.st_ino))  # one bell per file, any path

    def wakeup(self) -> Wakeup:
        """Wakes a worker in this process when any store open on this file adds jobs.

        Workers in other processes are not woken; they poll (adaptively, see ``Worker``).
        """
        return self._signal.wakeup()

    def create_schema(self) -> None:
        """Apply the migrations this file has not seen yet (idempotent, safe to race).

        Raises:
            OutboxUnavailableError: The file is locked or the disk is full.
        """
        # A current schema takes no write lock: a host may open the outbox inside its own
        # write transaction on this file (Django's database, contrib.django), where
        # BEGIN IMMEDIATE would wait on that very transaction until busy_timeout.
        with self._db.read() as conn:
            if conn.execute("PRAGMA user_version").fetchone()[0] >= len(MIGRATIONS):
                return
        with self._db.write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, statements in enumerate(MIGRATIONS, start=1):
                if number <= version:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number}")

    def _load(self, message: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(message)
        return loaded

    def add(
        self, jobs: Sequence[NewJob], now: datetime, *, transaction: object | None = None
    ) -> int:
        """Store all jobs in one transaction, or in the host's (see ``Outbox.add``).

        ``transaction`` is a ``sqlite3.Connection`` open on this same file; its commit or
        rollback then decides for the ticket update and its notifications together. The
        jobs go in under a savepoint, so a failed insert leaves the host's transaction as
        it was. A connection in autocommit mode (``isolation_level=None``) outside a
        transaction is refused: the jobs would commit on their own.
        """
        at = to_micros(now)
        rows = [(j.idempotency_key, j.channel, _dump(j.message), at, at) for j in jobs]
        sql = (
            f"INSERT INTO {TABLE} (idempotency_key, channel, message, next_attempt_at, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING"
        )
        try:
            if transaction is not None:
                added = self._add_in(transaction, sql, rows)
            elif not rows:
                return 0
            else:
                with self._db.write() as conn:
                    before = conn.total_changes
                    if len(rows) == 1:  # publish's usual case: one statement, no iterator
                        conn.execute(sql, rows[0])
                    else:
                        conn.executemany(sql, rows)
                    added = conn.total_changes - before
        except (sqlite3.IntegrityError, sqlite3.DataError) as exc:
            raise refused(exc) from exc
        if added:
            # After the commit, or inside the host's transaction before it commits: a
            # worker woken too early finds nothing yet and polls again within milliseconds.
            self._signal.ring()
        return added

    def _add_in(self, host: object, sql: str, rows: list[tuple[Any, ...]]) -> int:
        """Insert on the host's connection, inside its transaction, under a savepoint."""
        if not isinstance(host, sqlite3.Connection):
            raise InvalidInputError(
                "transaction", "SQLiteOutbox joins only a sqlite3.Connection open on the "
                f"outbox file, not {type(host).__name__}")
        with self._db.guard():
            if not host.in_transaction:
                if host.isolation_level is None:
                    raise InvalidInputError(
                        "transaction", "the connection is in autocommit mode "
                        "(isolation_level=None) and not inside a transaction, so the jobs "
                        "would commit on their own: run BEGIN first")
                host.execute("BEGIN")  # what sqlite3 would do before the INSERT anyway
            files = [row[2] for row in host.execute("PRAGMA database_list") if row[1] == "main"]
            if not files or not files[0] or not os.path.samefile(files[0], self.path):
                raise InvalidInputError(
                    "transaction", f"the connection is open on {files[0] if files else None!r},"
                    f" not on the outbox file {self.path!r}: no worker would see the jobs")
            host.execute("SAVEPOINT ticketnotify_publish")
            try:
                before = host.total_changes
                host.executemany(sql, rows)
                added = host.total_changes - before
            except BaseException:
                if host.in_transaction:  # SQLite itself may have rolled it all back
                    with suppress(sqlite3.Error):
                        host.execute("ROLLBACK TO ticketnotify_publish")
                        host.execute("RELEASE ticketnotify_publish")
                raise
            host.execute("RELEASE ticketnotify_publish")
            return added

    def claim(self, now: datetime, limit: int, lease_seconds: float, worker_id: str) -> list[Job]:
        at = to_micros(now)
        lease_until = now + timedelta(seconds=lease_seconds)
        lease = to_micros(lease_until)
        with self._db.write() as conn:
            rows = conn.execute(
                f"UPDATE {TABLE} SET lease_until = ?, leased_by = ? WHERE id IN ("
                f" SELECT id FROM {TABLE} WHERE status = 'pending' AND next_attempt_at <= ?"
                "  AND (lease_until IS NULL OR lease_until <= ?)"
                "  ORDER BY next_attempt_at, id LIMIT ?)"
                f" RETURNING {CLAIM_COLUMNS}",
                (lease, worker_id, at, at, limit),
            ).fetchall()
        self._db.fold(idle=not rows)
        lease_until = self._from_db(lease)
        jobs = [self._claimed(r, lease_until) for r in rows]
        jobs.sort(key=lambda j: (j.next_attempt_at, j.id))
        return jobs

    def _apply(
        self, cur: Cursor, kind: OutcomeKind, chunk: list[Outcome], worker_id: str | None
    ) -> list[bool]:
        """Outcomes as a ``VALUES`` list; rows come back (RETURNING) only if a lease was lost.

        Few statements matter as much as one commit: sqlite3 lets go of the GIL at every
        step (each row too), and under a busy event loop each hand-back costs up to a
        switch interval.
        """
        values = ", ".join(["(?, ?, ?)"] * len(chunk))
        with_rows = f"WITH v(job_id, note, moment) AS (VALUES {values})"
        fence = f"o.id = v.job_id AND {self._sql(FENCE)}"
        params: list[Any] = [x for o in chunk for x in (o.job_id, o.text, to_micros(o.at))]
        params += [worker_id, worker_id]
        update = f"{with_rows} UPDATE {TABLE} AS o SET {OUTCOME_SET[kind]} FROM v WHERE {fence}"
        # The write lock is ours since BEGIN IMMEDIATE: what this counts still holds below.
        cur.execute(f"{with_rows} SELECT count(*) FROM v, {TABLE} AS o WHERE {fence}", params)
        if cur.fetchall()[0][0] == len(chunk):
            cur.execute(update, params)
            return [True] * len(chunk)
        # SQLite's RETURNING sees the target table only, by its own name.
        cur.execute(f"{update} RETURNING id", params)
        applied = {row[0] for row in cur.fetchall()}
        return [o.job_id in applied for o in chunk]

    def close(self) -> None:
        """Close the connection; the file keeps every committed job."""
        self._db.close()
