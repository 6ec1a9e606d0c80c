"""SMTPChannel against a real aiosmtpd server: delivery, reuse, pool bounds, error mapping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.errors import (
    DeliveryTimeoutError,
    InvalidAddressError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ticketnotify.loopback.smtp import LoopbackSMTPServer
from ticketnotify.messages import PushMessage

from .servers import FaultyHandler, email_message


@pytest.fixture(params=["lockstep", "pipelined"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[LoopbackSMTPServer]:
    """Every behaviour holds both command by command and with RFC 2920 pipelining."""
    handler = FaultyHandler(pipelining=request.param == "pipelined")
    async with LoopbackSMTPServer(handler=handler) as srv:
        yield srv
        handler.unstall.set()


def handler_of(server: LoopbackSMTPServer) -> FaultyHandler:
    assert isinstance(server.handler, FaultyHandler)
    return server.handler


def channel(server: LoopbackSMTPServer, **options: object) -> SMTPChannel:
    config = SMTPConfig(
        "127.0.0.1", server.port, sender="helpdesk@support.example.com",
        sender_name="Kundtjänst", local_hostname="client.test", **options,  # type: ignore[arg-type]
    )
    return SMTPChannel(config)


async def test_delivers_envelope_and_message_and_reports_the_message_id(server) -> None:
    async with channel(server) as ch:
        receipt = await ch.send(email_message(1))
    [got] = await server.wait_for(1)
    assert got.mail_from == "helpdesk@support.example.com"
    assert got.rcpt_tos == ("anna.oberg@example.org",)
    assert got.message["Message-ID"] == receipt.provider_id == "<dlv-0001@support.example.com>"
    assert receipt.channel == "email" and receipt.delivery_id == "dlv-0001"
    assert receipt.detail.startswith("250")


async def test_one_connection_carries_many_messages_and_quits_on_close(server) -> None:
    async with channel(server) as ch:
        for n in range(5):
            await ch.send(email_message(n))
    await server.wait_for(5)
    assert server.connections == 1
    assert handler_of(server).quits == 1


async def test_connection_retires_after_max_messages(server) -> None:
    async with channel(server, max_messages_per_connection=2) as ch:
        for n in range(5):
            await ch.send(email_message(n))
    await server.wait_for(5)
    assert server.connections == 3


async def test_pool_bounds_concurrent_connections(server) -> None:
    async with channel(server, pool_size=2) as ch:
        await asyncio.gather(*(ch.send(email_message(n)) for n in range(12)))
        assert ch.pool.opened == 2
    got = await server.wait_for(12)
    assert sorted(m.message["Message-ID"] for m in got) == sorted(
        f"<dlv-{n:04d}@support.example.com>" for n in range(12)
    )
    assert server.connections == 2


async def test_reconnects_when_the_server_closed_an_idle_connection(server) -> None:
    async with channel(server) as ch:
        await ch.send(email_message(1))
        await server.drop_sessions()
        await ch.send(email_message(2))
    await server.wait_for(2)
    assert server.connections == 2


async def test_421_on_a_reused_connection_reconnects_once(server) -> None:
    async with channel(server) as ch:
        await ch.send(email_message(1))
        handler_of(server).fail("MAIL", "421 4.4.2 idle too long, closing")
        await ch.send(email_message(2))
    assert len(await server.wait_for(2)) == 2
    assert server.connections == 2


@pytest.mark.parametrize(
    ("stage", "reply", "expected", "not_expected"),
    [
        ("MAIL", "421 4.3.2 Service shutting down", TransientDeliveryError, None),
        ("MAIL", "451 4.3.0 Try again later", TransientDeliveryError, None),
        ("MAIL", "550 5.7.1 Sender rejected", PermanentDeliveryError, InvalidAddressError),
        ("RCPT", "421 4.3.2 Service shutting down", TransientDeliveryError, None),
        ("RCPT", "451 4.7.1 Greylisted, come back later", TransientDeliveryError, None),
        ("RCPT", "452 4.2.2 Mailbox full", TransientDeliveryError, None),
        ("RCPT", "552 5.5.3 Too many recipients", TransientDeliveryError, None),
        ("RCPT", "550 5.1.1 No such user", InvalidAddressError, None),
        ("RCPT", "550 No such user here", InvalidAddressError, None),
        ("RCPT", "551 User not local", InvalidAddressError, None),
        ("RCPT", "553 Mailbox name not allowed", InvalidAddressError, None),
        ("RCPT", "550 5.7.1 Relaying denied by policy", PermanentDeliveryError, InvalidAddressError),
        ("RCPT", "554 5.7.1 Rejected", PermanentDeliveryError, InvalidAddressError),
        ("DATA", "421 4.3.2 Shutting down", TransientDeliveryError, None),
        ("DATA", "451 4.3.0 Local error in processing", TransientDeliveryError, None),
        ("DATA", "452 4.3.1 Insufficient system storage", TransientDeliveryError, None),
        ("DATA", "550 5.1.1 Recipient unknown", InvalidAddressError, None),
        ("DATA", "554 5.6.0 Message content rejected", PermanentDeliveryError, InvalidAddressError),
    ],
)
async def test_replies_map_to_the_right_outcome(
    server, stage: str, reply: str, expected: type[Exception], not_expected: type[Exception] | None
) -> None:
    handler_of(server).fail(stage, reply)
    async with channel(server) as ch:
        with pytest.raises(expected) as caught:
            await ch.send(email_message(1))
        if not_expected is not None:
            assert not isinstance(caught.value, not_expected)
        assert caught.value.code is not None and caught.value.code.startswith(reply[:3])
        assert reply.split(" ", 1)[1] in str(caught.value)
        assert not isinstance(caught.value, TransientDeliveryError) or reply.startswith(("4", "552"))
        # the refusal was for this message only: the next one goes through
        await ch.send(email_message(2))
    [got] = await server.wait_for(1)
    assert got.message["Message-ID"] == "<dlv-0002@support.example.com>"


async def test_refusal_keeps_the_connection_for_the_next_message(server) -> None:
    handler_of(server).fail("RCPT", "550 5.1.1 No such user")
    async with channel(server) as ch:
        with pytest.raises(InvalidAddressError):
            await ch.send(email_message(1))
        await ch.send(email_message(2))
    await server.wait_for(1)
    assert server.connections == 1


async def test_connection_dropped_mid_data_is_transient_and_delivers_on_retry(server) -> None:
    handler_of(server).fail("DATA", drop=True)
    async with channel(server) as ch:
        with pytest.raises(TransientDeliveryError) as caught:
            await ch.send(email_message(1))
        assert not isinstance(caught.value, DeliveryTimeoutError)
        assert "DATA" in str(caught.value)
        await ch.send(email_message(1))  # what the worker does after its backoff
    [got] = await server.wait_for(1)
    assert got.message["Message-ID"] == "<dlv-0001@support.example.com>"


async def test_a_retried_delivery_carries_the_same_message_id(server) -> None:
    handler_of(server).fail("DATA", drop=True, record_first=True)  # accepted, ack lost
    async with channel(server) as ch:
        with pytest.raises(TransientDeliveryError):
            await ch.send(email_message(7))
        await ch.send(email_message(7))
    first, second = await server.wait_for(2)
    assert first.message["Message-ID"] == second.message["Message-ID"]


@pytest.mark.parametrize("stage", ["RCPT", "DATA"])
async def test_stall_past_the_timeout_is_a_timeout(server, stage: str) -> None:
    handler_of(server).fail(stage, stall=True)
    async with channel(server, timeout=0.3) as ch:
        with pytest.raises(DeliveryTimeoutError) as caught:
            await ch.send(email_message(1))
        assert isinstance(caught.value, TimeoutError)
        assert stage in str(caught.value)
        assert handler_of(server).stalled.is_set()
        await ch.send(email_message(2))
    [got] = await server.wait_for(1)
    assert got.message["Message-ID"] == "<dlv-0002@support.example.com>"


async def test_nobody_listening_is_transient() -> None:
    async with LoopbackSMTPServer() as srv:
        port = srv.port
    ch = SMTPChannel(SMTPConfig("127.0.0.1", port, sender="a@example.com", local_hostname="c.test"))
    with pytest.raises(TransientDeliveryError, match="connection"):
        await ch.send(email_message(1))
    await ch.aclose()


async def test_a_server_that_never_greets_is_a_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept the connection, never say 220
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        ch = SMTPChannel(SMTPConfig("127.0.0.1", port, sender="a@example.com",
                                    local_hostname="c.test", timeout=0.3))
        with pytest.raises(DeliveryTimeoutError, match="CONNECT"):
            await ch.send(email_message(1))
        await ch.aclose()


async def test_a_push_message_is_refused_out_loud(server) -> None:
    push = PushMessage(
        delivery_id="p1", ticket_id="T", locale="en", platform="ios", token="abc", user_id="u",
        title="t", body="b", deep_link="app://t", thread_id="T", collapse_id="T",
    )
    async with channel(server) as ch:
        with pytest.raises(PermanentDeliveryError, match="carries email messages, not push"):
            await ch.send(push)  # type: ignore[arg-type]
    assert server.connections == 0


async def test_an_address_with_a_line_break_never_reaches_the_wire(server) -> None:
    bad = email_message(1, to_address="anna@example.org\r\nBcc: all@example.org")
    async with channel(server) as ch:
        with pytest.raises(InvalidAddressError):
            await ch.send(bad)
    assert server.connections == 0


async def test_aclose_during_sends_lets_them_finish_and_quits_every_connection(server) -> None:
    ch = channel(server, pool_size=3)
    sends = [asyncio.ensure_future(ch.send(email_message(n))) for n in range(6)]
    await server.wait_for(1)  # sending is under way
    await ch.aclose()
    receipts = await asyncio.gather(*sends)
    assert len(receipts) == 6
    await ch.aclose()  # connections that came back after the first close are closed now
    assert handler_of(server).quits == server.connections == ch.pool.opened
