"""Signed deep links that bring a guest back to their ticket, without the address in the URL.

The token signs (ticket key, keyed digest of the normalized address, issued-at) for the
``guest-link`` purpose. The key is ``Ticket.id``, never the number people see, so a ticket
moved to another queue (new number, same key) keeps its links working. Each address on a
ticket (the requester and every CC'd one) gets a token of its own. The address itself is
never in the token: itsdangerous signs but does not encrypt, so its payload is readable
base64. The host compares the digest with the address it has on the ticket
(``open(token, email=...)``, or ``issued_for`` with all of them). Opening a link changes
nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Literal
from urllib.parse import quote

from itsdangerous.encoding import base64_encode

from ..brands import check_scheme
from ..clock import utc_now
from ..errors import ConfigurationError, InvalidInputError
from ..validation import check_aware, check_text, email_key
from . import signing
from .errors import (
    AddressMismatchError,
    ExpiredLinkError,
    MalformedLinkError,
    NotYetValidLinkError,
    TamperedLinkError,
    WrongPurposeLinkError,
)

# An example for demos and docs, never a default: real mail must carry the host's address.
# (Kept under its old name for imports; ``GuestLinks`` no longer falls back to it.)
EXAMPLE_URL_PATTERN = DEFAULT_URL_PATTERN = (
    "https://support.example.com/guest/tickets/{ticket_id}?token={token}")
MAX_TICKET_ID_CHARS = 64
_DIGEST_BYTES = 16


def normalize_email(email: object) -> str:
    """The canonical key an address is bound and rate-limited by (``validation.email_key``).

    Every spelling of one mailbox gives the same key: surrounding spaces, the case of
    either part, full-width letters, NFC/NFD forms and Unicode or A-label domains
    (``Anna@ＳＴＲＡßＥ.de`` and ``anna@xn--strae-oqa.de`` both give ``anna@xn--strae-oqa.de``).

    Args:
        email: The address as the host or the guest's form gave it.

    Returns:
        The canonical address, lower-cased, ASCII.

    Raises:
        InvalidInputError: ``email`` cannot be normalised to one address; ``.field`` is
            ``"email"``.
    """
    return email_key("email", email)


def check_ticket_id(ticket_id: object) -> str:
    """Refuse ticket ids that could not have come from a ``Ticket``."""
    return check_text("ticket_id", ticket_id, max_len=MAX_TICKET_ID_CHARS)


def now_or(now: datetime | None) -> datetime:
    """The given instant (must be aware) or the current UTC time."""
    return utc_now() if now is None else check_aware("now", now)


def from_seconds(value: int) -> datetime:
    """Unix seconds from a token back to an aware UTC datetime."""
    return datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True, slots=True)
class OpenedLink:
    """What an authentic, unexpired link says: which ticket, for which (digested) address."""

    ticket_id: str
    address_digest: str
    issued_at: datetime
    expires_at: datetime



class _Omitted(Enum):
    """``open()`` called without ``email=`` (distinct from an explicit ``None``)."""

    EMAIL = "email"


class GuestLinks:
    """Issue and open guest deep-link tokens; ``secret_keys[0]`` signs, every key verifies.

    A web app that only opens links (the guest pages, ``VerificationCodes``) may leave out
    ``url_pattern``; whatever builds the links in guest emails (``Notifier``, ``url_for``)
    needs it, and refuses with ``ConfigurationError`` without it.

    Args:
        secret_keys: a list of keys, newest first, each at least 32 bytes (str or bytes;
            ``ticketnotify guest new-key`` makes one). The first signs; all verify, so
            adding a new key in front rotates without breaking links in inboxes.
        url_pattern: the guest ticket page, with ``{token}`` and optionally
            ``{ticket_id}``, e.g. ``"https://help.example.com/guest/tickets/{ticket_id}?token={token}"``.
            There is no default.
        max_age: how long a link works after it was issued (default 30 days).
        clock_skew: how far in the future an issued-at may be and still be accepted,
            for servers whose clocks disagree (default 5 minutes).

    Raises:
        ConfigurationError: no key, a key shorter than 32 bytes, a bare string instead of a
            list, a ``url_pattern`` without ``{token}`` or with other placeholders, a
            non-positive ``max_age`` or a negative ``clock_skew``.
    """

    def __init__(
        self,
        secret_keys: Sequence[str | bytes],
        url_pattern: str | None = None,
        max_age: timedelta = timedelta(days=30),
        *,
        clock_skew: timedelta = timedelta(minutes=5),
    ) -> None:
        self.secret_keys = tuple(signing.secret_keys(secret_keys))
        self._signer = signing.PurposeSigner(self.secret_keys)
        self._address_keys = [signing.subkey(k, "guest-address.v1") for k in self.secret_keys]
        if not isinstance(max_age, timedelta) or max_age <= timedelta(0):
            raise ConfigurationError(f"max_age must be a positive timedelta, not {max_age!r}")
        if not isinstance(clock_skew, timedelta) or clock_skew < timedelta(0):
            raise ConfigurationError(f"clock_skew must be a timedelta >= 0, not {clock_skew!r}")
        self.max_age = max_age
        self.clock_skew = clock_skew
        self.url_pattern = None if url_pattern is None else _check_pattern(url_pattern)

    def __repr__(self) -> str:
        return (f"GuestLinks(secret_keys=<{len(self.secret_keys)} redacted>, "
                f"url_pattern={self.url_pattern!r}, max_age={self.max_age})")

    def issue(self, ticket_id: str, email: str, *, now: datetime | None = None) -> str:
        """A URL-safe token binding this ticket to this address from ``now`` for ``max_age``.

        Args:
            ticket_id: the ticket's key (at most 64 characters).
            email: the guest's address; only a keyed digest of it goes into the token.
            now: the issue time (aware); default the current time.

        Returns:
            The token, about 105 URL-safe characters for a short ticket id.

        Raises:
            InvalidInputError: a bad ``ticket_id``, ``email`` or naive ``now`` (``.field``).
        """
        ticket_id = check_ticket_id(ticket_id)
        digest = self.address_digest(email)
        issued = int(now_or(now).timestamp())
        return self._signer.sign(signing.LINK, [ticket_id, digest, issued])

    def url_for(self, ticket_id: str, email: str, *, now: datetime | None = None) -> str:
        """The deep link for a guest email: ``url_pattern`` filled with ticket id and token.

        Raises:
            ConfigurationError: this ``GuestLinks`` has no ``url_pattern``.
            InvalidInputError: as ``issue``.
        """
        if self.url_pattern is None:
            raise ConfigurationError(
                "GuestLinks was made without url_pattern, so it can open links but not build "
                "them: pass GuestLinks(keys, url_pattern='https://help.example.com/guest/"
                "tickets/{ticket_id}?token={token}')")
        token = self.issue(ticket_id, email, now=now)
        return self.url_pattern.format(ticket_id=quote(ticket_id, safe=""), token=token)

    def open(
        self,
        token: str,
        *,
        now: datetime | None = None,
        email: str | None | Literal[_Omitted.EMAIL] = _Omitted.EMAIL,
        ticket_id: str | int | None = None,
    ) -> OpenedLink:
        """Check a token; with ``email``/``ticket_id`` also check it matches the host's ticket.

        Args:
            token: the token from the URL (any value: it may be hostile).
            now: the time to check at (aware); default the current time.
            email: the address the host has on the ticket; checks the link is for it. Pass
                it: any value that is not a matching address (``None`` included, e.g. a
                ticket whose address is missing) raises ``AddressMismatchError``. Leave it
                out only to read the token's ticket id before loading the ticket, then
                open again with the ticket's address.
            ticket_id: the id from the host's route; checks the link is for it. An ``int``
                (a Django ``<int:id>`` route) is compared as its decimal ``str``.

        Returns:
            ``OpenedLink(ticket_id, address_digest, issued_at, expires_at)``.

        Raises:
            LinkError: ``MalformedLinkError``, ``TamperedLinkError``, ``ExpiredLinkError``
                (``.expired_at``), ``NotYetValidLinkError``, ``WrongPurposeLinkError``
                (``.purpose``) or ``AddressMismatchError``: show "ask for a new link".

        Raises only ``LinkError`` subclasses for whatever ``token``, ``email`` and
        ``ticket_id`` hold (they may come straight from a URL or form): a route id that is
        no valid ticket id is ``TamperedLinkError``, an email that is no address
        ``AddressMismatchError``. Only a naive ``now`` is an ``InvalidInputError``.

        Pure: it reads nothing but the token and the clock, writes nothing and sends
        nothing, so a mail scanner following the link burns no code and no rate limit.
        """
        at = now_or(now)
        try:
            fields = self._signer.verify(token, signing.LINK)
        except signing.Malformed as exc:
            raise MalformedLinkError(f"this is not a guest link token ({exc}); "
                                     "check the link was copied whole") from None
        except signing.Tampered:
            raise TamperedLinkError("the link's signature does not match; it was altered or "
                                    "its key was retired: send the guest a fresh link") from None
        except signing.OtherPurpose as exc:
            raise WrongPurposeLinkError(f"this token is a {exc.args[0]}, not a guest link",
                                        purpose=str(exc.args[0])) from None
        opened = _opened(fields, self.max_age)
        if opened.issued_at > at + self.clock_skew:
            issued = f"{opened.issued_at:%Y-%m-%d %H:%M:%S}"
            raise NotYetValidLinkError(f"the link says it was issued at {issued} UTC, after now: "
                                       "check the servers' clocks")
        if at >= opened.expires_at:
            raise ExpiredLinkError(f"the link expired at {opened.expires_at:%Y-%m-%d %H:%M} UTC; "
                                   "the guest gets a fresh one with the next update or on request",
                                   expired_at=opened.expires_at)
        if isinstance(ticket_id, int) and not isinstance(ticket_id, bool):
            ticket_id = str(ticket_id)  # a Django <int:id> route; ids are signed as str
        if ticket_id is not None and not same_ticket(ticket_id, opened.ticket_id):
            raise TamperedLinkError("the link's token belongs to another ticket than the URL "
                                    "names; use the ticket id from the token")
        if email is not _Omitted.EMAIL:
            self.check_address(opened, email)  # None or any non-str: a mismatch
        return opened

    def address_digest(self, email: str) -> str:
        """Keyed digest of the normalized address with the signing key, as bound in tokens."""
        return _digest(self._address_keys[0], normalize_email(email))

    def address_matches(self, opened: OpenedLink, email: str | None) -> bool:
        """True if ``email`` is the address the link was issued for (any current key).

        False, not an input error, for a value that is no address at all: no link is ever
        issued for one, and a host checking a form value must only see link errors.
        """
        if not isinstance(email, str):
            return False
        try:
            normalized = normalize_email(email)
        except InvalidInputError:
            return False
        return any(
            hmac.compare_digest(_digest(key, normalized), opened.address_digest)
            for key in self._address_keys
        )

    def issued_for(self, opened: OpenedLink, addresses: Sequence[str]) -> str:
        """Which of the ticket's addresses (requester and CC'd) the link was issued for.

        Every address on a guest ticket gets a link of its own, bound to it alone; the
        verification code must then go to this address, never to another one on the ticket.

        Args:
            opened: what ``open`` returned for the token.
            addresses: every address the host has on the ticket, in any spelling; values
                that are no address are skipped.

        Returns:
            The matching entry of ``addresses``, as given.

        Raises:
            AddressMismatchError: the link was issued for none of them (for instance a CC
                the host has since removed from the ticket).
        """
        for address in addresses:
            if self.address_matches(opened, address):
                return address
        raise AddressMismatchError(
            f"the link for ticket {opened.ticket_id} was issued for none of the ticket's "
            f"{len(addresses)} addresses; send the guest a fresh link")

    def check_address(self, opened: OpenedLink, email: str | None) -> None:
        """Raise ``AddressMismatchError`` unless the link was issued for ``email``."""
        if not self.address_matches(opened, email):
            raise AddressMismatchError(
                f"the link for ticket {opened.ticket_id} was issued for another address than "
                "the one on the ticket; send the guest a fresh link"
            )


def same_ticket(given: object, signed: str) -> bool:
    """Whether a route or form value names the signed ticket id; any other value is just "no".

    Exact comparison, no validation: a value ``check_ticket_id`` would refuse (too long,
    empty, not a string) can never equal a signed id, and raising an input error here would
    turn a crafted URL into a 500 in a host that catches ``LinkError``/``GrantError``.
    """
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), signed.encode())


def _digest(key: bytes, normalized_email: str) -> str:
    mac = hmac.new(key, normalized_email.encode(), hashlib.sha256).digest()
    return base64_encode(mac[:_DIGEST_BYTES]).decode("ascii")


def _opened(fields: list[object], max_age: timedelta) -> OpenedLink:
    match fields:
        case [str(ticket_id), str(digest), int(issued)] if not isinstance(issued, bool):
            issued_at = from_seconds(issued)
            return OpenedLink(ticket_id, digest, issued_at, issued_at + max_age)
    raise MalformedLinkError("the link's payload does not hold a ticket, address and time")


def _check_pattern(pattern: object) -> str:
    if not isinstance(pattern, str):
        raise ConfigurationError("url_pattern must be a string")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError as exc:
        raise ConfigurationError(f"url_pattern {pattern!r} is not a format string: {exc}") from exc
    if "token" not in names:
        raise ConfigurationError(f"url_pattern {pattern!r} must contain {{token}}")
    check_scheme("url_pattern", pattern)
    unknown = names - {"token", "ticket_id"}
    if unknown:
        raise ConfigurationError(f"url_pattern {pattern!r} may only use {{ticket_id}} and "
                                 f"{{token}}, not {sorted(unknown)}")
    return pattern
