"""Stores under test: memory, SQLite in a temp dir, and the real PostgreSQL on loopback.

PostgreSQL tests use their own database (``ticketnotify_test`` unless
``TICKETNOTIFY_TEST_PG`` names another conninfo); an unreachable server fails the suite.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from ticketnotify.outbox.base import Outbox
from ticketnotify.outbox.memory import MemoryOutbox
from ticketnotify.outbox.postgres import TABLE, PostgresOutbox
from ticketnotify.outbox.sqlite import SQLiteOutbox

ADMIN_CONNINFO = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
TEST_DB = "ticketnotify_test"


@pytest.fixture(scope="session")
def pg_conninfo() -> str:
    """Conninfo of a database the tests may wipe; created on first use."""
    override = os.environ.get("TICKETNOTIFY_TEST_PG")
    if override:
        conninfo = override
    else:
        try:
            with psycopg.connect(ADMIN_CONNINFO, autocommit=True, connect_timeout=5) as admin:
                exists = admin.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (TEST_DB,)
                ).fetchone()
                if not exists:
                    admin.execute(f'CREATE DATABASE "{TEST_DB}"')
        except psycopg.Error as exc:
            pytest.fail(f"PostgreSQL is required for the outbox tests and is unreachable: {exc}")
        conninfo = f"host=127.0.0.1 port=5432 user=postgres dbname={TEST_DB}"
    try:
        with psycopg.connect(conninfo, connect_timeout=5):
            pass
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL test database {conninfo!r} is unreachable: {exc}")
    return conninfo


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
