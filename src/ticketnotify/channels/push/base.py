"""What every push provider shares, in one place (django-anymail's ``base_requests`` way).

A provider adapter implements two hooks: ``build`` (a ``PushMessage`` → the provider's
request) and ``post`` (send it, return a ``PushReply``), and declares its reason table
(``dead_token_reasons``). This base owns the rest: the bound on pushes in flight, the
timeout, turning transport errors into ``TransientDeliveryError`` / ``DeliveryTimeoutError``,
and the one status classifier every provider answers through:

======================================  =============================================
reply                                   outcome
======================================  =============================================
2xx                                     ``Receipt`` (``provider_id``, ``detail="200"``)
a dead-token reason (``is_dead_token``)  ``InvalidAddressError`` (forget the device)
429 or 5xx                              ``TransientDeliveryError`` with ``retry_after``
any other status                        ``PermanentDeliveryError``
======================================  =============================================

The worker never reads a status or a provider's reason string; ``code`` carries the reason
for people reading the dead-letter queue.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from ...errors import (
    DeliveryError,
    DeliveryTimeoutError,
    InvalidAddressError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ...messages import PushMessage, Receipt
from ..base import Channel

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class PushReply:
    """A provider's answer to one push, in the shape the classifier reads.

    Attributes:
        status: The HTTP status.
        reason: The provider's reason or error code (APNs ``Unregistered``, FCM
            ``UNREGISTERED``), ``""`` on success.
        text: The provider's human-readable error message, if any.
        provider_id: The provider's id for the push (APNs ``apns-id``, FCM message name).
        retry_after: Seconds the provider asked to wait (``Retry-After``), or None.
    """

    status: int
    reason: str = ""
    text: str = ""
    provider_id: str = ""
    retry_after: float | None = None


class PushChannel(Channel[PushMessage], Generic[R]):
    """Base of the push adapters: concurrency bound, timeout, transport errors, classifier.

    Args:
        concurrency: Pushes in flight at once through this channel (more wait their turn;
            the wait does not count against ``timeout``).
        timeout: Seconds one push may take once it has its turn: connecting, writing and
            reading the reply. Past it, ``send`` raises ``DeliveryTimeoutError``.

    Attributes:
        provider: The provider's name in error messages (``"APNs"``, ``"FCM"``).
        dead_token_reasons: Reasons after which the device token never works again.
        transport_errors: Exception classes of the provider's client library that mean
            "could not reach the provider" (``OSError`` is always one).
        timeout_errors: Its exception classes that mean "no answer in time"
            (``TimeoutError`` is always one).
        permanent_hint: What the operator should fix when the provider refuses a push.
    """

    provider: ClassVar[str]
    dead_token_reasons: ClassVar[frozenset[str]] = frozenset()
    transport_errors: ClassVar[tuple[type[BaseException], ...]] = ()
    timeout_errors: ClassVar[tuple[type[BaseException], ...]] = ()
    permanent_hint: ClassVar[str] = "fix the configuration or the message before retrying"

    def __init__(self, *, concurrency: int, timeout: float) -> None:
        self.timeout = timeout
        self._slots = asyncio.Semaphore(concurrency)

    @abstractmethod
    def build(self, message: PushMessage) -> R:
        """The provider's request for ``message`` (payload fitted to the size limit).

        Raises:
            PermanentDeliveryError: The message cannot be made into a valid request.
        """

    @abstractmethod
    async def post(self, request: R) -> PushReply:
        """Send ``request`` once and return the provider's reply, whatever its status.

        May raise a ``DeliveryError`` for provider-specific failures (an OAuth token the
        provider refuses ...); ``TimeoutError``, ``OSError`` and the classes in
        ``timeout_errors`` / ``transport_errors`` are mapped by the base.
        """

    def is_dead_token(self, reply: PushReply) -> bool:
        """Whether ``reply`` says the device token is dead; the reason table by default."""
        return reply.reason in self.dead_token_reasons

    async def deliver(self, message: PushMessage) -> Receipt:
        """Build, post within the timeout, classify; see ``Channel.send`` for the errors."""
        request = self.build(message)
        timeouts: tuple[type[BaseException], ...] = (TimeoutError, *self.timeout_errors)
        unreachable: tuple[type[BaseException], ...] = (OSError, *self.transport_errors)
        async with self._slots:
            try:
                async with asyncio.timeout(self.timeout):
                    reply = await self.post(request)
            except DeliveryError:
                raise
            except timeouts as exc:
                raise DeliveryTimeoutError(
                    f"{self.provider} did not answer within {self.timeout:g} s; will retry",
                    code="timeout") from exc
            except unreachable as exc:
                raise TransientDeliveryError(
                    f"could not reach {self.provider} ({type(exc).__name__}: {exc}); will "
                    f"retry; check network access to {self.provider}",
                    code="connection") from exc
        return self.classify(message, reply)

    def classify(self, message: PushMessage, reply: PushReply) -> Receipt:
        """Map a reply to a receipt or to one of the three delivery errors (table above)."""
        if 200 <= reply.status < 300:
            return Receipt(channel=self.name, delivery_id=message.delivery_id,
                           provider_id=reply.provider_id, detail=str(reply.status))
        code = reply.reason or str(reply.status)
        said = f"{reply.status} {code}" + (f" ({reply.text})" if reply.text else "")
        where = f"device …{message.token[-8:]} of user {message.user_id}"
        if self.is_dead_token(reply):
            raise InvalidAddressError(
                f"{self.provider} says {said} for {where}: the token is dead; forget the device",
                code=code)
        if reply.status == 429 or reply.status >= 500:
            raise TransientDeliveryError(f"{self.provider} answered {said}; will retry",
                                         code=code, retry_after=reply.retry_after)
        raise PermanentDeliveryError(
            f"{self.provider} refused the push for {where}: {said}; {self.permanent_hint}",
            code=code)
