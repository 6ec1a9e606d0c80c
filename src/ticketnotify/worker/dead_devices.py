"""Dead push devices: remembered so they are not pushed again, reported to the host once each.

The host's ``on_invalid_device`` never runs on the worker's event loop unless it is a
coroutine function: a plain function runs in a thread (``asyncio.to_thread``), so a Django
ORM call works there. A report that raises is kept and tried again with backoff; at most
``MAX_PENDING_REPORTS`` wait at once (the oldest is dropped, loudly, beyond that).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..events import Device, Platform
from .retry import RetryPolicy
from .stats import WorkerStats

log = logging.getLogger("ticketnotify.worker")

InvalidDeviceCallback = Callable[[str, Device], Awaitable[None] | None]
"""``callback(user_id, device)``: forget this device. A plain function or ``async def``."""

DeviceKey = tuple[str, str]  # (platform, token)

MAX_PENDING_REPORTS = 10_000
REPORT_BACKOFF = RetryPolicy(base_delay=5.0, max_delay=600.0)
"""Waits between tries of a failing report: 2.5–5 s, then 5–10 s, ... at most 10 minutes."""


@dataclass(slots=True)
class _Report:
    user_id: str
    device: Device
    due: datetime
    failures: int = 0


class DeadDevices:
    """Which devices are dead, one send per device at a time, and the host's reports."""

    def __init__(self, callback: InvalidDeviceCallback | None, stats: WorkerStats, *,
                 memory: int) -> None:
        self.callback = callback
        self._stats = stats
        self._memory = memory
        self._dead: OrderedDict[DeviceKey, None] = OrderedDict()  # oldest first
        self._sending: dict[DeviceKey, asyncio.Event] = {}
        self._reports: OrderedDict[DeviceKey, _Report] = OrderedDict()

    @property
    def pending_reports(self) -> int:
        """Reports to the host still to make (first tries and retries)."""
        return len(self._reports)

    def is_dead(self, key: DeviceKey) -> bool:
        """Whether this worker found ``key`` dead (and still remembers it)."""
        if key not in self._dead:
            return False
        self._dead.move_to_end(key)
        return True

    @asynccontextmanager
    async def one_send(self, key: DeviceKey) -> AsyncIterator[None]:
        """Hold the device while one send runs, so a dead token answers once, not once per job."""
        while (busy := self._sending.get(key)) is not None:
            await busy.wait()
        done = self._sending[key] = asyncio.Event()
        try:
            yield
        finally:
            del self._sending[key]
            done.set()

    async def wait_idle(self, key: DeviceKey) -> None:
        """Wait until no send to ``key`` is in flight."""
        while (busy := self._sending.get(key)) is not None:
            await busy.wait()

    def found(self, user_id: str, platform: str, token: str, now: datetime) -> None:
        """Remember a device the provider called dead; queue one report to the host."""
        key: DeviceKey = (platform, token)
        if key in self._dead or key in self._reports:
            return
        if self._memory:
            self._dead[key] = None
            while len(self._dead) > self._memory:
                self._dead.popitem(last=False)
        self._stats.invalid_devices += 1
        if self.callback is None:
            return
        try:
            device = Device(platform=Platform(platform), token=token)
        except (ValueError, TypeError) as exc:  # not a device the host could have registered
            log.error("dead device %s/%s not reported: %s", platform, token, exc)
            return
        self._reports[key] = _Report(user_id, device, now)
        while len(self._reports) > MAX_PENDING_REPORTS:
            _, lost = self._reports.popitem(last=False)
            log.error("too many failing on_invalid_device reports; not reporting %s for user "
                      "%s", lost.device, lost.user_id)

    async def report_due(self, now: datetime) -> None:
        """Call the host for every report due by ``now``, concurrently; keep failures for later."""
        due = [(key, r) for key, r in self._reports.items() if r.due <= now]
        if not due:
            return
        results = await asyncio.gather(*(self._call(r) for _, r in due), return_exceptions=True)
        for (key, report), result in zip(due, results, strict=True):
            if result is None:
                self._reports.pop(key, None)
                continue
            if not isinstance(result, Exception):  # cancelled: tried again next time
                continue
            self._stats.callback_errors += 1
            report.failures += 1
            wait = REPORT_BACKOFF.delay(report.failures)
            report.due = now + timedelta(seconds=wait)
            log.error("on_invalid_device(%r, %s) failed (%d time(s)): %r; trying again in "
                      "%.0fs", report.user_id, report.device, report.failures, result, wait)

    async def _call(self, report: _Report) -> None:
        callback = self.callback
        assert callback is not None
        if inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
                getattr(callback, "__call__", None)):  # noqa: B004 - async callable objects
            result = callback(report.user_id, report.device)
        else:  # off the loop: hosts' sync code (an ORM) may refuse to run inside one
            result = await asyncio.to_thread(callback, report.user_id, report.device)
        if inspect.isawaitable(result):
            await result
