"""Publish → worker → loopback APNs/FCM: dead tokens reach the host once, 429s wait Retry-After."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from ticketnotify.events import AccountUser, Device, Ticket, TicketUpdate, UpdateKind
from ticketnotify.loopback.stack import LoopbackStack
from ticketnotify.notifier import Notifier
from ticketnotify.outbox.base import JobStatus
from ticketnotify.outbox.memory import MemoryOutbox
from ticketnotify.routing import idempotency_key
from ticketnotify.worker import RetryPolicy, Worker

from .conftest import T0, FakeClock

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
        notifier = Notifier(outbox, clock=clock)
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
