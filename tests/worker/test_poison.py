"""Issue 11.1: a job whose message or channel raises anything never spins a worker.

Every attempt ends in an outcome, whatever it raised, so ``drain()`` returns and the bad
jobs are dead letters within ``max_attempts`` tries, their reason in ``outbox status``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

import pytest

from ticketnotify.channels.base import Channel
from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.messages import EmailMessage, Message, PushMessage, Receipt
from ticketnotify.outbox.base import JobStatus, NewJob, Outbox
from ticketnotify.outbox.cli import main as outbox_main
from ticketnotify.outbox.memory import MemoryOutbox
from ticketnotify.outbox.sqlite import SQLiteOutbox
from ticketnotify.worker import RetryPolicy, Worker

from ..conftest import FakeClock
from ..outbox.sink import email_jobs

MAX_ATTEMPTS = 4


class Faulty(MemoryChannel):
    """Delivers, except to addresses it was told to fail on with a non-delivery exception."""

    raises: ClassVar[dict[str, Exception]] = {
        "user1@example.com": RuntimeError("adapter bug"),
        "user2@example.com": KeyError("x-mailer"),
    }

    async def send(self, message: Message) -> Receipt:
        error = self.raises.get(getattr(message, "to_address", ""))
        if error is not None:
            raise error
        return await super().send(message)


def poison_jobs() -> list[NewJob]:
    good = email_jobs(6)  # user1 and user2 are made to fail by the channel
    return good + [
        NewJob("not-an-object", "email", ["x"]),  # type: ignore[arg-type]
        NewJob("no-kind", "email", {"to_address": "a@example.com"}),
        NewJob("missing-fields", "email", {"kind": "email", "subject": "hi"}),
        NewJob("bad-token", "apns", {**PUSH, "token": ["not", "hashable"]}),
    ]


PUSH = PushMessage(delivery_id="p", ticket_id="1", locale="en", platform="ios", token="t",
                   user_id="u-1", title="t", body="b", deep_link="app://t/1",
                   thread_id="ticket-1", collapse_id="ticket-1").to_dict()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Outbox:
    if request.param == "memory":
        return MemoryOutbox()
    return SQLiteOutbox(tmp_path / "outbox.sqlite3")


async def test_drain_returns_and_bad_jobs_end_dead_within_max_attempts(
    store: Outbox, clock: FakeClock
) -> None:
    jobs = poison_jobs()
    store.add(jobs, clock())
    channel = Faulty()
    worker = Worker(store, {"email": channel, "apns": channel}, clock=clock,
                    retry=RetryPolicy(max_attempts=MAX_ATTEMPTS))
    try:
        for _ in range(MAX_ATTEMPTS):
            async with asyncio.timeout(60):  # a hang guard: the old worker spun here forever
                await worker.drain()
            clock.advance(3600)
    finally:
        await worker.aclose()

    stored = {j.idempotency_key: store.get(j.idempotency_key) for j in jobs}
    assert all(j is not None for j in stored.values())
    status = {k: (j.status, j.attempts) for k, j in stored.items() if j is not None}
    assert status["job000000"] == (JobStatus.DELIVERED, 1)
    for decode_failure in ("not-an-object", "no-kind", "missing-fields"):
        assert status[decode_failure] == (JobStatus.DEAD, 1), decode_failure
    for adapter_failure in ("job000001", "job000002", "bad-token"):  # retried with backoff, then given up
        assert status[adapter_failure] == (JobStatus.DEAD, MAX_ATTEMPTS)
    reasons = {k: j.last_error or "" for k, j in stored.items() if j is not None}
    assert "unreadable message: AttributeError" in reasons["not-an-object"]
    assert "unknown message kind" in reasons["no-kind"]
    assert "unreadable message: TypeError" in reasons["missing-fields"]
    assert reasons["job000001"] == f"gave up after {MAX_ATTEMPTS} attempts: unexpected " \
                                   "RuntimeError: adapter bug"
    assert "unexpected KeyError" in reasons["job000002"]
    assert sorted(m.delivery_id for m in channel.sent) == [
        "job000000", "job000003", "job000004", "job000005"]


class Blank(Channel[EmailMessage]):
    """Carries email, but its ``send`` answers with something that is not a Receipt."""

    name: ClassVar[str] = "blank"

    async def deliver(self, message: EmailMessage) -> Receipt:
        return None  # type: ignore[return-value]


async def test_a_send_that_returns_nonsense_still_counts_as_delivered(clock: FakeClock) -> None:
    store = MemoryOutbox()
    store.add(email_jobs(1), clock())
    stats = await Worker(store, {"email": Blank()}, clock=clock).drain()
    assert stats.delivered == 1


def test_dead_reasons_are_readable_in_outbox_status(
    tmp_path: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "outbox.sqlite3"
    store = SQLiteOutbox(path)
    store.add(poison_jobs(), clock())
    channel = Faulty()
    worker = Worker(store, {"email": channel, "apns": channel}, clock=clock,
                    retry=RetryPolicy(max_attempts=1))

    async def deliver() -> None:
        try:
            await worker.drain()
        finally:
            await worker.aclose()

    asyncio.run(deliver())
    assert outbox_main(["outbox", "status", "--outbox", f"sqlite:///{path}"]) == 0
    out = capsys.readouterr().out
    assert "email        dead                5" in out
    assert "recent dead letters" in out
    assert "unreadable message: AttributeError" in out
    assert "gave up after 1 attempts: unexpected RuntimeError: adapter bug" in out
