"""Delivers what the outbox holds: claim due jobs with a lease, send, record, retry or give up."""

from .loop import InvalidDeviceCallback, RetryPolicy, Worker, WorkerStats, stop_on_signals

__all__ = ["InvalidDeviceCallback", "RetryPolicy", "Worker", "WorkerStats", "stop_on_signals"]
