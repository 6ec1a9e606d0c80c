"""Immutable ticket-update events as the host publishes them, validated on construction."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from babel import Locale

from .errors import InvalidInputError, UnknownLocaleError

# Pragmatic address check: one @, a dotted domain, no whitespace or control characters.
_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f<>(),;:\"\[\]\\]+"  # local part: no spaces, controls or specials
    r"@(?:[^\W_](?:(?:[^\W_]|-)*[^\W_])?\.)+[^\W\d_](?:[^\W_]|-)*[^\W_]$"  # dotted domain, IDN too
)
_HEADER_UNSAFE = re.compile(r"[\r\n\x00\u2028\u2029\x85\x0b\x0c]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # not encodable as UTF-8: no store or wire takes it
MAX_NEW_REPLIES = 10_000
EARLIEST, LATEST = 1970, 9000  # years; outside them time-zone arithmetic overflows


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


def check_text(field_name: str, value: object, *, required: bool = True, max_len: int = 10_000) -> str:
    """Refuse non-strings, empties and line breaks: any of these may reach a header."""
    if not isinstance(value, str):
        raise InvalidInputError(field_name, f"must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise InvalidInputError(field_name, "must not be empty")
    if _HEADER_UNSAFE.search(value):
        raise InvalidInputError(field_name, "must not contain line breaks or control characters")
    if _SURROGATE.search(value):
        raise InvalidInputError(field_name, "contains a lone surrogate (not valid Unicode text)")
    if len(value) > max_len:
        raise InvalidInputError(field_name, f"is longer than {max_len} characters")
    return value


def check_email(field_name: str, value: object) -> str:
    """Refuse what is not one plain address (display names belong elsewhere)."""
    text = check_text(field_name, value, max_len=254)
    if not _EMAIL.fullmatch(text):
        raise InvalidInputError(field_name, f"{text!r} is not an email address")
    if not text.rpartition("@")[0].isascii():
        # Internationalized domains are fine (sent IDNA-encoded); a non-ASCII local part
        # needs SMTPUTF8 end to end, which most relays lack: refuse it here, not at send time.
        raise InvalidInputError(
            field_name, f"{text!r} has a non-ASCII local part (SMTPUTF8), which cannot be delivered")
    return text


def check_locale(field_name: str, value: object) -> str:
    """Accept what Babel can parse (``sv``, ``sv_SE``, ``en-GB``) and normalise to ``sv_SE`` form."""
    text = check_text(field_name, value, max_len=35)
    try:
        parsed = Locale.parse(text.replace("-", "_"))
    except (ValueError, TypeError) as exc:  # babel raises UnknownLocaleError(Exception) too
        raise UnknownLocaleError(field_name, f"{text!r} is not a locale ({exc})") from exc
    except Exception as exc:  # babel.core.UnknownLocaleError does not subclass ValueError
        raise UnknownLocaleError(field_name, f"{text!r} is not a locale ({exc})") from exc
    return str(parsed)


def check_timezone(field_name: str, value: object) -> str:
    """Refuse time-zone names the zoneinfo database does not know."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = check_text(field_name, value, max_len=64)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(field_name, f"{text!r} is not a time zone") from exc
    return text


def check_aware(field_name: str, value: object) -> datetime:
    """Refuse naive datetimes: a notification's time is shown in the reader's zone."""
    if not isinstance(value, datetime):
        raise InvalidInputError(field_name, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(field_name, "must be timezone-aware (naive datetime given)")
    if not EARLIEST <= value.year <= LATEST:
        raise InvalidInputError(field_name, f"year {value.year} is outside {EARLIEST}–{LATEST}")
    return value


@dataclass(frozen=True, slots=True)
class Ticket:
    """The ticket as the requester knows it: number and subject."""

    id: str
    subject: str

    def __post_init__(self) -> None:
        check_text("ticket.id", self.id, max_len=64)
        check_text("ticket.subject", self.subject, max_len=998)


@dataclass(frozen=True, slots=True)
class Device:
    """One registered push target of an account user."""

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
    """Channels an account user has switched on; guests have none to switch."""

    push: bool = True
    email: bool = True

    def __post_init__(self) -> None:
        for name in ("push", "email"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInputError(f"preferences.{name}", "must be True or False")


@dataclass(frozen=True, slots=True)
class AccountUser:
    """A requester who filed the ticket logged in: push on every device plus email."""

    user_id: str
    email: str
    locale: str = "en"
    time_zone: str = "UTC"
    devices: tuple[Device, ...] = ()
    preferences: Preferences = field(default_factory=Preferences)
    name: str = ""

    def __post_init__(self) -> None:
        check_text("recipient.user_id", self.user_id, max_len=128)
        check_email("recipient.email", self.email)
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
    """A requester without an account: email only, with a signed link back to the ticket."""

    email: str
    locale: str = "en"
    time_zone: str = "UTC"
    name: str = ""

    def __post_init__(self) -> None:
        check_email("recipient.email", self.email)
        object.__setattr__(self, "locale", check_locale("recipient.locale", self.locale))
        check_timezone("recipient.time_zone", self.time_zone)
        check_text("recipient.name", self.name, required=False, max_len=256)


Recipient = AccountUser | Guest


@dataclass(frozen=True, slots=True)
class TicketUpdate:
    """One piece of news about a ticket for one requester; ``event_id`` makes publish idempotent."""

    event_id: str
    ticket: Ticket
    kind: UpdateKind
    recipient: Recipient
    occurred_at: datetime
    excerpt: str | None = None
    status: str | None = None
    new_replies: int = 1
    merged_into: str | None = None  # kind "merged": id of the ticket this one now lives in

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
            if _SURROGATE.search(self.excerpt):
                raise InvalidInputError("excerpt", "contains a lone surrogate (not valid Unicode text)")
            if len(self.excerpt) > 20_000:
                raise InvalidInputError("excerpt", "is longer than 20000 characters")
        if self.status is not None:
            check_text("status", self.status, max_len=200)
        if self.merged_into is not None:
            check_text("merged_into", self.merged_into, max_len=64)
        n = self.new_replies
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_NEW_REPLIES:
            raise InvalidInputError("new_replies", f"must be an integer from 1 to {MAX_NEW_REPLIES}")
