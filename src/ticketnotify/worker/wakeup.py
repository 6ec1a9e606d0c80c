"""How long an idle worker waits: until the store wakes it, polling adaptively meanwhile.

With a wake-up that reaches every publisher (PostgreSQL ``LISTEN``) an idle worker simply
waits for it, polling only at ``idle_interval`` as a safety net. Otherwise (SQLite and
Memory wake only workers in the publishing process) it polls for other processes' jobs:
soon after work (``SHORTEST`` seconds, doubling with every empty poll) because bursts come
together, and at ``idle_interval`` once things are quiet, so an idle worker costs next to
no CPU. A wake-up that may precede its commit (SQLite inside a host's transaction) starts
the short polls again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..outbox.wakeups import Wakeup

SHORTEST = 0.01
"""Seconds: the first poll after work or a wake-up, doubling up to the idle interval."""


class IdleWait:
    """The waits of one ``Worker.run`` between claims that found nothing.

    Args:
        wakeup: The store's wake-up for this worker (``Outbox.wakeup()``).
        idle_interval: Seconds between polls once idle (the longest wait).
        shortest: Seconds of the first poll after work; at most ``idle_interval``.
    """

    def __init__(self, wakeup: Wakeup, idle_interval: float, *,
                 shortest: float = SHORTEST) -> None:
        self.wakeup = wakeup
        self.idle_interval = max(0.0, idle_interval)
        self.shortest = min(shortest, self.idle_interval)
        self._next = self.idle_interval  # a fresh worker has no recent work to expect more of

    @property
    def next_poll(self) -> float:
        """Seconds the next wait lasts at most, unless woken."""
        if self.wakeup.reaches_other_processes:
            return self.idle_interval
        return self._next

    def worked(self) -> None:
        """A claim found jobs: more may follow soon, so poll soon again."""
        self._next = self.shortest

    async def wait(self, stop: asyncio.Future[Any], *, full: bool = False) -> bool:
        """Wait until woken, the next poll is due, or ``stop`` is done.

        Args:
            stop: Ends the wait at once when done (the worker is stopping).
            full: Wait the whole idle interval (after a store error: no rush).

        Returns:
            True if the store woke the worker.
        """
        timeout = self.idle_interval if full else self.next_poll
        if not self.wakeup.reaches_other_processes:
            self._next = min(max(self._next * 2, self.shortest), self.idle_interval)
        waiting: asyncio.Future[Any] = asyncio.ensure_future(self.wakeup.wait(timeout))
        try:
            await asyncio.wait({waiting, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not waiting.done():
                waiting.cancel()
                await asyncio.gather(waiting, return_exceptions=True)
        woken = not waiting.cancelled() and waiting.exception() is None and waiting.result()
        if woken:
            self._next = self.shortest  # its commit may be a moment away (host transaction)
        return bool(woken)

    async def aclose(self) -> None:
        """Stop the store's wake-up (a ``LISTEN`` connection is closed)."""
        await self.wakeup.aclose()
