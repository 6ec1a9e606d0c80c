"""The host's entry point: publish an update, get every planned delivery stored."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
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


class _Unset(Enum):
    """Marks a link argument the host did not pass (``None`` is a deliberate "none")."""

    UNSET = "unset"


_UNSET = _Unset.UNSET


@dataclass(frozen=True, slots=True)
class Links:
    """Where account users open a ticket, as patterns with ``{ticket_id}`` filled in.

    There is no default: a real message must never carry a placeholder address.

    Attributes:
        web_ticket_url: the ticket on the host's site, e.g.
            ``"https://help.example.com/tickets/{ticket_id}"``; the email's link, and the
            push deep link when there is no app link. Required.
        app_ticket_url: the ticket in the host's app, e.g. ``"examplehelp://tickets/{ticket_id}"``;
            the push deep link and the email's "open in the app" link. ``None``: no app.

    Raises:
        ConfigurationError: a pattern is missing, has no ``{ticket_id}`` or uses another
            placeholder.
    """

    web_ticket_url: str = ""
    app_ticket_url: str | None = None

    def __post_init__(self) -> None:
        if not self.web_ticket_url:
            raise ConfigurationError(
                "Links.web_ticket_url is required: the address of a ticket on your site, e.g. "
                "Links(web_ticket_url='https://help.example.com/tickets/{ticket_id}')")
        for name in ("web_ticket_url", "app_ticket_url"):
            pattern = getattr(self, name)
            if pattern is None and name == "app_ticket_url":
                continue
            if not isinstance(pattern, str):
                raise ConfigurationError(f"Links.{name} must be a string, not {pattern!r}")
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

    def app(self, ticket_id: str) -> str | None:
        """App deep link of a ticket, or None when the host has no app."""
        if self.app_ticket_url is None:
            return None
        return self.app_ticket_url.format(ticket_id=_url_part(ticket_id))

    def push(self, ticket_id: str) -> str:
        """Where a push opens: the app link, else the web address."""
        return self.app(ticket_id) or self.web(ticket_id)


@dataclass(frozen=True, slots=True)
class ExcerptPolicy:
    """Where conversation text may appear; lock screens and unverified mailboxes are public.

    Attributes:
        account_email: show the reply excerpt in account users' emails (default True).
        guest_email: show it in guest emails (default False: an unverified mailbox may not
            be the filer's).
        push: show it in pushes (default False: lock screens are public).
        guest_subject: show the ticket's subject in guest emails (default False).
    """

    account_email: bool = True
    guest_email: bool = False
    push: bool = False
    # The ticket's subject is text whoever filed the ticket typed: to an unverified guest
    # mailbox it is relayed content (the spam-relay lesson), so it stays out by default.
    guest_subject: bool = False


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What ``publish`` planned and how much of it was new to the outbox.

    Attributes:
        event_id: the update's ``event_id``.
        planned: every delivery routing planned, in order (push per device, then email).
        stored: how many of them were new to the outbox (0 for a repeated publish).
    """

    event_id: str
    planned: tuple[PlannedDelivery, ...]
    stored: int

    @property
    def duplicate(self) -> bool:
        """True when the same event had been published before (nothing new stored)."""
        return self.stored == 0 and bool(self.planned)


class Notifier:
    """Plans, renders and stores deliveries; a ``Worker`` sends them later.

    Args:
        outbox: where deliveries are stored (``SQLiteOutbox``, ``PostgresOutbox``).
        links: ``Links`` for account users' emails and pushes. Required; ``None`` only
            if this host never notifies account users (such an update then raises).
        guest_links: builds the signed link in guest emails, normally
            ``GuestLinks(keys, url_pattern=...)``. Required; ``None`` only if this host
            never notifies guests (such an update then raises).
        renderer: the ``Renderer``; default ``Renderer.shared()``.
        excerpts: where reply excerpts may appear; default ``ExcerptPolicy()``.
        clock: returns the current aware UTC datetime (signing time of guest links).

    Raises:
        ConfigurationError: ``links`` or ``guest_links`` not passed, or a ``GuestLinks``
            made without ``url_pattern`` (it can open links but not build them). The
            message names the argument and what to pass.
    """

    def __init__(
        self,
        outbox: Outbox,
        *,
        renderer: Renderer | None = None,
        guest_links: LinkSigner | None | _Unset = _UNSET,
        links: Links | None | _Unset = _UNSET,
        excerpts: ExcerptPolicy | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if links is _UNSET:
            raise ConfigurationError(
                "Notifier needs links=Links(web_ticket_url='https://help.example.com/tickets/"
                "{ticket_id}', app_ticket_url='examplehelp://tickets/{ticket_id}') with your "
                "own addresses (links=None if you never notify account users)")
        if guest_links is _UNSET:
            raise ConfigurationError(
                "Notifier needs guest_links=GuestLinks(keys, url_pattern='https://help.example."
                "com/guest/tickets/{ticket_id}?token={token}') with your own address "
                "(guest_links=None if you never notify guests)")
        if links is not None and not isinstance(links, Links):
            raise ConfigurationError(f"links must be a Links, not {type(links).__name__}")
        if guest_links is not None and getattr(guest_links, "url_pattern", "") is None:
            raise ConfigurationError(
                "guest_links was made without url_pattern, so it cannot build the link guest "
                "emails carry: GuestLinks(keys, url_pattern='https://help.example.com/guest/"
                "tickets/{ticket_id}?token={token}')")
        if renderer is None:
            from .rendering import Renderer

            renderer = Renderer.shared()
        self.outbox = outbox
        self.renderer = renderer
        self.guest_links: LinkSigner | None = guest_links
        self.links: Links | None = links
        self.excerpts = excerpts or ExcerptPolicy()
        self.clock = clock

    def publish(self, update: TicketUpdate, *, transaction: object | None = None) -> PublishResult:
        """Plan, render and store every delivery of ``update`` in one write (or none).

        Args:
            update: the ``TicketUpdate``; publishing the same ``event_id`` again stores
                nothing new (``PublishResult.duplicate``).
            transaction: for ``PostgresOutbox``, the host's open psycopg connection, so the
                deliveries commit or roll back with the host's own change.

        Returns:
            ``PublishResult(event_id, planned, stored)``.

        Raises:
            InvalidInputError: ``update`` is not a ``TicketUpdate``; ``.field`` names what
                was wrong. Nothing was stored.
            ConfigurationError: the update needs ``links``/``guest_links`` this notifier
                was made without (``None``).
            OutboxUnavailableError: the outbox could not store it (database down, locked,
                disk full); nothing was stored, publishing again later is safe.
        """
        jobs, planned = self._jobs(update)
        stored = self._store(jobs, transaction)
        return PublishResult(update.event_id, tuple(planned), stored)

    async def apublish(self, update: TicketUpdate, *, transaction: object | None = None) -> PublishResult:
        """``publish`` for asyncio hosts (any loop): the store write runs in a worker thread.

        Same arguments, result and errors as ``publish``.
        """
        jobs, planned = self._jobs(update)
        stored = await asyncio.to_thread(self._store, jobs, transaction)
        return PublishResult(update.event_id, tuple(planned), stored)

    def publish_many(self, updates: Sequence[TicketUpdate], *, transaction: object | None = None) -> int:
        """Store several updates in one write, all or nothing (imports, batch jobs).

        Args:
            updates: the updates; each is checked before anything is stored.
            transaction: as for ``publish``.

        Returns:
            How many jobs were new to the outbox (repeated events add none).

        Raises:
            InvalidInputError: one update is bad (``.field``); nothing was stored.
            ConfigurationError: as for ``publish``.
            OutboxUnavailableError: as for ``publish``; nothing was stored.
        """
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
            links = self._links()
            return PushMessage(
                delivery_id=delivery.idempotency_key, ticket_id=ticket_id, locale=r.locale,
                platform=delivery.device.platform.value, token=delivery.device.token,
                user_id=r.user_id, title=push.title, body=push.body,
                deep_link=links.push(link_id), thread_id=group, collapse_id=group,
                data={"ticket_id": ticket_id, "kind": update.kind.value, "event_id": update.event_id},
            )
        if delivery.guest_link:
            if self.guest_links is None:
                raise ConfigurationError(
                    "a guest update needs guest links, and this Notifier was made with "
                    "guest_links=None: pass guest_links=GuestLinks(keys, url_pattern=...)")
            url = self.guest_links.url_for(link_id, r.email, now=self.clock())
            with_subject = self.excerpts.guest_subject
            email = self.renderer.render_update_email(
                update, ticket_url=url, app_url=None, guest=True,
                include_excerpt=self.excerpts.guest_email, include_subject=with_subject)
        else:
            with_subject = True
            links = self._links()
            email = self.renderer.render_update_email(
                update, ticket_url=links.web(link_id), app_url=links.app(link_id),
                guest=False, include_excerpt=self.excerpts.account_email)
        return EmailMessage(
            delivery_id=delivery.idempotency_key, ticket_id=ticket_id,
            ticket_subject=update.ticket.subject if with_subject else "", locale=r.locale,
            to_address=delivery.address,
            to_name=r.name, subject=email.subject, html=email.html, text=email.text,
            preheader=email.preheader,
        )


    def _links(self) -> Links:
        if self.links is None:
            raise ConfigurationError(
                "an account user's update needs Links, and this Notifier was made with "
                "links=None: pass links=Links(web_ticket_url=..., app_ticket_url=...)")
        return self.links


def _url_part(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _group_id(ticket_id: str) -> str:
    """Per-ticket id for push threading/collapsing; APNs caps collapse ids at 64 bytes."""
    candidate = f"ticket-{ticket_id}"
    if len(candidate.encode()) <= 64:
        return candidate
    return "ticket-" + hashlib.sha256(ticket_id.encode()).hexdigest()[:40]
