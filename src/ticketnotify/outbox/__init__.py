"""Outbox stores: in-memory (tests), SQLite (embedded default), PostgreSQL (scale-out)."""

from .base import ChannelCount, Job, JobStatus, NewJob, Outbox, Outcome, OutcomeKind
from .memory import MemoryOutbox

__all__ = ["ChannelCount", "Job", "JobStatus", "MemoryOutbox", "NewJob", "Outbox",
           "Outcome", "OutcomeKind"]
