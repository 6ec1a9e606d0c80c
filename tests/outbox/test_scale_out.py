"""Acceptance: several worker processes share one PostgreSQL outbox and never double-send."""

from __future__ import annotations

import asyncio
import re
import signal

import pytest

from ticketnotify.loopback.smtp import LoopbackSMTPServer
from ticketnotify.outbox.base import ChannelCount, JobStatus
from ticketnotify.outbox.postgres import PostgresOutbox

from .sink import CountingHandler, email_jobs, finish_expired_leases, now_utc, worker_command

JOBS = 10_000
WORKERS = 3
LEASE = "30"  # seconds: generous, so a busy machine never lets a live worker's lease run out

pytestmark = pytest.mark.slow


async def test_three_worker_processes_deliver_each_job_exactly_once(
    pg_outbox: PostgresOutbox, pg_conninfo: str
) -> None:
    assert pg_outbox.add(email_jobs(JOBS), now_utc()) == JOBS
    handler = CountingHandler()
    async with LoopbackSMTPServer(handler=handler) as sink:
        command = worker_command(pg_conninfo, sink.port, "--batch", "50", "--concurrency", "25")
        workers = [
            await asyncio.create_subprocess_exec(*command, stderr=asyncio.subprocess.PIPE)
            for _ in range(WORKERS)
        ]
        await handler.wait_until(distinct=JOBS)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [await asyncio.wait_for(w.communicate(), 300) for w in workers]
        assert [w.returncode for w in workers] == [0] * WORKERS

    assert handler.total == JOBS, f"{handler.total - JOBS} messages were sent twice"
    assert set(handler.seen) == {job.idempotency_key for job in email_jobs(JOBS)}
    finals = [re.findall(rb"delivered=(\d+) .*store_errors=(\d+)", err)[-1] for _, err in outputs]
    per_worker = [int(delivered) for delivered, _ in finals]
    assert sum(per_worker) == JOBS, f"delivered, store errors per worker: {finals}"
    assert all(n > 0 for n in per_worker), f"a worker delivered nothing: {per_worker}"
    assert pg_outbox.counts() == [ChannelCount("email", JobStatus.DELIVERED, JOBS)]


async def test_a_surviving_worker_delivers_what_a_killed_one_had_claimed(
    pg_outbox: PostgresOutbox, pg_conninfo: str
) -> None:
    jobs, batch = 1500, 50
    assert pg_outbox.add(email_jobs(jobs), now_utc()) == jobs
    handler = CountingHandler()
    async with LoopbackSMTPServer(handler=handler) as sink:
        command = worker_command(pg_conninfo, sink.port, "--batch", str(batch), "--lease", LEASE)
        doomed, survivor = [await asyncio.create_subprocess_exec(*command) for _ in range(2)]
        await handler.wait_until(total=300)
        doomed.send_signal(signal.SIGKILL)
        assert await doomed.wait() == -signal.SIGKILL
        await handler.wait_until(distinct=jobs)
        survivor.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(survivor.wait(), 300) == 0
        # What the killed worker sent but never recorded waits for its lease to expire.
        leftovers = [j for j in map(pg_outbox.get, handler.seen) if j and j.status != "delivered"]
        assert len(leftovers) <= batch
        assert all(j.lease_until is not None for j in leftovers)
        assert await finish_expired_leases(pg_outbox, sink.port, float(LEASE)) == len(leftovers)

    assert handler.total - jobs <= batch, "at most the killed worker's batch is sent twice"
    assert pg_outbox.counts() == [ChannelCount("email", JobStatus.DELIVERED, jobs)]
