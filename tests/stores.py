"""Stores under test: memory, SQLite in a temp dir, and the real PostgreSQL on loopback.

PostgreSQL tests use their own database (``ticketnotify_test`` unless
``TICKETNOTIFY_TEST_PG`` names another conninfo); an unreachable server fails the suite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from ticketnotify.outbox.base import Outbox
from ticketnotify.outbox.memory import MemoryOutbox
from ticketnotify.outbox.postgres import TABLE, PostgresOutbox
from ticketnotify.outbox.sqlite import SQLiteOutbox

ADMIN_CONNINFO = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
TEST_DB = "ticketnotify_test"


@pytest.fixture(scope="session")
def pg_conninfo() -> Iterator[str]:
    """Conninfo of a schema of our own in the test database, dropped at the end.

    Each test session gets its own schema (through ``search_path``), so two test runs
    on one server, or several helpers running the suite at once, never see each
    other's jobs.
    """
    base = os.environ.get("TICKETNOTIFY_TEST_PG") or (
        f"host=127.0.0.1 port=5432 user=postgres dbname={TEST_DB}")
    if not os.environ.get("TICKETNOTIFY_TEST_PG"):
        try:
            with psycopg.connect(ADMIN_CONNINFO, autocommit=True, connect_timeout=5) as admin:
                exists = admin.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (TEST_DB,)
                ).fetchone()
                if not exists:
                    admin.execute(f'CREATE DATABASE "{TEST_DB}"')
        except psycopg.errors.DuplicateDatabase:
            pass  # another test run created it a moment ago
        except psycopg.Error as exc:
            pytest.fail(f"PostgreSQL is required for the outbox tests and is unreachable: {exc}")
    schema = f"test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL test database {base!r} is unreachable: {exc}")
    yield make_conninfo(base, options=f"-csearch_path={schema}", application_name=schema)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def kill_connections(conninfo: str) -> int:
    """Terminate this session's other connections, as a database restart would."""
    with psycopg.connect(conninfo, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = current_setting('application_name')"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def wipe_pg(conninfo: str) -> None:
    """Start each test from an empty outbox table."""
    PostgresOutbox(conninfo).close()  # makes sure the schema exists
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLE} RESTART IDENTITY")


@pytest.fixture
def pg_outbox(pg_conninfo: str) -> Iterator[PostgresOutbox]:
    wipe_pg(pg_conninfo)
    store = PostgresOutbox(pg_conninfo)
    yield store
    store.close()


StoreFactory = Callable[[], Outbox]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_store(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[StoreFactory]:
    """Opens the store under test; every call after the first opens the same data again."""
    opened: list[Outbox] = []
    memory = MemoryOutbox()
    conninfo = ""
    if store_kind == "postgres":
        conninfo = request.getfixturevalue("pg_conninfo")
        wipe_pg(conninfo)

    def factory() -> Outbox:
        store: Outbox
        if store_kind == "memory":
            store = memory
        elif store_kind == "sqlite":
            store = SQLiteOutbox(tmp_path / "outbox.sqlite3")
        else:
            store = PostgresOutbox(conninfo)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def outbox(open_store: StoreFactory) -> Outbox:
    return open_store()
