"""RFC 2920 PIPELINING for one transaction on an aiosmtplib connection: 2 round trips, not 4.

aiosmtplib pairs every write with one read and drops replies that arrive early, so it cannot
pipeline. For the length of one transaction we hand the transport to a small protocol that
queues every reply in order (asyncio's public ``Transport.set_protocol``), then hand it back.
Connection loss during the swap is passed on, so aiosmtplib still notices it.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from typing import Any, cast

import aiosmtplib
from aiosmtplib import SMTPResponse

_LEADING_DOT = re.compile(rb"(?m)^\.")
_PATH = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]+")  # printable ASCII without space, < or >


class StageError(Exception):
    """Marks which command (MAIL, RCPT, DATA) a pipelined failure belongs to."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        self.stage = stage
        self.cause = cause
        super().__init__(f"{stage}: {cause}")


class _Replies(asyncio.Protocol):
    """Collects complete (multi-line) SMTP replies in arrival order."""

    def __init__(self, original: asyncio.BaseProtocol) -> None:
        self.original = original
        self.buffer = bytearray()
        self.replies: deque[SMTPResponse] = deque()
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer.extend(data)
        lines: list[bytes] = []
        start = 0
        while (end := self.buffer.find(b"\n", start)) != -1:
            line = bytes(self.buffer[start:end + 1])
            start = end + 1
            lines.append(line[4:].strip())
            if line[3:4] != b"-":
                try:
                    code = int(line[:3])
                except ValueError:
                    code = -1
                self.replies.append(SMTPResponse(code, b"\n".join(lines).decode("utf-8", "replace")))
                lines = []
                del self.buffer[:start]
                start = 0
        self._wake()

    def eof_received(self) -> bool:
        self._fail(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"Connection lost ({exc})" if exc else "Connection lost"
        self._fail(aiosmtplib.SMTPServerDisconnected(reason))
        self.original.connection_lost(exc)

    def pause_writing(self) -> None:
        self.original.pause_writing()

    def resume_writing(self) -> None:
        self.original.resume_writing()

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def next(self, timeout: float) -> SMTPResponse:
        """The next reply, or the connection's failure, or SMTPReadTimeoutError."""
        try:
            async with asyncio.timeout(timeout):
                while not self.replies:
                    if self.error is not None:
                        raise self.error
                    self.waiter = asyncio.get_running_loop().create_future()
                    await self.waiter
        except TimeoutError as exc:
            raise aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response") from exc
        return self.replies.popleft()


def _closing_check(stage: str, reply: SMTPResponse) -> SMTPResponse:
    """421 means the server is closing the channel: later replies will never come."""
    if reply.code == 421:
        raise StageError(stage, aiosmtplib.SMTPResponseException(reply.code, reply.message))
    return reply


async def pipelined_send(
    client: aiosmtplib.SMTP, sender: str, recipient: str, raw: bytes, *,
    mail_options: list[str], timeout: float,
) -> SMTPResponse:
    """MAIL+RCPT+DATA in one write, then the message: raise StageError on any refusal."""
    if not (_PATH.fullmatch(sender) and _PATH.fullmatch(recipient)):
        raise ValueError("envelope addresses must be plain ASCII (checked before rendering)")
    transport = cast(asyncio.Transport, client.transport)
    if transport is None or transport.is_closing():
        raise StageError("MAIL", aiosmtplib.SMTPServerDisconnected("Server not connected"))
    original = transport.get_protocol()
    replies = _Replies(original)
    transport.set_protocol(replies)
    stage = "MAIL"
    try:
        options = "".join(f" {o}" for o in mail_options)
        transport.write(f"MAIL FROM:<{sender}>{options}\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("ascii"))
        mail = _closing_check("MAIL", await replies.next(timeout))
        stage = "RCPT"
        rcpt = _closing_check("RCPT", await replies.next(timeout))
        stage = "DATA"
        data = _closing_check("DATA", await replies.next(timeout))
        refused: tuple[str, SMTPResponse] | None = None
        if mail.code != 250:
            refused = ("MAIL", mail)
        elif rcpt.code not in (250, 251):
            refused = ("RCPT", rcpt)
        if data.code == 354:
            if refused is not None:  # RFC 2920: end the accepted DATA with an empty message
                transport.write(b".\r\n")
                await replies.next(timeout)
            else:
                transport.write(_LEADING_DOT.sub(b"..", raw) + b".\r\n")
                data = await replies.next(timeout)
                if data.code != 250:
                    refused = ("DATA", data)
        elif refused is None:
            refused = ("DATA", data)
        if refused is not None:
            where, reply = refused
            raise StageError(where, aiosmtplib.SMTPResponseException(reply.code, reply.message))
        return data
    except StageError:
        raise
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise StageError(stage, exc) from exc
    finally:
        if not transport.is_closing():
            transport.set_protocol(cast(Any, original))
