"""Issue 11.12: the SMTP server is down for 20 s, then back: every job delivered, none dead.

A real aiosmtpd server on loopback is stopped and started again on the same port; the
retry schedule runs on a FakeClock, so the 20 s outage costs no wall time.
"""

from __future__ import annotations

import pytest

from ticketnotify.channels.smtp import SMTPChannel, SMTPConfig
from ticketnotify.loopback.smtp import LoopbackSMTPServer
from ticketnotify.outbox.base import ChannelCount, JobStatus
from ticketnotify.outbox.memory import MemoryOutbox
from ticketnotify.worker import Worker

from ..conftest import FakeClock
from ..outbox.sink import CountingHandler, email_jobs

JOBS = 20
OUTAGE = 20.0  # seconds of the worker's clock


@pytest.mark.slow
async def test_smtp_down_for_20_seconds_then_back_delivers_everything(
        clock: FakeClock) -> None:
    handler = CountingHandler()
    server = await LoopbackSMTPServer(handler=handler).start()
    channel = SMTPChannel(SMTPConfig(host="127.0.0.1", port=server.port, security="none",
                                     sender="notify@example.com", timeout=10))
    outbox = MemoryOutbox()
    worker = Worker(outbox, {"email": channel}, clock=clock, batch_size=5)
    try:
        outbox.add(email_jobs(JOBS, prefix="before"), clock())
        await worker.drain()  # opens pooled connections the outage will cut
        assert handler.total == JOBS

        await server.stop()
        outbox.add(email_jobs(JOBS), clock())
        failed_attempts = 0
        for _ in range(int(OUTAGE)):  # one second of the worker's clock per step
            stats_before = worker.stats.retried
            await worker.drain()
            failed_attempts += worker.stats.retried - stats_before
            clock.advance(1)
        assert failed_attempts >= 2 * JOBS, "each job failed more than once while down"
        assert worker.stats.dead == 0

        await server.start()  # the same port: the server is back
        for _ in range(3600):  # bounded: the backoff is at most ~40 s by now
            if outbox.oldest_pending() is None:
                break
            await worker.drain()
            clock.advance(1)
    finally:
        await worker.aclose()
        await server.stop()

    assert outbox.counts() == [ChannelCount("email", JobStatus.DELIVERED, 2 * JOBS)]
    assert worker.stats.dead == 0
    assert len(handler.seen) == 2 * JOBS and handler.total == 2 * JOBS
