"""Structured log fields of the worker, and a JSON formatter for ``--log-format json``.

Every record about one job carries these attributes (``logging``'s ``extra``), so a log
pipeline filters by them instead of parsing text: ``job_id``, ``event_id`` (when the job
knows its event), ``channel``, ``outcome`` (``delivered``, ``retry``, ``dead``,
``lease_lost``) and ``error_class`` (the exception's class name, when one failed).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from ..facts import event_id_in
from ..outbox.base import Job

FIELDS = ("job_id", "event_id", "channel", "outcome", "error_class")
"""The structured fields a job's log records carry."""


def event_id_of(job: Job) -> str | None:
    """The event id a job was published for, if it holds one.

    Outbox v2 jobs hold the delivery's facts, read with ``ticketnotify.facts.event_id_in``;
    v1 jobs hold a rendered message, which has none.
    """
    found = getattr(job, "event_id", None)
    stored = job.message
    if found is None and isinstance(stored, dict):
        found = stored.get("event_id")
        if found is None:
            found = event_id_in(stored)
    return None if found is None else str(found)


def job_fields(job: Job, *, outcome: str | None = None,
               error_class: str | None = None) -> dict[str, Any]:
    """``extra=`` for a log record about ``job``: the fields of ``FIELDS`` that are known.

    Args:
        job: The job the record is about.
        outcome: ``delivered``, ``retry``, ``dead`` or ``lease_lost``, once decided.
        error_class: The exception's class name, when an attempt failed.

    Returns:
        ``{"job_id": ..., "channel": ...}`` plus ``event_id``, ``outcome`` and
        ``error_class`` when known.
    """
    fields: dict[str, Any] = {"job_id": job.id, "channel": job.channel}
    event_id = event_id_of(job)
    if event_id is not None:
        fields["event_id"] = event_id
    if outcome is not None:
        fields["outcome"] = outcome
    if error_class:
        fields["error_class"] = error_class
    return fields


class JSONFormatter(logging.Formatter):
    """One JSON object per log record (``--log-format json``).

    Keys: time (UTC, ISO 8601), level, logger, message, the structured ``FIELDS`` a record
    carries, and ``exception`` (its traceback) if any.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(log_format: str = "text", level: int | str = logging.INFO) -> None:
    """Send ``ticketnotify`` log records to stderr as text lines or JSON objects (the CLI).

    Args:
        log_format: ``"text"`` or ``"json"``.
        level: The lowest level shown (``logging.INFO`` or a name such as ``"DEBUG"``).
    """
    handler = _StderrHandler()
    handler.setFormatter(JSONFormatter() if log_format == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("ticketnotify")
    logger.handlers[:] = [handler]
    logger.setLevel(level)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record, not at setup.

    A CLI run in-process, as the tests do, must not keep writing to a closed capture.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always sys.stderr
