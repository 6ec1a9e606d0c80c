"""The retry decision: error class + job → retry in so many seconds, or dead-letter; no loop."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketnotify.errors import (
    DeliveryTimeoutError,
    InvalidAddressError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ticketnotify.outbox.base import Job, JobStatus
from ticketnotify.worker import DeadLetter, RetryLater, RetryPolicy, RetryStrategy

from ..conftest import T0

JOB = Job(id=7, idempotency_key="k", channel="email", message={}, status=JobStatus.PENDING,
          attempts=0, next_attempt_at=T0, lease_until=T0 + timedelta(seconds=120),
          last_error=None, created_at=T0)
STEADY = RetryPolicy(base_delay=5, max_delay=600, jitter=0.0)


def after(attempts: int) -> Job:
    return replace(JOB, attempts=attempts)


def test_permanent_errors_dead_letter_at_once_with_their_reason() -> None:
    assert STEADY.get_retry_decision(PermanentDeliveryError("554 rejected"), JOB) == DeadLetter(
        "permanent: 554 rejected")
    assert STEADY.get_retry_decision(InvalidAddressError("410 Unregistered"), JOB) == DeadLetter(
        "invalid address: 410 Unregistered")


def test_transient_errors_back_off_exponentially_then_give_up() -> None:
    decisions = [STEADY.get_retry_decision(TransientDeliveryError("421 busy"), after(n))
                 for n in range(8)]
    assert decisions[:7] == [RetryLater(s, "421 busy") for s in (5, 10, 20, 40, 80, 160, 320)]
    assert decisions[7] == DeadLetter("gave up after 8 attempts: 421 busy")


def test_the_peers_retry_after_is_a_floor() -> None:
    late = TransientDeliveryError("429", retry_after=900)
    assert STEADY.get_retry_decision(late, JOB) == RetryLater(900, "429")
    soon = TransientDeliveryError("429", retry_after=1)
    assert STEADY.get_retry_decision(soon, JOB) == RetryLater(5, "429")


@pytest.mark.parametrize("error", [AttributeError("'list' object has no attribute 'items'"),
                                   KeyError("token"), RuntimeError("adapter bug"),
                                   DeliveryTimeoutError("no answer in 60s")])
def test_any_other_exception_is_an_attempt_that_retries_then_dead_letters(
        error: Exception) -> None:
    first = STEADY.get_retry_decision(error, JOB)
    assert isinstance(first, RetryLater) and first.seconds == 5
    last = STEADY.get_retry_decision(error, after(7))
    assert isinstance(last, DeadLetter) and last.reason.startswith("gave up after 8 attempts: ")
    if not isinstance(error, DeliveryTimeoutError):
        assert f"unexpected {type(error).__name__}" in first.reason


@given(attempts=st.integers(0, 60), retry_after=st.none() | st.floats(0, 10_000),
       max_attempts=st.integers(1, 20), seed=st.integers(0, 2**32))
def test_every_decision_is_bounded(attempts: int, retry_after: float | None,
                                   max_attempts: int, seed: int) -> None:
    policy = RetryPolicy(max_attempts=max_attempts, base_delay=5, max_delay=600, jitter=0.5)
    random.seed(seed)
    decision = policy.get_retry_decision(TransientDeliveryError("x", retry_after=retry_after),
                                         after(attempts))
    if attempts + 1 >= max_attempts:
        assert isinstance(decision, DeadLetter)
    else:
        assert isinstance(decision, RetryLater)
        assert 2.5 <= decision.seconds <= max(600, retry_after or 0)
        assert decision.seconds >= (retry_after or 0)


@pytest.mark.parametrize("attempt", range(1, 12))
def test_backoff_grows_within_cap(attempt: int) -> None:
    policy = RetryPolicy(base_delay=5, max_delay=600, jitter=0.5)
    delays = [policy.delay(attempt, rnd=random.Random(seed)) for seed in range(50)]
    raw = min(600, 5 * 2 ** (attempt - 1))
    assert all(raw / 2 <= d <= raw for d in delays)


class NeverRetry:
    """A host's own strategy: no second tries for anything."""

    def get_retry_decision(self, exception: BaseException, job: Job) -> DeadLetter:
        return DeadLetter(f"no retries here: {exception}")


def test_a_hosts_strategy_is_a_retry_strategy() -> None:
    assert isinstance(NeverRetry(), RetryStrategy)
    assert isinstance(RetryPolicy(), RetryStrategy)
    assert not isinstance(object(), RetryStrategy)
