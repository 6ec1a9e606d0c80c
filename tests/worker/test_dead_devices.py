"""Publish → worker → loopback APNs/FCM: dead tokens reach the host once, 429s wait Retry-After."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import timedelta

from ticketnotify.events import AccountUser, Device, Ticket, TicketUpdate, UpdateKind
from ticketnotify.loopback.stack import LoopbackStack
from ticketnotify.notifier import Links, Notifier
from ticketnotify.outbox.base import JobStatus
from ticketnotify.outbox.memory import MemoryOutbox
from ticketnotify.routing import idempotency_key
from ticketnotify.worker import RetryPolicy, Worker

from ..conftest import T0, FakeClock

LINKS = Links(web_ticket_url="https://help.example.se/tickets/{ticket_id}",
              app_ticket_url="examplehelp://tickets/{ticket_id}")
GOOD_IOS, DEAD_IOS, SLOW_IOS = "0a" * 32, "de" * 32, "5a" * 32
GOOD_ANDROID, DEAD_ANDROID, SLOW_ANDROID = "fcm-good-1", "fcm-dead-1", "fcm-slow-1"


def update(user: AccountUser, event_id: str) -> TicketUpdate:
    return TicketUpdate(event_id=event_id, ticket=Ticket("4711", "Insättning syns inte"),
                        kind=UpdateKind.AGENT_REPLY, recipient=user, occurred_at=T0)


async def test_dead_devices_reported_once_and_throttled_pushes_wait_for_retry_after(
        clock: FakeClock) -> None:
    anna = AccountUser(user_id="u-anna", email="anna@example.se", locale="sv_SE", devices=(
        Device("ios", GOOD_IOS), Device("ios", DEAD_IOS),
        Device("android", GOOD_ANDROID), Device("android", DEAD_ANDROID)))
    bo = AccountUser(user_id="u-bo", email="bo@example.se", locale="sv_SE", devices=(
        Device("ios", SLOW_IOS), Device("android", SLOW_ANDROID)))
    reported: list[tuple[str, Device]] = []

    async with LoopbackStack() as stack:
        assert stack.apns is not None and stack.fcm is not None
        stack.apns.unregistered(DEAD_IOS)
        stack.fcm.unregistered(DEAD_ANDROID)
        stack.apns.throttle(SLOW_IOS, times=1, retry_after=90)
        stack.fcm.throttle(SLOW_ANDROID, times=1, retry_after=120)

        outbox = MemoryOutbox()
        notifier = Notifier(outbox, links=LINKS, guest_links=None, clock=clock)
        notifier.publish(update(anna, "evt-1"))
        notifier.publish(update(bo, "evt-2"))
        worker = Worker(outbox, stack.channels(), clock=clock,
                        on_invalid_device=lambda user, device: reported.append((user, device)),
                        retry=RetryPolicy(base_delay=5.0))
        try:
            await worker.drain()
            assert Counter(reported) == Counter([("u-anna", Device("ios", DEAD_IOS)),
                                                 ("u-anna", Device("android", DEAD_ANDROID))])

            slow_ios = outbox.get(idempotency_key("evt-2", "user:u-bo", "apns", SLOW_IOS))
            slow_android = outbox.get(idempotency_key("evt-2", "user:u-bo", "fcm", SLOW_ANDROID))
            assert slow_ios is not None and slow_android is not None
            assert slow_ios.status is JobStatus.PENDING
            assert slow_ios.next_attempt_at == T0 + timedelta(seconds=90)
            assert slow_android.next_attempt_at == T0 + timedelta(seconds=120)

            clock.advance(89)
            assert await worker.run_once() == 0  # backoff alone (≤ 5 s) would have retried
            clock.advance(1)
            assert await worker.run_once() == 1
            clock.advance(30)
            assert await worker.run_once() == 1
            for key in (slow_ios.idempotency_key, slow_android.idempotency_key):
                job = outbox.get(key)
                assert job is not None and job.status is JobStatus.DELIVERED
            assert len(stack.apns.received_for(SLOW_IOS)) == 2
            assert len(stack.fcm.sent_to(SLOW_ANDROID)) == 2

            clock.advance(7 * 24 * 3600)  # dead jobs are never retried, so never re-reported
            await worker.drain()
            assert len(reported) == 2
            assert len(stack.apns.received_for(DEAD_IOS)) == 1
            assert len(stack.fcm.sent_to(DEAD_ANDROID)) == 1
            assert len(stack.apns.received_for(GOOD_IOS)) == 1
            assert len(stack.fcm.sent_to(GOOD_ANDROID)) == 1
        finally:
            await worker.aclose()


async def test_a_dead_token_is_sent_to_and_reported_once_however_many_jobs_it_has(
        clock: FakeClock) -> None:
    """Review finding 7: three updates to one dead iOS token → one send, one callback."""
    cecilia = AccountUser(user_id="u-cecilia", email="cecilia@example.se", locale="sv_SE",
                          devices=(Device("ios", DEAD_IOS),))
    reported: list[tuple[str, Device]] = []

    async with LoopbackStack() as stack:
        assert stack.apns is not None
        stack.apns.unregistered(DEAD_IOS)
        outbox = MemoryOutbox()
        notifier = Notifier(outbox, links=LINKS, guest_links=None, clock=clock)
        for n in (1, 2, 3):  # claimed in one batch: their sends would otherwise run at once
            notifier.publish(update(cecilia, f"evt-{n}"))
        worker = Worker(outbox, stack.channels(), clock=clock,
                        on_invalid_device=lambda user, device: reported.append((user, device)))
        try:
            await worker.drain()
            assert reported == [("u-cecilia", Device("ios", DEAD_IOS))]
            assert len(stack.apns.received_for(DEAD_IOS)) == 1
            jobs = [outbox.get(idempotency_key(f"evt-{n}", "user:u-cecilia", "apns", DEAD_IOS))
                    for n in (1, 2, 3)]
            assert [j.status for j in jobs if j is not None] == [JobStatus.DEAD] * 3
            reasons = sorted(j.last_error or "" for j in jobs if j is not None)
            assert reasons[0].startswith("invalid address:")
            assert all("already found this device token invalid" in r for r in reasons[1:])
            assert (worker.stats.invalid_devices, worker.stats.skipped_dead_devices) == (1, 2)

            notifier.publish(update(cecilia, "evt-4"))  # a later batch: remembered, not re-sent
            await worker.drain()
            late = outbox.get(idempotency_key("evt-4", "user:u-cecilia", "apns", DEAD_IOS))
            assert late is not None and late.status is JobStatus.DEAD
            assert len(stack.apns.received_for(DEAD_IOS)) == 1
            assert len(reported) == 1
        finally:
            await worker.aclose()


async def test_the_memory_of_dead_devices_is_bounded(clock: FakeClock) -> None:
    """With room for one device, the oldest is forgotten: sent (and reported) once more."""
    other_dead = "d0" * 32
    dora = AccountUser(user_id="u-dora", email="dora@example.se", locale="sv_SE",
                       devices=(Device("ios", DEAD_IOS),))
    emil = AccountUser(user_id="u-emil", email="emil@example.se", locale="sv_SE",
                       devices=(Device("ios", other_dead),))
    reported: list[str] = []

    async with LoopbackStack() as stack:
        assert stack.apns is not None
        stack.apns.unregistered(DEAD_IOS)
        stack.apns.unregistered(other_dead)
        outbox = MemoryOutbox()
        notifier = Notifier(outbox, links=LINKS, guest_links=None, clock=clock)
        worker = Worker(outbox, stack.channels(), clock=clock, dead_device_memory=1,
                        on_invalid_device=lambda user, device: reported.append(device.token))
        try:
            for event, user in (("evt-1", dora), ("evt-2", emil), ("evt-3", dora)):
                notifier.publish(update(user, event))
                await worker.drain()
            assert reported == [DEAD_IOS, other_dead, DEAD_IOS]
            assert len(stack.apns.received_for(DEAD_IOS)) == 2
        finally:
            await worker.aclose()


# Issue 11.7: the host's callback runs off the worker's loop unless it is a coroutine.


class SynchronousOnlyOperation(Exception):
    """What Django's ORM raises when sync code is called with an event loop running."""


class DjangoLikeHost:
    """Forgets devices the way a Django ORM call would: refusing to run on an event loop."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.forgotten: list[tuple[str, Device]] = []
        self.threads: set[str] = set()

    def forget(self, user_id: str, device: Device) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # no loop in this thread: the ORM may run
        else:
            raise SynchronousOnlyOperation(
                "You cannot call this from an async context - use a thread or sync_to_async.")
        self.threads.add(threading.current_thread().name)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database is restarting")
        self.forgotten.append((user_id, device))


async def deliver_to_dead_token(worker: Worker, notifier: Notifier, event_id: str) -> None:
    cecilia = AccountUser(user_id="u-cecilia", email="cecilia@example.se", locale="sv_SE",
                          devices=(Device("ios", DEAD_IOS),))
    notifier.publish(update(cecilia, event_id))
    await worker.drain()


async def test_a_plain_callback_runs_in_a_thread_where_an_orm_works(clock: FakeClock) -> None:
    host = DjangoLikeHost()
    async with LoopbackStack() as stack:
        assert stack.apns is not None
        stack.apns.unregistered(DEAD_IOS)
        outbox = MemoryOutbox()
        worker = Worker(outbox, stack.channels(), clock=clock, on_invalid_device=host.forget)
        try:
            notifier = Notifier(outbox, links=LINKS, guest_links=None, clock=clock)
            await deliver_to_dead_token(worker, notifier, "evt-1")
        finally:
            await worker.aclose()
    assert host.forgotten == [("u-cecilia", Device("ios", DEAD_IOS))]
    assert threading.main_thread().name not in host.threads
    assert worker.stats.callback_errors == 0


async def test_an_async_callback_is_awaited(clock: FakeClock) -> None:
    forgotten: list[tuple[str, Device]] = []

    async def forget(user_id: str, device: Device) -> None:
        await asyncio.sleep(0)  # a real await: the coroutine must be driven to the end
        forgotten.append((user_id, device))

    async with LoopbackStack() as stack:
        assert stack.apns is not None
        stack.apns.unregistered(DEAD_IOS)
        outbox = MemoryOutbox()
        worker = Worker(outbox, stack.channels(), clock=clock, on_invalid_device=forget)
        try:
            notifier = Notifier(outbox, links=LINKS, guest_links=None, clock=clock)
            await deliver_to_dead_token(worker, notifier, "evt-1")
        finally:
            await worker.aclose()
    assert forgotten == [("u-cecilia", Device("ios", DEAD_IOS))]


async def test_a_failing_callback_is_called_again_later_once_per_device(
        clock: FakeClock) -> None:
    host = DjangoLikeHost(failures=2)
    async with LoopbackStack() as stack:
        assert stack.apns is not None
        stack.apns.unregistered(DEAD_IOS)
        outbox = MemoryOutbox()
        notifier = Notifier(outbox, links=LINKS, guest_links=None, clock=clock)
        worker = Worker(outbox, stack.channels(), clock=clock, on_invalid_device=host.forget)
        try:
            await deliver_to_dead_token(worker, notifier, "evt-1")
            assert (host.forgotten, worker.stats.callback_errors) == ([], 1)
            assert worker.devices.pending_reports == 1
            await worker.drain()  # not due yet: the retry waits its backoff
            assert worker.stats.callback_errors == 1
            clock.advance(5)
            await worker.drain()
            assert worker.stats.callback_errors == 2
            await deliver_to_dead_token(worker, notifier, "evt-2")  # same device: no new report
            clock.advance(10)
            await worker.drain()
        finally:
            await worker.aclose()
    assert host.forgotten == [("u-cecilia", Device("ios", DEAD_IOS))]
    assert worker.devices.pending_reports == 0
    assert len(stack.apns.received_for(DEAD_IOS)) == 1
