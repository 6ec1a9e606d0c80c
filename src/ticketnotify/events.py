"""Immutable ticket-update events as the host publishes them, validated on construction.

The validators live in ``ticketnotify.validation``; their names are imported here too so
``from ticketnotify.events import check_text`` keeps working for hosts that used it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from . import graphemes
from .errors import InvalidInputError
from .validation import (
    EARLIEST,
    LATEST,
    check_aware,
    check_email,
    check_locale,
    check_text,
    check_timezone,
    check_unicode,
)

__all__ = [
    "BUILTIN_LINK_NAMES", "EARLIEST", "LATEST", "MAX_CC", "MAX_EXCERPT_CLUSTERS", "MAX_NEW_REPLIES",
    "AccountUser", "Device",
    "Guest", "Platform", "Preferences", "Recipient", "Ticket", "TicketUpdate", "UpdateKind",
    "check_aware", "check_email", "check_locale", "check_text", "check_timezone",
]

MAX_NEW_REPLIES = 10_000
MAX_CC = 20  # CC'd guest addresses per ticket: each costs a mail and a link of its own
# An excerpt keeps at most this many grapheme clusters (then "…"): more than any shipped
# template shows (600 characters in email, 140 in push), and small enough that a pasted
# log never makes an outbox row large. Longer replies are cut here, never refused.
MAX_EXCERPT_CLUSTERS = 2_000


class UpdateKind(enum.StrEnum):
    """What happened to the ticket; each kind has its own templates."""

    AGENT_REPLY = "agent_reply"
    INFO_REQUESTED = "info_requested"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    STATUS_CHANGED = "status_changed"
    RECEIVED = "received"
    AWAITING_REPLY = "awaiting_reply"
    CLOSED = "closed"
    CLOSED_INACTIVE = "closed_inactive"
    MERGED = "merged"


class Platform(enum.StrEnum):
    """Push platform of a device; decides APNs or FCM."""

    IOS = "ios"
    ANDROID = "android"


@dataclass(frozen=True, slots=True)
class Ticket:
    """The ticket as the requester knows it: a stable key and the number people see.

    Moving a ticket to another queue changes its number (``support-1`` becomes
    ``billing-1``) but never its key, so the mail thread, the push group and the guest
    links already in inboxes keep working.

    Attributes:
        id: The ticket's stable key (at most 64 characters, one line). It signs guest
            links, roots the mail thread (Message-ID root, References, Thread-Index), keys
            push thread and collapse ids and idempotency. Never shown to the requester
            unless it is also the number.
        subject: The subject the requester typed (at most 998 characters, one line).
        number: The reference people see in subjects, bodies and push titles (at most 64
            characters, one line). Default: ``id``.
        link_params: Host values that link patterns may use by name, e.g.
            ``{"secret": "k3y"}`` for ``"https://help.example.com/t/{ticket_id}?s={secret}"``
            (URL-encoded when filled). Names are Python identifiers other than the built-in
            placeholders; values one line, at most 512 characters each, at most 16 of them.

    Raises:
        InvalidInputError: on construction, for an empty, multi-line or too long value;
            ``.field`` is ``"ticket.id"``, ``"ticket.subject"``, ``"ticket.number"`` or
            ``"ticket.link_params"``.
    """

    id: str
    subject: str
    number: str = ""
    link_params: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_text("ticket.id", self.id, max_len=64)
        check_text("ticket.subject", self.subject, max_len=998)
        if self.number == "":
            object.__setattr__(self, "number", self.id)
        check_text("ticket.number", self.number, max_len=64)
        object.__setattr__(self, "link_params", _link_params(self.link_params))

    def __hash__(self) -> int:
        return hash((self.id, self.subject, self.number, tuple(sorted(self.link_params.items()))))


# Placeholders every link pattern has; host ``link_params`` may not shadow them.
BUILTIN_LINK_NAMES = frozenset({"ticket_id", "ticket_number", "brand", "recipient_email", "token"})


def _link_params(params: object) -> Mapping[str, str]:
    if not isinstance(params, Mapping):
        raise InvalidInputError("ticket.link_params", "must be a mapping of name to string")
    if len(params) > 16:
        raise InvalidInputError("ticket.link_params", "at most 16 values")
    for name, value in params.items():
        if not isinstance(name, str) or not name.isidentifier() or name in BUILTIN_LINK_NAMES:
            raise InvalidInputError(
                "ticket.link_params",
                f"{name!r} is not a usable name (a Python identifier, not one of "
                f"{', '.join(sorted(BUILTIN_LINK_NAMES))})")
        check_text(f"ticket.link_params.{name}", value, max_len=512)
    return MappingProxyType(dict(params))


@dataclass(frozen=True, slots=True)
class Device:
    """One registered push target of an account user.

    Attributes:
        platform: ``Platform.IOS`` (APNs) or ``Platform.ANDROID`` (FCM); the strings
            ``"ios"`` and ``"android"`` are accepted and converted.
        token: The push token the app registered (at most 4096 characters, no whitespace).

    Raises:
        InvalidInputError: on construction, naming ``"device.platform"`` or
            ``"device.token"``.
    """

    platform: Platform
    token: str

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "platform", Platform(self.platform))
        except ValueError as exc:
            raise InvalidInputError("device.platform", f"{self.platform!r} is not ios or android") from exc
        check_text("device.token", self.token, max_len=4096)
        if any(c.isspace() for c in self.token):
            raise InvalidInputError("device.token", "must not contain whitespace")


@dataclass(frozen=True, slots=True)
class Preferences:
    """Channels an account user has switched on; guests have none to switch.

    Attributes:
        push: Push to the user's devices (default True).
        email: Email the user's address (default True). With push on but no device, the
            email goes out anyway so the update is not lost.

    Raises:
        InvalidInputError: on construction, when a value is not a bool
            (``.field`` is ``"preferences.push"`` or ``"preferences.email"``).
    """

    push: bool = True
    email: bool = True

    def __post_init__(self) -> None:
        for name in ("push", "email"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInputError(f"preferences.{name}", "must be True or False")


@dataclass(frozen=True, slots=True)
class AccountUser:
    """A requester who filed the ticket logged in: push on every device plus email.

    Attributes:
        user_id: The host's user id (at most 128 characters); keys idempotency.
        email: The account's address. Stored in canonical form (``validation.canonical_email``):
            ASCII, the domain as IDNA 2008 A-labels (``anna@straße.de`` becomes
            ``anna@xn--strae-oqa.de``), which is what the mail is sent to.
        locale: Language of the messages (``"sv"``, ``"sv-SE"``), stored as ``"sv_SE"``.
        time_zone: IANA zone dates are shown in (``"Europe/Stockholm"``).
        devices: Registered push targets; duplicates are sent once.
        preferences: Which channels the user switched on.
        name: Display name for the ``To:`` header; may be empty.

    Raises:
        InvalidInputError: on construction, naming the field as ``"recipient.<name>"``
            (``UnknownLocaleError`` for a locale Babel does not know).
    """

    user_id: str
    email: str
    locale: str = "en"
    time_zone: str = "UTC"
    devices: tuple[Device, ...] = ()
    preferences: Preferences = field(default_factory=Preferences)
    name: str = ""

    def __post_init__(self) -> None:
        check_text("recipient.user_id", self.user_id, max_len=128)
        object.__setattr__(self, "email", check_email("recipient.email", self.email))
        object.__setattr__(self, "locale", check_locale("recipient.locale", self.locale))
        check_timezone("recipient.time_zone", self.time_zone)
        check_text("recipient.name", self.name, required=False, max_len=256)
        if not isinstance(self.preferences, Preferences):
            raise InvalidInputError("recipient.preferences", "must be a Preferences")
        if not isinstance(self.devices, Sequence) or not all(isinstance(d, Device) for d in self.devices):
            raise InvalidInputError("recipient.devices", "must be a sequence of Device")
        object.__setattr__(self, "devices", tuple(self.devices))


@dataclass(frozen=True, slots=True)
class Guest:
    """A requester without an account: email only, with a signed link back to the ticket.

    Attributes:
        email: The address on the ticket, stored in canonical form like
            ``AccountUser.email``; the guest link is bound to its canonical key.
        locale: Language of the messages, stored as ``"sv_SE"``.
        time_zone: IANA zone dates are shown in.
        name: Display name for the ``To:`` header; may be empty.
        cc: Further addresses on the ticket (at most 20), stored in canonical form. Each
            gets a mail of its own, in the same locale and zone, with a guest link bound to
            that address alone; a copy of ``email`` or a repeat is sent once.

    Raises:
        InvalidInputError: on construction, naming the field as ``"recipient.<name>"``
            (``"recipient.cc[1]"`` for the second CC'd address).
    """

    email: str
    locale: str = "en"
    time_zone: str = "UTC"
    name: str = ""
    cc: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", check_email("recipient.email", self.email))
        object.__setattr__(self, "locale", check_locale("recipient.locale", self.locale))
        check_timezone("recipient.time_zone", self.time_zone)
        check_text("recipient.name", self.name, required=False, max_len=256)
        if isinstance(self.cc, str) or not isinstance(self.cc, Sequence):
            raise InvalidInputError("recipient.cc", "must be a sequence of addresses, not one string")
        if len(self.cc) > MAX_CC:
            raise InvalidInputError("recipient.cc", f"at most {MAX_CC} addresses")
        cc = tuple(check_email(f"recipient.cc[{i}]", a) for i, a in enumerate(self.cc))
        object.__setattr__(self, "cc", cc)


Recipient = AccountUser | Guest


@dataclass(frozen=True, slots=True)
class TicketUpdate:
    """One piece of news about a ticket for one requester.

    Attributes:
        event_id: The host's stable id for this news (at most 200 characters); publishing
            the same ``event_id`` again stores nothing new.
        ticket: The ticket it is about.
        kind: What happened (``UpdateKind`` or its string value, e.g. ``"agent_reply"``).
        recipient: Who hears about it: an ``AccountUser`` or a ``Guest``.
        occurred_at: When it happened; timezone-aware, year 1970–9000.
        excerpt: Optional text of the reply, any length and lines. A longer text is cut
            to its first ``MAX_EXCERPT_CLUSTERS`` (2,000) grapheme clusters plus ``…``; it
            is never a reason to refuse the update. Shown only where ``ExcerptPolicy`` allows.
        status: Optional new status as the requester sees it (one line, at most 200).
        new_replies: How many replies this news covers, 1 to 10,000.
        merged_into: Kind ``merged`` only: the ticket this one now lives in. A ``Ticket``
            gives its key (the links open it) and its number (the copy shows it); a plain
            string means a ticket whose key and number are that string. Ignored on other kinds.
        brand: Name of the ``Brand`` this update goes out as (sender, links, look, reply
            mode); ``None`` lets the notifier's ``brand_for`` or default brand decide.
        excerpt_format: How ``excerpt`` is written: ``"text"`` (default, shown as typed),
            ``"markdown"`` (CommonMark) or ``"html"``; Markdown and HTML are sanitized to a
            safe subset for the HTML part and turned into readable text elsewhere
            (docs/excerpts.md).
        author_name: Optional display name of who wrote the reply (one line, at most 256
            characters), shown above the excerpt in email; never in pushes.
        attachments: How many files the reply carries, 0 to 10,000 (default 0); emails
            say "2 attachments", no attachment content is ever sent.

    Raises:
        InvalidInputError: on construction, naming the field (``"kind"``, ``"excerpt"``,
            ``"occurred_at"`` ...) and what to fix.
    """

    event_id: str
    ticket: Ticket
    kind: UpdateKind
    recipient: Recipient
    occurred_at: datetime
    excerpt: str | None = None
    status: str | None = None
    new_replies: int = 1
    merged_into: Ticket | str | None = None
    brand: str | None = None
    excerpt_format: Literal["text", "markdown", "html"] = "text"
    author_name: str | None = None
    attachments: int = 0

    def __post_init__(self) -> None:
        check_text("event_id", self.event_id, max_len=200)
        if not isinstance(self.ticket, Ticket):
            raise InvalidInputError("ticket", "must be a Ticket")
        try:
            object.__setattr__(self, "kind", UpdateKind(self.kind))
        except ValueError as exc:
            kinds = ", ".join(k.value for k in UpdateKind)
            raise InvalidInputError("kind", f"{self.kind!r} is not one of {kinds}") from exc
        if not isinstance(self.recipient, AccountUser | Guest):
            raise InvalidInputError("recipient", "must be an AccountUser or a Guest")
        check_aware("occurred_at", self.occurred_at)
        if self.excerpt is not None:
            if not isinstance(self.excerpt, str):
                raise InvalidInputError("excerpt", "must be a string")
            # Cut first, then check: only the kept head is ever stored or shown, and the
            # cut reads no further than the head, so a pasted multi-megabyte log costs
            # nothing more than a short reply (no size needs refusing for memory's sake).
            short = graphemes.shorten(self.excerpt, MAX_EXCERPT_CLUSTERS)
            object.__setattr__(self, "excerpt", check_unicode("excerpt", short))
        if self.status is not None:
            check_text("status", self.status, max_len=200)
        if isinstance(self.merged_into, str):
            check_text("merged_into", self.merged_into, max_len=64)
        elif self.merged_into is not None and not isinstance(self.merged_into, Ticket):
            raise InvalidInputError("merged_into", "must be a Ticket, a ticket key or None")
        if self.brand is not None:
            check_text("brand", self.brand, max_len=64)
        if self.excerpt_format not in ("text", "markdown", "html"):
            raise InvalidInputError("excerpt_format",
                                    f"{self.excerpt_format!r} is not text, markdown or html")
        if self.author_name is not None:
            check_text("author_name", self.author_name, max_len=256)
        a = self.attachments
        if not isinstance(a, int) or isinstance(a, bool) or not 0 <= a <= MAX_NEW_REPLIES:
            raise InvalidInputError("attachments", f"must be an integer from 0 to {MAX_NEW_REPLIES}")
        n = self.new_replies
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_NEW_REPLIES:
            raise InvalidInputError("new_replies", f"must be an integer from 1 to {MAX_NEW_REPLIES}")
