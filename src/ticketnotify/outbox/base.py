"""The outbox contract: durable jobs keyed by idempotency key, claimed with a lease."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class JobStatus(enum.StrEnum):
    """Life of a job: pending until delivered, or dead once retrying is pointless."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class NewJob:
    """A planned, rendered delivery as ``publish`` hands it to the outbox."""

    idempotency_key: str
    channel: str
    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Job:
    """A stored delivery as a worker sees it when claimed."""

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
    publishing inside their own (sync) database transaction need them that way.
    Time is passed in so tests and the worker share one clock.
    """

    @abstractmethod
    def add(
        self, jobs: Sequence[NewJob], now: datetime, *, transaction: object | None = None
    ) -> int:
        """Store all jobs or none; skip keys already stored; return how many were new.

        ``transaction`` is the host's own open connection (stores that support it), so a
        ticket change and its notifications commit or roll back together.
        """

    @abstractmethod
    def claim(self, now: datetime, limit: int, lease_seconds: float, worker_id: str) -> list[Job]:
        """Lease up to ``limit`` due pending jobs (lease expired or never leased)."""

    # Outcomes are fenced: with ``worker_id`` (the id the job was claimed with) a call takes
    # effect only while the job is still pending and leased by that worker, so a worker whose
    # lease expired cannot overwrite what the worker that re-claimed the job recorded. They
    # return whether anything changed. ``worker_id=None`` skips the fence (hosts' own tools).

    @abstractmethod
    def mark_delivered(
        self, job_id: int, now: datetime, detail: str = "", *, worker_id: str | None = None
    ) -> bool:
        """Record a successful delivery and drop the lease; False if the lease was lost."""

    @abstractmethod
    def mark_retry(
        self, job_id: int, next_attempt_at: datetime, error: str, *, worker_id: str | None = None
    ) -> bool:
        """Count a failed attempt and schedule the next one; False if the lease was lost."""

    @abstractmethod
    def mark_dead(
        self, job_id: int, now: datetime, error: str, *, worker_id: str | None = None
    ) -> bool:
        """Give up on a job, keeping the reason; False if the lease was lost."""

    def record(
        self, outcomes: Sequence[Outcome], *, worker_id: str | None = None
    ) -> list[bool]:
        """Apply outcomes in order, fenced like ``mark_*``; one result each (False: lease lost).

        This default makes one ``mark_*`` call each; SQL stores override it to commit
        them all in one transaction (all or none), which is what makes workers fast.
        """
        results = []
        for o in outcomes:
            if o.kind is OutcomeKind.DELIVERED:
                results.append(self.mark_delivered(o.job_id, o.at, o.text, worker_id=worker_id))
            elif o.kind is OutcomeKind.RETRY:
                results.append(self.mark_retry(o.job_id, o.at, o.text, worker_id=worker_id))
            else:
                results.append(self.mark_dead(o.job_id, o.at, o.text, worker_id=worker_id))
        return results

    @abstractmethod
    def release(self, job_ids: Sequence[int], *, worker_id: str | None = None) -> int:
        """Return pending leased jobs unattempted (graceful shutdown); return how many."""

    @abstractmethod
    def counts(self) -> list[ChannelCount]:
        """Jobs by channel and status."""

    @abstractmethod
    def oldest_pending(self) -> datetime | None:
        """Creation time of the oldest pending job, to tell how far behind delivery is."""

    @abstractmethod
    def retry_dead(self, now: datetime, channel: str | None = None) -> int:
        """Make dead jobs pending again with fresh attempts; return how many."""

    @abstractmethod
    def purge(self, older_than: datetime) -> int:
        """Delete delivered and dead jobs created before ``older_than``; return how many."""

    @abstractmethod
    def get(self, idempotency_key: str) -> Job | None:
        """Look a job up by its key (tests, diagnostics)."""

    def dead_letters(self, limit: int = 10) -> list[Job]:
        """Up to ``limit`` dead jobs, most recently given up first; the reason is ``last_error``.

        For ``ticketnotify outbox status``; a store without it shows none.
        """
        return []

    def close(self) -> None:
        """Release the store's connection; stores holding none keep the default."""
