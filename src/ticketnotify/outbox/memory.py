"""In-memory outbox for hosts' tests and the demo; nothing survives the process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from ..errors import InvalidInputError
from .base import ChannelCount, Job, JobStatus, NewJob, Outbox, Outcome, OutcomeKind
from .wakeups import LocalSignal, Wakeup

# What each kind of outcome makes of a job; the SQL stores' ``SET`` clauses say the same.
_SETTLE: dict[OutcomeKind, Callable[[Job, Outcome], Job]] = {
    OutcomeKind.DELIVERED: lambda j, o: replace(
        j, status=JobStatus.DELIVERED, attempts=j.attempts + 1, lease_until=None,
        last_error=None),
    OutcomeKind.RETRY: lambda j, o: replace(
        j, attempts=j.attempts + 1, next_attempt_at=o.at, lease_until=None, last_error=o.text),
    OutcomeKind.DEAD: lambda j, o: replace(
        j, status=JobStatus.DEAD, attempts=j.attempts + 1, lease_until=None, last_error=o.text),
}


class MemoryOutbox(Outbox):
    """Dict-backed outbox with the same semantics as the durable stores."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._by_key: dict[str, int] = {}
        self._leased_by: dict[int, str] = {}  # the Job record has no owner field; stores do
        self._next_id = 1
        self._signal = LocalSignal()

    def add(
        self, jobs: Sequence[NewJob], now: datetime, *, transaction: object | None = None
    ) -> int:
        if transaction is not None:
            raise InvalidInputError(
                "transaction", "MemoryOutbox has no transaction to join; pass none")
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
        if added:
            self._signal.ring()
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

    def record(
        self, outcomes: Sequence[Outcome], *, worker_id: str | None = None
    ) -> list[bool]:
        """Apply outcomes in order, all or none: worked out on a copy, then swapped in."""
        with self._lock:
            jobs: dict[int, Job] = {}
            leased = dict(self._leased_by)
            results = []
            for o in outcomes:
                job = jobs.get(o.job_id) or self._jobs.get(o.job_id)
                if job is None or not self._fenced(job, leased, worker_id):
                    results.append(False)
                    continue
                jobs[o.job_id] = _SETTLE[o.kind](job, o)  # an unknown kind fails here
                leased.pop(o.job_id, None)
                results.append(True)
            self._jobs.update(jobs)
            self._leased_by = leased
            return results

    @staticmethod
    def _fenced(job: Job, leased: dict[int, str], worker_id: str | None) -> bool:
        """With a worker id, the job must be pending and leased by that worker."""
        return worker_id is None or (
            job.status is JobStatus.PENDING and leased.get(job.id) == worker_id)

    def release(self, job_ids: Sequence[int], *, worker_id: str | None = None) -> int:
        with self._lock:
            released = 0
            for job_id in dict.fromkeys(job_ids):  # an id listed twice is released once
                job = self._jobs.get(job_id)
                if job is None or job.status is not JobStatus.PENDING or not self._fenced(
                        job, self._leased_by, worker_id):
                    continue
                self._jobs[job_id] = replace(job, lease_until=None)
                self._leased_by.pop(job_id, None)
                released += 1
            return released

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

    def oldest_due(self, now: datetime) -> datetime | None:
        with self._lock:
            due = [j.next_attempt_at for j in self._jobs.values()
                   if j.status is JobStatus.PENDING and j.next_attempt_at <= now]
        return min(due, default=None)

    def wakeup(self) -> Wakeup:
        """Wakes a worker in this process as soon as ``add`` stores a new job."""
        return self._signal.wakeup()

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
