"""SMTPChannel against Postfix's smtp-sink: a second, independent SMTP implementation."""

from __future__ import annotations

import asyncio

import pytest

from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.errors import PermanentDeliveryError, TransientDeliveryError

from .servers import email_message, smtp_sink


def channel(port: int, **options: object) -> SMTPChannel:
    return SMTPChannel(SMTPConfig(
        "127.0.0.1", port, sender="helpdesk@support.example.com", local_hostname="client.test",
        **options,  # type: ignore[arg-type]
    ))


async def test_many_messages_over_the_pool_reach_smtp_sink() -> None:
    async with smtp_sink() as sink:
        async with channel(sink.port, pool_size=3) as ch:
            receipts = await asyncio.gather(*(ch.send(email_message(n)) for n in range(30)))
            assert ch.pool.opened == 3
        assert all(r.detail.startswith("250") for r in receipts)
        dumps = sink.dumps()
    assert len(dumps) == 30
    ids = {line for d in dumps for line in d.splitlines() if line.startswith(b"Message-ID:")}
    assert ids == {f"Message-ID: <dlv-{n:04d}@support.example.com>".encode() for n in range(30)}


async def test_hard_reject_at_rcpt_is_permanent() -> None:
    async with smtp_sink("-f", "rcpt") as sink, channel(sink.port) as ch:
        with pytest.raises(PermanentDeliveryError, match="500") as caught:
            await ch.send(email_message(1))
    assert caught.value.code == "500 5.3.0"


async def test_soft_reject_at_end_of_data_is_transient() -> None:
    async with smtp_sink("-r", ".") as sink, channel(sink.port) as ch:
        with pytest.raises(TransientDeliveryError, match="450"):
            await ch.send(email_message(1))


async def test_disconnect_after_data_is_transient() -> None:
    async with smtp_sink("-q", ".", dump=False) as sink, channel(sink.port) as ch:
        with pytest.raises(TransientDeliveryError, match="DATA"):
            await ch.send(email_message(1))


async def test_disconnect_without_reply_at_rcpt_is_transient_and_pipelined() -> None:
    async with smtp_sink("-q", "rcpt", dump=False) as sink, channel(sink.port) as ch:
        with pytest.raises(TransientDeliveryError) as caught:
            await ch.send(email_message(1))
    assert caught.value.code == "connection"
    assert "RCPT" in str(caught.value)  # smtp-sink offers PIPELINING: the stage is still known
