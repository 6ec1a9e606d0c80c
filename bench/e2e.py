"""End-to-end figure: publish → outbox → worker → a real SMTP server on loopback.

``e2e_emails_per_s`` is the whole pipeline for guest updates (render, sign link, store, claim,
SMTP conversation), measured against an in-memory outbox and Postfix's smtp-sink when it is
installed (aiosmtpd otherwise, which is itself the bottleneck, and the unit says so).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ticketnotify.channels.smtp.channel import SMTPChannel  # noqa: E402
from ticketnotify.channels.smtp.config import Security, SMTPConfig  # noqa: E402
from ticketnotify.events import Guest, Ticket, TicketUpdate, UpdateKind  # noqa: E402
from ticketnotify.guest.links import GuestLinks  # noqa: E402
from ticketnotify.loopback.smtp import LoopbackSMTPServer  # noqa: E402
from ticketnotify.notifier import Notifier  # noqa: E402
from ticketnotify.outbox.memory import MemoryOutbox  # noqa: E402
from ticketnotify.worker import Worker  # noqa: E402

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


def updates(count: int) -> list[TicketUpdate]:
    at = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    return [TicketUpdate(event_id=f"bench-{i}", ticket=Ticket(str(10_000 + i), "Bench ticket"),
                         kind=UpdateKind.AGENT_REPLY, occurred_at=at,
                         recipient=Guest(f"guest{i}@example.com", locale=("sv", "en")[i % 2]))
            for i in range(count)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def deliver(count: int, port: int) -> float:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, links=None,  # guests only
                        guest_links=GuestLinks([b"b" * 32], "https://help.example.com/g?t={token}"))
    channel = SMTPChannel(SMTPConfig(host="127.0.0.1", port=port, security=Security.NONE,
                                     sender="support@helpdesk.example", pool_size=4))
    batch = updates(count)
    started = time.perf_counter()
    for update in batch:
        notifier.publish(update)
    worker = Worker(outbox, {"email": channel}, batch_size=200)
    stats = await worker.drain()
    elapsed = time.perf_counter() - started
    await worker.aclose()  # closes the channel and the worker's store thread
    if stats.delivered != count:
        raise RuntimeError(f"delivered {stats.delivered} of {count}")
    return count / elapsed


def run(quick: bool) -> list[dict[str, object]]:
    count = 1_000 if quick else 5_000
    if Path(SMTP_SINK).exists():
        port = free_port()
        sink = subprocess.Popen([SMTP_SINK, "-c", "-u", "nobody", f"127.0.0.1:{port}", "256"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_listening(port)
            rate = asyncio.run(deliver(count, port))
        finally:
            sink.terminate()
            sink.wait()
        unit = "emails/s (smtp-sink)"
    else:
        async def with_aiosmtpd() -> float:
            async with LoopbackSMTPServer() as server:
                return await deliver(count, server.port)
        rate = asyncio.run(with_aiosmtpd())
        unit = "emails/s (aiosmtpd)"
    return [{"name": "e2e_emails_per_s", "value": round(rate, 1), "unit": unit}]


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"smtp-sink did not listen on {port}")


if __name__ == "__main__":
    for figure in run("--quick" in sys.argv):
        print(json.dumps(figure))
