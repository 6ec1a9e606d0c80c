"""Wake-ups: how a store tells an idle worker that new jobs may be due, instead of a poll.

``Outbox.wakeup()`` hands a worker a ``Wakeup``. ``MemoryOutbox`` and ``SQLiteOutbox`` wake
workers in the same process (``add`` rings a ``LocalSignal``, shared by every store open
on one SQLite file); between processes a SQLite worker falls back to polling, which the
worker makes adaptive. ``PostgresOutbox`` runs ``pg_notify`` inside ``add``'s transaction,
so the notification goes out when that transaction commits (the host's, when it passed
one) and reaches every worker on every machine that holds a ``LISTEN`` connection.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import suppress
from typing import Any

log = logging.getLogger("ticketnotify.worker")

CHANNEL = "ticketnotify_outbox"
"""The PostgreSQL notification channel ``add`` notifies and workers ``LISTEN`` on."""


class Wakeup(ABC):
    """What an idle worker waits on; made by ``Outbox.wakeup()``, one per worker.

    Attributes:
        reaches_other_processes: True when a publish in any process wakes this worker
            right now (a live PostgreSQL ``LISTEN``); False when only publishes in this
            process do, so the worker must also poll for other processes' jobs.
    """

    reaches_other_processes = False

    @abstractmethod
    async def wait(self, timeout: float) -> bool:
        """Wait until new jobs may be due, or ``timeout`` seconds have passed.

        Args:
            timeout: Seconds to wait at most.

        Returns:
            True if woken by a publish (or a reconnect that may have missed one), False
            if the time ran out.
        """

    async def aclose(self) -> None:  # noqa: B027 - wake-ups holding nothing keep it
        """Stop listening; the object is not used again."""


class NoWakeup(Wakeup):
    """For stores that cannot signal: every wait runs its full time (the worker polls)."""

    async def wait(self, timeout: float) -> bool:
        """Sleep ``timeout`` seconds; never woken early."""
        await asyncio.sleep(timeout)
        return False


class LocalSignal:
    """A process-wide "jobs were added" bell for one store; any thread may ring it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[_LocalWaiter] = set()

    def ring(self) -> None:
        """Wake every worker waiting on this store (cheap when none is, or all are awake)."""
        if not self._waiters:
            return
        with self._lock:
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.ring()

    def wakeup(self) -> Wakeup:
        """A new ``Wakeup`` on this bell, for one worker."""
        return _LocalWaiter(self)

    def _join(self, waiter: _LocalWaiter) -> None:
        with self._lock:
            self._waiters.add(waiter)

    def _leave(self, waiter: _LocalWaiter) -> None:
        with self._lock:
            self._waiters.discard(waiter)


_FILES: dict[object, LocalSignal] = {}
_FILES_LOCK = threading.Lock()


def signal_for(key: object) -> LocalSignal:
    """The one ``LocalSignal`` of a database file in this process (``key``: its identity).

    Args:
        key: What identifies the file across paths that name it: ``(st_dev, st_ino)``.

    Returns:
        The bell every store open on that file shares.
    """
    with _FILES_LOCK:
        found = _FILES.get(key)
        if found is None:
            found = _FILES[key] = LocalSignal()
        return found


class _LocalWaiter(Wakeup):
    """Waits on a ``LocalSignal`` from one event loop; the bell may ring from any thread."""

    def __init__(self, signal: LocalSignal) -> None:
        self._signal = signal
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._rung = False  # set by ring(), cleared by wait(): a ring between waits counts
        signal._join(self)  # from now on: a ring before the first wait is not lost

    def ring(self) -> None:
        if self._rung:
            return  # already on its way: one wake-up is enough for any number of publishes
        self._rung = True
        loop, event = self._loop, self._event
        if loop is None or event is None:
            return
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the worker's loop has closed: nobody to wake
            self._signal._leave(self)

    async def wait(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first wait, or a wait on a new loop
            self._event = asyncio.Event()
            self._loop = loop  # bound before _rung is read below, so no ring slips between
            self._signal._join(self)
        event = self._event
        assert event is not None
        if not self._rung:
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                return False  # a ring that raced the timeout is still in _rung: next wait
        # _rung first: a ring from now on schedules a new event.set(), which lands after
        # the clear() below (it runs on this loop), so no ring is ever lost.
        self._rung = False
        event.clear()
        return True

    async def aclose(self) -> None:
        self._signal._leave(self)
        self._loop = self._event = None


class PostgresWakeup(Wakeup):
    """One ``LISTEN`` connection, held by a thread, that wakes a worker on every notification.

    If the connection breaks, the wake-up counts as not reaching other processes (the
    worker polls) and reconnects with backoff; once listening again it wakes the worker,
    because a publish during the gap sent its notification to nobody.

    Args:
        connect: Opens a fresh autocommit connection (the store's own factory); raises the
            store's errors.
        poll: Seconds the listening thread waits for notifications before checking
            whether it should stop (how long ``aclose`` may take).
    """

    def __init__(self, connect: Callable[[], Any], *, poll: float = 0.5) -> None:
        self._connect = connect
        self._poll = poll
        self._local = LocalSignal()  # the thread rings it; the worker waits on it
        self._waiter = self._local.wakeup()
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def reaches_other_processes(self) -> bool:  # type: ignore[override]
        """True while the ``LISTEN`` connection is up."""
        return self._listening.is_set()

    async def wait(self, timeout: float) -> bool:
        if self._thread is None:
            self._thread = threading.Thread(target=self._listen, daemon=True,
                                            name="ticketnotify-listen")
            self._thread.start()
        return await self._waiter.wait(timeout)

    def _listen(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            if backoff and self._stop.wait(backoff):
                break  # told to stop while waiting to reconnect
            conn = None
            try:
                conn = self._connect()
                conn.execute(f"LISTEN {CHANNEL}")
                self._listening.set()
                self._local.ring()  # anything published while we were not listening
                backoff = 0.0
                while not self._stop.is_set():
                    for _ in conn.notifies(timeout=self._poll):
                        self._local.ring()
            except Exception as exc:  # an outage: poll meanwhile, listen again later
                if self._listening.is_set() or not backoff:  # once per outage, not per try
                    log.warning("outbox LISTEN connection failed (%s); polling until it is "
                                "back", exc)
                self._listening.clear()
                backoff = min(max(backoff * 2, 0.5), 30.0)
            finally:
                self._listening.clear()
                if conn is not None:
                    with suppress(Exception):  # a broken connection may refuse to close
                        conn.close()

    async def aclose(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join)
        await self._waiter.aclose()
