"""Where verification codes and send counts live: the interface and the in-memory store.

Methods are synchronous and each is atomic, so concurrent requests cannot both use the
last attempt, both consume one code or both slip under a rate limit. Stores hold keyed
hashes only: no code and no address in clear. Time is passed in.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ...errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` sends in any sliding ``window``."""

    count: int
    window: timedelta

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or self.count < 1:
            raise ConfigurationError(f"rate limit count must be an int >= 1, not {self.count!r}")
        if not isinstance(self.window, timedelta) or self.window <= timedelta(0):
            raise ConfigurationError(f"rate limit window must be a positive timedelta, "
                                     f"not {self.window!r}")


# Enough for a guest who mistyped twice; too few to mail-bomb anybody's inbox.
DEFAULT_SEND_LIMITS = (RateLimit(3, timedelta(minutes=15)), RateLimit(10, timedelta(days=1)))


@dataclass(frozen=True, slots=True)
class StoredCode:
    """One pending code for (ticket, address): its keyed hash, expiry and attempts left."""

    ticket_id: str
    address_key: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    attempts_left: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """Result of ``take_attempt``: the code after the attempt, or ``allowed=False`` if none left."""

    code: StoredCode
    allowed: bool


def next_allowed(
    sent: Sequence[datetime], limits: Sequence[RateLimit], now: datetime
) -> datetime | None:
    """None if one more send fits every limit now, else the first instant it will."""
    retry: datetime | None = None
    for limit in limits:
        recent = sorted(t for t in sent if t > now - limit.window)
        if len(recent) >= limit.count:
            at = recent[len(recent) - limit.count] + limit.window
            retry = at if retry is None else max(retry, at)
    return retry


def longest(limits: Sequence[RateLimit]) -> timedelta:
    """How far back send records matter."""
    return max((limit.window for limit in limits), default=timedelta(0))


class CodeStore(ABC):
    """State for ``VerificationCodes``; every method is one atomic step."""

    @abstractmethod
    def reserve_send(
        self, limits: Mapping[str, Sequence[RateLimit]], now: datetime
    ) -> datetime | None:
        """If every key fits each of its limits, record a send for each and return None.

        Otherwise record nothing and return when the next send will be allowed.
        """

    def release_send(self, keys: Sequence[str], sent_at: datetime) -> None:  # noqa: B027
        """Forget one send ``reserve_send`` recorded at ``sent_at`` for each key: it failed.

        The default keeps the failed send counted (a store written before this hook).
        """

    @abstractmethod
    def put_code(self, code: StoredCode) -> None:
        """Store ``code``, replacing (superseding) any code for the same ticket and address."""

    @abstractmethod
    def take_attempt(self, ticket_id: str, address_key: str) -> Attempt | None:
        """Use up one attempt of the pending code; None if there is no code."""

    @abstractmethod
    def discard_code(self, ticket_id: str, address_key: str, code_hash: str) -> bool:
        """Remove the code if it is still this one; True only for the call that removed it."""

    @abstractmethod
    def purge(self, now: datetime, keep_sends_for: timedelta) -> int:
        """Drop expired codes and send records older than ``keep_sends_for``; return how many."""

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Release resources; the in-memory store holds none."""


class MemoryCodeStore(CodeStore):
    """Codes and send records in a dict: for tests and single-process hosts (lost on restart)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[tuple[str, str], StoredCode] = {}
        self._sends: dict[str, list[datetime]] = {}

    def reserve_send(
        self, limits: Mapping[str, Sequence[RateLimit]], now: datetime
    ) -> datetime | None:
        with self._lock:
            retry: datetime | None = None
            for key, key_limits in limits.items():
                horizon = now - longest(key_limits)
                kept = [t for t in self._sends.get(key, []) if t > horizon]
                self._sends[key] = kept
                at = next_allowed(kept, key_limits, now)
                if at is not None and (retry is None or at > retry):
                    retry = at
            if retry is not None:
                return retry
            for key in limits:
                self._sends[key].append(now)
            return None

    def release_send(self, keys: Sequence[str], sent_at: datetime) -> None:
        with self._lock:
            for key in keys:
                sent = self._sends.get(key, [])
                if sent_at in sent:
                    sent.remove(sent_at)

    def put_code(self, code: StoredCode) -> None:
        with self._lock:
            self._codes[(code.ticket_id, code.address_key)] = code

    def take_attempt(self, ticket_id: str, address_key: str) -> Attempt | None:
        with self._lock:
            code = self._codes.get((ticket_id, address_key))
            if code is None:
                return None
            if code.attempts_left <= 0:
                return Attempt(code, allowed=False)
            code = replace(code, attempts_left=code.attempts_left - 1)
            self._codes[(ticket_id, address_key)] = code
            return Attempt(code, allowed=True)

    def discard_code(self, ticket_id: str, address_key: str, code_hash: str) -> bool:
        with self._lock:
            code = self._codes.get((ticket_id, address_key))
            if code is None or code.code_hash != code_hash:
                return False
            del self._codes[(ticket_id, address_key)]
            return True

    def purge(self, now: datetime, keep_sends_for: timedelta) -> int:
        horizon = now - keep_sends_for
        removed = 0
        with self._lock:
            for key, code in list(self._codes.items()):
                if code.expires_at <= now:
                    del self._codes[key]
                    removed += 1
            for address, sent in list(self._sends.items()):
                kept = [t for t in sent if t > horizon]
                removed += len(sent) - len(kept)
                if kept:
                    self._sends[address] = kept
                else:
                    del self._sends[address]
        return removed
