"""Prometheus metrics of one worker, in a registry of its own (``pip install 'ticketnotify[metrics]'``).

Counters of outcomes and the latency histogram are updated as outcomes are recorded; the
outbox gauges (jobs by channel and status, age of the oldest due job) are refreshed from
``Outbox.counts()`` and ``Outbox.oldest_due()`` every ``refresh_seconds``, never per job;
store errors, lost leases and callback retries are read from ``WorkerStats`` at scrape time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from ..clock import Clock
from ..errors import ConfigurationError
from ..outbox.base import Job, Outbox, OutcomeKind
from .stats import WorkerStats

log = logging.getLogger("ticketnotify.worker")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                   300.0, 1800.0, 3600.0)
"""Seconds from publish to delivery: milliseconds when healthy, up to an hour of retries."""


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        raise ConfigurationError(
            "worker metrics need prometheus_client: pip install 'ticketnotify[metrics]'"
        ) from exc
    return prometheus_client


class WorkerMetrics:
    """The metrics of one ``Worker``, in their own ``CollectorRegistry``.

    Metric names (all prefixed ``ticketnotify_``):

    - ``outbox_jobs{channel,status}``: gauge, jobs in the outbox (refreshed).
    - ``outbox_oldest_due_age_seconds``: gauge, how long the longest-waiting due job has
      waited (0: nothing due; refreshed).
    - ``delivery_latency_seconds{channel}``: histogram, a job's ``created_at`` (publish) to
      its recorded delivery.
    - ``attempts_total{channel,outcome,error_class}``: counter; ``outcome`` is
      ``delivered``, ``retry`` or ``dead``; ``error_class`` the exception's class name
      (empty for a delivery).
    - ``store_errors_total``, ``lease_losses_total``, ``callback_retries_total``: counters
      of outbox calls that failed, outcomes refused because the lease had run out, and
      host ``on_invalid_device`` calls that raised (and are retried).

    Args:
        registry: Where to register; a new ``prometheus_client.CollectorRegistry`` by
            default, so several workers in one process never clash.
        refresh_seconds: Seconds between refreshes of the outbox gauges.

    Raises:
        ConfigurationError: ``prometheus_client`` is not installed, or ``refresh_seconds``
            is not positive.
    """

    def __init__(self, registry: Any = None, *, refresh_seconds: float = 15.0) -> None:
        prom = _prometheus()
        if not refresh_seconds > 0:
            raise ConfigurationError("refresh_seconds must be positive (seconds between "
                                     "refreshes of the outbox gauges)")
        self.registry = registry if registry is not None else prom.CollectorRegistry()
        self.refresh_seconds = refresh_seconds
        self._stats: WorkerStats | None = None
        reg = self.registry
        self.jobs = prom.Gauge("ticketnotify_outbox_jobs", "Jobs in the outbox by channel "
                               "and status", ["channel", "status"], registry=reg)
        self.oldest_due_age = prom.Gauge(
            "ticketnotify_outbox_oldest_due_age_seconds",
            "Seconds the longest-waiting due job has waited (0: nothing due)", registry=reg)
        self.latency = prom.Histogram(
            "ticketnotify_delivery_latency_seconds", "Seconds from publish (job created) to "
            "recorded delivery", ["channel"], buckets=LATENCY_BUCKETS, registry=reg)
        self.attempts = prom.Counter(
            "ticketnotify_attempts", "Attempts by channel, outcome and error class",
            ["channel", "outcome", "error_class"], registry=reg)
        self._seen: set[tuple[str, str]] = set()

    def attach(self, stats: WorkerStats) -> None:
        """Export ``stats``' error counters (read at scrape time); once per metrics object.

        Args:
            stats: The worker's running totals (``Worker`` calls this itself).

        Raises:
            ConfigurationError: Already attached to a worker.
        """
        if self._stats is not None:
            raise ConfigurationError("a WorkerMetrics belongs to one Worker; make one each")
        self._stats = stats
        self.registry.register(_StatsCollector(stats, _prometheus()))

    def outcome(self, job: Job, kind: OutcomeKind, at: datetime, error_class: str) -> None:
        """Count one recorded outcome; a delivery also adds its publish → delivery latency.

        Args:
            job: The job as claimed (its ``channel`` and ``created_at``).
            kind: What was recorded.
            at: When it was delivered or given up on (for a retry: the next attempt).
            error_class: The failed attempt's exception class name; "" for a delivery.
        """
        self.attempts.labels(job.channel, kind.value, error_class).inc()
        if kind is OutcomeKind.DELIVERED:
            self.latency.labels(job.channel).observe(
                max(0.0, (at - job.created_at).total_seconds()))

    def refresh(self, outbox: Outbox, now: datetime) -> None:
        """Set the outbox gauges from the store (blocking: call it on the store thread).

        Args:
            outbox: The store to count.
            now: What counts as due, for the oldest due job's age.

        Raises:
            OutboxUnavailableError: The store is out of reach; the gauges keep their values.
        """
        counts = outbox.counts()
        oldest = outbox.oldest_due(now)
        seen = set()
        for row in counts:
            seen.add((row.channel, row.status.value))
            self.jobs.labels(row.channel, row.status.value).set(row.count)
        for channel, status in self._seen - seen:  # a pair that emptied reads 0, not stale
            self.jobs.labels(channel, status).set(0)
        self._seen |= seen
        self.oldest_due_age.set(0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()))

    async def refresh_forever(self, outbox: Outbox, clock: Clock,
                              call: Callable[..., Any]) -> None:
        """Refresh every ``refresh_seconds`` until cancelled; a failed refresh is logged.

        Args:
            outbox: The worker's outbox.
            clock: The worker's clock.
            call: Runs a blocking function on the worker's store thread (``StoreThread.call``).
        """
        while True:
            try:
                await call(self.refresh, outbox, clock())
            except Exception as exc:  # an outage: counted by the worker's own calls
                log.warning("refreshing the outbox metrics failed: %r", exc)
            await asyncio.sleep(self.refresh_seconds)  # a cadence, not synchronisation


class _StatsCollector:
    """Counters read from ``WorkerStats`` when scraped: no hook where they are counted."""

    def __init__(self, stats: WorkerStats, prom: Any) -> None:
        self._stats = stats
        self._family = prom.metrics_core.CounterMetricFamily

    def collect(self) -> Iterator[Any]:
        stats = self._stats
        for name, text, value in (
            ("ticketnotify_store_errors", "Outbox calls that failed (retried)",
             stats.store_errors),
            ("ticketnotify_lease_losses", "Outcomes refused: the lease had run out and "
             "another worker held the job", stats.lost_leases),
            ("ticketnotify_callback_retries", "Host on_invalid_device calls that raised "
             "(retried later)", stats.callback_errors),
        ):
            yield self._family(name, text, value=value)

    def describe(self) -> Iterator[Any]:
        return self.collect()

