"""An SMTP sink (the real aiosmtpd loopback server) that counts deliveries by Message-ID."""

from __future__ import annotations

import asyncio
import re
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

from aiosmtpd.smtp import SMTP, Envelope, Session

from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.facts import DeliveryFacts, encode_facts
from ticketnotify.loopback.smtp import RecordingHandler
from ticketnotify.messages import EmailMessage
from ticketnotify.outbox.base import NewJob, Outbox
from ticketnotify.worker import Worker

_WHEN = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^@>]+)@", re.IGNORECASE | re.MULTILINE)


class CountingHandler(RecordingHandler):
    """Keeps only how often each delivery id arrived, so 10,000 messages cost no memory."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: Counter[str] = Counter()
        self.total = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        match = _MESSAGE_ID.search(envelope.original_content or b"")
        if match is None:
            return "554 5.6.0 no Message-ID"
        self.seen[match[1].decode()] += 1
        self.total += 1
        async with self._changed:
            self._changed.notify_all()
        return "250 2.0.0 Ok: counted"

    async def wait_until(self, *, total: int = 0, distinct: int = 0, timeout: float = 900) -> None:
        """Wake when ``total`` messages and ``distinct`` ids have arrived (``timeout``: a hang guard)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(
                lambda: self.total >= total and len(self.seen) >= distinct
            )


def email_jobs(count: int, prefix: str = "job") -> list[NewJob]:
    """``count`` emails as ``publish`` stores them (facts, rendered by the worker when sent);
    each one's Message-ID is its idempotency key."""
    jobs = []
    for i in range(count):
        key = f"{prefix}{i:06d}"
        ticket = str(1000 + i % 97)
        facts = DeliveryFacts(
            medium="email", kind="agent_reply", event_id=key, ticket_key=ticket,
            ticket_number=ticket, subject="Printer on fire", excerpt=None, status=None,
            new_replies=1, merged_into=None, occurred_at=_WHEN, name="", locale="en",
            time_zone="UTC", brand="default", address=f"user{i % 500}@example.com",
            ticket_url=f"https://help.example.com/tickets/{ticket}", to_name="")
        jobs.append(NewJob(key, "email", encode_facts(facts)))
    return jobs


def rendered_email_jobs(count: int, prefix: str = "job") -> list[NewJob]:
    """``count`` small emails stored rendered, as the v1 release did (still delivered)."""
    jobs = []
    for i in range(count):
        key = f"{prefix}{i:06d}"
        message = EmailMessage(
            delivery_id=key, ticket_id=str(1000 + i % 97), ticket_subject="Printer on fire",
            locale="en", to_address=f"user{i % 500}@example.com",
            subject="Your ticket has been updated", html="<p>An agent replied.</p>",
            text="An agent replied.",
        )
        jobs.append(NewJob(key, "email", message.to_dict()))
    return jobs


def worker_command(outbox_url: str, smtp_port: int, *extra: str) -> list[str]:
    """The real ``ticketnotify worker`` command line, pointed at the sink."""
    return [
        sys.executable, "-m", "ticketnotify.worker.cli", "worker", "--outbox", outbox_url,
        "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_port), "--smtp-security", "none",
        "--sender", "notify@example.com", "--progress", "0", "--idle", "0.1", *extra,
    ]


def now_utc() -> datetime:
    """Publishing time for jobs that real worker processes (on the real clock) must find due."""
    return datetime.now(UTC)


async def finish_expired_leases(outbox: Outbox, smtp_port: int, lease_seconds: float) -> int:
    """Play the worker that comes along once dead workers' leases have run out.

    Jobs a killed worker sent but never recorded stay leased until their lease expires;
    rather than wait for that in real time, this worker's clock is ``lease_seconds`` ahead.
    Returns how many jobs it claimed.
    """
    channel = SMTPChannel(SMTPConfig(host="127.0.0.1", port=smtp_port,
                                     sender="notify@example.com", security="none"))
    worker = Worker(outbox, {"email": channel},
                    clock=lambda: now_utc() + timedelta(seconds=lease_seconds))
    stats = await worker.drain()
    await worker.aclose()
    return stats.delivered + stats.retried + stats.dead + stats.released
