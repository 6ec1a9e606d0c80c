"""PostgreSQL specifics: publishing inside the host's transaction, reconnects, schema races."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from ticketnotify.errors import InvalidInputError, OutboxUnavailableError
from ticketnotify.outbox.base import JobStatus, Outcome, OutcomeKind
from ticketnotify.outbox.postgres import MIGRATIONS, PostgresOutbox

from ..stores import kill_connections
from .test_contract import job

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def host_tables(conn: psycopg.Connection) -> None:  # type: ignore[type-arg]
    conn.execute("CREATE TABLE IF NOT EXISTS host_tickets (id text PRIMARY KEY, status text)")
    conn.execute("TRUNCATE host_tickets")
    conn.commit()


def test_a_rolled_back_host_transaction_leaves_no_job(
    pg_outbox: PostgresOutbox, pg_conninfo: str
) -> None:
    with psycopg.connect(pg_conninfo) as host:
        host_tables(host)
        host.execute("INSERT INTO host_tickets VALUES ('T-1', 'solved')")
        assert pg_outbox.add([job("a"), job("b", "apns")], T0, transaction=host) == 2
        host.rollback()
        assert host.execute("SELECT count(*) FROM host_tickets").fetchone() == (0,)
    assert pg_outbox.get("a") is None and pg_outbox.get("b") is None
    assert pg_outbox.counts() == []


def test_a_committed_host_transaction_stores_update_and_jobs_together(
    pg_outbox: PostgresOutbox, pg_conninfo: str
) -> None:
    with psycopg.connect(pg_conninfo) as host:
        host_tables(host)
        with host.transaction():
            host.execute("INSERT INTO host_tickets VALUES ('T-1', 'solved')")
            assert pg_outbox.add([job("a")], T0, transaction=host) == 1
            # Not visible to workers before the host commits.
            assert pg_outbox.claim(T0, 10, 60, "w") == []
        assert pg_outbox.add([job("a")], T0, transaction=host) == 0
        host.commit()
    assert [j.idempotency_key for j in pg_outbox.claim(T0, 10, 60, "w")] == ["a"]


def test_a_host_exception_inside_the_transaction_block_rolls_back_the_jobs(
    pg_outbox: PostgresOutbox, pg_conninfo: str
) -> None:
    host = psycopg.connect(pg_conninfo, autocommit=True)
    with host, pytest.raises(RuntimeError), host.transaction():
        pg_outbox.add([job("a")], T0, transaction=host)
        raise RuntimeError("ticket save failed")
    assert pg_outbox.get("a") is None


def test_only_a_psycopg_connection_can_be_joined(pg_outbox: PostgresOutbox) -> None:
    with pytest.raises(InvalidInputError, match="psycopg Connection") as refused:
        pg_outbox.add([job("a")], T0, transaction="BEGIN")
    assert refused.value.field == "transaction"
    assert pg_outbox.get("a") is None


def test_the_store_reconnects_after_its_connection_is_killed(
    pg_outbox: PostgresOutbox, pg_conninfo: str
) -> None:
    pg_outbox.add([job("a")], T0)
    assert kill_connections(pg_conninfo) >= 1
    with pytest.raises(OutboxUnavailableError, match="nothing was stored"):
        pg_outbox.get("a")
    assert pg_outbox.get("a") is not None  # the next call opens a fresh connection


def test_racing_schema_creation_applies_migrations_once(pg_conninfo: str) -> None:
    with psycopg.connect(pg_conninfo, autocommit=True) as admin:
        admin.execute("DROP TABLE IF EXISTS ticketnotify_outbox")
        admin.execute("DELETE FROM ticketnotify_schema WHERE component = 'outbox'")
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_store() -> None:
        try:
            start.wait(timeout=10)
            PostgresOutbox(pg_conninfo).close()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    with psycopg.connect(pg_conninfo) as conn:
        assert conn.execute(
            "SELECT version FROM ticketnotify_schema WHERE component = 'outbox'"
        ).fetchone() == (len(MIGRATIONS),)  # 2 since Outbox v2


def test_an_unreachable_server_is_an_outage_saying_nothing_was_stored() -> None:
    with pytest.raises(OutboxUnavailableError, match="nothing was stored.*reachable"):
        PostgresOutbox("host=127.0.0.1 port=1 user=postgres connect_timeout=2")


def test_a_batch_of_outcomes_commits_all_or_none(pg_outbox: PostgresOutbox) -> None:
    pg_outbox.add([job("a"), job("b")], T0)
    ids = [j.id for j in pg_outbox.claim(T0, 10, 60, "w")]
    with pytest.raises(KeyError):  # a kind the store does not know fails mid-batch
        pg_outbox.record([Outcome(ids[0], OutcomeKind.DELIVERED, T0, "250 ok"),
                          Outcome(ids[1], "bounced", T0, "550")],  # type: ignore[arg-type]
                         worker_id="w")
    assert pg_outbox.get("a").status is JobStatus.PENDING  # type: ignore[union-attr]
    assert pg_outbox.record([Outcome(ids[0], OutcomeKind.DELIVERED, T0, "250 ok"),
                             Outcome(ids[1], OutcomeKind.RETRY, T0, "451 \x00 in a reply")],
                            worker_id="w") == [True, True]
    assert pg_outbox.get("b").last_error == "451 \ufffd in a reply"  # type: ignore[union-attr]


def test_an_autocommit_connection_outside_a_transaction_is_refused(
    pg_outbox: PostgresOutbox, pg_conninfo: str
) -> None:
    with psycopg.connect(pg_conninfo, autocommit=True) as host:
        with pytest.raises(InvalidInputError, match="autocommit") as refused:
            pg_outbox.add([job("a")], T0, transaction=host)
        assert refused.value.field == "transaction"
    assert pg_outbox.get("a") is None, "nothing committed on its own"


def test_a_failed_insert_leaves_the_host_transaction_usable(
    pg_outbox: PostgresOutbox, pg_conninfo: str
) -> None:
    with psycopg.connect(pg_conninfo) as host:
        host_tables(host)
        host.execute("INSERT INTO host_tickets VALUES ('T-1', 'solved')")
        with pytest.raises(InvalidInputError):  # jsonb cannot hold NUL: the insert fails
            pg_outbox.add([job("a"), job("b", note="\x00")], T0, transaction=host)
        host.execute("UPDATE host_tickets SET status = 'closed'")  # still usable
        host.commit()
        assert host.execute("SELECT status FROM host_tickets").fetchone() == ("closed",)
    assert pg_outbox.get("a") is None, "none of the update's jobs"


def test_publishing_first_on_a_fresh_connection_joins_its_transaction(
    pg_outbox: PostgresOutbox, pg_conninfo: str
) -> None:
    with psycopg.connect(pg_conninfo) as host:  # not autocommit: a transaction begins
        assert pg_outbox.add([job("a")], T0, transaction=host) == 1
        host.rollback()
    assert pg_outbox.get("a") is None


@pytest.mark.parametrize("other", ["no outbox", "another outbox"])
def test_a_connection_that_reaches_another_outbox_is_refused(
    pg_outbox: PostgresOutbox, pg_conninfo: str, other: str
) -> None:
    schema = f"other_{uuid.uuid4().hex[:8]}"
    elsewhere = make_conninfo(pg_conninfo, options=f"-csearch_path={schema}")
    with psycopg.connect(pg_conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        if other == "another outbox":
            PostgresOutbox(elsewhere).close()
        with psycopg.connect(elsewhere) as host:
            with pytest.raises(InvalidInputError, match="no worker would see") as refused:
                pg_outbox.add([job("a")], T0, transaction=host)
            assert refused.value.field == "transaction"
            host.rollback()
    finally:
        with psycopg.connect(pg_conninfo, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    assert pg_outbox.get("a") is None
