"""The outbox contract: durable jobs keyed by idempotency key, claimed with a lease."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .wakeups import NoWakeup, Wakeup


class JobStatus(enum.StrEnum):
    """Life of a job: pending until delivered, or dead once retrying is pointless."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class NewJob:
    """A planned delivery as ``publish`` hands it to the outbox.

    ``message`` is the delivery's facts in their stored form (``ticketnotify.facts``,
    ``{"v": 2, ...}``); jobs stored by the v1 release hold a rendered message instead
    (``messages.message_from_dict``), and the worker sends those as stored.
    """

    idempotency_key: str
    channel: str
    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Job:
    """A stored delivery as a worker sees it when claimed (``message``: see ``NewJob``)."""

    id: int
    idempotency_key: str
    channel: str
    message: dict[str, Any]
    status: JobStatus
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime


class OutcomeKind(enum.StrEnum):
    """Which of the three ``mark_*`` calls an ``Outcome`` stands for."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result, so a worker can record many in one transaction.

    ``at`` is when it was delivered or given up on, or for a retry when to try next;
    ``text`` is the provider's receipt for a delivery, else the error.
    """

    job_id: int
    kind: OutcomeKind
    at: datetime
    text: str = ""


def outcome_groups(
    outcomes: Sequence[Outcome],
) -> list[tuple[OutcomeKind, list[tuple[int, Outcome]]]]:
    """Same-kind groups (with each outcome's position) for one UPDATE each.

    Applying the groups in order equals applying the outcomes one by one: a job seen again
    starts a new round, so no UPDATE ever names one job twice.
    """
    rounds: list[dict[OutcomeKind, list[tuple[int, Outcome]]]] = [{}]
    seen: set[int] = set()
    for position, outcome in enumerate(outcomes):
        if outcome.job_id in seen:
            rounds.append({})
            seen = set()
        seen.add(outcome.job_id)
        rounds[-1].setdefault(outcome.kind, []).append((position, outcome))
    return [group for r in rounds for group in r.items()]


@dataclass(frozen=True, slots=True)
class ChannelCount:
    """One row of ``outbox status``."""

    channel: str
    status: JobStatus
    count: int


class Outbox(ABC):
    """Where every planned delivery is written before ``publish`` returns.

    Methods are synchronous: the stores are local or one round trip away, and hosts
    publishing inside their own (sync) database transaction need them that way. Time is
    passed in (timezone-aware; naive means UTC) so tests and the worker share one clock.

    A store implements ``record`` once; ``mark_delivered``, ``mark_retry`` and ``mark_dead``
    are ``record`` with one outcome. Every method of the SQLite and PostgreSQL stores raises
    ``OutboxUnavailableError`` during an outage (nothing changed, call again later) and
    ``ConfigurationError`` when the store is set up wrongly.
    """

    @abstractmethod
    def add(
        self, jobs: Sequence[NewJob], now: datetime, *, transaction: object | None = None
    ) -> int:
        """Store all jobs or none, skipping idempotency keys already stored.

        Args:
            jobs: The deliveries to store; a key given twice is stored once.
            now: Creation time, and when the jobs are first due.
            transaction: The host's own open connection (stores that support it), so a
                ticket change and its notifications commit or roll back together.

        Returns:
            How many jobs were new.

        Raises:
            OutboxUnavailableError: The store is out of reach; nothing was stored.
            InvalidInputError: ``transaction`` cannot be joined (``field`` is
                ``"transaction"``): wrong type, not inside a transaction, or its database
                holds no outbox.
        """

    @abstractmethod
    def claim(self, now: datetime, limit: int, lease_seconds: float, worker_id: str) -> list[Job]:
        """Lease due pending jobs (never leased, or their lease expired) to one worker.

        Args:
            now: What counts as due: ``next_attempt_at <= now``.
            limit: At most this many jobs.
            lease_seconds: How long, in seconds, the jobs stay this worker's.
            worker_id: The claiming worker; pass it again to ``record`` (the fence).

        Returns:
            The leased jobs, oldest due first; empty if nothing is due.

        Raises:
            OutboxUnavailableError: The store is out of reach; nothing was leased.
        """

    @abstractmethod
    def record(
        self, outcomes: Sequence[Outcome], *, worker_id: str | None = None
    ) -> list[bool]:
        """Apply attempt outcomes in order, all or none (one transaction where there is one).

        Outcomes are fenced: with ``worker_id`` (the id the jobs were claimed with) each takes
        effect only while its job is still pending and leased by that worker, so a worker
        whose lease expired cannot overwrite what the worker that re-claimed the job
        recorded. ``worker_id=None`` skips the fence (hosts' own repair tools).

        Args:
            outcomes: ``Outcome(job_id, kind, at, text)`` each; ``at`` is when the job was
                delivered or given up on, or for a retry when to try next.
            worker_id: The claiming worker, or None for no fence.

        Returns:
            One bool per outcome, in order: True if applied, False if the lease was lost
            (or the job is unknown).

        Raises:
            OutboxUnavailableError: The store is out of reach; none was recorded.
        """

    def mark_delivered(
        self, job_id: int, now: datetime, detail: str = "", *, worker_id: str | None = None
    ) -> bool:
        """Record a successful delivery and drop the lease: ``record`` with one outcome.

        Args:
            job_id: The job's ``id``.
            now: When it was delivered.
            detail: The provider's receipt (SMTP reply, APNs id), kept for diagnostics.
            worker_id: The claiming worker (the fence, see ``record``), or None.

        Returns:
            True if recorded, False if the lease was lost.

        Raises:
            OutboxUnavailableError: The store is out of reach; nothing was recorded.
        """
        return self.record([Outcome(job_id, OutcomeKind.DELIVERED, now, detail)],
                           worker_id=worker_id)[0]

    def mark_retry(
        self, job_id: int, next_attempt_at: datetime, error: str, *, worker_id: str | None = None
    ) -> bool:
        """Count a failed attempt; the job is due again at ``next_attempt_at``.

        The same as ``record([Outcome(job_id, OutcomeKind.RETRY, next_attempt_at, error)])``:
        True if recorded, False if the lease was lost; ``OutboxUnavailableError`` (nothing
        recorded) during an outage.

        Args:
            job_id: The job's ``id``.
            next_attempt_at: When to try again (the worker adds the backoff, in seconds,
                to its clock).
            error: Why the attempt failed, kept as ``last_error``.
            worker_id: The claiming worker (the fence), or None.
        """
        return self.record([Outcome(job_id, OutcomeKind.RETRY, next_attempt_at, error)],
                           worker_id=worker_id)[0]

    def mark_dead(
        self, job_id: int, now: datetime, error: str, *, worker_id: str | None = None
    ) -> bool:
        """Give up on a job (dead letter), keeping ``error``; ``retry_dead`` revives it.

        Returns True if recorded, False if the lease was lost, as ``record`` with one
        ``OutcomeKind.DEAD`` outcome does, and raises ``OutboxUnavailableError`` (nothing
        recorded) during an outage. ``now`` is when it was given up on; ``outbox status``
        shows ``error``; ``worker_id`` is the fence, or None.
        """
        return self.record([Outcome(job_id, OutcomeKind.DEAD, now, error)],
                           worker_id=worker_id)[0]

    @abstractmethod
    def release(self, job_ids: Sequence[int], *, worker_id: str | None = None) -> int:
        """Hand leased pending jobs back unattempted (graceful shutdown), fenced like ``record``.

        Args:
            job_ids: The jobs' ``id``s; one listed twice is released once.
            worker_id: The claiming worker (the fence), or None.

        Returns:
            How many jobs were released.

        Raises:
            OutboxUnavailableError: The store is out of reach; nothing was released.
        """

    @abstractmethod
    def counts(self) -> list[ChannelCount]:
        """Jobs by channel and status.

        Returns:
            One ``ChannelCount(channel, status, count)`` per pair that has jobs, sorted.

        Raises:
            OutboxUnavailableError: The store is out of reach.
        """

    @abstractmethod
    def oldest_pending(self) -> datetime | None:
        """Creation time of the oldest pending job, to tell how far behind delivery is.

        Returns:
            A timezone-aware UTC datetime, or None if nothing is pending.

        Raises:
            OutboxUnavailableError: The store is out of reach.
        """

    @abstractmethod
    def retry_dead(self, now: datetime, channel: str | None = None) -> int:
        """Make dead jobs pending again, due at ``now``, with fresh attempts.

        Args:
            now: When they become due.
            channel: Only this channel's jobs (``"email"``); None for all.

        Returns:
            How many jobs were revived.

        Raises:
            OutboxUnavailableError: The store is out of reach; nothing changed.
        """

    @abstractmethod
    def purge(self, older_than: datetime) -> int:
        """Delete delivered and dead jobs created before ``older_than``; pending ones stay.

        Returns:
            How many jobs were deleted.

        Raises:
            OutboxUnavailableError: The store is out of reach; nothing was deleted.
        """

    @abstractmethod
    def get(self, idempotency_key: str) -> Job | None:
        """Look a job up by its idempotency key (tests, diagnostics).

        Returns:
            The job, or None if no job has this key.

        Raises:
            OutboxUnavailableError: The store is out of reach.
        """

    def oldest_due(self, now: datetime) -> datetime | None:
        """When the longest-waiting due job became due, to tell how far behind workers are.

        A due job is pending with ``next_attempt_at <= now`` (claimed or not: a job in a
        crashed worker's lease is still waiting). ``now - oldest_due(now)`` is the age the
        ``ticketnotify_outbox_oldest_due_age_seconds`` metric and ``outbox status`` show.

        Args:
            now: What counts as due.

        Returns:
            The earliest ``next_attempt_at`` among due jobs (timezone-aware UTC), or None
            if nothing is due. A store without this answer returns None.

        Raises:
            OutboxUnavailableError: The store is out of reach.
        """
        return None

    def wakeup(self) -> Wakeup:
        """A new wake-up for one idle worker: it ends the worker's wait when jobs are added.

        Returns:
            A ``Wakeup``; ``MemoryOutbox`` and ``SQLiteOutbox`` wake workers in this
            process, ``PostgresOutbox`` workers anywhere (``LISTEN``). A store without
            wake-ups returns one that never rings (the worker polls).
        """
        return NoWakeup()

    def dead_letters(self, limit: int = 10) -> list[Job]:
        """The most recently dead-lettered jobs, for ``ticketnotify outbox status``.

        Args:
            limit: how many at most.

        Returns:
            Up to ``limit`` dead jobs, most recently given up first; the reason is each
            job's ``last_error``. A store without this listing returns ``[]``.
        """
        return []

    def close(self) -> None:  # noqa: B027 - optional hook, stores holding nothing keep it
        """Release the store's connection; committed jobs stay. Stores holding none do nothing."""
