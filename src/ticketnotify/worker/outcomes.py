"""Decided outcomes, recorded a group at a time: one store transaction per group, not per job.

An outcome is counted in ``WorkerStats`` only once the outbox has it. If recording fails
(the database restarted), the outcomes are kept and recorded with the next group while
their jobs' leases last: those jobs were sent, and sending them again is what we avoid.
Recording is fenced by the worker id, so a late outcome never overwrites another worker's.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from ..clock import Clock
from ..outbox.base import Job, Outbox, Outcome, OutcomeKind
from .logs import job_fields
from .metrics import WorkerMetrics
from .stats import WorkerStats
from .store_thread import StoreThread

log = logging.getLogger("ticketnotify.worker")


@dataclass(frozen=True, slots=True)
class _Decided:
    job: Job
    outcome: Outcome
    lease_ends: datetime  # by the worker's clock; after it the job may be another worker's
    error_class: str  # the failed attempt's exception class name; "" for a delivery


class OutcomeRecorder:
    """Queues outcomes and records them in groups of ``every``, fenced by ``worker_id``."""

    def __init__(self, outbox: Outbox, store: StoreThread, stats: WorkerStats, *,
                 worker_id: str, clock: Clock, every: int,
                 metrics: WorkerMetrics | None = None) -> None:
        self._outbox = outbox
        self._store = store
        self._stats = stats
        self._worker_id = worker_id
        self._clock = clock
        self._every = every
        self.metrics = metrics
        self._queued: list[_Decided] = []
        self._recording: set[asyncio.Future[None]] = set()

    def __len__(self) -> int:
        return len(self._queued)

    @property
    def full(self) -> bool:
        """Whether a group is ready to record."""
        return len(self._queued) >= self._every

    def add(self, job: Job, outcome: Outcome, lease_ends: datetime, error_class: str = "") -> None:
        """Queue ``job``'s outcome; ``lease_ends`` is when its lease runs out (worker's clock);
        ``error_class`` names the failed attempt's exception class (logs and metrics)."""
        self._queued.append(_Decided(job, outcome, lease_ends, error_class))

    async def flush(self) -> None:
        """Record everything queued in one store call, then count what each became.

        Recording and counting go on even if the caller is cancelled (a stop after the
        grace period), so the totals never miss an outcome the outbox holds.
        """
        if not self._queued:
            return
        queued, self._queued = self._queued, []
        task = asyncio.ensure_future(self._record(queued))
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)
        await asyncio.shield(task)

    async def settle(self) -> None:
        """Record what is queued and wait for every recording in flight."""
        await self.flush()
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)

    async def _record(self, queued: list[_Decided]) -> None:
        try:
            applied = await self._store.call(self._outbox.record, [d.outcome for d in queued],
                                             worker_id=self._worker_id)
        except Exception as exc:
            self._stats.store_errors += 1
            now = self._clock()
            kept = [d for d in queued if d.lease_ends > now]
            self._queued[:0] = kept
            log.error("recording %d outcome(s) failed: %r; %d kept to record again, %d whose "
                      "lease ran out are sent again after it", len(queued), exc, len(kept),
                      len(queued) - len(kept))
            return
        for decided, ok in zip(queued, applied, strict=True):
            self._count(decided, ok)

    def _count(self, decided: _Decided, ok: bool) -> None:
        job, outcome, error_class = decided.job, decided.outcome, decided.error_class
        stats = self._stats
        if not ok:  # the lease ran out and another worker claimed the job meanwhile
            stats.lost_leases += 1
            log.warning("job %s (%s): outcome not recorded (%s: %s): its lease ran out and "
                        "another worker claimed it; that worker's outcome stands", job.id,
                        job.channel, outcome.kind, outcome.text,
                        extra=job_fields(job, outcome="lease_lost", error_class=error_class))
            return
        if self.metrics is not None:
            self.metrics.outcome(job, outcome.kind, outcome.at, error_class)
        fields = job_fields(job, outcome=outcome.kind.value, error_class=error_class)
        if outcome.kind is OutcomeKind.DELIVERED:
            stats.delivered += 1
            stats.by_channel[job.channel] = stats.by_channel.get(job.channel, 0) + 1
            log.debug("delivered job %s (%s): %s", job.id, job.channel, outcome.text,
                      extra=fields)
        elif outcome.kind is OutcomeKind.RETRY:
            stats.retried += 1
            log.info("job %s (%s) failed, retrying at %s: %s", job.id, job.channel,
                     outcome.at.isoformat(), outcome.text, extra=fields)
        else:
            stats.dead += 1
            log.warning("dead-lettered job %s (%s): %s", job.id, job.channel, outcome.text,
                        extra=fields)
