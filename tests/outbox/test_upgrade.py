"""An outbox made by the v1 release (rendered messages in its jobs) is upgraded on open and
its pending jobs are delivered as they were rendered, on SQLite and on PostgreSQL.

``tests/fixtures/outbox-v1.sqlite3`` was made by the v1 release (commit e22a7e1) with
``tests/fixtures/make_outbox_v1.py.txt``: an account update (APNs, FCM, Swedish email) and
two guest updates (one already delivered), all stored as rendered messages.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from ticketnotify.loopback.stack import LoopbackStack
from ticketnotify.outbox.base import JobStatus, Outbox
from ticketnotify.outbox.postgres import PostgresOutbox
from ticketnotify.outbox.sqlite import SQLiteOutbox
from ticketnotify.worker import Worker

FIXTURE = Path(__file__).parent.parent / "fixtures" / "outbox-v1.sqlite3"
LATER = datetime(2026, 12, 1, tzinfo=UTC)  # a week after the fixture's jobs were published

# The v1 release's PostgreSQL schema statements, verbatim (outbox/postgres.py at e22a7e1).
V1_POSTGRES = (
    """CREATE TABLE IF NOT EXISTS ticketnotify_outbox (
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
    "CREATE INDEX IF NOT EXISTS ticketnotify_outbox_due ON ticketnotify_outbox "
    "(next_attempt_at, id) WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS ticketnotify_outbox_pending_age ON ticketnotify_outbox "
    "(created_at) WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS ticketnotify_outbox_finished_age ON ticketnotify_outbox "
    "(created_at) WHERE status <> 'pending'",
    "CREATE TABLE IF NOT EXISTS ticketnotify_schema (component text PRIMARY KEY,"
    " version integer NOT NULL)",
    "INSERT INTO ticketnotify_schema (component, version) VALUES ('outbox', 1)",
)


def _v1_rows() -> list[tuple[str, str, str, str]]:
    assert FIXTURE.stat().st_size > 0, f"{FIXTURE} is missing: it is committed with the tests"
    with sqlite3.connect(f"file:{FIXTURE}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT idempotency_key, channel, message, status"
                            " FROM ticketnotify_outbox ORDER BY id").fetchall()


async def _deliver_all(outbox: Outbox) -> None:
    async with LoopbackStack() as stack:
        stats = await Worker(outbox, stack.channels(), clock=lambda: LATER).drain()
        mails = await stack.smtp.wait_for(2)
        assert stack.apns is not None and stack.fcm is not None
        assert len(stack.apns.received_for("a" * 64)) == 1
        assert len(stack.fcm.requests) >= 1
    assert stats.delivered == 4 and stats.dead == 0
    by_rcpt = {m.rcpt_tos[0]: m.message for m in mails}
    anna, sam = by_rcpt["anna@example.se"], by_rcpt["sam@example.com"]
    assert "12345" in str(anna["Subject"]) and "Vi har rättat det." in _text(anna)
    assert "https://help.example.com/guest/tickets/777?token=" in _text(sam)
    # v1 messages go out as they were rendered and stored, byte for byte in their text part.
    stored = {json.loads(m)["to_address"]: json.loads(m) for _, c, m, _ in _v1_rows()
              if c == "email"}
    assert _text(anna).replace("\r\n", "\n").strip() == stored["anna@example.se"]["text"].strip()
    counts = {(c.channel, c.status): c.count for c in outbox.counts()}
    assert counts == {("apns", JobStatus.DELIVERED): 1, ("fcm", JobStatus.DELIVERED): 1,
                      ("email", JobStatus.DELIVERED): 3}


def _text(message: object) -> str:
    part = message.get_body(("plain",))  # type: ignore[attr-defined]
    return str(part.get_content())


@pytest.mark.slow
async def test_a_v1_sqlite_outbox_is_upgraded_on_open_and_delivers_its_pending_jobs(
        tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    shutil.copy(FIXTURE, path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)
    outbox = SQLiteOutbox(path, create=False)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    try:
        await _deliver_all(outbox)
    finally:
        outbox.close()


@pytest.fixture
def v1_postgres() -> Iterator[str]:
    """A schema of its own holding a v1 outbox: the v1 statements, the fixture's rows."""
    base = "host=127.0.0.1 port=5432 user=postgres dbname=ticketnotify_test"
    schema = f"v1_{uuid.uuid4().hex[:10]}"
    conninfo = make_conninfo(base, options=f"-csearch_path={schema}")
    PostgresOutbox(base, create_schema=False).close()  # the test database exists (stores.py)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with psycopg.connect(conninfo) as conn:
            for statement in V1_POSTGRES:
                conn.execute(statement)
            for key, channel, message, status in _v1_rows():
                conn.execute(
                    "INSERT INTO ticketnotify_outbox (idempotency_key, channel, message,"
                    " status, next_attempt_at, created_at) VALUES (%s, %s, %s::jsonb, %s,"
                    " '2026-11-24T09:30:00Z', '2026-11-24T09:30:00Z')",
                    (key, channel, message, status))
        yield conninfo
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.slow
async def test_a_v1_postgres_outbox_is_migrated_on_open_and_delivers_its_pending_jobs(
        v1_postgres: str, pg_conninfo: str) -> None:
    outbox = PostgresOutbox(v1_postgres)
    try:
        with psycopg.connect(v1_postgres) as conn:
            assert conn.execute("SELECT version FROM ticketnotify_schema"
                                " WHERE component = 'outbox'").fetchone() == (2,)
        await _deliver_all(outbox)
    finally:
        outbox.close()
