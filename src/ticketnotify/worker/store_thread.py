"""One thread for every outbox call, so a slow database round trip never stalls sends."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class StoreThread:
    """Runs outbox methods one at a time, in order, off the event loop."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ticketnotify-outbox")

    async def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run ``fn`` on the store thread; it finishes even if the caller is cancelled."""
        loop = asyncio.get_running_loop()
        return await asyncio.shield(
            loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs)))

    async def settle(self) -> None:
        """Return once every call queued so far has finished."""
        await self.call(lambda: None)

    async def shutdown(self) -> None:
        """Finish queued calls and end the thread."""
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown)
