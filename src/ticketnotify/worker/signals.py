"""SIGTERM/SIGINT stop a worker gracefully; a second one stops it at once."""

from __future__ import annotations

import asyncio
import logging
import signal

log = logging.getLogger("ticketnotify.worker")


def stop_on_signals(stop: asyncio.Event) -> None:
    """Make SIGTERM and SIGINT set ``stop``; a second signal acts at once, as if unhandled.

    Call it from inside the running event loop (Unix only), then pass ``stop`` to
    ``Worker.run``: the first signal lets sends in flight finish (``shutdown_grace``
    seconds at most) and hands unstarted jobs back. Acting at once on the second is safe:
    jobs in flight keep their lease and are claimed again after it (``lease_seconds``).

    Args:
        stop: The event ``Worker.run`` watches.

    Raises:
        RuntimeError: Called outside a running event loop.
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
