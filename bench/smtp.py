"""SMTP throughput to Postfix's smtp-sink on loopback: reused connection and pool vs reconnecting.

Every figure includes building the MIME message (build_mime + serialisation), so it is what
one worker really sustains. The baseline sends the same bytes the way most libraries do:
``aiosmtplib.send`` per message (connect, EHLO, MAIL, RCPT, DATA, QUIT).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable

import aiosmtplib

from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.messages import EmailMessage

SMTP_SINK = "/usr/sbin/smtp-sink"
SENDER = "helpdesk@support.example.com"


def messages(count: int) -> list[EmailMessage]:
    """Realistic rendered emails: Swedish text, a ~3 kB HTML body, one ticket thread."""
    html = "<html><body>" + "<p>Hej Anna! Ditt ärende har uppdaterats.</p>" * 60 + "</body></html>"
    return [
        EmailMessage(
            delivery_id=f"bench-{n:06d}", ticket_id=f"T-{n % 50}", locale="sv_SE",
            ticket_subject="Skrivaren på plan 3 är trasig", to_address=f"user{n}@example.org",
            to_name="Anna Öberg", subject=f"[#T-{n % 50}] Skrivaren på plan 3 är trasig",
            text="Hej Anna!\nDitt ärende har uppdaterats.\n" * 20, html=html,
        )
        for n in range(count)
    ]


def start_sink() -> tuple[subprocess.Popen[bytes], int]:
    """Run smtp-sink on a free loopback port and wait for its greeting."""
    for _attempt in range(5):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        proc = subprocess.Popen(
            [SMTP_SINK, *user, "-a", f"127.0.0.1:{port}", "256"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                    if conn.recv(64).startswith(b"220"):
                        return proc, port
            except ConnectionRefusedError:
                try:  # readiness poll of an external process: wait on it, not on a clock
                    proc.wait(0.01)
                except subprocess.TimeoutExpired:
                    continue
        proc.kill()
        proc.wait()
    raise RuntimeError("smtp-sink did not start")


async def _timed(count: int, send_all: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await send_all()
    return count / (time.perf_counter() - started)


async def one_connection(port: int, batch: list[EmailMessage]) -> float:
    """One worker, one connection, messages back to back."""
    cfg = SMTPConfig("127.0.0.1", port, sender=SENDER, local_hostname="bench.test",
                     pool_size=1, max_messages_per_connection=len(batch) + 1)
    async with SMTPChannel(cfg) as ch:
        await ch.send(batch[0])  # connect outside the clock

        async def go() -> None:
            for message in batch:
                await ch.send(message)

        return await _timed(len(batch), go)


async def pooled(port: int, batch: list[EmailMessage], size: int = 4) -> float:
    """One worker process running ``size`` concurrent senders over a pool of ``size``."""
    cfg = SMTPConfig("127.0.0.1", port, sender=SENDER, local_hostname="bench.test",
                     pool_size=size, max_messages_per_connection=len(batch) + 1)
    async with SMTPChannel(cfg) as ch:
        await asyncio.gather(*(ch.send(m) for m in batch[:size]))  # warm the pool
        queue = iter(batch)

        async def sender() -> None:
            for message in queue:
                await ch.send(message)

        async def go() -> None:
            await asyncio.gather(*(sender() for _ in range(size)))

        return await _timed(len(batch), go)


async def new_connection_each(port: int, batch: list[EmailMessage]) -> float:
    """Baseline: the same rendered bytes, one ``aiosmtplib.send`` (new connection) each."""
    ch = SMTPChannel(SMTPConfig("127.0.0.1", port, sender=SENDER, local_hostname="bench.test"))

    async def go() -> None:
        for message in batch:
            await aiosmtplib.send(
                ch.render(message), sender=SENDER, recipients=[message.to_address],
                hostname="127.0.0.1", port=port, local_hostname="bench.test", start_tls=False,
            )

    return await _timed(len(batch), go)


async def measure(quick: bool) -> list[dict[str, object]]:
    """Best of three interleaved rounds per figure: the machine is shared, noise only slows."""
    proc, port = start_sink()
    try:
        fast = messages(300 if quick else 3000)
        slow = messages(100 if quick else 600)
        baseline = single = pool = 0.0
        for _round in range(3):
            baseline = max(baseline, await new_connection_each(port, slow))
            single = max(single, await one_connection(port, fast))
            pool = max(pool, await pooled(port, fast))
    finally:
        proc.terminate()
        proc.wait()
    return [
        {"name": "smtp_one_connection_emails_per_s", "value": round(single, 1), "unit": "emails/s",
         "baseline": round(baseline, 1), "ratio": round(single / baseline, 2)},
        {"name": "smtp_pooled_emails_per_s", "value": round(pool, 1), "unit": "emails/s",
         "baseline": round(baseline, 1), "ratio": round(pool / baseline, 2)},
        {"name": "smtp_new_connection_emails_per_s", "value": round(baseline, 1),
         "unit": "emails/s"},
    ]


def run(quick: bool) -> list[dict[str, object]]:
    """Figures for bench/run.py (smtp-sink must be installed at /usr/sbin/smtp-sink)."""
    return asyncio.run(measure(quick))


if __name__ == "__main__":
    import sys

    for figure in run("--quick" in sys.argv):
        print(json.dumps(figure))
