"""Running totals of one worker, for hosts' metrics and the CLI's progress line."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WorkerStats:
    """What one worker has done since it was made; every field counts jobs unless it says.

    Outcomes count once the outbox has recorded them, never before.

    Attributes:
        delivered: Jobs recorded as delivered.
        retried: Failed attempts recorded with a later retry time.
        dead: Jobs recorded as dead letters (reason in the outbox).
        invalid_devices: Distinct dead push devices found (each reported to the host once).
        skipped_dead_devices: Jobs dead-lettered unsent: their device was known dead.
        released: Jobs handed back unattempted (stopping, or the lease nearly spent).
        lost_leases: Outcomes the outbox refused: the lease had run out and another worker
            held the job by then (that worker's outcome stands).
        batches: Claims that returned at least one job.
        idle_polls: Claims that found nothing due (an idle worker makes about one per
            idle interval; many more mean a busy loop).
        store_errors: Outbox calls that failed (claims, recording, releases); retried.
        callback_errors: Calls of the host's ``on_invalid_device`` that raised; retried later.
        by_channel: Delivered jobs per channel name.
    """

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    invalid_devices: int = 0
    skipped_dead_devices: int = 0
    released: int = 0
    lost_leases: int = 0
    batches: int = 0
    idle_polls: int = 0
    store_errors: int = 0
    callback_errors: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
