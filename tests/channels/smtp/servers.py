"""Real SMTP peers for the channel tests: a fault-injecting aiosmtpd handler, smtp-sink, trustme certs."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from ticketnotify.loopback.smtp import RecordingHandler
from ticketnotify.loopback.tls import LoopbackCertificate
from ticketnotify.messages import EmailMessage

SMTP_SINK = "/usr/sbin/smtp-sink"


@dataclass
class Fault:
    """What to do at one stage: answer ``reply``, drop the connection, or stall."""

    reply: str | None = None
    drop: bool = False
    stall: bool = False
    record_first: bool = False  # keep the message before dropping (the ack is what gets lost)


class FaultyHandler(RecordingHandler):
    """Accepts mail like the loopback server unless a fault is queued for the stage."""

    def __init__(self, *, pipelining: bool = False) -> None:
        super().__init__()
        self.pipelining = pipelining
        self.faults: dict[str, list[Fault]] = {"MAIL": [], "RCPT": [], "DATA": []}
        self.unstall = asyncio.Event()
        self.stalled = asyncio.Event()
        self.quits = 0

    def fail(self, stage: str, reply: str | None = None, *, times: int = 1, **kind: bool) -> None:
        """Queue ``times`` faults for ``stage`` (MAIL, RCPT or DATA)."""
        self.faults[stage].extend(Fault(reply=reply, **kind) for _ in range(times))

    async def _fault(self, stage: str, server: SMTP) -> str | None:
        if not self.faults[stage]:
            return None
        fault = self.faults[stage].pop(0)
        if fault.stall:
            self.stalled.set()
            await self.unstall.wait()
            return "250 2.0.0 late"
        if fault.drop:
            assert server.transport is not None
            server.transport.abort()
            return "421 4.4.2 dropped"  # never reaches the client: the socket is gone
        if fault.reply is not None and fault.reply.startswith("421"):
            # like Postfix: 421 means "closing the channel", so hang up after the reply
            assert server.transport is not None
            asyncio.get_running_loop().call_soon(server.transport.close)
        return fault.reply

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
        responses: list[str],
    ) -> list[str]:
        """Advertise PIPELINING when asked (aiosmtpd reads pipelined commands in order)."""
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = await self._fault("MAIL", server)
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = await self._fault("RCPT", server)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.faults["DATA"] and self.faults["DATA"][0].record_first:
            await self.record(server, session, envelope)
            await self._fault("DATA", server)
            return "421 4.4.2 dropped"
        reply = await self._fault("DATA", server)
        if reply is not None:
            return reply
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.quits += 1
        return "221 2.0.0 Bye"


def make_self_signed(directory: Path) -> LoopbackCertificate:
    """A trustme CA and a server certificate for 127.0.0.1/localhost, PEMs in ``directory``.

    Clients trust ``.ca_file``; the server uses ``.server_context(alpn=())``.
    """
    return LoopbackCertificate.generate(directory)


def free_port() -> int:
    """A port the kernel just handed out (released again for the subprocess to bind)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class SinkServer:
    """A running smtp-sink: where it listens and where it dumps transactions."""

    port: int
    dump_dir: Path

    def dumps(self) -> list[bytes]:
        """Every transaction smtp-sink wrote to disk (envelope lines plus message)."""
        return [p.read_bytes() for p in sorted(self.dump_dir.iterdir())]


@asynccontextmanager
async def smtp_sink(*options: str, dump: bool = True) -> AsyncIterator[SinkServer]:
    """Run Postfix's smtp-sink on a fresh loopback port until the block ends.

    smtp-sink gives no readiness signal, so we wait for its 220 greeting: connect attempts
    are refused until it listens, and each refusal is followed by a wait on the process
    itself (which also notices if it died, e.g. because the port was taken).
    """
    # smtp-sink drops privileges to nobody before writing, and pytest's tmp_path lives in a
    # private (0700) folder, so the dumps go to a world-writable folder of their own.
    dump_dir = Path(tempfile.mkdtemp(prefix="smtp-sink-"))
    dump_dir.chmod(0o777)
    for _attempt in range(5):
        port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []  # smtp-sink refuses root
        args = [SMTP_SINK, *user, "-a", *options]
        if dump:
            args += ["-d", f"{dump_dir}/%Y%m%d%H%M%S."]
        proc = await asyncio.create_subprocess_exec(
            *args, f"127.0.0.1:{port}", "256",
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        if await _greets(proc, port):
            break
        await _stop(proc)
    else:
        shutil.rmtree(dump_dir, ignore_errors=True)
        raise RuntimeError("smtp-sink did not start on any of 5 ports")
    try:
        yield SinkServer(port, dump_dir)
    finally:
        await _stop(proc)
        shutil.rmtree(dump_dir, ignore_errors=True)


async def _greets(proc: asyncio.subprocess.Process, port: int) -> bool:
    async with asyncio.timeout(10):
        while proc.returncode is None:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except ConnectionRefusedError:
                try:
                    await asyncio.wait_for(proc.wait(), 0.02)
                except TimeoutError:
                    continue
                return False
            greeting = await reader.readline()
            writer.close()
            await writer.wait_closed()
            return greeting.startswith(b"220")
    return False


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
    await proc.wait()


def email_message(n: int = 1, *, ticket_id: str = "T-1001", **overrides: str) -> EmailMessage:
    """A rendered email as the renderer would hand it over (Swedish, with emoji)."""
    values = {
        "delivery_id": f"dlv-{n:04d}",
        "ticket_id": ticket_id,
        "ticket_subject": "Skrivaren på plan 3 är trasig 🖨️",
        "locale": "sv_SE",
        "to_address": "anna.oberg@example.org",
        "to_name": "Anna Öberg",
        "subject": f"[#{ticket_id}] Skrivaren på plan 3 är trasig 🖨️",
        "text": f"Hej Anna!\nDitt ärende har uppdaterats ({n}).\n",
        "html": f"<p>Hej Anna!</p><p>Ditt ärende har uppdaterats ({n}).</p>",
        "preheader": "Ny kommentar",
    }
    values.update(overrides)
    return EmailMessage(**values)
