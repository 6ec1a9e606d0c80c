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
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ..clock import Clock, utc_now
from ..errors import ConfigurationError
from ..validation import check_aware, check_locale, check_timezone
from . import signing
from .errors import (
    CodeExpiredError,
    MalformedCodeError,
    NoCodeError,
    RateLimitedError,
    TooManyAttemptsError,
    WrongCodeError,
)
from .links import GuestLinks, OpenedLink, normalize_email
from .session import AccessGrant, AccessGrants
from .stores.base import DEFAULT_SEND_LIMITS, CodeStore, RateLimit, StoredCode, longest

CODE_DIGITS = 6


class CodeSender(Protocol):
    """Delivers one code email now (codes are time-critical, so not via the outbox)."""

    async def __call__(
        self, *, email: str, locale: str, time_zone: str, code: str, minutes: int, ticket_id: str
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class SentCode:
    """What the host may show after a send: for which ticket, valid until when."""

    ticket_id: str
    expires_at: datetime
    minutes: int


class VerificationCodes:
    """Send and verify codes for guest links; a verified code yields an ``AccessGrant``."""

    def __init__(
        self,
        links: GuestLinks,
        store: CodeStore,
        sender: CodeSender,
        secret: bytes,
        *,
        clock: Clock = utc_now,
        code_ttl: timedelta = timedelta(minutes=10),
        max_attempts: int = 5,
        address_limits: Sequence[RateLimit] = DEFAULT_SEND_LIMITS,
        ticket_limits: Sequence[RateLimit] = DEFAULT_SEND_LIMITS,
        grants: AccessGrants | None = None,
    ) -> None:
        if not isinstance(secret, bytes):
            raise ConfigurationError("secret must be bytes (e.g. secrets.token_bytes(32))")
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

    async def send_code(
        self, token: str, *, email: str, locale: str = "en", time_zone: str = "UTC"
    ) -> SentCode:
        """Email a fresh code to ``email`` (the address the host has on the ticket).

        Raises ``LinkError`` if the token is bad or not for ``email``, ``RateLimitedError``
        (with ``retry_at``) when too many codes went out lately, and whatever the channel
        raises if delivery fails. The new code is stored only once the channel accepted the
        email, so a failed send leaves the guest's previous code, if still valid, usable;
        the failed send still counts against the rate limits (reserved before sending).
        Store calls run in a worker thread: a busy database never blocks the event loop.
        """
        now = self._now()
        opened = self.links.open(token, now=now, email=email)
        locale = check_locale("locale", locale)
        time_zone = check_timezone("time_zone", time_zone)
        address_key = self._address_key(email)
        retry_at = await asyncio.to_thread(
            self.store.reserve_send,
            {f"address:{address_key}": self.address_limits,
             f"ticket:{opened.ticket_id}": self.ticket_limits},
            now,
        )
        if retry_at is not None:
            raise RateLimitedError(
                f"too many codes were sent for ticket {opened.ticket_id} or this address "
                f"lately; the next one can be sent at {retry_at:%Y-%m-%d %H:%M:%S} UTC",
                retry_at=retry_at,
            )
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        stored = StoredCode(
            ticket_id=opened.ticket_id, address_key=address_key,
            code_hash=self._code_hash(opened.ticket_id, address_key, code),
            created_at=now, expires_at=now + self.code_ttl, attempts_left=self.max_attempts,
        )
        minutes = math.ceil(self.code_ttl / timedelta(minutes=1))
        await self.sender(email=email.strip(), locale=locale, time_zone=time_zone,
                          code=code, minutes=minutes, ticket_id=opened.ticket_id)
        # Only now supersede the pending code. A guest cannot type the new code in the
        # moment between the server's "250 OK" and this write, and if the write fails
        # the error reaches the caller while the previous code still works.
        await asyncio.to_thread(self.store.put_code, stored)
        return SentCode(opened.ticket_id, stored.expires_at, minutes)

    def verify_code(self, token: str, code: str, *, email: str) -> AccessGrant:
        """Grant access to the token's ticket if ``code`` is the pending one; it works once.

        Raises ``LinkError`` for a bad token, ``MalformedCodeError`` (no attempt used) if
        ``code`` is not six digits, ``NoCodeError``, ``CodeExpiredError``,
        ``WrongCodeError`` (with ``attempts_left``) or ``TooManyAttemptsError``.
        Synchronous (store calls block): async hosts await ``averify_code`` instead.
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
        """``verify_code`` in a worker thread, for async hosts: the store never blocks the loop."""
        return await asyncio.to_thread(self.verify_code, token, code, email=email)

    def check_grant(self, value: str, ticket_id: str) -> AccessGrant:
        """The grant if it is valid now for ``ticket_id``; raise ``GrantError`` otherwise."""
        return self.grants.check(value, ticket_id, now=self._now())

    def renew(self, value: str, ticket_id: str) -> AccessGrant:
        """A fresh value for a valid grant (sliding expiry, capped since verification)."""
        return self.grants.renew(value, ticket_id, now=self._now())

    def open(self, token: str, *, email: str | None = None) -> OpenedLink:
        """``GuestLinks.open`` on this object's clock; changes no state."""
        return self.links.open(token, now=self._now(), email=email)

    def purge(self) -> int:
        """Drop expired codes and send records no limit looks at any more."""
        keep = max(longest(self.address_limits), longest(self.ticket_limits))
        return self.store.purge(self._now(), keep)

    def _now(self) -> datetime:
        return check_aware("clock()", self.clock())

    def _address_key(self, email: str) -> str:
        """Stable keyed digest of the address: the store never sees it in clear."""
        data = b"address\x1f" + normalize_email(email).encode()
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()[:32]

    def _code_hash(self, ticket_id: str, address_key: str, code: str) -> str:
        data = "\x1f".join(("code.v1", ticket_id, address_key, code)).encode()
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()


def _typed_code(code: object) -> str:
    """The six digits as typed, forgiving spaces and dashes people add when copying."""
    if not isinstance(code, str):
        raise MalformedCodeError(f"must be a string, got {type(code).__name__}")
    digits = "".join(code.split()).replace("-", "")
    if len(digits) != CODE_DIGITS or not digits.isascii() or not digits.isdigit():
        raise MalformedCodeError(f"a code is {CODE_DIGITS} digits; no attempt was used")
    return digits
