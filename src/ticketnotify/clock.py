"""The one way the library says "now": an aware UTC datetime, from a clock tests can replace.

The notifier, the worker, guest codes, guest links and the SMTP channel all take a
``clock`` argument of type ``Clock`` and default to ``utc_now``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""A zero-argument callable returning the current time as an aware UTC ``datetime``."""


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
