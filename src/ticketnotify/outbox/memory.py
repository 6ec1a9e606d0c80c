"""In-memory outbox for hosts' tests and the demo; nothing survives the process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from ..errors import ConfigurationError
from .base import ChannelCount, Job, JobStatus, NewJob, Outbox


class MemoryOutbox(Outbox):
    """Dict-backed outbox with the same semantics as the durable stores."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._by_key: dict[str, int] = {}
        self._leased_by: dict[int, str] = {}  # the Job record has no owner field; stores do
        self._next_id = 1

    def add(
        self, jobs: Sequence[NewJob], now: datetime, *, transaction: object | None = None
    ) -> int:
        if transaction is not None:
            raise ConfigurationError("MemoryOutbox cannot join a host transaction")
        with self._lock:
            added = 0
            for new in jobs:
                if new.idempotency_key in self._by_key:
                    continue
                job = Job(
                    id=self._next_id, idempotency_key=new.idempotency_key, channel=new.channel,
                    message=new.message, status=JobStatus.PENDING, attempts=0,
                    next_attempt_at=now, lease_until=None, last_error=None, created_at=now,
                )
                self._jobs[job.id] = job
                self._by_key[new.idempotency_key] = job.id
                self._next_id += 1
                added += 1
            return added

    def claim(self, now: datetime, limit: int, lease_seconds: float, worker_id: str) -> list[Job]:
        with self._lock:
            due = [
                j for j in self._jobs.values()
                if j.status is JobStatus.PENDING and j.next_attempt_at <= now
                and (j.lease_until is None or j.lease_until <= now)
            ]
            due.sort(key=lambda j: (j.next_attempt_at, j.id))
            lease = now + timedelta(seconds=lease_seconds)
            claimed = [replace(j, lease_until=lease) for j in due[:limit]]
            for j in claimed:
                self._jobs[j.id] = j
                self._leased_by[j.id] = worker_id
            return claimed

    def _record(self, job_id: int, worker_id: str | None, change: Callable[[Job], Job],
                *, pending_only: bool = False) -> bool:
        """Apply an outcome unless the fence says the job is finished or leased by another."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return False
            if (worker_id is not None or pending_only) and job.status is not JobStatus.PENDING:
                return False
            if worker_id is not None and self._leased_by.get(job_id) != worker_id:
                return False
            self._jobs[job_id] = change(job)
            self._leased_by.pop(job_id, None)
            return True

    def mark_delivered(
        self, job_id: int, now: datetime, detail: str = "", *, worker_id: str | None = None
    ) -> bool:
        return self._record(job_id, worker_id, lambda j: replace(
            j, status=JobStatus.DELIVERED, attempts=j.attempts + 1, lease_until=None,
            last_error=None))

    def mark_retry(
        self, job_id: int, next_attempt_at: datetime, error: str, *, worker_id: str | None = None
    ) -> bool:
        return self._record(job_id, worker_id, lambda j: replace(
            j, attempts=j.attempts + 1, next_attempt_at=next_attempt_at, lease_until=None,
            last_error=error))

    def mark_dead(
        self, job_id: int, now: datetime, error: str, *, worker_id: str | None = None
    ) -> bool:
        return self._record(job_id, worker_id, lambda j: replace(
            j, status=JobStatus.DEAD, attempts=j.attempts + 1, lease_until=None,
            last_error=error))

    def release(self, job_ids: Sequence[int], *, worker_id: str | None = None) -> int:
        def unlease(job: Job) -> Job:
            return replace(job, lease_until=None)

        unique = dict.fromkeys(job_ids)  # an id listed twice is released once, as in SQL
        return sum(self._record(i, worker_id, unlease, pending_only=True) for i in unique)

    def counts(self) -> list[ChannelCount]:
        with self._lock:
            tally: dict[tuple[str, JobStatus], int] = {}
            for j in self._jobs.values():
                tally[(j.channel, j.status)] = tally.get((j.channel, j.status), 0) + 1
        return [ChannelCount(c, s, n) for (c, s), n in sorted(tally.items())]

    def oldest_pending(self) -> datetime | None:
        with self._lock:
            pending = [j.created_at for j in self._jobs.values() if j.status is JobStatus.PENDING]
        return min(pending, default=None)

    def retry_dead(self, now: datetime, channel: str | None = None) -> int:
        with self._lock:
            dead = [j for j in self._jobs.values() if j.status is JobStatus.DEAD
                    and (channel is None or j.channel == channel)]
            for j in dead:
                self._jobs[j.id] = replace(j, status=JobStatus.PENDING, attempts=0,
                                           next_attempt_at=now, lease_until=None)
                self._leased_by.pop(j.id, None)
            return len(dead)

    def purge(self, older_than: datetime) -> int:
        with self._lock:
            old = [j for j in self._jobs.values() if j.status is not JobStatus.PENDING
                   and j.created_at < older_than]
            for j in old:
                del self._jobs[j.id]
                del self._by_key[j.idempotency_key]
                self._leased_by.pop(j.id, None)
            return len(old)

    def get(self, idempotency_key: str) -> Job | None:
        with self._lock:
            job_id = self._by_key.get(idempotency_key)
            return None if job_id is None else self._jobs[job_id]

    def dead_letters(self, limit: int = 10) -> list[Job]:
        with self._lock:  # no finish time kept here: the highest ids stand in for the latest
            dead = [j for j in self._jobs.values() if j.status is JobStatus.DEAD]
        return sorted(dead, key=lambda j: j.id, reverse=True)[:limit]
