"""Brands: who a notification comes from, where its links lead, how it looks and is answered.

A helpdesk with queues or several products sends as more than one sender. A ``Brand``
names the sender, the team named in the copy, the link patterns, the look and the footer,
and whether replies by email are read. An update picks its brand by name
(``TicketUpdate(brand="billing")`` or the notifier's ``brand_for``); ``Links`` is the
simple form of one brand and still works on its own.
"""

from __future__ import annotations

import enum
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from .errors import ConfigurationError, InvalidInputError
from .events import BUILTIN_LINK_NAMES, Ticket
from .validation import check_email, check_text

__all__ = [
    "DEFAULT_BRAND", "Brand", "Links", "ReplyMode", "fill_text", "fill_url", "link_values",
    "reply_headers",
]

DEFAULT_BRAND = "default"
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_KEYS = frozenset({"ticket_id", "ticket_number"})


class ReplyMode(enum.StrEnum):
    """Whether replies to a brand's mail are read.

    ``NOTIFICATION_ONLY`` (the default): replies are not read; the footer says to answer
    in the ticket. ``REPLY_BY_EMAIL``: the host's inbound mail finds the ticket by the
    Reply-To address or the subject tag; the footer says to write above the reply line.
    """

    NOTIFICATION_ONLY = "notification-only"
    REPLY_BY_EMAIL = "reply-by-email"


@dataclass(frozen=True, slots=True)
class Links:
    """Where account users open a ticket: the simple form of one brand.

    There is no default: a real message must never carry a placeholder address. Patterns
    take the same placeholders as ``Brand`` link patterns (``{ticket_id}`` is the ticket's
    key, ``{ticket_number}`` the number people see, ``{brand}``, ``{recipient_email}`` and
    the ticket's ``link_params``), every value URL-encoded.

    Attributes:
        web_ticket_url: the ticket on the host's site, e.g.
            ``"https://help.example.com/tickets/{ticket_id}"``; the email's link, and the
            push deep link when there is no app link. Required.
        app_ticket_url: the ticket in the host's app, e.g. ``"examplehelp://tickets/{ticket_id}"``;
            the push deep link and the email's "open in the app" link. ``None``: no app, so
            no app link and no app paragraph in any mail.

    Raises:
        ConfigurationError: a pattern is missing, names neither ``{ticket_id}`` nor
            ``{ticket_number}``, or is no format string.
    """

    web_ticket_url: str = ""
    app_ticket_url: str | None = None

    def __post_init__(self) -> None:
        if not self.web_ticket_url:
            raise ConfigurationError(
                "Links.web_ticket_url is required: the address of a ticket on your site, e.g. "
                "Links(web_ticket_url='https://help.example.com/tickets/{ticket_id}')")
        check_pattern("Links.web_ticket_url", self.web_ticket_url, token=False)
        check_scheme("Links.web_ticket_url", self.web_ticket_url)
        if self.app_ticket_url is not None:
            check_pattern("Links.app_ticket_url", self.app_ticket_url, token=False)
            check_scheme("Links.app_ticket_url", self.app_ticket_url, app=True)

    def web(self, ticket_id: str) -> str:
        """Web address of a ticket whose key and number are ``ticket_id``."""
        return fill_url(self.web_ticket_url, link_values(Ticket(ticket_id, "-"), DEFAULT_BRAND))

    def app(self, ticket_id: str) -> str | None:
        """App deep link of a ticket, or None when the host has no app."""
        if self.app_ticket_url is None:
            return None
        return fill_url(self.app_ticket_url, link_values(Ticket(ticket_id, "-"), DEFAULT_BRAND))

    def push(self, ticket_id: str) -> str:
        """Where a push opens: the app link, else the web address."""
        return self.app(ticket_id) or self.web(ticket_id)


@dataclass(frozen=True, slots=True)
class Brand:
    """One sender identity of a helpdesk: address, names, links, look and reply mode.

    Link patterns may use ``{ticket_id}`` (the ticket's stable key), ``{ticket_number}``
    (what people see), ``{brand}`` (this brand's ``name``), ``{recipient_email}`` (the
    address the mail goes to, for host pages that need it) and any name the ticket's
    ``link_params`` supplies, e.g. ``{secret}``. Every value is URL-encoded when filled. A
    name neither built in nor in the ticket's ``link_params`` refuses that publish with
    ``InvalidInputError`` (``.field`` ``"ticket.link_params"``); nothing is stored.

    Attributes:
        name: The name updates pick the brand by (``TicketUpdate(brand="billing")``), one
            line, at most 64 characters; also the ``{brand}`` placeholder.
        web_ticket_url: Pattern of the ticket's web page for account users, e.g.
            ``"https://billing.example.com/tickets/{ticket_number}"``. ``None``: this brand
            never notifies account users (such an update raises ``ConfigurationError``).
        app_ticket_url: Pattern of the app deep link. ``None`` (default): no app, so
            neither an app link nor the app paragraph appears in any locale.
        guest_ticket_url: Pattern of the guest page, with ``{token}`` (the signed guest
            token). ``None``: the notifier's ``GuestLinks.url_pattern``.
        sender: The From address of this brand's mail. ``None``: the channel's configured
            sender (``SMTPConfig.sender``).
        sender_name: The From display name. ``None``: the channel's ``sender_name``.
        envelope_sender: The SMTP envelope sender (MAIL FROM, where bounces go). ``None``:
            the channel's configured sender, whatever ``sender`` says.
        team: The team or product named in the copy ("Billing support"). ``""``: the
            shipped copy's own words ("our support team").
        accent_color: Button and link colour, ``#rgb`` or ``#rrggbb``.
        background_color: Page background colour around the card, ``#rgb`` or ``#rrggbb``.
        logo_url: An ``https://`` image shown above the card's content, at most 2048
            characters; ``None`` for none. Mail clients fetch it when the reader opens the mail.
        footer_lines: Lines shown at the end of the footer (address, company number),
            each one line of at most 300 characters, at most 6 lines.
        reply_mode: ``ReplyMode.NOTIFICATION_ONLY`` (default) or ``REPLY_BY_EMAIL``.
        reply_to: Reply mode ``reply-by-email``: the Reply-To pattern, e.g.
            ``"support+{ticket_id}@example.com"`` (the filled value must be an address).
            ``None``: replies go to the From address.
        subject_tag: Reply mode ``reply-by-email``: put in front of every subject, e.g.
            ``"[#{ticket_number}]"``, so inbound mail finds its ticket; one line. Required
            in that mode unless ``reply_to`` names the ticket.

    Raises:
        ConfigurationError: on construction, naming the attribute and what to fix.
    """

    name: str = DEFAULT_BRAND
    web_ticket_url: str | None = None
    app_ticket_url: str | None = None
    guest_ticket_url: str | None = None
    sender: str | None = None
    sender_name: str | None = None
    envelope_sender: str | None = None
    team: str = ""
    accent_color: str = "#1d4ed8"
    background_color: str = "#f3f4f6"
    logo_url: str | None = None
    footer_lines: tuple[str, ...] = field(default=())
    reply_mode: ReplyMode = ReplyMode.NOTIFICATION_ONLY
    reply_to: str | None = None
    subject_tag: str | None = None

    def __post_init__(self) -> None:
        try:
            self._check()
        except InvalidInputError as exc:
            raise ConfigurationError(f"Brand {self.name!r}: {exc}") from exc

    def _check(self) -> None:
        check_text("name", self.name, max_len=64)
        try:
            object.__setattr__(self, "reply_mode", ReplyMode(self.reply_mode))
        except ValueError as exc:
            modes = ", ".join(m.value for m in ReplyMode)
            raise InvalidInputError("reply_mode", f"{self.reply_mode!r} is not one of {modes}") from exc
        for name in ("web_ticket_url", "app_ticket_url"):
            if getattr(self, name) is not None:
                check_pattern(f"Brand.{name}", getattr(self, name), token=False)
                check_scheme(f"Brand.{name}", getattr(self, name), app=name == "app_ticket_url")
        if self.guest_ticket_url is not None:
            names = check_pattern("Brand.guest_ticket_url", self.guest_ticket_url)
            check_scheme("Brand.guest_ticket_url", self.guest_ticket_url)
            if "token" not in names:
                raise InvalidInputError("guest_ticket_url", "must contain {token}")
        for name in ("sender", "envelope_sender"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_email(name, getattr(self, name)))
        if self.sender_name is not None:
            check_text("sender_name", self.sender_name, required=False, max_len=256)
        check_text("team", self.team, required=False, max_len=100)
        for name in ("accent_color", "background_color"):
            if not isinstance(getattr(self, name), str) or not _COLOR.fullmatch(getattr(self, name)):
                raise InvalidInputError(name, f"{getattr(self, name)!r} is not #rgb or #rrggbb")
        if self.logo_url is not None:
            check_text("logo_url", self.logo_url, max_len=2048)
            if not self.logo_url.startswith("https://") or any(c in self.logo_url for c in ' "<>'):
                raise InvalidInputError("logo_url", "must be an https:// URL without spaces or quotes")
        if isinstance(self.footer_lines, str) or len(self.footer_lines) > 6:
            raise InvalidInputError("footer_lines", "must be a sequence of at most 6 lines")
        object.__setattr__(self, "footer_lines", tuple(self.footer_lines))
        for i, line in enumerate(self.footer_lines):
            check_text(f"footer_lines[{i}]", line, max_len=300)
        self._check_reply_mode()

    def _check_reply_mode(self) -> None:
        if self.reply_mode is ReplyMode.NOTIFICATION_ONLY:
            if self.reply_to is not None or self.subject_tag is not None:
                raise InvalidInputError(
                    "reply_mode", "reply_to and subject_tag need reply_mode='reply-by-email' "
                    "(in notification-only mode replies are not read)")
            return
        names: set[str] = set()
        if self.reply_to is not None:
            names |= _names("reply_to", self.reply_to)
            # The filled address must be one: check the pattern's own shape with dummy values.
            check_email("reply_to", fill_text(self.reply_to, dict.fromkeys(_names(
                "reply_to", self.reply_to), "x1")))
        if self.subject_tag is not None:
            check_text("subject_tag", self.subject_tag, max_len=64)
            names |= _names("subject_tag", self.subject_tag)
        if not names & _KEYS:
            raise InvalidInputError(
                "subject_tag", "reply-by-email needs subject_tag='[#{ticket_number}]' or a "
                "reply_to pattern with {ticket_id}, so inbound mail can find its ticket")

    @property
    def reply_by_email(self) -> bool:
        """True when replies to this brand's mail are read (``ReplyMode.REPLY_BY_EMAIL``)."""
        return self.reply_mode is ReplyMode.REPLY_BY_EMAIL

    @classmethod
    def from_links(cls, links: Links | None) -> Brand:
        """The default brand a plain ``Links`` (or ``links=None``) stands for."""
        if links is None:
            return cls()
        return cls(web_ticket_url=links.web_ticket_url, app_ticket_url=links.app_ticket_url)


def reply_headers(brand: Brand, subject: str, values: Mapping[str, str]) -> tuple[str, str]:
    """The subject (with the brand's tag in reply-by-email mode) and the filled Reply-To.

    Args:
        brand: the brand the mail goes out as.
        subject: the rendered subject.
        values: ``link_values`` of the ticket.

    Returns:
        ``(subject, reply_to)``; ``reply_to`` is ``""`` unless the brand takes replies by
        email and has a ``reply_to`` pattern. Notification-only brands return ``subject``
        unchanged.

    Raises:
        InvalidInputError: the Reply-To pattern filled to no address (``.field``
            ``"brand.reply_to"``), or a placeholder without a value (``"ticket.link_params"``).
    """
    if not brand.reply_by_email:
        return subject, ""
    if brand.subject_tag:
        subject = f"{fill_text(brand.subject_tag, values, field_name='subject_tag')} {subject}"
    reply_to = ""
    if brand.reply_to:
        reply_to = check_email("brand.reply_to", fill_text(brand.reply_to, values,
                                                           field_name="reply_to"))
    return subject, reply_to


def link_values(ticket: Ticket, brand: str, recipient_email: str = "") -> dict[str, str]:
    """The values link patterns are filled from (not yet URL-encoded).

    Args:
        ticket: the ticket the link opens (its key, number and ``link_params``).
        brand: the brand's name.
        recipient_email: the address the mail goes to; ``""`` for pushes.

    Returns:
        ``{"ticket_id": key, "ticket_number": number, "brand": ..., "recipient_email": ...,
        **ticket.link_params}``.
    """
    return {**ticket.link_params, "ticket_id": ticket.id, "ticket_number": ticket.number,
            "brand": brand, "recipient_email": recipient_email}


def fill_url(pattern: str, values: Mapping[str, str], *, field_name: str = "link") -> str:
    """``pattern`` with every placeholder replaced by its URL-encoded value.

    Raises:
        InvalidInputError: a placeholder has no value (``.field`` ``"ticket.link_params"``).
    """
    return fill_text(pattern, {k: quote(v, safe="") for k, v in values.items()},
                     field_name=field_name)


def fill_text(pattern: str, values: Mapping[str, str], *, field_name: str = "link") -> str:
    """``pattern`` with placeholders replaced as given (no encoding: subject tags, addresses).

    Raises:
        InvalidInputError: a placeholder has no value (``.field`` ``"ticket.link_params"``).
    """
    try:
        return pattern.format_map(values)
    except KeyError as exc:
        raise InvalidInputError(
            "ticket.link_params",
            f"the {field_name} pattern {pattern!r} needs {{{exc.args[0]}}}: pass it in "
            f"Ticket(link_params={{{exc.args[0]!r}: ...}})") from None


def check_pattern(where: str, pattern: object, *, token: bool = True) -> set[str]:
    """Check a link pattern; returns its placeholder names.

    Raises:
        ConfigurationError: not a string, not a format string, attribute or index access
            in a placeholder, ``{token}`` where no token is issued (``token=False``), or
            neither ``{ticket_id}`` nor ``{ticket_number}``.
    """
    if not isinstance(pattern, str):
        raise ConfigurationError(f"{where} must be a string, not {pattern!r}")
    try:
        names = _names(where, pattern)
    except InvalidInputError as exc:
        raise ConfigurationError(str(exc)) from exc
    if not token and "token" in names:
        raise ConfigurationError(f"{where} {pattern!r}: {{token}} is only for guest_ticket_url")
    if not names & _KEYS:
        raise ConfigurationError(f"{where} {pattern!r} has neither {{ticket_id}} nor {{ticket_number}}")
    return names


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.DOTALL)
_NEVER = frozenset({"javascript", "data", "vbscript", "file"})  # script or local files


def check_scheme(where: str, pattern: str, *, app: bool = False) -> None:
    """Refuse a link pattern whose scheme is not a web address (``app``: not a safe one).

    Web and guest links must be absolute ``http(s)://host/...`` URLs (a relative
    ``help.example.com/{ticket_id}`` is no link in a mail client). App deep links may use
    a custom scheme (``examplehelp://``) but never ``javascript:``, ``data:``,
    ``vbscript:`` or ``file:``. A pattern that starts with a placeholder gets its scheme
    from a ``Ticket.link_params`` value and is not checked here.

    Raises:
        ConfigurationError: the message names ``where`` and says what to use.
    """
    if pattern.startswith("{") and not pattern.startswith("{{"):
        return
    match = _SCHEME.match(pattern)
    scheme = match.group(1).lower() if match else ""
    if app:
        if not scheme or scheme in _NEVER:
            raise ConfigurationError(
                f"{where} {pattern!r} must be an absolute URL with your app's scheme (e.g. "
                f"'examplehelp://tickets/{{ticket_id}}'); javascript:, data:, vbscript: and "
                "file: are never allowed")
        return
    rest = match.group(2) if match else ""
    if scheme not in ("http", "https") or not rest.startswith("//") or rest[2:3] in ("", "/"):
        raise ConfigurationError(
            f"{where} {pattern!r} must be an absolute http(s) URL with a host, e.g. "
            "'https://help.example.com/tickets/{ticket_id}'")


def _names(where: str, pattern: str) -> set[str]:
    try:
        names = {name for _, name, spec, conv in string.Formatter().parse(pattern)
                 if name is not None and not spec and not conv}
        parsed = [name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None]
    except ValueError as exc:
        raise InvalidInputError(where, f"{pattern!r} is not a format string: {exc}") from exc
    for name in parsed:
        if not name.isidentifier() or name not in names:
            raise InvalidInputError(
                where, f"{pattern!r}: {{{name}}} is not a plain name (built in: "
                f"{', '.join(sorted(BUILTIN_LINK_NAMES))}; or a Ticket.link_params name)")
    return names
