"""What a failed attempt leads to: try again in so many seconds, or dead-letter with a reason.

One pure decision (error + job → outcome) in procrastinate's shape, so it is unit-tested
without an event loop and a host can replace it: pass ``Worker(retry=...)`` any object with
a ``get_retry_decision(exception, job)`` method.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..errors import InvalidAddressError, PermanentDeliveryError, TransientDeliveryError
from ..outbox.base import Job


@dataclass(frozen=True, slots=True)
class RetryLater:
    """Try the job again ``seconds`` from now; ``reason`` is stored as its last error."""

    seconds: float
    reason: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Give the job up; ``reason`` is stored and shown by ``ticketnotify outbox status``."""

    reason: str


RetryDecision = RetryLater | DeadLetter
"""The outcome of one failed attempt."""


@runtime_checkable
class RetryStrategy(Protocol):
    """Anything that decides what a failed attempt leads to (``RetryPolicy`` is the default)."""

    def get_retry_decision(self, exception: BaseException, job: Job) -> RetryDecision:
        """Decide for ``job`` (as claimed: ``job.attempts`` excludes this attempt)."""
        ...  # pragma: no cover - a protocol


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, up to ``max_attempts`` tries in all.

    Worked example with the defaults: the first attempt fails, the second comes 2.5–5 s
    later, the third 5–10 s after that, then 10–20 s, ... each wait at most ``max_delay``
    (one hour); the eighth failure dead-letters the job, roughly 10 minutes after the first.

    Attributes:
        max_attempts: Tries in all, the first one included (at least 1).
        base_delay: Seconds before the second try, before jitter.
        max_delay: Cap on any wait, in seconds, before jitter.
        jitter: Fraction (0–1) of each wait that is randomised, so many jobs failing at once
            do not all come back at the same moment.
    """

    max_attempts: int = 8
    base_delay: float = 5.0
    max_delay: float = 3600.0
    jitter: float = 0.5

    def delay(
        self, attempt: int, retry_after: float | None = None, rnd: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 for the first).

        Args:
            attempt: Which attempt just failed, counting from 1.
            retry_after: The peer's Retry-After in seconds; the wait is never shorter.
            rnd: Source of the jitter (tests pass a seeded one); the module's by default.

        Returns:
            Seconds, between ``raw * (1 - jitter)`` and ``raw``, where ``raw`` is
            ``min(max_delay, base_delay * 2 ** (attempt - 1))``, or ``retry_after`` if longer.
        """
        raw = min(self.max_delay, self.base_delay * 2.0 ** max(0, attempt - 1))
        r = (rnd or random).random()
        jittered = raw * (1 - self.jitter) + raw * self.jitter * r
        return max(jittered, retry_after or 0.0)

    def get_retry_decision(self, exception: BaseException, job: Job) -> RetryDecision:
        """What the failed attempt on ``job`` leads to, from the error's class alone.

        ``InvalidAddressError`` and ``PermanentDeliveryError`` dead-letter at once.
        ``TransientDeliveryError`` (its ``retry_after`` honoured) and every other exception
        (an adapter bug, a message that breaks a renderer) count as an attempt and retry
        with backoff until ``max_attempts``, then dead-letter.

        Args:
            exception: What the attempt raised.
            job: The job as claimed; ``job.attempts`` counts earlier attempts only.

        Returns:
            ``RetryLater(seconds, reason)`` or ``DeadLetter(reason)``.
        """
        if isinstance(exception, InvalidAddressError):
            return DeadLetter(f"invalid address: {exception}")
        if isinstance(exception, PermanentDeliveryError):
            return DeadLetter(f"permanent: {exception}")
        retry_after = None
        if isinstance(exception, TransientDeliveryError):
            reason = str(exception)
            retry_after = exception.retry_after
        else:
            reason = f"unexpected {type(exception).__name__}: {exception}"
        attempt = job.attempts + 1
        if attempt >= self.max_attempts:
            return DeadLetter(f"gave up after {attempt} attempts: {reason}")
        return RetryLater(self.delay(attempt, retry_after), reason)
