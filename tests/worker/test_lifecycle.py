"""Worker life on every store: stopping gracefully, crashed workers' leases, hung sends."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import ClassVar

import pytest

from ticketnotify.channels.base import Channel
from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.errors import ConfigurationError, PermanentDeliveryError
from ticketnotify.messages import EmailMessage, Message, Receipt
from ticketnotify.outbox.base import JobStatus, NewJob, Outbox
from ticketnotify.outbox.memory import MemoryOutbox
from ticketnotify.outbox.postgres import PostgresOutbox
from ticketnotify.worker import Worker

from ..conftest import FakeClock
from ..outbox.sink import email_jobs
from ..stores import kill_connections


class GateChannel(Channel[EmailMessage]):
    """Sends block until the test opens the gate; counts sends started and cancelled."""

    name: ClassVar[str] = "gate"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started = 0
        self.cancelled = 0
        self.sent: list[str] = []
        self._changed = asyncio.Condition()

    async def deliver(self, message: EmailMessage) -> Receipt:
        async with self._changed:
            self.started += 1
            self._changed.notify_all()
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.sent.append(message.delivery_id)
        return Receipt(channel=self.name, delivery_id=message.delivery_id)

    async def wait_started(self, count: int) -> None:
        async with asyncio.timeout(60), self._changed:
            await self._changed.wait_for(lambda: self.started >= count)


def statuses(outbox: Outbox, jobs: list[NewJob]) -> list[tuple[JobStatus, int, bool]]:
    """(status, attempts, leased?) per job, in publishing order."""
    found = [outbox.get(j.idempotency_key) for j in jobs]
    return [(j.status, j.attempts, j.lease_until is not None) for j in found if j is not None]


async def test_stopping_finishes_started_sends_and_releases_the_rest(
    outbox: Outbox, clock: FakeClock
) -> None:
    jobs = email_jobs(10)
    outbox.add(jobs, clock())
    gate = GateChannel()
    worker = Worker(outbox, {"email": gate}, batch_size=10, concurrency=2, clock=clock)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, idle_interval=0.05))
    await gate.wait_started(2)
    stop.set()
    await asyncio.wait_for(worker.stopping.wait(), 60)
    gate.gate.set()
    stats = await asyncio.wait_for(running, 60)

    assert (stats.delivered, stats.released, gate.started) == (2, 8, 2)
    assert sorted(statuses(outbox, jobs)) == sorted(
        [(JobStatus.DELIVERED, 1, False)] * 2 + [(JobStatus.PENDING, 0, False)] * 8)
    # Released jobs are immediately claimable by any other worker, unattempted.
    assert len(outbox.claim(clock(), 100, 60, "next-worker")) == 8


async def test_sends_outlasting_the_grace_period_are_cancelled_and_released(
    outbox: Outbox, clock: FakeClock
) -> None:
    jobs = email_jobs(4)
    outbox.add(jobs, clock())
    gate = GateChannel()  # never opens: a peer that hangs
    worker = Worker(outbox, {"email": gate}, concurrency=4, clock=clock, shutdown_grace=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await gate.wait_started(4)
    stop.set()
    stats = await asyncio.wait_for(running, 60)
    assert (stats.delivered, stats.released, gate.cancelled) == (0, 4, 4)
    assert statuses(outbox, jobs) == [(JobStatus.PENDING, 0, False)] * 4


async def test_a_crashed_workers_jobs_are_delivered_once_its_lease_expires(
    outbox: Outbox, clock: FakeClock
) -> None:
    jobs = email_jobs(3)
    outbox.add(jobs, clock())
    assert len(outbox.claim(clock(), 10, 30, "worker-that-crashed")) == 3
    channel = MemoryChannel()
    worker = Worker(outbox, {"email": channel}, clock=clock, lease_seconds=30)
    await worker.drain()
    assert channel.sent == []
    clock.advance(30)
    await worker.drain()
    assert sorted(m.delivery_id for m in channel.sent) == [j.idempotency_key for j in jobs]
    assert statuses(outbox, jobs) == [(JobStatus.DELIVERED, 1, False)] * 3


async def test_a_hung_send_times_out_and_is_retried_later(
    outbox: Outbox, clock: FakeClock
) -> None:
    jobs = email_jobs(1)
    outbox.add(jobs, clock())
    worker = Worker(outbox, {"email": GateChannel()}, clock=clock, send_timeout=0.05)
    stats = await worker.drain()
    stored = outbox.get(jobs[0].idempotency_key)
    assert stats.retried == 1
    assert stored is not None and stored.status is JobStatus.PENDING and stored.attempts == 1
    assert "longer than" in (stored.last_error or "")
    assert stored.next_attempt_at > clock()


async def test_an_unreadable_stored_message_is_dead_lettered(
    outbox: Outbox, clock: FakeClock
) -> None:
    outbox.add([NewJob("fax-1", "email", {"kind": "fax", "to": "+46 8 123"})], clock())
    stats = await Worker(outbox, {"email": MemoryChannel()}, clock=clock).drain()
    stored = outbox.get("fax-1")
    assert stats.dead == 1
    assert stored is not None and stored.status is JobStatus.DEAD
    assert "unreadable message" in (stored.last_error or "")


@pytest.mark.slow
async def test_the_run_loop_survives_losing_its_database_connection(
    pg_outbox: PostgresOutbox, pg_conninfo: str
) -> None:
    channel = MemoryChannel()
    worker = Worker(pg_outbox, {"email": channel})
    stop = asyncio.Event()
    assert await worker.run_once() == 0  # the worker's connection is open and idle now
    assert kill_connections(pg_conninfo) >= 1
    running = asyncio.create_task(worker.run(stop, idle_interval=0.05))
    publisher = PostgresOutbox(pg_conninfo)
    publisher.add(email_jobs(3), FakeClock()())
    publisher.close()
    await channel.wait_for(3, timeout=60)
    stop.set()
    stats = await asyncio.wait_for(running, 60)
    assert stats.store_errors >= 1
    assert stats.delivered == 3


class DatabaseKillingChannel(MemoryChannel):
    """Delivers, then cuts the store's database connections, as a failover would."""

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        self.conninfo = conninfo
        self.killing = True

    async def send(self, message: Message) -> Receipt:
        receipt = await super().send(message)
        if self.killing:
            kill_connections(self.conninfo)
        return receipt


@pytest.mark.slow
async def test_an_outcome_the_database_lost_is_recorded_once_it_is_back_not_sent_again(
    pg_outbox: PostgresOutbox, pg_conninfo: str, clock: FakeClock
) -> None:
    """Issue 11.11: a failed recording used to leave the job leased, to be sent again."""
    jobs = email_jobs(1)
    pg_outbox.add(jobs, clock())
    channel = DatabaseKillingChannel(pg_conninfo)
    worker = Worker(pg_outbox, {"email": channel}, clock=clock, lease_seconds=60)
    try:
        assert await worker.run_once() == 1
        assert worker.stats.store_errors == 1 and worker.stats.delivered == 0
        channel.killing = False
        assert await worker.run_once() == 0  # records what the lost connection dropped
    finally:
        await worker.aclose()
    assert worker.stats.delivered == 1
    stored = pg_outbox.get(jobs[0].idempotency_key)
    assert stored is not None and stored.status is JobStatus.DELIVERED
    assert stored.lease_until is None
    assert [m.delivery_id for m in channel.sent] == [jobs[0].idempotency_key]


class SlowPeer(MemoryChannel):
    """A peer that takes ``seconds`` per message (of the worker's clock): slow, not too slow."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        super().__init__()
        self.clock = clock
        self.seconds = seconds

    async def send(self, message: Message) -> Receipt:
        self.clock.advance(self.seconds)
        return await super().send(message)


async def test_no_send_starts_once_the_lease_is_nearly_spent(clock: FakeClock) -> None:
    outbox = MemoryOutbox()
    jobs = email_jobs(3)
    outbox.add(jobs, clock())
    # lease 4 s, sends may take 3 s: sends must start within 0.9 s of the claim.
    worker = Worker(outbox, {"email": SlowPeer(clock, 1.5)}, clock=clock, concurrency=1,
                    lease_seconds=4, send_timeout=3)
    assert await worker.run_once() == 3
    assert (worker.stats.delivered, worker.stats.released) == (1, 2)
    assert statuses(outbox, jobs) == [
        (JobStatus.DELIVERED, 1, False), (JobStatus.PENDING, 0, False),
        (JobStatus.PENDING, 0, False)]


class LateRejection(GateChannel):
    """Answers only when the gate opens, and then with a permanent failure."""

    async def send(self, message: Message) -> Receipt:
        await super().send(message)
        raise PermanentDeliveryError("550 rejected, long after the lease ran out")


async def test_a_late_outcome_after_the_lease_was_lost_changes_nothing(
    outbox: Outbox, clock: FakeClock
) -> None:
    """Review finding 2 end to end: B's delivery stands; A's late dead-letter is refused."""
    jobs = email_jobs(2)
    outbox.add(jobs, clock())
    late = LateRejection()
    a = Worker(outbox, {"email": late}, clock=clock, worker_id="A", concurrency=1,
               lease_seconds=120)
    b_channel = MemoryChannel()
    b = Worker(outbox, {"email": b_channel}, clock=lambda: clock() + timedelta(seconds=121),
               worker_id="B")
    try:
        a_batch = asyncio.ensure_future(a.run_once())
        await late.wait_started(1)
        await b.drain()  # A's lease has run out by B's clock: B claims both and delivers
        assert b.stats.delivered == 2
        late.gate.set()
        assert await a_batch == 2
        assert (a.stats.dead, a.stats.lost_leases, a.stats.delivered) == (0, 2, 0)
        assert statuses(outbox, jobs) == [(JobStatus.DELIVERED, 1, False)] * 2
        assert outbox.retry_dead(clock()) == 0
    finally:
        await a.aclose()
        await b.aclose()


def test_record_every_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="record_every"):
        Worker(MemoryOutbox(), {}, record_every=0)
