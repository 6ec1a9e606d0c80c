"""An idle worker wakes on new work instead of sleeping out a poll interval, and costs no CPU.

Workers here wait 60 s between polls, so a delivery inside the tests' 30 s guard can only
have come from a wake-up (or, where a test says so, the adaptive polls right after work).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.outbox import MemoryOutbox
from ticketnotify.outbox.base import Outbox
from ticketnotify.outbox.postgres import PostgresOutbox
from ticketnotify.outbox.sqlite import SQLiteOutbox
from ticketnotify.outbox.wakeups import NoWakeup
from ticketnotify.worker import Worker
from ticketnotify.worker.wakeup import IdleWait

from ..outbox.sink import email_jobs, now_utc
from ..stores import wipe_pg

GUARD = 30.0  # seconds: a hang guard, never a claim about speed
LONG_IDLE = 60.0  # seconds between polls: longer than GUARD, so only a wake-up delivers


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait (yielding to the loop) until ``condition()`` holds; fail after ``GUARD`` seconds."""
    deadline = time.monotonic() + GUARD
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.005)


class Running:
    """A ``Worker.run`` in the background on the test's loop, stopped and awaited at the end."""

    def __init__(self, outbox: Outbox, idle: float = LONG_IDLE) -> None:
        self.channel = MemoryChannel()
        self.worker = Worker(outbox, {"email": self.channel})
        self.stop = asyncio.Event()
        self.task = asyncio.ensure_future(self.worker.run(self.stop, idle_interval=idle))

    async def idle(self, polls: int = 1) -> None:
        """Until the worker has found nothing due ``polls`` times (and so waits again)."""
        await eventually(lambda: self.worker.stats.idle_polls >= polls, "an idle poll")

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, GUARD)
        await self.worker.aclose()


async def test_idle_waits_double_after_work_up_to_the_idle_interval() -> None:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    done.set_result(None)  # each wait returns at once; only the schedule is observed
    idle = IdleWait(NoWakeup(), 1.0)
    assert idle.next_poll == 1.0  # a fresh worker has no burst to expect
    idle.worked()
    waits = []
    for _ in range(9):
        waits.append(idle.next_poll)
        await idle.wait(done)
    assert waits == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0]
    idle.worked()
    assert idle.next_poll == 0.01


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
async def test_a_publish_in_this_process_wakes_an_idle_worker(
    store_kind: str, tmp_path: Path
) -> None:
    """The worker and the publisher share the process: ``add`` rings the worker at once,
    from another thread and through another store object open on the same file."""
    worker_store: Outbox
    if store_kind == "memory":
        worker_store = publisher = MemoryOutbox()
    else:
        worker_store = SQLiteOutbox(tmp_path / "o.db")
        publisher = SQLiteOutbox(tmp_path / "o.db")
    running = Running(worker_store)
    try:
        await running.idle()
        await asyncio.to_thread(publisher.add, email_jobs(2), now_utc())
        await running.channel.wait_for(2, timeout=GUARD)
    finally:
        await running.finish()
    assert running.worker.stats.delivered == 2


async def test_a_publish_in_the_hosts_sqlite_transaction_wakes_the_worker(
    tmp_path: Path,
) -> None:
    """``add`` rings inside the host's transaction, before its commit: the woken worker's
    claim waits for the host's write lock (or finds nothing and polls again within
    milliseconds), and the job goes out once committed, not after the idle wait."""
    import sqlite3

    store = SQLiteOutbox(tmp_path / "o.db")
    host = sqlite3.connect(tmp_path / "o.db")
    running = Running(store)
    try:
        await running.idle()
        store.add(email_jobs(1), now_utc(), transaction=host)
        host.commit()
        await running.channel.wait_for(1, timeout=GUARD)
    finally:
        await running.finish()
        host.close()


@pytest.mark.slow
async def test_sqlite_polls_soon_after_work_for_other_processes_jobs(tmp_path: Path) -> None:
    """Another process's publish rings no bell here; right after work the worker polls
    every 10 ms, doubling, so the next burst is found long before the 60 s idle wait."""
    store = SQLiteOutbox(tmp_path / "o.db")
    running = Running(store)
    try:
        await running.idle()
        store.add(email_jobs(1, prefix="first"), now_utc())
        await running.channel.wait_for(1, timeout=GUARD)
        await asyncio.to_thread(_publish_from_another_process, f"sqlite:///{tmp_path}/o.db")
        await running.channel.wait_for(2, timeout=GUARD)
    finally:
        await running.finish()


def _publish_from_another_process(url: str) -> None:
    code = ("import sys; from ticketnotify.outbox.from_url import outbox_from_url;"
            "from tests.outbox.sink import email_jobs, now_utc;"
            "s = outbox_from_url(sys.argv[1]); s.add(email_jobs(1, prefix='other'), now_utc());"
            "s.close()")
    subprocess.run([sys.executable, "-c", code, url], check=True, timeout=GUARD,
                   cwd=Path(__file__).parents[2])


def _listening(conninfo: str) -> bool:
    """Whether this test session holds a ``LISTEN`` connection (the worker's)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %%'"
            " AND application_name = current_setting('application_name')"
            " AND pid <> pg_backend_pid()").fetchone()
    return bool(row and row[0])


@pytest.fixture
def pg_store(pg_conninfo: str) -> Iterator[PostgresOutbox]:
    wipe_pg(pg_conninfo)
    store = PostgresOutbox(pg_conninfo)
    yield store
    store.close()


@pytest.mark.slow
async def test_postgres_notify_wakes_an_idle_worker_from_another_process(
    pg_store: PostgresOutbox, pg_conninfo: str
) -> None:
    running = Running(pg_store)
    try:
        await eventually(lambda: _listening(pg_conninfo), "the worker's LISTEN")
        await running.idle(polls=2)  # the wake-up of its own (re)connect is spent
        await asyncio.to_thread(_publish_from_another_process, pg_conninfo)
        await running.channel.wait_for(1, timeout=GUARD)
    finally:
        await running.finish()
    assert not _listening(pg_conninfo)  # stopping closed the LISTEN connection


@pytest.mark.slow
async def test_postgres_notify_fires_at_the_hosts_commit(
    pg_store: PostgresOutbox, pg_conninfo: str
) -> None:
    running = Running(pg_store)
    try:
        await eventually(lambda: _listening(pg_conninfo), "the worker's LISTEN")
        await running.idle(polls=2)
        with psycopg.connect(pg_conninfo) as host:
            pg_store.add(email_jobs(1), now_utc(), transaction=host)
            host.commit()
        await running.channel.wait_for(1, timeout=GUARD)
    finally:
        await running.finish()


@pytest.mark.slow
async def test_a_publish_while_listen_reconnects_is_still_delivered(
    pg_store: PostgresOutbox, pg_conninfo: str
) -> None:
    """The LISTEN connection dies; the notification of a publish meanwhile reaches nobody.
    Once listening again the worker is woken anyway, so the job goes out."""
    running = Running(pg_store)
    try:
        await eventually(lambda: _listening(pg_conninfo), "the worker's LISTEN")
        await running.idle(polls=2)
        with psycopg.connect(pg_conninfo, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN %%' AND pid <> pg_backend_pid()"
                " AND application_name = current_setting('application_name')")
        await asyncio.to_thread(_publish_from_another_process, pg_conninfo)
        await running.channel.wait_for(1, timeout=GUARD)
        await eventually(lambda: _listening(pg_conninfo), "LISTEN again")
    finally:
        await running.finish()


@pytest.mark.slow
async def test_without_listen_the_worker_polls(pg_conninfo: str) -> None:
    """LISTEN cannot connect at all (the host's factory refuses new connections): the
    worker keeps polling at its idle interval and delivers."""
    wipe_pg(pg_conninfo)
    refused: list[int] = []
    store_open = False

    def connect() -> psycopg.Connection[Any]:
        if store_open:
            refused.append(1)
            raise psycopg.OperationalError("the test refuses new connections")
        return psycopg.connect(pg_conninfo)

    store = PostgresOutbox(connect)  # its own connection is opened now, and kept
    store_open = True
    running = Running(store, idle=0.5)
    try:
        await running.idle()
        await eventually(lambda: bool(refused), "a refused LISTEN connection")
        await asyncio.to_thread(_publish_from_another_process, pg_conninfo)
        await running.channel.wait_for(1, timeout=GUARD)
    finally:
        await running.finish()
        store.close()
    assert not _listening(pg_conninfo)


@pytest.mark.slow
@pytest.mark.parametrize("store_kind", ["sqlite", "postgres"])
async def test_an_idle_worker_uses_almost_no_cpu(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A real ``Worker.run`` with the default idle interval, nothing to do, for 3 s. The
    goal is under 1% of a core (bench: ``worker_idle_cpu_percent``); this bound only
    catches a busy loop, with room for a loaded machine."""
    store: Outbox = (SQLiteOutbox(tmp_path / "o.db") if store_kind == "sqlite"
                     else request.getfixturevalue("pg_store"))
    running = Running(store, idle=1.0)
    try:
        await running.idle()
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(3.0)  # the measured window, not synchronisation
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    finally:
        await running.finish()
    assert cpu / wall < 0.20, f"an idle worker used {cpu / wall:.1%} of a core"
    assert running.worker.stats.idle_polls <= 2 + 2 * wall  # about one poll per second
