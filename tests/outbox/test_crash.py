"""Acceptance: a worker killed with SIGKILL again and again loses nothing, re-sends little."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ticketnotify.loopback.smtp import LoopbackSMTPServer
from ticketnotify.outbox.base import ChannelCount, JobStatus
from ticketnotify.outbox.sqlite import SQLiteOutbox

from .sink import CountingHandler, email_jobs, finish_expired_leases, now_utc, worker_command

JOBS = 5000
BATCH = 50
KILLS = 4
LEASE = "30"  # seconds: generous, so a busy machine never lets a live worker's lease run out

pytestmark = pytest.mark.slow


async def test_sigkilled_worker_delivers_every_job_at_least_once(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    store = SQLiteOutbox(path)
    assert store.add(email_jobs(JOBS), now_utc()) == JOBS
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    kill_after = sorted(rng.sample(range(50, JOBS - 500), KILLS))
    handler = CountingHandler()
    async with LoopbackSMTPServer(handler=handler) as sink:
        command = worker_command(f"sqlite:///{path}", sink.port, "--batch", str(BATCH),
                                 "--concurrency", "25", "--lease", LEASE)
        for threshold in kill_after:
            worker = await asyncio.create_subprocess_exec(*command)
            await handler.wait_until(total=threshold)
            worker.send_signal(signal.SIGKILL)
            assert await worker.wait() == -signal.SIGKILL

        # The last run delivers the rest (and killed runs' leases it sees expire), then
        # stops cleanly. What a killed run sent but never recorded may still be leased:
        # at most a batch per kill, all of it already at the sink, none of it lost.
        worker = await asyncio.create_subprocess_exec(*command)
        await handler.wait_until(distinct=JOBS)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 300) == 0
        leftovers = [j for j in map(store.get, handler.seen) if j and j.status != "delivered"]
        assert len(leftovers) <= KILLS * BATCH, seed
        assert all(j.lease_until is not None for j in leftovers), seed
        assert await finish_expired_leases(store, sink.port, float(LEASE)) == len(leftovers), seed

    assert set(handler.seen) == {job.idempotency_key for job in email_jobs(JOBS)}, seed
    duplicates = handler.total - JOBS
    assert duplicates <= KILLS * BATCH, f"seed {seed}: {duplicates} re-sends for {KILLS} kills"
    assert max(handler.seen.values()) <= 1 + KILLS, seed
    assert store.counts() == [ChannelCount("email", JobStatus.DELIVERED, JOBS)], seed
    assert store.oldest_pending() is None


async def test_sigterm_mid_drain_records_every_send_and_leaves_nothing_leased(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite3"
    store = SQLiteOutbox(path)
    store.add(email_jobs(2000), now_utc())
    handler = CountingHandler()
    async with LoopbackSMTPServer(handler=handler) as sink:
        worker = await asyncio.create_subprocess_exec(
            *worker_command(f"sqlite:///{path}", sink.port, "--batch", str(BATCH)))
        await handler.wait_until(total=300)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 300) == 0

    assert handler.total == len(handler.seen), "a graceful stop re-sends nothing"
    delivered = {c.status: c.count for c in store.counts()}
    assert delivered[JobStatus.DELIVERED] == len(handler.seen)
    assert delivered[JobStatus.DELIVERED] < 2000, "stopped before the end"
    conn = sqlite3.connect(path)
    leased = conn.execute(
        "SELECT count(*) FROM ticketnotify_outbox WHERE lease_until IS NOT NULL").fetchone()
    conn.close()
    assert leased == (0,)


class HangingHandler(CountingHandler):
    """A peer that takes the message and never answers, until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.waiting = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        async with self._changed:
            self.waiting += 1
            self._changed.notify_all()
        await self.release.wait()
        return "451 4.3.0 let go"

    async def wait_hanging(self, count: int, timeout: float = 600) -> None:
        """Wake once ``count`` messages are stuck waiting for an answer."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.waiting >= count)


async def test_a_second_sigterm_stops_at_once_and_the_leases_stay(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    store = SQLiteOutbox(path)
    store.add(email_jobs(20), now_utc())
    handler = HangingHandler()
    async with LoopbackSMTPServer(handler=handler) as sink:
        worker = await asyncio.create_subprocess_exec(
            *worker_command(f"sqlite:///{path}", sink.port, "--grace", "600"),
            stderr=asyncio.subprocess.PIPE)
        await handler.wait_hanging(1)
        worker.send_signal(signal.SIGTERM)
        assert worker.stderr is not None
        warning = await asyncio.wait_for(worker.stderr.readline(), 300)
        while b"send it again" not in warning:
            warning = await asyncio.wait_for(worker.stderr.readline(), 300)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 300) == -signal.SIGTERM
        handler.release.set()

    jobs = [store.get(job.idempotency_key) for job in email_jobs(20)]
    assert all(j is not None and j.status is JobStatus.PENDING and j.attempts == 0 for j in jobs)
    assert any(j is not None and j.lease_until is not None for j in jobs), (
        "in-flight jobs keep their lease and are claimed again after it")
