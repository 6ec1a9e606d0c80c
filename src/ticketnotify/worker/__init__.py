"""Delivers what the outbox holds: claim due jobs with a lease, send, record, retry or give up.

``loop`` holds the claim → deliver → record loop (``Worker``); ``retry`` the one decision
what a failed attempt leads to; ``dead_devices`` the memory of dead push devices and the
host's callback; ``outcomes`` the grouped recording; ``signals`` graceful stops; ``wakeup`` the idle
waits; ``metrics`` and ``logs`` what operators see; ``cli`` the ``ticketnotify worker`` command.
"""

from .dead_devices import InvalidDeviceCallback
from .loop import Worker
from .metrics import WorkerMetrics
from .retry import DeadLetter, RetryDecision, RetryLater, RetryPolicy, RetryStrategy
from .signals import stop_on_signals
from .stats import WorkerStats

__all__ = [
    "DeadLetter",
    "InvalidDeviceCallback",
    "RetryDecision",
    "RetryLater",
    "RetryPolicy",
    "RetryStrategy",
    "Worker",
    "WorkerMetrics",
    "WorkerStats",
    "stop_on_signals",
]
