"""Fault matrix for SMTP: the ambiguous DATA hang-up may duplicate a message, never lose one.

The server takes the whole message after DATA, keeps it, and drops the connection before
it answers: the client cannot know the message arrived. The channel must call that
transient, so the worker sends it again; the same Message-ID lets the recipient's mail
client fold the copy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest

from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.errors import DeliveryTimeoutError, TransientDeliveryError
from ticketnotify.loopback.smtp import LoopbackSMTPServer
from ticketnotify.outbox import JobStatus, MemoryOutbox, NewJob
from ticketnotify.worker import Worker

from ...conftest import FakeClock
from .servers import FaultyHandler, email_message

JOBS = 12
HANG_UPS = 4


@pytest.fixture(params=["lockstep", "pipelined"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[LoopbackSMTPServer]:
    handler = FaultyHandler(pipelining=request.param == "pipelined")
    async with LoopbackSMTPServer(handler=handler) as srv:
        yield srv


def faulty(server: LoopbackSMTPServer) -> FaultyHandler:
    assert isinstance(server.handler, FaultyHandler)
    return server.handler


def smtp(server: LoopbackSMTPServer) -> SMTPChannel:
    return SMTPChannel(SMTPConfig("127.0.0.1", server.port, sender="helpdesk@support.example.com",
                                  local_hostname="client.test", pool_size=2))


async def test_hang_up_after_data_is_transient_not_a_timeout(server: LoopbackSMTPServer) -> None:
    faulty(server).fail("DATA", drop=True, record_first=True)
    async with smtp(server) as channel:
        with pytest.raises(TransientDeliveryError) as caught:
            await channel.send(email_message(1))
    assert not isinstance(caught.value, DeliveryTimeoutError)
    assert caught.value.code == "connection" and "DATA" in str(caught.value)
    assert len(await server.wait_for(1)) == 1  # it did arrive: a retry will duplicate it


async def test_ambiguous_data_hang_ups_duplicate_but_never_lose(
        server: LoopbackSMTPServer, clock: FakeClock) -> None:
    faulty(server).fail("DATA", drop=True, record_first=True, times=HANG_UPS)
    outbox = MemoryOutbox()
    messages = [email_message(n) for n in range(JOBS)]
    outbox.add([NewJob(m.delivery_id, "email", m.to_dict()) for m in messages], clock())
    async with smtp(server) as channel:
        worker = Worker(outbox, {"email": channel}, clock=clock)
        await worker.drain()
        clock.advance(3600)  # past every backoff: the retries are due
        await worker.drain()
    received = Counter(m.message["Message-ID"] for m in await server.wait_for(JOBS + HANG_UPS))
    assert set(received) == {f"<{m.delivery_id}@support.example.com>" for m in messages}
    assert sorted(received.values()) == [1] * (JOBS - HANG_UPS) + [2] * HANG_UPS
    for m in messages:
        job = outbox.get(m.delivery_id)
        assert job is not None and job.status is JobStatus.DELIVERED
