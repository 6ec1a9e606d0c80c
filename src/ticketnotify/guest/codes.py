"""Email verification codes: six digits that prove the guest reads the address on the ticket.

Only the guest's explicit request (the host's POST) sends a code; opening the link never
does. Codes are stored as an HMAC keyed with ``secret``, compared in constant time, used
once, superseded by the next one and worthless after ``code_ttl`` or ``max_attempts``
wrong tries. Sends are rate-limited per address and per ticket.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..clock import Clock, utc_now
from ..errors import ConfigurationError, DeliveryError, InvalidAddressError
from ..validation import (
    canonical_email,
    check_aware,
    check_locale,
    check_text,
    check_timezone,
)
from . import signing
from .errors import (
    CodeDeliveryError,
    CodeExpiredError,
    MalformedCodeError,
    NoCodeError,
    RateLimitedError,
    TooManyAttemptsError,
    WrongCodeError,
)
from .links import GuestLinks, OpenedLink, normalize_email
from .sender import CodeSender
from .session import AccessGrant, AccessGrants
from .stores.base import DEFAULT_SEND_LIMITS, CodeStore, RateLimit, StoredCode, longest

CODE_DIGITS = 6
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SentCode:
    """What the host may show after a send.

    Attributes:
        ticket_id: the ticket the code opens.
        expires_at: when the code stops working (aware UTC datetime).
        minutes: the code's lifetime in minutes, as the email states it.
    """

    ticket_id: str
    expires_at: datetime
    minutes: int


@dataclass(frozen=True, slots=True)
class _Send:
    """One send in progress: the rate-limit slots it holds, the code to store, the email."""

    at: datetime
    limits: dict[str, tuple[RateLimit, ...]]
    stored: StoredCode
    mail: dict[str, Any] = field(repr=False)  # holds the code in clear

    @property
    def result(self) -> SentCode:
        return SentCode(self.stored.ticket_id, self.stored.expires_at, self.mail["minutes"])


class VerificationCodes:
    """Send and verify email codes for guest links; a verified code yields an ``AccessGrant``.

    Every method works from sync code and from any event loop. The sync form has the plain
    name, the async form an ``a`` prefix, as in ``Notifier.publish``/``apublish``:
    ``send_code``/``asend_code``, ``verify_code``/``averify_code``. ``check_grant``,
    ``renew`` and ``open`` touch no store and are plain functions usable anywhere.

    Args:
        links: the ``GuestLinks`` whose tokens the guest brings (a URL pattern is not
            needed here: codes only open links).
        store: where codes and send counts live (``SQLiteCodeStore``,
            ``PostgresCodeStore``, ``MemoryCodeStore``).
        sender: delivers the code email, normally ``EmailCodeSender(renderer, channel)``.
        secret: at least 32 random bytes (a ``str`` counts as its UTF-8 bytes, e.g.
            ``secrets.token_urlsafe(32)``); keys the code and address hashes in the store.
        clock: returns the current aware UTC datetime (tests pass their own).
        code_ttl: how long a code works (default 10 minutes).
        max_attempts: wrong tries allowed per code (default 5).
        address_limits: send limits per address, ``RateLimit(count, window)`` each
            (default 3 per 15 minutes and 10 per day).
        ticket_limits: the same per ticket.
        grants: issues the ``AccessGrant``; default ``AccessGrants(links.secret_keys)``
            (30 minutes, renewable up to 12 hours).

    Raises:
        ConfigurationError: a secret that is not >= 32 bytes, a non-positive ``code_ttl``,
            ``max_attempts`` < 1, or limits that are not ``RateLimit``.
    """

    def __init__(
        self,
        links: GuestLinks,
        store: CodeStore,
        sender: CodeSender,
        secret: str | bytes,
        *,
        clock: Clock = utc_now,
        code_ttl: timedelta = timedelta(minutes=10),
        max_attempts: int = 5,
        address_limits: Sequence[RateLimit] = DEFAULT_SEND_LIMITS,
        ticket_limits: Sequence[RateLimit] = DEFAULT_SEND_LIMITS,
        grants: AccessGrants | None = None,
    ) -> None:
        if isinstance(secret, str):
            secret = secret.encode("utf-8")  # secrets.token_urlsafe(32), an env var's text
        if not isinstance(secret, bytes):
            raise ConfigurationError("secret must be str or bytes (e.g. secrets.token_urlsafe(32))")
        [self._secret] = signing.secret_keys([secret], what="secret")
        if not isinstance(code_ttl, timedelta) or code_ttl <= timedelta(0):
            raise ConfigurationError(f"code_ttl must be a positive timedelta, not {code_ttl!r}")
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be an int >= 1, not {max_attempts!r}")
        for name, limits in (("address_limits", address_limits), ("ticket_limits", ticket_limits)):
            if not all(isinstance(limit, RateLimit) for limit in limits):
                raise ConfigurationError(f"{name} must be a sequence of RateLimit")
        self.links = links
        self.store = store
        self.sender = sender
        self.clock = clock
        self.code_ttl = code_ttl
        self.max_attempts = max_attempts
        self.address_limits = tuple(address_limits)
        self.ticket_limits = tuple(ticket_limits)
        self.grants = grants if grants is not None else AccessGrants(links.secret_keys)

    def __repr__(self) -> str:
        return (f"VerificationCodes(store={type(self.store).__name__}, "
                f"sender={type(self.sender).__name__}, secret=<redacted>, "
                f"code_ttl={self.code_ttl}, max_attempts={self.max_attempts})")

    def send_code(
        self, token: str, *, email: str, locale: str = "en", time_zone: str = "UTC",
        ticket_number: str | None = None,
    ) -> SentCode:
        """Email a fresh code to ``email`` now; the synchronous form (async: ``asend_code``).

        Call it from sync code (a Django view, a thread). Called inside a running event
        loop it returns the ``asend_code`` coroutine instead, with a ``DeprecationWarning``,
        so code written for the old async ``send_code`` keeps working: await
        ``asend_code`` there.

        Args:
            token: the link token from the URL (``GuestLinks.issue``).
            email: the address the host has on the ticket (the code goes there, never to
                an address the visitor typed).
            locale: the guest's locale for the email, e.g. ``"sv_SE"``.
            time_zone: IANA time zone name for dates in the email.
            ticket_number: the ticket number people see, shown in the email instead of
                the ticket's key (``Ticket.id``); ``None`` shows the key.

        Returns:
            ``SentCode(ticket_id, expires_at, minutes)``.

        Raises:
            LinkError: the token is bad, expired or not for ``email`` ("ask for a new link").
            InvalidInputError: ``locale`` or ``time_zone`` is invalid (``.field``); the
                host's mistake, nothing was spent.
            RateLimitedError: too many codes lately; ``.retry_at`` (aware UTC datetime) says
                when the next send is allowed. Nothing was sent.
            CodeDeliveryError: the email could not be sent ("we could not send the code,
                try again"; ``.permanent`` if the address itself was refused). The send
                was not counted against the limits and the previous code still works.
            TicketNotifyError: the code store failed (an outage: answer 503).
        """
        if _loop_running():
            warnings.warn("send_code is the synchronous form; in async code await "
                          "asend_code(...) (awaiting send_code still works for now)",
                          DeprecationWarning, stacklevel=2)
            return self.asend_code(  # type: ignore[return-value]
                token, email=email, locale=locale, time_zone=time_zone)
        send = self._prepare(token, email, locale, time_zone, ticket_number)
        self._reserve(send)
        try:
            asyncio.run(self._mail(send))
        except CodeDeliveryError:
            self._give_back(send)
            raise
        self.store.put_code(send.stored)
        return send.result

    async def asend_code(
        self, token: str, *, email: str, locale: str = "en", time_zone: str = "UTC",
        ticket_number: str | None = None,
    ) -> SentCode:
        """``send_code`` for async code, from any event loop; same arguments, result, errors.

        Store calls run in a worker thread, so a busy database never blocks the loop. If
        the awaiting task is cancelled while the email is on its way, the send stays
        counted (it may have gone out) and the previous code stays pending.
        """
        send = self._prepare(token, email, locale, time_zone, ticket_number)
        await asyncio.to_thread(self._reserve, send)
        try:
            await self._mail(send)
        except CodeDeliveryError:
            await asyncio.to_thread(self._give_back, send)
            raise
        # Only now supersede the pending code. A guest cannot type the new code in the
        # moment between the server's "250 OK" and this write, and if the write fails
        # the error reaches the caller while the previous code still works.
        await asyncio.to_thread(self.store.put_code, send.stored)
        return send.result

    def verify_code(self, token: str, code: str, *, email: str) -> AccessGrant:
        """Grant access to the token's ticket if ``code`` is the pending one; it works once.

        Synchronous (store calls block): async code awaits ``averify_code``.

        Args:
            token: the link token from the URL.
            code: what the guest typed; spaces and dashes are ignored.
            email: the address the host has on the ticket.

        Returns:
            An ``AccessGrant``: put its ``value`` in the session or an HttpOnly cookie and
            check it with ``check_grant`` on every request.

        Raises:
            LinkError: the token is bad or not for ``email`` ("ask for a new link").
            MalformedCodeError: ``code`` is not six digits; no attempt was used
                (``.field == "code"``).
            WrongCodeError: wrong code; ``.attempts_left`` tries remain ("N tries left").
            TooManyAttemptsError: the last attempt was used ("ask for a new code").
            CodeExpiredError: the code is older than ``code_ttl``; ``.expired_at``
                ("ask for a new code").
            NoCodeError: no code pending: used, superseded or never sent ("ask for a new
                code").
            TicketNotifyError: the code store failed (an outage: answer 503).
        """
        now = self._now()
        opened = self.links.open(token, now=now, email=email)
        typed = _typed_code(code)
        address_key = self._address_key(email)
        attempt = self.store.take_attempt(opened.ticket_id, address_key)
        if attempt is None:
            raise NoCodeError(f"no code is pending for ticket {opened.ticket_id}; it was used, "
                              "replaced by a newer one or never sent: ask for a new code")
        stored = attempt.code
        if now >= stored.expires_at:
            self.store.discard_code(stored.ticket_id, address_key, stored.code_hash)
            raise CodeExpiredError(f"the code expired at {stored.expires_at:%H:%M:%S} UTC; ask "
                                   "for a new code", expired_at=stored.expires_at)
        if not attempt.allowed:
            raise TooManyAttemptsError(f"all {self.max_attempts} attempts for this code are "
                                       "used up; ask for a new code")
        expected = self._code_hash(opened.ticket_id, address_key, typed)
        if hmac.compare_digest(expected, stored.code_hash):
            if not self.store.discard_code(stored.ticket_id, address_key, stored.code_hash):
                raise NoCodeError("this code was just used or replaced; ask for a new code")
            return self.grants.grant(opened.ticket_id, now=now)
        if stored.attempts_left == 0:
            raise TooManyAttemptsError("wrong code, and that was the last attempt; ask for a "
                                       "new code")
        raise WrongCodeError(f"wrong code; {stored.attempts_left} attempt(s) left",
                             attempts_left=stored.attempts_left)

    async def averify_code(self, token: str, code: str, *, email: str) -> AccessGrant:
        """``verify_code`` for async code (any loop): the store runs in a worker thread.

        Same arguments, result and errors as ``verify_code``.
        """
        return await asyncio.to_thread(self.verify_code, token, code, email=email)

    def check_grant(self, value: str, ticket_id: str) -> AccessGrant:
        """The grant if it is valid now for ``ticket_id``; call it on every guest request.

        Args:
            value: the grant value from the session or cookie (may be anything).
            ticket_id: the ticket the request is about (e.g. from the route).

        Returns:
            The ``AccessGrant`` (``expires_at`` says when to ``renew``).

        Raises:
            GrantError: ``InvalidGrantError``, ``ExpiredGrantError`` (``.expired_at``) or
                ``WrongTicketGrantError``, whatever ``value`` holds: show the "email me a
                code" page.
        """
        return self.grants.check(value, ticket_id, now=self._now())

    def renew(self, value: str, ticket_id: str) -> AccessGrant:
        """A fresh grant for a valid one: ``ttl`` from now, never past ``max_lifetime``.

        Raises:
            GrantError: as ``check_grant``.
        """
        return self.grants.renew(value, ticket_id, now=self._now())

    def open(self, token: str, *, email: str) -> OpenedLink:
        """``GuestLinks.open`` on this object's clock; changes no state.

        Raises:
            LinkError: as ``GuestLinks.open`` ("ask for a new link").
        """
        return self.links.open(token, now=self._now(), email=email)

    def purge(self) -> int:
        """Drop expired codes and send records no limit looks at any more; call it hourly.

        Returns:
            How many codes and send records were removed.
        """
        keep = max(longest(self.address_limits), longest(self.ticket_limits))
        return self.store.purge(self._now(), keep)

    def _now(self) -> datetime:
        return check_aware("clock()", self.clock())

    def _prepare(
        self, token: str, email: str, locale: str, time_zone: str, ticket_number: str | None
    ) -> _Send:
        """Check everything and make the code; no store, no I/O (runs on the caller's loop)."""
        now = self._now()
        opened = self.links.open(token, now=now, email=email)
        locale = check_locale("locale", locale)
        time_zone = check_timezone("time_zone", time_zone)
        address_key = self._address_key(email)
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        stored = StoredCode(
            ticket_id=opened.ticket_id, address_key=address_key,
            code_hash=self._code_hash(opened.ticket_id, address_key, code),
            created_at=now, expires_at=now + self.code_ttl, attempts_left=self.max_attempts,
        )
        minutes = math.ceil(self.code_ttl / timedelta(minutes=1))
        shown: dict[str, Any] = {}  # only when given: a host CodeSender may predate it
        if ticket_number is not None:
            shown["ticket_number"] = check_text("ticket_number", ticket_number, max_len=64)
        return _Send(
            at=now,
            limits={f"address:{address_key}": self.address_limits,
                    f"ticket:{opened.ticket_id}": self.ticket_limits},
            stored=stored,
            mail={"email": canonical_email("email", email).address, "locale": locale, "time_zone": time_zone,
                  "code": code, "minutes": minutes, "ticket_id": opened.ticket_id, **shown},
        )

    def _reserve(self, send: _Send) -> None:
        """Take a slot under every limit, or raise ``RateLimitedError`` having taken none."""
        retry_at = self.store.reserve_send(send.limits, send.at)
        if retry_at is not None:
            ticket_id = send.stored.ticket_id
            raise RateLimitedError(
                f"too many codes were sent for ticket {ticket_id} or this address lately; "
                f"the next one can be sent at {retry_at:%Y-%m-%d %H:%M:%S} UTC",
                retry_at=retry_at,
            )

    async def _mail(self, send: _Send) -> None:
        """Hand the email to the sender; whatever it raises becomes ``CodeDeliveryError``."""
        try:
            await self.sender(**send.mail)
        except Exception as exc:  # the sender may be the host's: any failure is "not sent"
            raise _delivery_failed(exc) from exc

    def _give_back(self, send: _Send) -> None:
        """Return the slots of a send that failed; a store fault here only costs one slot."""
        try:
            self.store.release_send(list(send.limits), send.at)
        except Exception:  # the delivery error is what the caller must see
            log.warning("could not give back the rate-limit slot of a failed code send",
                        exc_info=True)

    def _address_key(self, email: str) -> str:
        """Stable keyed digest of the address: the store never sees it in clear."""
        data = b"address\x1f" + normalize_email(email).encode()
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()[:32]

    def _code_hash(self, ticket_id: str, address_key: str, code: str) -> str:
        data = "\x1f".join(("code.v1", ticket_id, address_key, code)).encode()
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _delivery_failed(exc: Exception) -> CodeDeliveryError:
    """The host-facing error for a code email that did not go out (nothing retries it)."""
    if isinstance(exc, InvalidAddressError):
        return CodeDeliveryError(
            "the mail server refused this address, so the code could not be sent; ask the "
            f"guest to contact support ({exc})", permanent=True)
    reason = str(exc) if isinstance(exc, DeliveryError) else type(exc).__name__
    reason = reason.replace("; will retry", "").replace(", will retry", "")
    return CodeDeliveryError(f"the code email could not be sent ({reason}); nothing was "
                             "counted and the previous code still works: try again")


def _typed_code(code: object) -> str:
    """The six digits as typed, forgiving spaces and dashes people add when copying."""
    if not isinstance(code, str):
        raise MalformedCodeError(f"must be a string, got {type(code).__name__}")
    digits = "".join(code.split()).replace("-", "")
    if len(digits) != CODE_DIGITS or not digits.isascii() or not digits.isdigit():
        raise MalformedCodeError(f"a code is {CODE_DIGITS} digits; no attempt was used")
    return digits
