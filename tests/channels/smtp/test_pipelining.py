"""RFC 2920: a scripted server that answers only once MAIL, RCPT and DATA all arrived."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.errors import DeliveryTimeoutError, InvalidAddressError, TransientDeliveryError

from .servers import email_message


@dataclass
class PipelineOnly:
    """Withholds every envelope reply until the whole MAIL/RCPT/DATA batch is in."""

    rcpt_reply: bytes = b"250 2.1.5 Ok"
    drop_mid_data: bool = False
    bodies: list[bytes] = field(default_factory=list)
    batches: list[list[bytes]] = field(default_factory=list)
    port: int = 0

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 pipeline.test ESMTP\r\n")
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    writer.write(b"250-pipeline.test\r\n250-PIPELINING\r\n250 SIZE 10000000\r\n")
                elif verb in (b"RSET", b"NOOP"):
                    writer.write(b"250 2.0.0 Ok\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 2.0.0 Bye\r\n")
                    break
                elif verb == b"MAIL":
                    batch = [line, await reader.readline(), await reader.readline()]
                    if not batch[2]:
                        break  # the client gave up waiting (lockstep client)
                    self.batches.append(batch)
                    writer.write(b"250 2.1.0 Ok\r\n" + self.rcpt_reply + b"\r\n354 go ahead\r\n")
                    body = b""
                    if self.drop_mid_data:
                        await reader.readline()  # the first line of the message, then hang up
                        writer.transport.abort()
                        return
                    while (chunk := await reader.readline()) != b".\r\n":
                        if not chunk:
                            return
                        body += chunk
                    self.bodies.append(body)
                    ok = self.rcpt_reply.startswith(b"2")
                    writer.write(b"250 2.0.0 queued\r\n" if ok else b"554 5.5.1 No valid recipients\r\n")
                else:
                    writer.write(b"502 5.5.2 unknown\r\n")
        finally:
            writer.close()


@pytest.fixture
async def scripted() -> AsyncIterator[PipelineOnly]:
    script = PipelineOnly()
    server = await asyncio.start_server(script.session, "127.0.0.1", 0)
    script.port = server.sockets[0].getsockname()[1]
    async with server:
        yield script
        server.close()


def channel(port: int, **options: object) -> SMTPChannel:
    return SMTPChannel(SMTPConfig(
        "127.0.0.1", port, sender="helpdesk@support.example.com", local_hostname="client.test",
        **{"timeout": 2.0, **options},  # type: ignore[arg-type]
    ))


async def test_envelope_goes_out_in_one_batch(scripted: PipelineOnly) -> None:
    async with channel(scripted.port) as ch:
        await ch.send(email_message(1))
        await ch.send(email_message(2))
    assert [b[0].split(b" ")[0] + b[1][:4] + b[2] for b in scripted.batches] == [
        b"MAIL" + b"RCPT" + b"DATA\r\n"
    ] * 2
    assert b"Message-ID: <dlv-0002@support.example.com>" in scripted.bodies[1]


async def test_refused_recipient_ends_the_accepted_data_with_an_empty_message(
    scripted: PipelineOnly,
) -> None:
    scripted.rcpt_reply = b"550 5.1.1 No such user"
    async with channel(scripted.port) as ch:
        with pytest.raises(InvalidAddressError, match="No such user"):
            await ch.send(email_message(1))
    assert scripted.bodies == [b""]  # nothing of the message was sent


async def test_pipelining_can_be_switched_off(scripted: PipelineOnly) -> None:
    async with channel(scripted.port, pipelining=False, timeout=0.3) as ch:
        with pytest.raises(DeliveryTimeoutError, match="MAIL"):
            await ch.send(email_message(1))  # this server never answers a lone MAIL


async def test_connection_dropped_while_the_message_streams_is_transient(scripted: PipelineOnly) -> None:
    scripted.drop_mid_data = True
    async with channel(scripted.port) as ch:
        with pytest.raises(TransientDeliveryError, match="DATA") as caught:
            await ch.send(email_message(1))
        assert caught.value.code == "connection"
        scripted.drop_mid_data = False
        await ch.send(email_message(1))  # the worker's retry goes out on a fresh connection
    assert len(scripted.bodies) == 1
