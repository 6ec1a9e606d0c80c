"""ticketnotify: tell ticket requesters their ticket has news, and let guests get back to it.

The host builds a ``TicketUpdate`` and calls ``Notifier.publish``; a ``Worker`` delivers what
the outbox holds through channel adapters. Optional parts (APNs, FCM, PostgreSQL) load on
first use so the core needs none of their extras.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .brands import Brand, ReplyMode
from .channels.base import Channel
from .channels.files import FilesChannel
from .channels.memory import MemoryChannel
from .errors import (
    CatalogError,
    ConfigurationError,
    DeliveryError,
    DeliveryTimeoutError,
    InvalidAddressError,
    InvalidInputError,
    OutboxUnavailableError,
    PermanentDeliveryError,
    StoreUnavailableError,
    TicketNotifyError,
    TransientDeliveryError,
    UnknownLocaleError,
)
from .events import (
    AccountUser,
    Device,
    Guest,
    Platform,
    Preferences,
    Recipient,
    Ticket,
    TicketUpdate,
    UpdateKind,
)
from .messages import EmailMessage, Message, PushMessage, Receipt
from .notifier import ExcerptPolicy, Links, Notifier, PublishResult
from .outbox import Job, JobStatus, MemoryOutbox, NewJob, Outbox
from .routing import PlannedDelivery, plan
from .worker import RetryPolicy, Worker, WorkerStats, stop_on_signals

if TYPE_CHECKING:
    from .channels.push.apns import APNsChannel as APNsChannel
    from .channels.push.apns import APNsConfig as APNsConfig
    from .channels.push.fcm import FCMChannel as FCMChannel
    from .channels.push.fcm import FCMConfig as FCMConfig
    from .channels.smtp import Security, SMTPChannel, SMTPConfig
    from .guest import (
        AccessGrant,
        AccessGrants,
        CodeError,
        EmailCodeSender,
        GrantError,
        GuestLinks,
        LinkError,
        MemoryCodeStore,
        OpenedLink,
        RateLimitedError,
        SQLiteCodeStore,
        VerificationCodes,
        WrongCodeError,
    )
    from .guest import (
        PostgresCodeStore as PostgresCodeStore,
    )
    from .outbox.postgres import PostgresOutbox as PostgresOutbox
    from .outbox.sqlite import SQLiteOutbox
    from .rendering import RenderConfig, RenderedEmail, RenderedPush, Renderer

_LAZY = {
    "APNsChannel": ".channels.push.apns", "APNsConfig": ".channels.push.apns",
    "FCMChannel": ".channels.push.fcm", "FCMConfig": ".channels.push.fcm",
    "SMTPChannel": ".channels.smtp", "SMTPConfig": ".channels.smtp",
    "Security": ".channels.smtp",
    "AccessGrant": ".guest", "AccessGrants": ".guest", "CodeError": ".guest",
    "EmailCodeSender": ".guest", "GrantError": ".guest", "GuestLinks": ".guest",
    "RateLimitedError": ".guest", "WrongCodeError": ".guest",
    "LinkError": ".guest", "MemoryCodeStore": ".guest", "OpenedLink": ".guest",
    "PostgresCodeStore": ".guest", "SQLiteCodeStore": ".guest", "VerificationCodes": ".guest",
    "PostgresOutbox": ".outbox.postgres", "SQLiteOutbox": ".outbox.sqlite",
    "RenderedEmail": ".rendering", "RenderedPush": ".rendering", "Renderer": ".rendering",
    "RenderConfig": ".rendering",
}


def __getattr__(name: str) -> Any:
    """Import optional parts on first use, so ``import ticketnotify`` stays light."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ticketnotify' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


# Parts that need an extra ([apns], [fcm], [postgres]) stay out of ``__all__`` so that
# ``from ticketnotify import *`` works on the core install; import them by name.
__all__ = [
    "AccessGrant", "AccessGrants", "CodeError", "GrantError", "RateLimitedError", "WrongCodeError",
    "stop_on_signals", "AccountUser", "Brand", "CatalogError", "Channel",
    "ConfigurationError", "DeliveryError", "DeliveryTimeoutError", "Device", "EmailCodeSender",
    "EmailMessage", "ExcerptPolicy", "FilesChannel", "Guest",
    "GuestLinks", "InvalidAddressError", "InvalidInputError", "Job", "JobStatus", "LinkError",
    "Links", "MemoryChannel", "MemoryCodeStore", "MemoryOutbox", "Message", "NewJob",
    "OutboxUnavailableError", "StoreUnavailableError",
    "Notifier", "OpenedLink", "Outbox", "PermanentDeliveryError", "PlannedDelivery", "Platform",
    "Preferences", "PublishResult", "PushMessage",
    "Receipt", "Recipient", "RenderConfig", "RenderedEmail", "ReplyMode", "RenderedPush", "Renderer",
    "RetryPolicy",
    "SMTPChannel", "SMTPConfig", "SQLiteCodeStore", "SQLiteOutbox", "Security",
    "Ticket", "TicketNotifyError", "TicketUpdate", "TransientDeliveryError",
    "UnknownLocaleError", "UpdateKind", "VerificationCodes", "Worker", "WorkerStats", "plan",
]
