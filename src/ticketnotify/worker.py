"""Delivers what the outbox holds: claim due jobs with a lease, send, record, retry or give up."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .channels.base import Channel
from .errors import (
    ConfigurationError,
    InvalidAddressError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from .events import Device, Platform
from .messages import PushMessage, message_from_dict
from .outbox.base import Job, Outbox

log = logging.getLogger("ticketnotify.worker")

Clock = Callable[[], datetime]
InvalidDeviceCallback = Callable[[str, Device], None]


def utc_now() -> datetime:
    """The worker's default clock; tests inject their own."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped, up to ``max_attempts`` tries in all."""

    max_attempts: int = 8
    base_delay: float = 5.0
    max_delay: float = 3600.0
    jitter: float = 0.5  # fraction of the delay that is randomised

    def delay(self, attempt: int, retry_after: float | None = None, rnd: random.Random | None = None) -> float:
        """Seconds before try ``attempt + 1``; never sooner than the peer's Retry-After."""
        raw = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        r = (rnd or random).random()
        jittered = raw * (1 - self.jitter) + raw * self.jitter * r
        return max(jittered, retry_after or 0.0)


@dataclass
class WorkerStats:
    """Running totals a host or the CLI can show."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    invalid_devices: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


class Worker:
    """One delivery loop; run as many as you like against a shared durable outbox."""

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
    ) -> None:
        if batch_size < 1 or concurrency < 1:
            raise ConfigurationError("batch_size and concurrency must be at least 1")
        self.outbox = outbox
        self.channels = dict(channels)
        self.on_invalid_device = on_invalid_device
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.stats = WorkerStats()
        self._slots = asyncio.Semaphore(concurrency)

    async def run_once(self) -> int:
        """Claim one batch of due jobs, deliver them concurrently; return how many were tried."""
        jobs = self.outbox.claim(self.clock(), self.batch_size, self.lease_seconds, self.worker_id)
        if jobs:
            await asyncio.gather(*(self._deliver(job) for job in jobs))
        return len(jobs)

    async def drain(self) -> WorkerStats:
        """Deliver until nothing is due now (retries scheduled later stay pending)."""
        while await self.run_once():
            pass
        return self.stats

    async def run(self, stop: asyncio.Event, idle_interval: float = 1.0) -> WorkerStats:
        """Deliver until ``stop`` is set, waiting ``idle_interval`` when nothing is due."""
        while not stop.is_set():
            if not await self.run_once():
                try:
                    await asyncio.wait_for(stop.wait(), idle_interval)
                except TimeoutError:
                    pass
        return self.stats

    async def aclose(self) -> None:
        """Close every channel's connections."""
        for channel in self.channels.values():
            await channel.aclose()

    async def _deliver(self, job: Job) -> None:
        async with self._slots:
            channel = self.channels.get(job.channel)
            if channel is None:
                self._dead(job, f"no channel configured for {job.channel!r}")
                return
            try:
                message = message_from_dict(job.message)
                receipt = await channel.send(message)
            except InvalidAddressError as exc:
                self._dead(job, f"invalid address: {exc}")
                self._report_invalid_device(job, message)
            except PermanentDeliveryError as exc:
                self._dead(job, f"permanent: {exc}")
            except TransientDeliveryError as exc:
                self._transient(job, str(exc), exc.retry_after)
            except Exception as exc:  # an adapter bug must not kill the worker or lose the job
                log.exception("channel %s raised an unexpected error", job.channel)
                self._transient(job, f"unexpected {type(exc).__name__}: {exc}", None)
            else:
                self.outbox.mark_delivered(job.id, self.clock(), receipt.provider_id)
                self.stats.delivered += 1
                self.stats.by_channel[job.channel] = self.stats.by_channel.get(job.channel, 0) + 1

    def _transient(self, job: Job, error: str, retry_after: float | None) -> None:
        attempt = job.attempts + 1
        if attempt >= self.retry.max_attempts:
            self._dead(job, f"gave up after {attempt} attempts: {error}")
            return
        delay = self.retry.delay(attempt, retry_after)
        self.outbox.mark_retry(job.id, self.clock() + timedelta(seconds=delay), error)
        self.stats.retried += 1

    def _dead(self, job: Job, reason: str) -> None:
        self.outbox.mark_dead(job.id, self.clock(), reason)
        self.stats.dead += 1
        log.warning("dead-lettered job %s (%s): %s", job.id, job.channel, reason)

    def _report_invalid_device(self, job: Job, message: object) -> None:
        if not isinstance(message, PushMessage) or self.on_invalid_device is None:
            return
        self.stats.invalid_devices += 1
        device = Device(platform=Platform(message.platform), token=message.token)
        try:
            self.on_invalid_device(message.user_id, device)
        except Exception:  # the host's callback failing must not undo the recorded outcome
            log.exception("on_invalid_device callback failed for job %s", job.id)
