"""Where verification codes and send counts live: the interface every code store implements.

Methods are synchronous and each is atomic, so concurrent requests cannot both use the
last attempt, both consume one code or both slip under a rate limit. Stores hold keyed
hashes only: no code and no address in clear. Time is passed in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    """State for ``VerificationCodes``; every method is one atomic step.

    Every method of the SQLite and PostgreSQL stores raises ``CodeStoreUnavailableError``
    (a ``CodeError`` and a ``StoreUnavailableError``) during an outage, having changed
    nothing, and ``ConfigurationError`` when the store is set up wrongly.
    """

    @abstractmethod
    def reserve_send(
        self, limits: Mapping[str, Sequence[RateLimit]], now: datetime
    ) -> datetime | None:
        """If every key fits each of its limits, record a send for each and return None.

        Args:
            limits: Rate-limit key (keyed hash of an address or ticket) → its limits.
            now: The send's time.

        Returns:
            None if the send was recorded; otherwise, having recorded nothing, the first
            instant (UTC) at which a send would fit every limit.

        Raises:
            CodeStoreUnavailableError: The store is out of reach; nothing was recorded.
        """

    def release_send(self, keys: Sequence[str], sent_at: datetime) -> None:  # noqa: B027
        """Forget one send ``reserve_send`` recorded at ``sent_at`` for each key: it failed.

        The default keeps the failed send counted (a store written before this hook).

        Args:
            keys: the rate-limit keys the failed send was counted under.
            sent_at: the ``now`` that ``reserve_send`` recorded.
        """

    @abstractmethod
    def put_code(self, code: StoredCode) -> None:
        """Store ``code``, replacing (superseding) any code for the same ticket and address.

        Raises:
            CodeStoreUnavailableError: The store is out of reach; nothing was stored.
        """

    @abstractmethod
    def take_attempt(self, ticket_id: str, address_key: str) -> Attempt | None:
        """Use up one attempt of the pending code.

        Returns:
            None if no code is pending; else the code after the attempt, with
            ``allowed=False`` if no attempt was left (nothing was used up then).

        Raises:
            CodeStoreUnavailableError: The store is out of reach; no attempt was used.
        """

    @abstractmethod
    def discard_code(self, ticket_id: str, address_key: str, code_hash: str) -> bool:
        """Remove the code if it is still the one with ``code_hash`` (single use).

        Returns:
            True only for the one call that removed it.

        Raises:
            CodeStoreUnavailableError: The store is out of reach; nothing was removed.
        """

    @abstractmethod
    def purge(self, now: datetime, keep_sends_for: timedelta) -> int:
        """Drop codes expired at ``now`` and send records older than ``keep_sends_for``.

        Returns:
            How many codes and send records were dropped together.

        Raises:
            CodeStoreUnavailableError: The store is out of reach; nothing was dropped.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Release resources; the in-memory store holds none."""
