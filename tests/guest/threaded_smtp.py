"""A loopback SMTP server on an event loop of its own, for tests whose host code is synchronous."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ticketnotify.channels.smtp.config import SMTPConfig
from ticketnotify.loopback.smtp import LoopbackSMTPServer, ReceivedMessage, RecordingHandler


class ThreadedSMTP:
    """``LoopbackSMTPServer`` served from a daemon thread; waits are bounded, never sleeps."""

    def __init__(self, server: LoopbackSMTPServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop

    def config(self, **overrides: object) -> SMTPConfig:
        options: dict[str, object] = {"host": "127.0.0.1", "port": self.server.port,
                                      "sender": "help@example.se", "security": "none",
                                      "timeout": 10, **overrides}
        return SMTPConfig(**options)  # type: ignore[arg-type]

    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedMessage]:
        future = asyncio.run_coroutine_threadsafe(self.server.wait_for(count, timeout), self.loop)
        return future.result(timeout + 5)


@contextmanager
def threaded_smtp(handler: RecordingHandler | None = None) -> Iterator[ThreadedSMTP]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="smtp-server", daemon=True)
    thread.start()
    try:
        async def start() -> LoopbackSMTPServer:
            # The handler's Condition must be made on the server's loop.
            return await LoopbackSMTPServer(handler=handler or RecordingHandler()).start()

        server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
        try:
            yield ThreadedSMTP(server, loop)
        finally:
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
