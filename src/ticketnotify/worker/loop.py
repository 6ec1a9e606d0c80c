"""The delivery loop: claim due jobs with a lease, send each once, record what happened."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta

from ..channels.base import Channel
from ..clock import Clock, utc_now
from ..errors import (
    ConfigurationError,
    DeliveryError,
    DeliveryTimeoutError,
    InvalidAddressError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ..messages import Message, PushMessage
from ..outbox.base import Job, Outbox, Outcome, OutcomeKind
from ..rendering import Renderer
from ..rendering.deliveries import DeliveryRenderer
from .channel_config import check_channels, warn_missing
from .dead_devices import DeadDevices, InvalidDeviceCallback
from .logs import job_fields
from .metrics import WorkerMetrics
from .outcomes import OutcomeRecorder
from .retry import DeadLetter, RetryDecision, RetryLater, RetryPolicy, RetryStrategy
from .stats import WorkerStats
from .store_thread import StoreThread
from .wakeup import IdleWait

log = logging.getLogger("ticketnotify.worker")

_FALLBACK = RetryPolicy()
_LONGEST = 366 * 86400.0  # seconds: a retry further out than a year is a strategy's mistake


class Worker:
    """One delivery loop; run as many as you like against a shared durable outbox.

    Each claimed job is sent once through the channel named by ``job.channel`` and its
    outcome recorded: delivered, retry later, or dead letter. Whatever an attempt raises
    (a delivery error, an adapter bug, a stored message that cannot be read) counts as an
    attempt and goes through ``retry``, so no job is ever claimed over and over.

    Store calls run on one dedicated thread, so a slow database round trip never stalls
    the sends in flight. A send starts only while its lease has comfortably not run out,
    so no other worker holds the same job at the same time. Outcomes are recorded
    ``record_every`` at a time and at the end of each batch, one transaction per group.

    Args:
        outbox: The store to deliver from.
        channels: Channel adapters by the name jobs carry (``"email"``, ``"apns"`` ...).
        on_invalid_device: Told ``(user_id, Device)`` once per push device found dead, so
            the host forgets it. An ``async def`` is awaited on the worker's loop; a plain
            function runs in a thread. If it raises it is called again at the end of a
            later batch (waits of 2.5–5 s, then doubling, at most 10 minutes), never lost
            while the worker runs.
        retry: Decides what a failed attempt leads to: a ``RetryPolicy`` (default
            ``RetryPolicy()``: 8 attempts, 5 s doubling, capped at 1 h) or any object with
            ``get_retry_decision(exception, job)``.
        batch_size: Jobs claimed at once.
        concurrency: Sends in flight at once.
        lease_seconds: Seconds a claimed job stays this worker's; after a crash its jobs
            are claimed again once this has passed.
        clock: Where "now" comes from (leases, retry times, when to stop starting sends).
        worker_id: Names this worker in the outbox's leases; host:pid:object by default.
        send_timeout: Seconds one send may take (default half the lease); must be shorter
            than ``lease_seconds``. A send that takes longer is retried later.
        shutdown_grace: Seconds sends in flight get to finish once ``run`` is told to stop.
        dead_device_memory: How many dead devices to remember (0: none); about 100 bytes
            each.
        record_every: Outcomes recorded per store transaction.
        metrics: Prometheus metrics to keep (``WorkerMetrics()``, needs the ``metrics``
            extra); serve ``metrics.registry``. None keeps only ``stats``.
        renderer: What jobs are rendered with when they are sent: normally
            ``notifier.delivery_renderer`` (the notifier's ``Renderer`` and brands); a bare
            ``Renderer`` knows only the plain default brand; default ``Renderer.shared()``.

    Raises:
        ConfigurationError: A count below 1, a non-positive lease, a ``send_timeout`` not
            shorter than the lease, a ``retry`` without ``get_retry_decision``, or
            ``metrics`` already used by another worker; ``channels`` not a mapping, a
            value not a ``Channel`` instance, or a key no job is routed to (not
            ``"email"``, ``"apns"``, ``"fcm"`` nor a ``ticketnotify.channels`` entry point).
    """

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        *,
        on_invalid_device: InvalidDeviceCallback | None = None,
        retry: RetryStrategy | None = None,
        batch_size: int = 100,
        concurrency: int = 50,
        lease_seconds: float = 120.0,
        clock: Clock = utc_now,
        worker_id: str | None = None,
        send_timeout: float | None = None,
        shutdown_grace: float = 30.0,
        dead_device_memory: int = 10_000,
        record_every: int = 50,
        metrics: WorkerMetrics | None = None,
        renderer: Renderer | DeliveryRenderer | None = None,
    ) -> None:
        if batch_size < 1 or concurrency < 1 or record_every < 1:
            raise ConfigurationError(
                "batch_size, concurrency and record_every must be at least 1")
        if dead_device_memory < 0:
            raise ConfigurationError("dead_device_memory must be 0 or more (0 remembers none)")
        if lease_seconds <= 0:
            raise ConfigurationError("lease_seconds must be positive: it is how long a job is ours")
        if send_timeout is not None and not 0 < send_timeout < lease_seconds:
            raise ConfigurationError(
                f"send_timeout ({send_timeout}s) must be positive and shorter than "
                f"lease_seconds ({lease_seconds}s), or another worker may claim a job in flight"
            )
        if retry is not None and not isinstance(retry, RetryStrategy):
            raise ConfigurationError(
                f"retry must be a RetryPolicy or have get_retry_decision(exception, job), "
                f"not {type(retry).__name__}")
        self.outbox = outbox
        self.channels = check_channels(channels)
        self.renderer = renderer if isinstance(renderer, DeliveryRenderer) else DeliveryRenderer(renderer)
        self.retry: RetryStrategy = retry or RetryPolicy()
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        # A send must end well inside the lease, or another worker may take the job meanwhile.
        self.send_timeout = send_timeout if send_timeout is not None else lease_seconds / 2
        self.shutdown_grace = shutdown_grace
        self.clock = clock
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.stats = WorkerStats()
        self.metrics = metrics
        if metrics is not None:
            metrics.attach(self.stats)
        self._concurrency = concurrency
        self._store = StoreThread()
        self._outcomes = OutcomeRecorder(outbox, self._store, self.stats, worker_id=self.worker_id,
                                         clock=clock, every=record_every, metrics=metrics)
        self.devices = DeadDevices(on_invalid_device, self.stats, memory=dead_device_memory)
        self._unsettled: dict[int, Job] = {}  # claimed, outcome not yet decided
        self._lease_ends = clock()
        self._stopping = False
        self.stopping = asyncio.Event()  # set once a stop was noticed and no new sends start

    @property
    def on_invalid_device(self) -> InvalidDeviceCallback | None:
        """The host's dead-device callback (may be replaced between runs)."""
        return self.devices.callback

    @on_invalid_device.setter
    def on_invalid_device(self, callback: InvalidDeviceCallback | None) -> None:
        self.devices.callback = callback

    async def run_once(self) -> int:
        """Claim one batch of due jobs and deliver them concurrently.

        Returns:
            How many jobs were claimed (0: nothing is due now).

        Raises:
            Exception: Whatever the outbox raised while claiming or releasing (an outage);
                ``run`` logs it and tries again.
        """
        await self._outcomes.flush()  # outcomes a store error left unrecorded go first
        now = self.clock()
        jobs = await self._store.call(
            self.outbox.claim, now, self.batch_size, self.lease_seconds, self.worker_id)
        if jobs:
            self.stats.batches += 1
            await self._deliver_batch(jobs, now)
        else:
            self.stats.idle_polls += 1
        await self.devices.report_due(self.clock())  # after the outcomes are recorded
        return len(jobs)

    async def _deliver_batch(self, jobs: list[Job], claimed_at: datetime) -> None:
        self._lease_ends = claimed_at + timedelta(seconds=self.lease_seconds)
        # Stop starting sends before the lease runs out; leave room for the send itself.
        send_by = claimed_at + timedelta(
            seconds=max(0.0, self.lease_seconds - self.send_timeout) * 0.9)
        self._unsettled.update((job.id, job) for job in jobs)
        slots = asyncio.Semaphore(self._concurrency)  # per batch: never bound to an old loop
        try:
            # Every send finishes (or is cancelled) before unsent jobs are released, even
            # when recording one outcome failed: a release must never free a job in flight.
            results = await asyncio.gather(
                *(self._deliver(job, send_by, slots) for job in jobs), return_exceptions=True)
        finally:
            await self._outcomes.flush()  # outcomes first: they are the ones racing the lease
            await self._release_unsettled()
        for result in results:
            if isinstance(result, Exception):  # recording failed; counted where it happened
                log.error("delivering a job failed: %r", result)

    async def drain(self) -> WorkerStats:
        """Deliver until nothing is due now; retries scheduled for later stay pending.

        Always returns: every attempt, whatever it raised, ends in an outcome, and a
        failed job is not due again until its retry time.

        Returns:
            The worker's running totals (``self.stats``), all outcomes recorded.
        """
        warn_missing(self.channels, log)
        try:
            while await self.run_once():
                pass
        finally:
            await self._outcomes.settle()
        return self.stats

    async def run(self, stop: asyncio.Event, idle_interval: float = 1.0) -> WorkerStats:
        """Deliver until ``stop`` is set; then finish in-flight sends or release them.

        Sends already started get ``shutdown_grace`` seconds to end; jobs not yet started,
        and sends still running after the grace period, go back to the outbox unattempted.
        Store failures (a database restart) are logged and retried, never fatal.

        An idle worker waits for the outbox's wake-up (``Outbox.wakeup()``): PostgreSQL
        ``LISTEN/NOTIFY`` wakes it on any publish, SQLite and Memory on a publish in this
        process. Without one that reaches every publisher it also polls, adaptively: 10 ms
        after work, doubling with each empty poll up to ``idle_interval``.

        Args:
            stop: Set it (or use ``stop_on_signals``) to stop.
            idle_interval: Seconds between polls once idle (the longest wait); after a
                store error the worker waits this long before trying again.

        Returns:
            The worker's running totals, every outcome recorded before it returns.
        """
        warn_missing(self.channels, log)
        self._stopping = False
        self.stopping = asyncio.Event()  # fresh: an Event belongs to the loop that awaited it
        stopped = asyncio.ensure_future(stop.wait())
        batch: asyncio.Future[int] | None = None
        idle = IdleWait(self.outbox.wakeup(), idle_interval)
        refresh = None if self.metrics is None else asyncio.ensure_future(
            self.metrics.refresh_forever(self.outbox, self.clock, self._store.call))
        try:
            while not stop.is_set():
                batch = asyncio.ensure_future(self.run_once())
                await asyncio.wait({batch, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not batch.done():
                    await self._stop_batch(batch)
                claimed, failed = 0, False
                if not batch.cancelled():
                    try:
                        claimed = batch.result()
                    except Exception:
                        failed = True
                        self.stats.store_errors += 1
                        log.exception("outbox call failed; trying again in %.1fs", idle_interval)
                if claimed:
                    idle.worked()
                elif not stop.is_set():
                    await idle.wait(stopped, full=failed)
        finally:
            stopped.cancel()
            if refresh is not None:
                refresh.cancel()
                await asyncio.gather(refresh, return_exceptions=True)
            await idle.aclose()
            if batch is not None and not batch.done():  # run() itself was cancelled
                batch.cancel()
                await asyncio.gather(batch, return_exceptions=True)
            self._stopping = False
            await self._outcomes.settle()  # every outcome is recorded and counted
            await self._store.settle()
            if len(self._outcomes):
                log.error("%d outcome(s) could not be recorded; those jobs are sent again "
                          "after their lease", len(self._outcomes))
        return self.stats

    async def _stop_batch(self, batch: asyncio.Future[int]) -> None:
        """Let started sends finish within the grace period; cancel the rest (they are released)."""
        self._stopping = True
        self.stopping.set()
        done, _ = await asyncio.wait({batch}, timeout=self.shutdown_grace)
        if not done:
            log.warning("sends still running after %.1fs; releasing them", self.shutdown_grace)
            batch.cancel()
            await asyncio.gather(batch, return_exceptions=True)

    async def _release_unsettled(self) -> None:
        if not self._unsettled:
            return
        ids = list(self._unsettled)
        self._unsettled.clear()
        try:
            released = await self._store.call(self.outbox.release, ids, worker_id=self.worker_id)
        except Exception as exc:  # they stay leased and are claimed again after the lease
            self.stats.store_errors += 1
            log.error("releasing %d unsent job(s) failed: %r; they wait for their lease",
                      len(ids), exc)
            return
        self.stats.released += released
        if released < len(ids):  # their leases ran out and another worker holds them now
            self.stats.lost_leases += len(ids) - released
            log.warning("%d job(s) not released: another worker claimed them after their "
                        "lease ran out", len(ids) - released)

    async def aclose(self) -> None:
        """Close every channel's connections and the store thread."""
        for channel in self.channels.values():
            await channel.aclose()
        await self._store.shutdown()

    async def _deliver(self, job: Job, send_by: datetime, slots: asyncio.Semaphore) -> None:
        async with slots:
            try:
                await self._attempt(job, send_by)
            except Exception as exc:  # a bug of ours or an odd message: still one attempt
                log.exception("job %s (%s): attempt failed unexpectedly", job.id, job.channel,
                              extra=job_fields(job, error_class=type(exc).__name__))
                if job.id in self._unsettled:
                    self._failed(job, exc)
        if self._outcomes.full:
            await self._outcomes.flush()  # outside the slot: the next send starts meanwhile

    def _too_late(self, send_by: datetime) -> bool:
        return self._stopping or self.clock() > send_by

    async def _attempt(self, job: Job, send_by: datetime) -> None:
        """Send the job unless it is too late to; queue whatever outcome that decides."""
        if self._too_late(send_by):
            return  # left unsettled: released unattempted, another claim picks it up
        channel = self.channels.get(job.channel)
        if channel is None:
            self._failed(job, PermanentDeliveryError(f"no channel configured for {job.channel!r}"))
            return
        try:
            message = self.renderer.message(job)  # v2 facts rendered now, v1 as stored
        except TransientDeliveryError as exc:  # no locale renders it: a deployment to fix
            self._failed(job, exc)
            return
        except Exception as exc:  # any shape of stored data that cannot ever be sent
            self._failed(job, PermanentDeliveryError(f"unreadable message: {type(exc).__name__}: {exc}"))
            return
        if not channel.accepts(message):
            self._failed(job, PermanentDeliveryError(_kind_mismatch(job, channel, message)))
            return
        if not isinstance(message, PushMessage):
            await self._send(job, channel, message)
            return
        device = (str(message.platform), message.token)
        # One send per device at a time, so a dead token answers once, not once per job.
        await self.devices.wait_idle(device)
        if self._too_late(send_by):
            return
        if self.devices.is_dead(device):
            self.stats.skipped_dead_devices += 1
            self._decided(job, OutcomeKind.DEAD, "not sent: this worker already found this "
                          "device token invalid and reported it; register the device again",
                          error_class=InvalidAddressError.__name__)
            return
        async with self.devices.one_send(device):
            await self._send(job, channel, message)

    async def _send(self, job: Job, channel: Channel, message: Message) -> None:
        """Send once; queue delivered, or what the retry strategy makes of the error."""
        try:
            receipt = await asyncio.wait_for(channel.send(message), self.send_timeout)
        except TimeoutError as exc:
            if not isinstance(exc, DeliveryTimeoutError):
                exc = DeliveryTimeoutError(f"send took longer than {self.send_timeout:.0f}s")
            self._failed(job, exc)
            return
        except Exception as exc:
            if not isinstance(exc, DeliveryError):  # an adapter bug: still one attempt
                log.exception("channel %s raised an unexpected error", job.channel,
                              extra=job_fields(job, error_class=type(exc).__name__))
            self._failed(job, exc)
            if isinstance(exc, InvalidAddressError) and isinstance(message, PushMessage):
                self.devices.found(message.user_id, str(message.platform), message.token,
                                   self.clock())
            return
        self._decided(job, OutcomeKind.DELIVERED, str(getattr(receipt, "provider_id", "")))

    def _failed(self, job: Job, exc: BaseException) -> None:
        """Queue the outcome the retry strategy decides for ``exc``."""
        decision = self._decision(exc, job)
        error_class = type(exc).__name__
        if isinstance(decision, DeadLetter):
            self._decided(job, OutcomeKind.DEAD, decision.reason, error_class=error_class)
        else:
            self._decided(job, OutcomeKind.RETRY, decision.reason, error_class=error_class,
                          at=self.clock() + timedelta(seconds=max(0.0, decision.seconds)))

    def _decision(self, exc: BaseException, job: Job) -> RetryDecision:
        try:
            decision = self.retry.get_retry_decision(exc, job)
        except Exception:
            log.exception("the retry strategy failed on job %s; using RetryPolicy()", job.id)
            return _FALLBACK.get_retry_decision(exc, job)
        if not isinstance(decision, RetryDecision) or (
                isinstance(decision, RetryLater) and not 0 <= decision.seconds <= _LONGEST):
            log.error("the retry strategy returned %r for job %s; using RetryPolicy()",
                      decision, job.id)
            return _FALLBACK.get_retry_decision(exc, job)
        return decision

    def _decided(self, job: Job, kind: OutcomeKind, text: str, at: datetime | None = None,
                 error_class: str = "") -> None:
        """Queue the job's outcome; ``_deliver`` records the queue once it is long enough."""
        self._unsettled.pop(job.id, None)
        self._outcomes.add(job, Outcome(job.id, kind, at or self.clock(), text), self._lease_ends,
                           error_class)


def _kind_mismatch(job: Job, channel: Channel, message: Message) -> str:
    carried = getattr(channel, "carries", ())
    carries = " and ".join(cls.kind for cls in carried) if isinstance(carried, tuple) else carried
    article = "an" if message.kind[:1] in "aeiou" else "a"
    said = f"carries {carries} messages" if carries else f"does not carry {message.kind} messages"
    return f"channel {job.channel!r} {said}; job {job.id} holds {article} {message.kind}"
