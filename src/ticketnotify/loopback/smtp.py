"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives, for demos and tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage as MIMEMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One accepted transaction: envelope plus the exact bytes of the message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer: str = ""
    tls: bool = False
    eml_path: Path | None = field(default=None, compare=False)

    @property
    def message(self) -> MIMEMessage:
        """The message parsed with the modern policy (headers decoded)."""
        return email.message_from_bytes(self.data, policy=email.policy.default)


class RecordingHandler:
    """aiosmtpd handler that stores every message and wakes anyone waiting for a count."""

    def __init__(self, eml_dir: Path | None = None) -> None:
        self.messages: list[ReceivedMessage] = []
        self.eml_dir = eml_dir
        self._changed = asyncio.Condition()
        self._next_number: int | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Accept and record the message; subclasses may refuse first."""
        await self.record(server, session, envelope)
        return "250 2.0.0 Ok: queued"

    async def record(self, server: SMTP, session: Session, envelope: Envelope) -> None:
        """Keep one message (and write it as .eml when a folder was given)."""
        data = envelope.original_content or b""
        path = None
        if self.eml_dir is not None:
            path = self._write_new(self.eml_dir, data)
        peer = session.peer
        transport = server.transport
        tls = session.ssl is not None or (
            transport is not None and transport.get_extra_info("sslcontext") is not None
        )
        self.messages.append(ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=data,
            peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
            tls=tls,
            eml_path=path,
        ))
        async with self._changed:
            self._changed.notify_all()

    def _write_new(self, folder: Path, data: bytes) -> Path:
        """Write ``data`` as the next ``NNNNN.eml`` after the highest one already there.

        Numbering continues after files an earlier run (or anyone) left, and the file is
        created exclusively, so a restarted server never overwrites a message it kept before.
        """
        if self._next_number is None:
            numbers = [int(p.stem) for p in folder.glob("*.eml") if p.stem.isdigit()]
            self._next_number = max(numbers, default=0) + 1
        while True:
            path = folder / f"{self._next_number:05d}.eml"
            self._next_number += 1
            try:
                with path.open("xb") as fh:
                    fh.write(data)
            except FileExistsError:
                continue
            return path

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Return once ``count`` messages have arrived; TimeoutError if they do not in time."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.messages) >= count)
        return list(self.messages)


class LoopbackSMTPServer:
    """Start with ``async with LoopbackSMTPServer() as server``; ``server.port`` is ephemeral.

    ``tls_context`` offers STARTTLS (``require_starttls`` insists on it); ``implicit_tls``
    speaks TLS from the first byte instead, like port 465.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        eml_dir: str | Path | None = None,
        handler: RecordingHandler | None = None,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        implicit_tls: bool = False,
        smtp_options: dict[str, Any] | None = None,
    ) -> None:
        if eml_dir is not None:
            Path(eml_dir).mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port
        self.handler = handler or RecordingHandler(Path(eml_dir) if eml_dir is not None else None)
        if handler is not None and eml_dir is not None:
            handler.eml_dir = Path(eml_dir)
            handler._next_number = None
        self._tls_context = tls_context
        self._require_starttls = require_starttls
        self._implicit_tls = implicit_tls
        self._smtp_options = smtp_options or {}
        self._server: asyncio.Server | None = None
        self._sessions: set[SMTP] = set()
        self._opened = 0

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Everything received so far, oldest first."""
        return self.handler.messages

    @property
    def connections(self) -> int:
        """How many SMTP sessions were opened (to check connection reuse)."""
        return self._opened

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Wait (without polling) until ``count`` messages have been received."""
        return await self.handler.wait_for(count, timeout)

    async def start(self) -> LoopbackSMTPServer:
        """Listen; afterwards ``port`` holds the real port number."""
        loop = asyncio.get_running_loop()
        self._opened = 0

        def factory() -> SMTP:
            self._opened += 1
            smtp = SMTP(
                self.handler, hostname="loopback.ticketnotify.test", loop=loop,
                tls_context=None if self._implicit_tls else self._tls_context,
                require_starttls=self._require_starttls, **self._smtp_options,
            )
            self._sessions.add(smtp)
            return smtp

        self._server = await loop.create_server(
            factory, self.host, self.port,
            ssl=self._tls_context if self._implicit_tls else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop open sessions."""
        if self._server is None:
            return
        self._server.close()
        await self.drop_sessions()
        await self._server.wait_closed()
        self._server = None

    async def drop_sessions(self) -> None:
        """Hang up on every connected client, as a server does when it times idle ones out."""
        for smtp in list(self._sessions):
            if smtp.transport is not None:
                smtp.transport.close()
        self._sessions.clear()

    async def __aenter__(self) -> LoopbackSMTPServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
