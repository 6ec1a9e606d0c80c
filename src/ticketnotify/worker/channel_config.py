"""Checking a worker's ``channels`` mapping at construction, and naming routed gaps."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from ..channels.base import ENTRY_POINT_GROUP, Channel
from ..errors import ConfigurationError
from ..routing import APNS, EMAIL, FCM

ROUTED = (EMAIL, APNS, FCM)  # the channel names routing gives jobs


def registered_names() -> set[str]:
    """Channel names jobs may carry: the routed ones and every registered entry point."""
    return set(ROUTED) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}


def check_channels(channels: object) -> dict[str, Channel[Any]]:
    """Return ``channels`` as a dict once every key and value is usable.

    Raises:
        ConfigurationError: Not a mapping, a value that is not a ``Channel`` instance, or a
            key that no job is routed to; the message names ``channels[...]``.
    """
    if not isinstance(channels, Mapping):
        raise ConfigurationError(
            f"channels must be a mapping of channel name to Channel adapter, e.g. "
            f'{{"email": SMTPChannel(...)}}, not {type(channels).__name__}')
    known: set[str] | None = None
    for name, channel in channels.items():
        field = f"channels[{name!r}]"
        if not isinstance(channel, Channel):
            raise ConfigurationError(
                f"{field} must be a ticketnotify.channels.base.Channel instance (an adapter "
                f"such as SMTPChannel(...)), not {type(channel).__name__}")
        if name in ROUTED:
            continue
        known = known if known is not None else registered_names()
        if name not in known:
            raise ConfigurationError(
                f"{field}: no job is routed to channel {name!r}; use one of "
                f"{', '.join(sorted(known))} (or register yours under the "
                f"{ENTRY_POINT_GROUP!r} entry points)")
    return dict(channels)


def warn_missing(channels: Mapping[str, Channel[Any]], log: logging.Logger) -> None:
    """Log one WARNING naming routed channels this worker has no adapter for."""
    missing = [name for name in ROUTED if name not in channels]
    if missing:
        log.warning(
            "worker has no channel for %s: jobs routed there are dead-lettered with "
            "'no channel configured'; after adding the channel, revive them with "
            "`ticketnotify outbox retry --channel NAME`", ", ".join(missing))
