"""Delivers what the outbox holds: claim due jobs with a lease, send, record, retry or give up."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import signal
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from ..channels.base import Channel
from ..clock import Clock, utc_now
from ..errors import (
    ConfigurationError,
    DeliveryTimeoutError,
    InvalidAddressError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ..events import Device, Platform
from ..messages import Message, PushMessage, message_from_dict
from ..outbox.base import Job, Outbox, Outcome, OutcomeKind

log = logging.getLogger("ticketnotify.worker")

InvalidDeviceCallback = Callable[[str, Device], None]
DeviceKey = tuple[str, str]  # (platform, token)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped, up to ``max_attempts`` tries in all."""

    max_attempts: int = 8
    base_delay: float = 5.0
    max_delay: float = 3600.0
    jitter: float = 0.5  # fraction of the delay that is randomised

    def delay(
        self, attempt: int, retry_after: float | None = None, rnd: random.Random | None = None
    ) -> float:
        """Seconds before try ``attempt + 1``; never sooner than the peer's Retry-After."""
        raw = min(self.max_delay, self.base_delay * 2.0 ** max(0, attempt - 1))
        r = (rnd or random).random()
        jittered = raw * (1 - self.jitter) + raw * self.jitter * r
        return max(jittered, retry_after or 0.0)


@dataclass
class WorkerStats:
    """Running totals a host or the CLI can show."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    invalid_devices: int = 0  # distinct dead devices found (each reported to the host once)
    skipped_dead_devices: int = 0  # jobs dead-lettered unsent: their device was known dead
    released: int = 0
    lost_leases: int = 0  # outcomes not recorded: another worker held the job by then
    batches: int = 0
    store_errors: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


class Worker:
    """One delivery loop; run as many as you like against a shared durable outbox.

    Store calls run on one dedicated thread, so a slow database round trip never stalls
    the sends in flight. A job is sent only while its lease has comfortably not expired,
    so no other worker can hold the same job at the same time. Outcomes are recorded
    ``record_every`` at a time and at the end of each batch: one commit per flush, not
    per job, and never later than the batch's sends (which all end inside the lease).
    """

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        *,
        on_invalid_device: InvalidDeviceCallback | None = None,
        retry: RetryPolicy | None = None,
        batch_size: int = 100,
        concurrency: int = 50,
        lease_seconds: float = 120.0,
        clock: Clock = utc_now,
        worker_id: str | None = None,
        send_timeout: float | None = None,
        shutdown_grace: float = 30.0,
        dead_device_memory: int = 10_000,
        record_every: int = 50,
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
        self.outbox = outbox
        self.channels = dict(channels)
        self.on_invalid_device = on_invalid_device
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        # A send must end well inside the lease, or another worker may take the job meanwhile.
        self.send_timeout = send_timeout if send_timeout is not None else lease_seconds / 2
        self.shutdown_grace = shutdown_grace
        self.clock = clock
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.stats = WorkerStats()
        self._concurrency = concurrency
        self._store = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ticketnotify-outbox")
        self._unsettled: dict[int, Job] = {}  # claimed, outcome not yet decided
        # Decided outcomes waiting to be recorded together, in one store transaction.
        self._outcomes: list[tuple[Job, Outcome]] = []
        self._record_every = record_every
        # Devices found dead, oldest first; bounded so a worker's memory stays flat for years.
        self._dead_devices: OrderedDict[DeviceKey, None] = OrderedDict()
        self._dead_device_memory = dead_device_memory
        self._pushing: dict[DeviceKey, asyncio.Event] = {}  # device → its send in flight
        self._stopping = False
        self.stopping = asyncio.Event()  # set once a stop was noticed and no new sends start

    async def _call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run a store method on the store thread; finish it even if the caller is cancelled."""
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.shield(loop.run_in_executor(self._store, call))

    async def run_once(self) -> int:
        """Claim one batch of due jobs, deliver them concurrently; return how many were claimed."""
        jobs = await self._call(
            self.outbox.claim, self.clock(), self.batch_size, self.lease_seconds, self.worker_id
        )
        if not jobs:
            return 0
        self.stats.batches += 1
        # Stop starting sends before the lease runs out; leave room for the send itself.
        send_by = time.monotonic() + max(0.0, self.lease_seconds - self.send_timeout) * 0.9
        self._unsettled.update((job.id, job) for job in jobs)
        slots = asyncio.Semaphore(self._concurrency)  # per batch: never bound to an old loop
        try:
            # Every send finishes (or is cancelled) before unsent jobs are released, even
            # when recording one outcome failed: a release must never free a job in flight.
            outcomes = await asyncio.gather(
                *(self._deliver(job, send_by, slots) for job in jobs), return_exceptions=True
            )
        finally:
            await self._flush()  # outcomes first: they are the ones racing the lease
            await self._release_unsettled()
        for outcome in outcomes:
            if isinstance(outcome, Exception):  # the job keeps its lease and is re-claimed
                self.stats.store_errors += 1
                log.error("delivering a job failed: %r", outcome)
        return len(jobs)

    async def drain(self) -> WorkerStats:
        """Deliver until nothing is due now (retries scheduled later stay pending)."""
        while await self.run_once():
            pass
        return self.stats

    async def run(self, stop: asyncio.Event, idle_interval: float = 1.0) -> WorkerStats:
        """Deliver until ``stop`` is set; then finish in-flight sends or release them.

        Sends already started get ``shutdown_grace`` seconds to end; jobs not yet started,
        and sends still running after the grace period, go back to the outbox unattempted.
        Store failures (a database restart) are logged and retried, never fatal.
        """
        self._stopping = False
        self.stopping = asyncio.Event()  # fresh: an Event belongs to the loop that awaited it
        stopped = asyncio.ensure_future(stop.wait())
        batch: asyncio.Future[int] | None = None
        try:
            while not stop.is_set():
                batch = asyncio.ensure_future(self.run_once())
                await asyncio.wait({batch, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not batch.done():
                    await self._stop_batch(batch)
                claimed = 0
                if not batch.cancelled():
                    try:
                        claimed = batch.result()
                    except Exception:
                        self.stats.store_errors += 1
                        log.exception("outbox call failed; trying again in %.1fs", idle_interval)
                if not claimed and not stop.is_set():
                    await asyncio.wait({stopped}, timeout=idle_interval)
        finally:
            stopped.cancel()
            if batch is not None and not batch.done():  # run() itself was cancelled
                batch.cancel()
                await asyncio.gather(batch, return_exceptions=True)
            self._stopping = False
            await self._flush()
            await self._call(lambda: None)  # every queued outcome is recorded before we return
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
        released = await self._call(self.outbox.release, ids, worker_id=self.worker_id)
        self.stats.released += released
        if released < len(ids):  # their leases ran out and another worker holds them now
            self.stats.lost_leases += len(ids) - released
            log.warning("%d job(s) not released: another worker claimed them after their "
                        "lease ran out", len(ids) - released)

    async def aclose(self) -> None:
        """Close every channel's connections and the store thread."""
        for channel in self.channels.values():
            await channel.aclose()
        await asyncio.get_running_loop().run_in_executor(None, self._store.shutdown)

    async def _deliver(self, job: Job, send_by: float, slots: asyncio.Semaphore) -> None:
        async with slots:
            await self._attempt(job, send_by)
        if len(self._outcomes) >= self._record_every:
            await self._flush()  # outside the slot: the next send starts while the store commits

    async def _attempt(self, job: Job, send_by: float) -> None:
        """Send the job unless it is too late to; queue whatever outcome that decides."""
        if self._stopping or time.monotonic() > send_by:
            return  # left unsettled: released unattempted, another claim picks it up
        channel = self.channels.get(job.channel)
        if channel is None:
            self._dead(job, f"no channel configured for {job.channel!r}")
            return
        try:
            message = message_from_dict(job.message)
        except (TypeError, ValueError) as exc:  # a stored message that cannot ever be sent
            self._dead(job, f"unreadable message: {exc}")
            return
        if not isinstance(message, PushMessage):
            await self._send(job, channel, message)
            return
        # One send per device at a time, so a dead token answers once, not once per job.
        device: DeviceKey = (str(message.platform), message.token)
        while (busy := self._pushing.get(device)) is not None:
            await busy.wait()
        if self._stopping or time.monotonic() > send_by:
            return
        if device in self._dead_devices:
            self._dead_devices.move_to_end(device)
            self.stats.skipped_dead_devices += 1
            self._dead(job, "not sent: this worker already found this device token "
                            "invalid and reported it; register the device again")
            return
        done = self._pushing[device] = asyncio.Event()
        try:
            await self._send(job, channel, message)
        finally:
            del self._pushing[device]
            done.set()

    async def _send(self, job: Job, channel: Channel, message: Message) -> None:
        """Send once and queue the outcome the error class calls for."""
        try:
            receipt = await asyncio.wait_for(channel.send(message), self.send_timeout)
        except InvalidAddressError as exc:
            self._dead(job, f"invalid address: {exc}")
            self._report_invalid_device(job, message)
        except PermanentDeliveryError as exc:
            self._dead(job, f"permanent: {exc}")
        except TransientDeliveryError as exc:
            self._transient(job, str(exc), exc.retry_after)
        except TimeoutError:
            error = DeliveryTimeoutError(f"send took longer than {self.send_timeout:.0f}s")
            self._transient(job, str(error), None)
        except Exception as exc:  # an adapter bug must not kill the worker or lose the job
            log.exception("channel %s raised an unexpected error", job.channel)
            self._transient(job, f"unexpected {type(exc).__name__}: {exc}", None)
        else:
            self._decided(job, OutcomeKind.DELIVERED, self.clock(), receipt.provider_id)

    def _transient(self, job: Job, error: str, retry_after: float | None) -> None:
        attempt = job.attempts + 1
        if attempt >= self.retry.max_attempts:
            self._dead(job, f"gave up after {attempt} attempts: {error}")
            return
        delay = self.retry.delay(attempt, retry_after)
        self._decided(job, OutcomeKind.RETRY, self.clock() + timedelta(seconds=delay), error)

    def _dead(self, job: Job, reason: str) -> None:
        self._decided(job, OutcomeKind.DEAD, self.clock(), reason)

    def _decided(self, job: Job, kind: OutcomeKind, at: datetime, text: str) -> None:
        """Queue the job's outcome; ``_deliver`` records the queue once it is long enough."""
        self._unsettled.pop(job.id, None)
        self._outcomes.append((job, Outcome(job.id, kind, at, text)))

    async def _flush(self) -> None:
        """Record every queued outcome in one store call, then count what each became.

        If the store fails, none is recorded: those jobs keep their lease and are sent
        again after it, as after a crash (at least once, never lost).
        """
        if not self._outcomes:
            return
        queued, self._outcomes = self._outcomes, []
        try:
            applied = await self._call(self.outbox.record, [o for _, o in queued],
                                       worker_id=self.worker_id)
        except Exception as exc:
            self.stats.store_errors += 1
            log.error("recording %d outcome(s) failed; they are sent again after their "
                      "lease: %r", len(queued), exc)
            return
        for (job, outcome), ok in zip(queued, applied, strict=True):
            if not ok:
                self._lost_lease(job, f"{outcome.kind}: {outcome.text}")
            elif outcome.kind is OutcomeKind.DELIVERED:
                self.stats.delivered += 1
                self.stats.by_channel[job.channel] = self.stats.by_channel.get(job.channel, 0) + 1
            elif outcome.kind is OutcomeKind.RETRY:
                self.stats.retried += 1
            else:
                self.stats.dead += 1
                log.warning("dead-lettered job %s (%s): %s", job.id, job.channel, outcome.text)

    def _lost_lease(self, job: Job, outcome: str) -> None:
        """The store refused the outcome: our lease ran out and the job is another worker's."""
        self.stats.lost_leases += 1
        log.warning("job %s (%s): outcome not recorded (%s): its lease ran out and another "
                    "worker claimed it; that worker's outcome stands", job.id, job.channel,
                    outcome)

    def _report_invalid_device(self, job: Job, message: Message) -> None:
        """Remember the dead device and tell the host, once per device per worker."""
        if not isinstance(message, PushMessage):
            return
        key: DeviceKey = (str(message.platform), message.token)
        if key in self._dead_devices:
            return
        if self._dead_device_memory:
            self._dead_devices[key] = None
            while len(self._dead_devices) > self._dead_device_memory:
                self._dead_devices.popitem(last=False)
        self.stats.invalid_devices += 1
        if self.on_invalid_device is None:
            return
        device = Device(platform=Platform(message.platform), token=message.token)
        try:
            self.on_invalid_device(message.user_id, device)
        except Exception:  # the host's callback failing must not undo the recorded outcome
            log.exception("on_invalid_device callback failed for job %s", job.id)


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT set ``stop`` (graceful); a second one acts at once, as if no handler.

    Acting at once is safe: jobs in flight keep their lease and are re-claimed after it.
    """
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if not stop.is_set():
            log.warning("%s: finishing sends in flight; send it again to stop now", sig.name)
            stop.set()
            return
        loop.remove_signal_handler(sig)
        signal.raise_signal(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
