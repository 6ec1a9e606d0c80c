"""The whole guest pipeline on local files: Notifier → SQLite outbox → Worker → SMTP, codes, pages.

``ticketnotify dev`` wires it to demo tickets; the browser tests use it as the host would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from ..channels.smtp.channel import SMTPChannel
from ..channels.smtp.config import Security, SMTPConfig
from ..clock import Clock, utc_now
from ..contrib.asgi import GuestPages, GuestTicket
from ..events import Guest, Ticket, TicketUpdate, UpdateKind
from ..guest import EmailCodeSender, GuestLinks, SQLiteCodeStore, VerificationCodes
from ..notifier import Notifier, PublishResult
from ..outbox.sqlite import SQLiteOutbox
from ..rendering import Renderer
from ..worker import Worker

SENDER = "support@helpdesk.example"


@dataclass(slots=True)
class DemoTicket:
    """A guest's ticket as a tiny helpdesk would keep it."""

    ticket_id: str
    subject: str
    guest: Guest
    conversation: list[str] = field(default_factory=list)

    @property
    def for_pages(self) -> GuestTicket:
        """What the guest pages need (number, address, locale, zone)."""
        return GuestTicket(number=self.ticket_id, email=self.guest.email, locale=self.guest.locale,
                           time_zone=self.guest.time_zone)


class GuestSite:
    """A helpdesk's guest side on local files, mailing through SMTP at ``smtp_host:smtp_port``.

    Args:
        folder: where the outbox and code store files go (kept across restarts).
        base_url: the web app's address, e.g. ``"http://127.0.0.1:8025"``; guest links
            point at ``{base_url}/guest/tickets/{ticket_id}?token=…``.
        smtp_host: the SMTP server both the worker and the code sender use.
        smtp_port: its port.
        keys: guest-link keys, newest first (>= 32 bytes each).
        code_secret: keys the code hashes (>= 32 bytes).
        clock: the code and grant clock (tests move it).
        secure_cookies: ``Secure`` cookies; False for plain http on localhost.
    """

    def __init__(self, folder: Path, *, base_url: str, smtp_host: str, smtp_port: int,
                 keys: list[bytes], code_secret: bytes, clock: Clock = utc_now,
                 secure_cookies: bool = False) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.links = GuestLinks(keys, url_pattern=base_url.rstrip("/")
                                + "/guest/tickets/{ticket_id}?token={token}")
        self.outbox = SQLiteOutbox(folder / "outbox.sqlite3")
        self.notifier = Notifier(self.outbox, links=None, guest_links=self.links)
        config = SMTPConfig(host=smtp_host, port=smtp_port, security=Security.NONE, sender=SENDER,
                            sender_name="Helpdesk Support", timeout=10, local_hostname="localhost")
        self.worker = Worker(self.outbox, {"email": SMTPChannel(config)},
                             renderer=self.notifier.delivery_renderer)
        self.sender = EmailCodeSender(Renderer.shared(), SMTPChannel(config))
        self.store = SQLiteCodeStore(folder / "codes.sqlite3")
        self.codes = VerificationCodes(self.links, self.store, self.sender, code_secret, clock=clock)
        self.tickets: dict[str, DemoTicket] = {}
        self.pages = GuestPages(self.codes, self.lookup, ticket_url="/tickets/{ticket_id}",
                                secure_cookies=secure_cookies)

    def add(self, ticket: DemoTicket) -> DemoTicket:
        """Keep a ticket so the pages can find it."""
        self.tickets[ticket.ticket_id] = ticket
        return ticket

    async def lookup(self, ticket_id: str) -> GuestTicket | None:
        """The pages' ticket lookup (the host's database query in a real app)."""
        ticket = self.tickets.get(ticket_id)
        return ticket.for_pages if ticket else None

    async def notify(self, ticket_id: str, event_id: str,
                     kind: UpdateKind = UpdateKind.RECEIVED) -> PublishResult:
        """Publish an update to the ticket's guest and deliver everything due now."""
        ticket = self.tickets[ticket_id]
        update = TicketUpdate(event_id=event_id, ticket=Ticket(ticket.ticket_id, ticket.subject),
                              kind=kind, recipient=ticket.guest,
                              occurred_at=utc_now() - timedelta(seconds=1))
        result = await self.notifier.apublish(update)
        await self.worker.drain()
        return result

    async def aclose(self) -> None:
        """Close the worker, the code sender and the files."""
        await self.worker.aclose()  # closes its channel too
        await self.sender.aclose()
        self.store.close()
        self.outbox.close()
