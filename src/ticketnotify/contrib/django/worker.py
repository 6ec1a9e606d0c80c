"""What ``manage.py ticketnotify_worker`` gives the core worker: channels, device hook, options."""

from __future__ import annotations

import argparse
from typing import Any

from django.db import close_old_connections

from ...channels.base import Channel
from ...events import Device
from ...worker.cli import register
from .settings import SettingError, get_channels, loaded

CHANNELS_SPEC = "ticketnotify.contrib.django.worker:channels"
DEVICE_HOOK_SPEC = "ticketnotify.contrib.django.worker:on_invalid_device"


def channels() -> dict[str, Channel]:
    """``TICKETNOTIFY["CHANNELS"]`` (default: email through ``EMAIL_BACKEND``)."""
    return get_channels()


def on_invalid_device(user_id: str, device: Device) -> None:
    """Call ``TICKETNOTIFY["ON_INVALID_DEVICE"]`` with fresh ORM connections around it.

    The core worker runs a plain callback in a thread of its own, so the host's hook may
    use the ORM; the thread's connection is closed again if it is stale or broken.
    """
    hook = loaded("ON_INVALID_DEVICE")
    if not callable(hook):
        raise SettingError("ON_INVALID_DEVICE", "must be a function (user_id, Device)")
    close_old_connections()
    try:
        hook(user_id, device)
    finally:
        close_old_connections()


def worker_args(options: dict[str, Any]) -> argparse.Namespace:
    """The namespace ``ticketnotify.worker.cli.run_worker`` reads, from the command's options.

    It starts from the core ``ticketnotify worker`` command's own defaults, so an option
    the core gains later (metrics, log format ...) never goes missing here.
    """
    parser = argparse.ArgumentParser(add_help=False)
    register(parser.add_subparsers())
    args = parser.parse_args(["worker"])
    args.smtp_host = args.smtp_port = args.smtp_security = args.sender = None
    args.channels = [CHANNELS_SPEC]
    args.on_invalid_device = DEVICE_HOOK_SPEC if loaded("ON_INVALID_DEVICE") else None
    for name in ("batch", "concurrency", "lease", "max_attempts", "idle", "grace", "progress",
                 "once", "metrics_port", "metrics_addr"):
        if options.get(name) is not None:
            setattr(args, name, options[name])
    return args
