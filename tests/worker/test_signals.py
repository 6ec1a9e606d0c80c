"""``stop_on_signals``: the first SIGTERM/SIGINT asks the worker to stop gracefully."""

from __future__ import annotations

import asyncio
import signal

import pytest

from ticketnotify.worker import stop_on_signals


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_the_first_signal_sets_stop(sig: signal.Signals) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    stop_on_signals(stop)
    try:
        signal.raise_signal(sig)  # handled on the loop: the process goes on
        await asyncio.wait_for(stop.wait(), 60)
    finally:
        for handled in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(handled)
    assert stop.is_set()
