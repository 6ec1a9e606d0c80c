"""The worker turns each delivery error class into its outcome: delivered, retried, dead, told."""

from __future__ import annotations

from typing import ClassVar

import pytest

from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.errors import (
    ConfigurationError,
    DeliveryError,
    DeliveryTimeoutError,
    InvalidAddressError,
    PermanentDeliveryError,
    TicketNotifyError,
    TransientDeliveryError,
)
from ticketnotify.events import Device, Platform
from ticketnotify.messages import EmailMessage, Message, PushMessage
from ticketnotify.outbox import JobStatus, MemoryOutbox, NewJob
from ticketnotify.outbox.base import Job
from ticketnotify.worker import DeadLetter, RetryLater, RetryPolicy, Worker

from ..conftest import FakeClock


def email_job(key: str, address: str = "sam@example.com") -> NewJob:
    msg = EmailMessage(delivery_id=key, ticket_id="1", ticket_subject="s", locale="en",
                       to_address=address, subject="Your ticket 1 has been updated",
                       html="<p>hi</p>", text="hi")
    return NewJob(key, "email", msg.to_dict())


def push_job(key: str, token: str) -> NewJob:
    msg = PushMessage(delivery_id=key, ticket_id="1", locale="en", platform="ios", token=token,
                      user_id="u-1", title="t", body="b", deep_link="app://t/1",
                      thread_id="ticket-1", collapse_id="ticket-1")
    return NewJob(key, "apns", msg.to_dict())


def test_error_classes_resemble_builtins() -> None:
    assert issubclass(DeliveryTimeoutError, TransientDeliveryError)
    assert issubclass(DeliveryTimeoutError, TimeoutError)
    assert issubclass(InvalidAddressError, PermanentDeliveryError)
    for cls in (TransientDeliveryError, PermanentDeliveryError, InvalidAddressError):
        assert issubclass(cls, DeliveryError) and issubclass(cls, TicketNotifyError)
    assert TransientDeliveryError("x", retry_after=3).retry_after == 3


async def test_outcomes_by_error_class(clock: FakeClock) -> None:
    outbox, channel = MemoryOutbox(), MemoryChannel()
    outbox.add([email_job("ok"), email_job("later", "busy@example.com"),
                email_job("never", "gone@example.com"), push_job("dead-token", "t0")], clock())
    channel.fail_with = {
        "busy@example.com": TransientDeliveryError("451 try later"),
        "gone@example.com": PermanentDeliveryError("554 rejected"),
        "t0": InvalidAddressError("410 Unregistered"),
    }
    told: list[tuple[str, Device]] = []
    worker = Worker(outbox, {"email": channel, "apns": channel}, clock=clock,
                    on_invalid_device=lambda user, device: told.append((user, device)))
    await worker.drain()

    assert [m.delivery_id for m in channel.sent] == ["ok"]
    assert outbox.get("ok").status is JobStatus.DELIVERED  # type: ignore[union-attr]
    later = outbox.get("later")
    assert later and later.status is JobStatus.PENDING and later.attempts == 1
    assert later.next_attempt_at > clock() and "451" in (later.last_error or "")
    never = outbox.get("never")
    assert never and never.status is JobStatus.DEAD and "554" in (never.last_error or "")
    assert told == [("u-1", Device(Platform.IOS, "t0"))]

    # The transient one is delivered once its time comes and the peer recovers.
    del channel.fail_with["busy@example.com"]
    clock.advance(3600)
    await worker.drain()
    assert outbox.get("later").status is JobStatus.DELIVERED  # type: ignore[union-attr]
    assert told == [("u-1", Device(Platform.IOS, "t0"))], "callback fires once per dead device"


async def test_transient_gives_up_after_max_attempts(clock: FakeClock) -> None:
    outbox, channel = MemoryOutbox(), MemoryChannel()
    outbox.add([email_job("k", "busy@example.com")], clock())
    channel.fail_with["busy@example.com"] = TransientDeliveryError("421 busy")
    worker = Worker(outbox, {"email": channel}, clock=clock, retry=RetryPolicy(max_attempts=3))
    for _ in range(3):
        await worker.drain()
        clock.advance(10_000)
    job = outbox.get("k")
    assert job and job.status is JobStatus.DEAD and job.attempts == 3
    assert "gave up after 3 attempts" in (job.last_error or "")


async def test_retry_after_is_honoured(clock: FakeClock) -> None:
    outbox, channel = MemoryOutbox(), MemoryChannel()
    outbox.add([email_job("k", "busy@example.com")], clock())
    channel.fail_with["busy@example.com"] = TransientDeliveryError("429", retry_after=900)
    await Worker(outbox, {"email": channel}, clock=clock,
                 retry=RetryPolicy(base_delay=1)).drain()
    job = outbox.get("k")
    assert job and (job.next_attempt_at - clock()).total_seconds() >= 900


async def test_unknown_channel_dead_letters_with_reason(clock: FakeClock) -> None:
    outbox = MemoryOutbox()
    outbox.add([email_job("k")], clock())
    await Worker(outbox, {}, clock=clock).drain()
    job = outbox.get("k")
    assert job and job.status is JobStatus.DEAD and "no channel configured" in (job.last_error or "")


class PushOnly(MemoryChannel):
    """An adapter that carries push messages only."""

    name: ClassVar[str] = "push-only"
    carries: ClassVar[tuple[type[Message], ...]] = (PushMessage,)


async def test_a_job_of_the_wrong_kind_is_dead_lettered_unsent(clock: FakeClock) -> None:
    outbox, channel = MemoryOutbox(), PushOnly()
    outbox.add([push_job("push", "t1")], clock())
    outbox.add([NewJob("mail-on-apns", "apns", email_job("x").message)], clock())
    stats = await Worker(outbox, {"apns": channel}, clock=clock).drain()
    job = outbox.get("mail-on-apns")
    assert job and job.status is JobStatus.DEAD and job.attempts == 1
    assert f"channel 'apns' carries push messages; job {job.id} holds an email" in (
        job.last_error or "")
    assert [m.delivery_id for m in channel.sent] == ["push"]
    assert (stats.dead, stats.delivered) == (1, 1)


class CountingHost:
    """A host strategy: no second tries, and a note of every decision asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def get_retry_decision(self, exception: BaseException, job: Job) -> DeadLetter:
        self.asked.append((type(exception).__name__, job.attempts))
        return DeadLetter(f"host says no: {exception}")


async def test_the_host_may_replace_the_retry_decision(clock: FakeClock) -> None:
    outbox, channel = MemoryOutbox(), MemoryChannel()
    outbox.add([email_job("k", "busy@example.com")], clock())
    channel.fail_with["busy@example.com"] = TransientDeliveryError("421 busy")
    host = CountingHost()
    await Worker(outbox, {"email": channel}, clock=clock, retry=host).drain()
    job = outbox.get("k")
    assert job and job.status is JobStatus.DEAD and job.last_error == "host says no: 421 busy"
    assert host.asked == [("TransientDeliveryError", 0)]


def test_a_retry_without_the_decision_method_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="get_retry_decision"):
        Worker(MemoryOutbox(), {}, retry=5)  # type: ignore[arg-type]


class Broken:
    """A host strategy with bugs: it raises, or answers nonsense."""

    def __init__(self) -> None:
        self.answers: list[object] = [ValueError("oops"), None, RetryLater(float("inf"), "x"),
                                      RetryLater(-5, "x")]

    def get_retry_decision(self, exception: BaseException, job: Job) -> RetryLater:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]


async def test_a_broken_host_strategy_falls_back_to_the_default_policy(clock: FakeClock) -> None:
    outbox, channel = MemoryOutbox(), MemoryChannel()
    keys = [f"k{n}" for n in range(4)]
    outbox.add([email_job(k, "busy@example.com") for k in keys], clock())
    channel.fail_with["busy@example.com"] = TransientDeliveryError("421 busy")
    stats = await Worker(outbox, {"email": channel}, clock=clock, retry=Broken(),
                         concurrency=1).drain()
    assert stats.retried == 4
    for key in keys:
        job = outbox.get(key)
        assert job and job.status is JobStatus.PENDING and job.attempts == 1
        assert 2.5 <= (job.next_attempt_at - clock()).total_seconds() <= 5
