"""Store faults at the boundary: an outage is our error on every call, setup errors say what to fix.

PostgreSQL is made unreachable by pointing the store's connection factory at a port where
nothing listens and killing the session's connections; SQLite by another process holding
the write lock.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from ticketnotify.cli import main
from ticketnotify.errors import (
    ConfigurationError,
    OutboxUnavailableError,
    StoreUnavailableError,
)
from ticketnotify.guest import CodeStoreUnavailableError, PostgresCodeStore, SQLiteCodeStore
from ticketnotify.guest.stores.base import CodeStore, RateLimit, StoredCode
from ticketnotify.outbox.base import Outbox, Outcome, OutcomeKind
from ticketnotify.outbox.from_url import DEFAULT_URL, outbox_from_url
from ticketnotify.outbox.postgres import PostgresOutbox
from ticketnotify.outbox.sqlite import SQLiteOutbox

from ..stores import StoreFactory, kill_connections, wipe_pg
from .test_contract import job

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
NOWHERE = "host=127.0.0.1 port=1 user=postgres connect_timeout=2"
LIMITS = (RateLimit(3, timedelta(minutes=15)),)


class Switch:
    """A connection factory whose server can be taken away and given back."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.up = True

    def __call__(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo if self.up else NOWHERE)


def outbox_calls(store: Outbox) -> list[Callable[[], object]]:
    return [lambda: store.add([job("b")], T0), lambda: store.claim(T0, 10, 60, "w"),
            lambda: store.record([Outcome(1, OutcomeKind.DELIVERED, T0)], worker_id="w"),
            store.counts, lambda: store.get("a")]


@pytest.mark.slow
def test_a_postgres_outage_is_an_outbox_outage_on_every_call(pg_conninfo: str) -> None:
    wipe_pg(pg_conninfo)
    server = Switch(pg_conninfo)
    store = PostgresOutbox(server)
    store.add([job("a")], T0)
    server.up = False
    kill_connections(pg_conninfo)
    for _ in range(2):  # the first call finds the connection dead, the next ones cannot connect
        for call in outbox_calls(store):
            with pytest.raises(OutboxUnavailableError, match="nothing was stored"):
                call()
    server.up = True
    assert store.get("b") is None, "nothing was stored during the outage"
    assert store.add([job("b")], T0) == 1
    store.close()


def code_calls(store: CodeStore) -> list[Callable[[], object]]:
    code = StoredCode("T-1", "addr", "hash", T0, T0 + timedelta(minutes=10), 5)
    return [lambda: store.reserve_send({"k": LIMITS}, T0), lambda: store.put_code(code),
            lambda: store.take_attempt("T-1", "addr"),
            lambda: store.discard_code("T-1", "addr", "hash"),
            lambda: store.purge(T0, timedelta(days=1))]


@pytest.mark.slow
def test_a_postgres_outage_is_a_code_store_outage_on_every_call(pg_conninfo: str) -> None:
    server = Switch(pg_conninfo)
    store = PostgresCodeStore(server)
    server.up = False
    kill_connections(pg_conninfo)
    for _ in range(2):
        for call in code_calls(store):
            with pytest.raises(CodeStoreUnavailableError, match="nothing was stored"):
                call()
    server.up = True
    assert store.reserve_send({"k-after": LIMITS}, T0) is None
    store.close()


def test_a_locked_sqlite_file_is_an_outage_for_both_stores(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    outbox, codes = SQLiteOutbox(path, busy_timeout=0.05), SQLiteCodeStore(path, busy_timeout=0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    with pytest.raises(OutboxUnavailableError, match="nothing was stored"):
        outbox.add([job("a")], T0)
    for call in code_calls(codes):
        with pytest.raises(CodeStoreUnavailableError) as raised:
            call()
        assert isinstance(raised.value, StoreUnavailableError)
    holder.execute("ROLLBACK")
    holder.close()
    assert outbox.add([job("a")], T0) == 1
    outbox.close()
    codes.close()


@pytest.mark.slow
def test_what_waiting_cannot_fix_is_a_configuration_error(pg_conninfo: str) -> None:
    with pytest.raises(ConfigurationError, match="role"):
        PostgresOutbox(make_conninfo(pg_conninfo, user=f"nobody_{uuid.uuid4().hex[:6]}"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        PostgresCodeStore(make_conninfo(pg_conninfo, dbname=f"nodb_{uuid.uuid4().hex[:6]}"))
    with pytest.raises(ConfigurationError, match="not understood"):
        PostgresOutbox("host=127.0.0.1 = =")
    empty = f"empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{empty}"')
    try:
        elsewhere = PostgresOutbox(make_conninfo(pg_conninfo, options=f"-csearch_path={empty}"),
                                   create_schema=False)
        with pytest.raises(ConfigurationError, match="tables are missing"):
            elsewhere.add([job("a")], T0)
        elsewhere.close()
    finally:
        with psycopg.connect(pg_conninfo, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{empty}" CASCADE')


def test_workers_and_tools_do_not_create_a_sqlite_outbox(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    typo = tmp_path / "typo.db"
    with pytest.raises(ConfigurationError, match="does not exist"):
        outbox_from_url(f"sqlite:///{typo}", create=False)
    assert not typo.exists()
    for action in (["status"], ["retry"], ["purge", "--older-than", "30d"]):
        assert main(["outbox", *action, "--outbox", f"sqlite:///{typo}"]) != 0
        assert "does not exist" in capsys.readouterr().err
    assert not typo.exists()
    outbox_from_url(f"sqlite:///{typo}").close()  # publishers create it
    outbox_from_url(f"sqlite:///{typo}", create=False).close()  # then the rest may open it


def test_one_default_outbox_file_the_readmes() -> None:
    assert DEFAULT_URL == "sqlite:///ticketnotify.sqlite3"


@pytest.mark.slow
def test_a_worker_does_not_create_the_postgres_outbox_either(pg_conninfo: str) -> None:
    empty = f"empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{empty}"')
    try:
        with pytest.raises(ConfigurationError, match="holds no ticketnotify outbox"):
            outbox_from_url(make_conninfo(pg_conninfo, options=f"-csearch_path={empty}"),
                            create=False)
    finally:
        with psycopg.connect(pg_conninfo, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{empty}" CASCADE')


def test_a_group_of_outcomes_that_fails_midway_records_nothing(open_store: StoreFactory) -> None:
    store = open_store()
    store.add([job("a"), job("b")], T0)
    ids = [j.id for j in store.claim(T0, 10, 60, "w")]
    with pytest.raises(KeyError):  # a kind the store does not know fails the second outcome
        store.record([Outcome(ids[0], OutcomeKind.DELIVERED, T0, "250 ok"),
                      Outcome(ids[1], "bounced", T0, "550")],  # type: ignore[arg-type]
                     worker_id="w")
    assert [store.get(k).attempts for k in "ab"] == [0, 0]  # type: ignore[union-attr]
    assert store.record([Outcome(i, OutcomeKind.DELIVERED, T0) for i in ids],
                        worker_id="w") == [True, True]
