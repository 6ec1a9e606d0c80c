"""A small bounded pool of SMTP connections, each carrying many messages before it retires."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import aiosmtplib

Connector = Callable[[], Awaitable[aiosmtplib.SMTP]]


class SMTPConnection:
    """One connected client and how many messages it has carried (for the reuse bound)."""

    __slots__ = ("client", "generation", "sent")

    def __init__(self, client: aiosmtplib.SMTP, generation: int) -> None:
        self.client = client
        self.generation = generation
        self.sent = 0

    @property
    def connected(self) -> bool:
        """False once the server closed the socket (aiosmtplib notices connection loss)."""
        return self.client.is_connected


class SMTPPool:
    """At most ``size`` connections at once; idle ones are reused newest first.

    A connection retires after ``max_messages`` messages (servers such as Postfix cap
    messages per session) or when the server has closed it while idle. ``aclose`` quits
    the idle ones and marks those in use to be closed when they come back.
    """

    def __init__(
        self, connect: Connector, *, size: int, max_messages: int, quit_timeout: float
    ) -> None:
        self._connect = connect
        self._size = size
        self._max_messages = max_messages
        self._quit_timeout = quit_timeout
        self._slots = asyncio.Semaphore(size)
        self._idle: list[SMTPConnection] = []
        self._generation = 0
        self._retiring: set[asyncio.Task[None]] = set()
        self.opened = 0  # connections opened so far; tests and benchmarks read it

    async def acquire(self) -> SMTPConnection:
        """A connected connection for the caller alone; waits while ``size`` are in use."""
        await self._slots.acquire()
        try:
            while self._idle:
                conn = self._idle.pop()
                if conn.connected:
                    return conn
                conn.client.close()  # the server hung up while it was idle: drop it
            return await self._open()
        except BaseException:
            self._slots.release()
            raise

    async def replace(self, conn: SMTPConnection) -> SMTPConnection:
        """Close ``conn`` and open a fresh one under the same slot (a stale idle connection)."""
        conn.client.close()
        return await self._open()

    def release(self, conn: SMTPConnection | None, *, reusable: bool) -> None:
        """Give a connection back; unusable, exhausted or pre-``aclose`` ones are retired."""
        try:
            if conn is None:
                return
            keep = (
                reusable
                and conn.connected
                and conn.sent < self._max_messages
                and conn.generation == self._generation
            )
            if keep:
                self._idle.append(conn)
            elif conn.connected:
                self._retire_later(conn)
            else:
                conn.client.close()
        finally:
            self._slots.release()

    async def aclose(self) -> None:
        """QUIT every idle connection; connections in use close when released."""
        self._generation += 1
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(c) for c in idle))
        if self._retiring:
            await asyncio.gather(*list(self._retiring))

    async def _open(self) -> SMTPConnection:
        client = await self._connect()
        self.opened += 1
        return SMTPConnection(client, self._generation)

    def _retire_later(self, conn: SMTPConnection) -> None:
        """QUIT in the background so the sender that used it up does not wait for the reply."""
        task = asyncio.get_running_loop().create_task(self._quit(conn))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _quit(self, conn: SMTPConnection) -> None:
        """Polite QUIT with a short bound; a server that does not answer is just closed."""
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await conn.client.quit(timeout=self._quit_timeout)
        conn.client.close()
