"""Outcomes are recorded in groups, counted only once stored, and never dropped by a store error.

Issue 11.11: three workers' ``delivered=`` summed to 9,850 for 10,000 jobs the sink saw once
each. Cutting the workers' database connections mid-run gives exactly that: each worker's
group of 50 outcomes failed to record, was dropped, and its jobs stayed leased to be sent
again after the lease. Now such outcomes are recorded with the next group.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence

from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.errors import OutboxUnavailableError
from ticketnotify.outbox.base import JobStatus, Outcome
from ticketnotify.outbox.memory import MemoryOutbox
from ticketnotify.worker import Worker

from ..conftest import FakeClock
from ..outbox.sink import email_jobs


class RecordingOutbox(MemoryOutbox):
    """The reference store, noting how many outcomes each ``record`` call carried."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.recorded: list[int] = []
        self.failures = failures

    def record(self, outcomes: Sequence[Outcome], *, worker_id: str | None = None) -> list[bool]:
        if self.failures:
            self.failures -= 1
            raise OutboxUnavailableError("the database is restarting")
        self.recorded.append(len(outcomes))
        return super().record(outcomes, worker_id=worker_id)


def statuses(outbox: MemoryOutbox, count: int) -> list[tuple[JobStatus, int, bool]]:
    found = [outbox.get(j.idempotency_key) for j in email_jobs(count)]
    return [(j.status, j.attempts, j.lease_until is not None) for j in found if j is not None]


async def test_outcomes_are_recorded_in_groups_and_at_the_end_of_each_batch(
    clock: FakeClock,
) -> None:
    outbox = RecordingOutbox()
    outbox.add(email_jobs(120), clock())
    worker = Worker(outbox, {"email": MemoryChannel()}, clock=clock, batch_size=100,
                    record_every=50)
    try:
        stats = await worker.drain()
    finally:
        await worker.aclose()
    assert outbox.recorded == [50, 50, 20]  # two full groups, then what the last batch left
    assert (stats.delivered, stats.batches, stats.lost_leases) == (120, 2, 0)
    assert statuses(outbox, 120) == [(JobStatus.DELIVERED, 1, False)] * 120


async def test_a_group_the_store_failed_to_record_is_recorded_later_not_sent_again(
    clock: FakeClock,
) -> None:
    outbox = RecordingOutbox(failures=1)
    outbox.add(email_jobs(100), clock())
    channel = MemoryChannel()
    worker = Worker(outbox, {"email": channel}, clock=clock, batch_size=50, record_every=50)
    try:
        stats = await worker.drain()
    finally:
        await worker.aclose()
    assert outbox.recorded == [50, 50]  # the failed group again at the end of its batch
    assert (stats.delivered, stats.store_errors, stats.lost_leases) == (100, 1, 0)
    assert len(channel.sent) == 100
    assert statuses(outbox, 100) == [(JobStatus.DELIVERED, 1, False)] * 100


class LogWatch(logging.Handler):
    """Sets ``event`` when the worker logs a message containing ``text`` (on the loop thread)."""

    def __init__(self, text: str, event: asyncio.Event) -> None:
        super().__init__()
        self.text, self.event = text, event

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


class SlowRecording(MemoryOutbox):
    """``record`` waits (on the store thread) until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.finish = threading.Event()

    def record(self, outcomes: Sequence[Outcome], *, worker_id: str | None = None) -> list[bool]:
        self.entered.set()
        self.finish.wait(60)
        return super().record(outcomes, worker_id=worker_id)


async def test_totals_include_a_group_recorded_while_the_stop_cancelled_its_batch(
    clock: FakeClock,
) -> None:
    outbox = SlowRecording()
    outbox.add(email_jobs(10), clock())
    worker = Worker(outbox, {"email": MemoryChannel()}, clock=clock, record_every=10,
                    shutdown_grace=0)
    cancelled = asyncio.Event()
    watcher = LogWatch("still running after", cancelled)
    logging.getLogger("ticketnotify.worker").addHandler(watcher)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.to_thread(outbox.entered.wait, 60)
        stop.set()
        await asyncio.wait_for(cancelled.wait(), 60)  # the grace ran out while recording
        outbox.finish.set()
        stats = await asyncio.wait_for(running, 60)
    finally:
        outbox.finish.set()
        logging.getLogger("ticketnotify.worker").removeHandler(watcher)
        await worker.aclose()
    assert statuses(outbox, 10) == [(JobStatus.DELIVERED, 1, False)] * 10
    assert stats.delivered == 10
