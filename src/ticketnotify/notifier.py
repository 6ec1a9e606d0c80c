"""The host's entry point: publish an update, get every planned delivery stored."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from string import Formatter
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from .brands import Brand, Links, fill_text, link_values, reply_headers
from .clock import Clock, utc_now
from .errors import (
    ConfigurationError,
    InvalidInputError,
    OutboxUnavailableError,
    TicketNotifyError,
)
from .events import AccountUser, TicketUpdate
from .facts import DeliveryFacts, encode_facts
from .outbox.base import NewJob, Outbox
from .rendering.values import EMAIL_EXCERPT_CHARS, PUSH_EXCERPT_CHARS, shorten
from .routing import PlannedDelivery, link_ticket, merged_into_number, plan

__all__ = ["ExcerptPolicy", "LinkSigner", "Links", "Notifier", "PublishResult"]

if TYPE_CHECKING:
    from .rendering import Renderer
    from .rendering.deliveries import DeliveryRenderer


class LinkSigner(Protocol):
    """What the notifier needs from guest links: a token and a URL for (ticket key, address)."""

    def issue(self, ticket_id: str, email: str, *, now: datetime | None = None) -> str:
        """A signed token binding ``ticket_id`` to ``email``."""

    def url_for(self, ticket_id: str, email: str, *, now: datetime | None = None) -> str:
        """The guest link's URL for ``ticket_id`` and ``email``."""


class _Unset(Enum):
    """Marks a link argument the host did not pass (``None`` is a deliberate "none")."""

    UNSET = "unset"


_UNSET = _Unset.UNSET


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
    """Plans and stores deliveries as facts; a ``Worker`` renders and sends them later.

    Args:
        outbox: where deliveries are stored (``SQLiteOutbox``, ``PostgresOutbox``).
        links: ``Links`` for account users' emails and pushes: the simple form of the
            default brand. Required unless ``brands`` is given; ``None`` only if this host
            never notifies account users (such an update then raises).
        guest_links: builds the signed link in guest emails, normally
            ``GuestLinks(keys, url_pattern=...)``. Required; ``None`` only if this host
            never notifies guests (such an update then raises).
        renderer: the ``Renderer`` whose templates ``publish`` checks exist; default
            ``Renderer.shared()``. Workers render with it and the brands through
            ``Worker(..., renderer=notifier.delivery_renderer)``.
        excerpts: where reply excerpts may appear; default ``ExcerptPolicy()``.
        clock: returns the current aware UTC datetime (signing time of guest links).
        brands: the host's ``Brand``s. Without ``links``, the first is the default brand;
            with ``links``, the default brand is made from them and these are extra.
        brand_for: picks a brand name for an update without ``update.brand`` (e.g. by
            queue); returning ``None`` means the default brand.

    Raises:
        ConfigurationError: ``links`` (or ``brands``) or ``guest_links`` not passed, a
            ``GuestLinks`` made without ``url_pattern`` while a brand has no
            ``guest_ticket_url``, or two brands of one name. The message names the
            argument and what to pass.
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
        brands: Sequence[Brand] = (),
        brand_for: Callable[[TicketUpdate], str | None] | None = None,
    ) -> None:
        if links is _UNSET and not brands:
            raise ConfigurationError(
                "Notifier needs links=Links(web_ticket_url='https://help.example.com/tickets/"
                "{ticket_id}', app_ticket_url='examplehelp://tickets/{ticket_id}') with your "
                "own addresses (links=None if you never notify account users)")
        if guest_links is _UNSET:
            raise ConfigurationError(
                "Notifier needs guest_links=GuestLinks(keys, url_pattern='https://help.example."
                "com/guest/tickets/{ticket_id}?token={token}') with your own address "
                "(guest_links=None if you never notify guests)")
        if links is not None and links is not _UNSET and not isinstance(links, Links):
            raise ConfigurationError(f"links must be a Links, not {type(links).__name__}")
        if not all(isinstance(b, Brand) for b in brands):
            raise ConfigurationError("brands must be a sequence of Brand")
        chosen = [Brand.from_links(links)] if links is not _UNSET else []
        self.brands: dict[str, Brand] = {}
        for brand in [*chosen, *brands]:
            if brand.name in self.brands:
                raise ConfigurationError(f"two brands are named {brand.name!r}; names pick brands")
            self.brands[brand.name] = brand
        self.default_brand = next(iter(self.brands.values()))
        self.brand_for = brand_for
        if guest_links is not None and getattr(guest_links, "url_pattern", "") is None and any(
                b.guest_ticket_url is None for b in self.brands.values()):
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
        self.links: Links | None = None if links is _UNSET else links
        self.excerpts = excerpts or ExcerptPolicy()
        self.clock = clock

    def publish(self, update: TicketUpdate, *, transaction: object | None = None) -> PublishResult:
        """Plan and store every delivery of ``update`` in one write (or none); no rendering.

        Each job holds the delivery's facts (``ticketnotify.facts``); the worker renders them
        when it sends, so a template deployed meanwhile is what the recipient gets.

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
        jobs = [NewJob(d.idempotency_key, d.channel, encode_facts(self._facts(update, d)))
                for d in planned]
        return jobs, planned

    def brand_of(self, update: TicketUpdate) -> Brand:
        """The brand ``update`` goes out as: its own, else ``brand_for``'s, else the default.

        Raises:
            InvalidInputError: the name is no brand of this notifier (``.field`` ``"brand"``).
        """
        name = update.brand
        if name is None and self.brand_for is not None:
            name = self.brand_for(update)
        if name is None:
            return self.default_brand
        brand = self.brands.get(name) if isinstance(name, str) else None
        if brand is None:
            raise InvalidInputError("brand", f"{name!r} is not one of this notifier's brands "
                                             f"({', '.join(sorted(self.brands))})")
        return brand

    def _facts(self, update: TicketUpdate, delivery: PlannedDelivery) -> DeliveryFacts:
        """What the worker renders this delivery from; links filled, guest link signed now."""
        r = update.recipient
        brand = self.brand_of(update)
        target = link_ticket(update)  # after a merge: the surviving ticket
        medium = "push" if delivery.device is not None else "email"
        if not self.renderer.has_templates(medium, update.kind.value):
            raise InvalidInputError("kind", f"no {medium} templates for kind "
                                            f"{update.kind.value!r} under the renderer's folders")
        common: dict[str, Any] = {
            "kind": update.kind.value, "event_id": update.event_id,
            # threading and grouping follow the stable key, never the number
            "ticket_key": update.ticket.id, "ticket_number": update.ticket.number,
            "status": update.status or None, "new_replies": update.new_replies,
            "merged_into": merged_into_number(update), "occurred_at": update.occurred_at,
            "name": r.name, "locale": r.locale, "time_zone": r.time_zone, "brand": brand.name,
        }
        if delivery.device is not None:
            assert isinstance(r, AccountUser)
            values = link_values(target, brand.name)
            excerpt = _excerpt(update, self.excerpts.push, PUSH_EXCERPT_CHARS)
            return DeliveryFacts(
                medium="push", subject="", address=delivery.device.token, excerpt=excerpt,
                excerpt_format=update.excerpt_format if excerpt is not None else "text",
                ticket_url=_fill_url(brand.app_ticket_url or self._web(brand), values),
                platform=delivery.device.platform.value, user_id=r.user_id, **common)
        values = link_values(target, brand.name, delivery.address)
        if delivery.guest_link:
            url = self._guest_url(brand, target.id, delivery.address, values)
            app, with_subject, shown = None, self.excerpts.guest_subject, self.excerpts.guest_email
        else:
            url = _fill_url(self._web(brand), values)
            app = _fill_url(brand.app_ticket_url, values) if brand.app_ticket_url else None
            with_subject, shown = True, self.excerpts.account_email
        tag = ""
        if brand.reply_by_email and brand.subject_tag:
            tag = fill_text(brand.subject_tag, values, field_name="subject_tag")
        _, reply_to = reply_headers(brand, "", values)
        excerpt = _excerpt(update, shown, EMAIL_EXCERPT_CHARS)
        return DeliveryFacts(
            medium="email", subject=update.ticket.subject if with_subject else "",
            excerpt=excerpt, address=delivery.address,
            to_name="" if delivery.cc else r.name, guest=delivery.guest_link, ticket_url=url,
            app_url=app, reply_to=reply_to, subject_tag=tag,
            excerpt_format=update.excerpt_format if excerpt is not None else "text",
            author_name=update.author_name if excerpt is not None else None,
            attachments=update.attachments if shown else 0, **common)

    @property
    def delivery_renderer(self) -> DeliveryRenderer:
        """What a ``Worker`` renders this notifier's jobs with: its renderer and its brands.

        Pass it as ``Worker(outbox, channels, renderer=notifier.delivery_renderer)`` so the
        worker renders with the same catalogs, templates and brands as publish checked.
        """
        from .rendering.deliveries import DeliveryRenderer

        return DeliveryRenderer(self.renderer, self.brands.values())

    def _guest_url(self, brand: Brand, key: str, address: str, values: dict[str, str]) -> str:
        if self.guest_links is None:
            raise ConfigurationError(
                "a guest update needs guest links, and this Notifier was made with "
                "guest_links=None: pass guest_links=GuestLinks(keys, url_pattern=...)")
        if brand.guest_ticket_url is None:
            return self.guest_links.url_for(key, address, now=self.clock())
        token = self.guest_links.issue(key, address, now=self.clock())
        return _fill_url(brand.guest_ticket_url, {**values, "token": token})

    def _web(self, brand: Brand) -> str:
        if brand.web_ticket_url is None:
            raise ConfigurationError(
                f"an account user's update needs Links, and brand {brand.name!r} has none "
                "(this Notifier may have been made with links=None): pass links=Links("
                "web_ticket_url=..., app_ticket_url=...) or a Brand with web_ticket_url")
        return brand.web_ticket_url


@lru_cache(maxsize=256)
def _placeholders(pattern: str) -> tuple[str, ...]:
    return tuple({name for _, name, _, _ in Formatter().parse(pattern) if name})


def _fill_url(pattern: str, values: dict[str, str]) -> str:
    """``fill_url`` quoting only the values the pattern uses (publish fills two or three)."""
    return fill_text(pattern, {k: quote(values[k], safe="") for k in _placeholders(pattern)
                               if k in values})


def _excerpt(update: TicketUpdate, shown: bool, chars: int) -> str | None:
    """The excerpt to store, or None: never stored unshown.

    Plain text is stored cut to ``chars`` as the message shows it (cutting again at delivery
    changes nothing); Markdown and HTML as written, sanitized and cut when rendered, since a
    cut in the source could fall inside markup.
    """
    if not shown or not update.excerpt or not update.excerpt.strip():
        return None
    if update.excerpt_format != "text":
        return update.excerpt
    return shorten(update.excerpt, chars)
