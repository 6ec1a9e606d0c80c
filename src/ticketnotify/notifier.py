"""The host's entry point: publish an update, get every planned delivery stored."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from .clock import Clock, utc_now
from .errors import (
    ConfigurationError,
    InvalidInputError,
    OutboxUnavailableError,
    TicketNotifyError,
)
from .events import AccountUser, TicketUpdate
from .messages import EmailMessage, PushMessage
from .outbox.base import NewJob, Outbox
from .routing import PlannedDelivery, link_ticket_id, plan

if TYPE_CHECKING:
    from .rendering import Renderer


class LinkSigner(Protocol):
    """What the notifier needs from guest links: a signed URL for (ticket, address)."""

    def url_for(self, ticket_id: str, email: str, *, now: datetime | None = None) -> str: ...


@dataclass(frozen=True, slots=True)
class Links:
    """Where account users open a ticket: on the web and in the app (``{ticket_id}`` filled in)."""

    web_ticket_url: str = "https://support.example.com/tickets/{ticket_id}"
    app_ticket_url: str = "examplesupport://tickets/{ticket_id}"

    def __post_init__(self) -> None:
        for name in ("web_ticket_url", "app_ticket_url"):
            pattern = getattr(self, name)
            try:
                filled = pattern.format(ticket_id="1")
            except (KeyError, IndexError, ValueError, AttributeError) as exc:
                raise ConfigurationError(
                    f"Links.{name} {pattern!r} may only use the placeholder {{ticket_id}} "
                    f"({type(exc).__name__}: {exc})") from exc
            if filled == pattern:
                raise ConfigurationError(f"Links.{name} {pattern!r} has no {{ticket_id}}")

    def web(self, ticket_id: str) -> str:
        """Web address of a ticket for a logged-in user."""
        return self.web_ticket_url.format(ticket_id=_url_part(ticket_id))

    def app(self, ticket_id: str) -> str:
        """App deep link of a ticket."""
        return self.app_ticket_url.format(ticket_id=_url_part(ticket_id))


@dataclass(frozen=True, slots=True)
class ExcerptPolicy:
    """Where conversation text may appear; lock screens and unverified mailboxes are public."""

    account_email: bool = True
    guest_email: bool = False
    push: bool = False
    # The ticket's subject is text whoever filed the ticket typed: to an unverified guest
    # mailbox it is relayed content (the spam-relay lesson), so it stays out by default.
    guest_subject: bool = False


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What ``publish`` planned and how much of it was new to the outbox."""

    event_id: str
    planned: tuple[PlannedDelivery, ...]
    stored: int

    @property
    def duplicate(self) -> bool:
        """True when the same event had been published before (nothing new stored)."""
        return self.stored == 0 and bool(self.planned)


class Notifier:
    """Plans, renders and stores deliveries; a ``Worker`` sends them later."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        renderer: Renderer | None = None,
        guest_links: LinkSigner | None = None,
        links: Links | None = None,
        excerpts: ExcerptPolicy | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if renderer is None:
            from .rendering import Renderer

            renderer = Renderer.shared()
        self.outbox = outbox
        self.renderer = renderer
        self.guest_links = guest_links
        self.links = links or Links()
        self.excerpts = excerpts or ExcerptPolicy()
        self.clock = clock

    def publish(self, update: TicketUpdate, *, transaction: object | None = None) -> PublishResult:
        """Render every delivery first, then store them all in one write (or none)."""
        jobs, planned = self._jobs(update)
        stored = self._store(jobs, transaction)
        return PublishResult(update.event_id, tuple(planned), stored)

    async def apublish(self, update: TicketUpdate, *, transaction: object | None = None) -> PublishResult:
        """``publish`` for asyncio hosts: the store write runs off the event loop."""
        jobs, planned = self._jobs(update)
        stored = await asyncio.to_thread(self._store, jobs, transaction)
        return PublishResult(update.event_id, tuple(planned), stored)

    def publish_many(self, updates: Sequence[TicketUpdate], *, transaction: object | None = None) -> int:
        """Store several updates in one write (imports, batch jobs); return how many jobs were new."""
        jobs = [job for update in updates for job in self._jobs(update)[0]]
        return self._store(jobs, transaction)

    def _store(self, jobs: list[NewJob], transaction: object | None) -> int:
        """One outbox write; a driver's own error becomes ours, saying nothing was stored."""
        try:
            return self.outbox.add(jobs, self.clock(), transaction=transaction)
        except TicketNotifyError:
            raise
        except Exception as exc:  # sqlite3.Error, psycopg.Error, OSError: the store's transaction
            raise OutboxUnavailableError(  # rolled back, so retrying the publish is safe
                f"the outbox could not store this publish ({type(exc).__name__}: {exc}); "
                "nothing was stored: publish again once the store is reachable") from exc

    def _jobs(self, update: TicketUpdate) -> tuple[list[NewJob], list[PlannedDelivery]]:
        if not isinstance(update, TicketUpdate):
            raise InvalidInputError("update", f"must be a TicketUpdate, got {type(update).__name__}")
        planned = plan(update)
        jobs = [NewJob(d.idempotency_key, d.channel, self._render(update, d).to_dict()) for d in planned]
        return jobs, planned

    def _render(self, update: TicketUpdate, delivery: PlannedDelivery) -> EmailMessage | PushMessage:
        r = update.recipient
        ticket_id = update.ticket.id
        link_id = link_ticket_id(update)  # after a merge: the surviving ticket
        if delivery.device is not None:
            assert isinstance(r, AccountUser)
            push = self.renderer.render_update_push(update, include_excerpt=self.excerpts.push)
            group = _group_id(ticket_id)
            return PushMessage(
                delivery_id=delivery.idempotency_key, ticket_id=ticket_id, locale=r.locale,
                platform=delivery.device.platform.value, token=delivery.device.token,
                user_id=r.user_id, title=push.title, body=push.body,
                deep_link=self.links.app(link_id), thread_id=group, collapse_id=group,
                data={"ticket_id": ticket_id, "kind": update.kind.value, "event_id": update.event_id},
            )
        if delivery.guest_link:
            if self.guest_links is None:
                raise ConfigurationError(
                    "a guest update needs guest links: pass Notifier(guest_links=GuestLinks([...]))")
            url = self.guest_links.url_for(link_id, r.email, now=self.clock())
            with_subject = self.excerpts.guest_subject
            email = self.renderer.render_update_email(
                update, ticket_url=url, app_url=None, guest=True,
                include_excerpt=self.excerpts.guest_email, include_subject=with_subject)
        else:
            with_subject = True
            email = self.renderer.render_update_email(
                update, ticket_url=self.links.web(link_id), app_url=self.links.app(link_id),
                guest=False, include_excerpt=self.excerpts.account_email)
        return EmailMessage(
            delivery_id=delivery.idempotency_key, ticket_id=ticket_id,
            ticket_subject=update.ticket.subject if with_subject else "", locale=r.locale,
            to_address=delivery.address,
            to_name=r.name, subject=email.subject, html=email.html, text=email.text,
            preheader=email.preheader,
        )


def _url_part(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _group_id(ticket_id: str) -> str:
    """Per-ticket id for push threading/collapsing; APNs caps collapse ids at 64 bytes."""
    candidate = f"ticket-{ticket_id}"
    if len(candidate.encode()) <= 64:
        return candidate
    return "ticket-" + hashlib.sha256(ticket_id.encode()).hexdigest()[:40]
