"""APNs adapter on aioapns: token auth, many concurrent streams on one HTTP/2 connection.

Choices made on purpose (see docs/push.md):
- ``apns-push-type: alert`` — the push shows text; Apple requires the type on watchOS and
  recommends it everywhere, and it must match the payload.
- ``apns-priority: 10`` — deliver now: someone is waiting for the agent's answer. Priority 5
  lets iOS hold the push for power reasons, which is wrong for a reply notice.
- ``apns-expiration`` 24 h later — while the phone is off APNs keeps the app's latest push
  until then; after a day the news is stale on a lock screen and the email carries it.
- ``apns-collapse-id`` and ``thread-id`` per ticket — a newer update replaces an older one
  still on screen, and a ticket's pushes group together in Notification Center.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import ssl
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from aioapns import APNs, NotificationRequest, PushType
from aioapns.common import NotificationResult
from aioapns.connection import APNsTLSClientProtocol
from aioapns.exceptions import ConnectionClosed, MaxAttemptsExceeded
from aioapns.exceptions import ConnectionError as APNsConnectionError

from ...errors import (
    ConfigurationError,
    DeliveryTimeoutError,
    InvalidAddressError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ...messages import Message, PushMessage, Receipt
from ..base import Channel
from .payload import PUSH_PAYLOAD_LIMIT, fit_text
from .retry_after import parse_retry_after

# Reasons after which the token will never work again: tell the host to forget the device.
DEAD_TOKEN_REASONS = frozenset({"Unregistered", "ExpiredToken", "BadDeviceToken",
                                "DeviceTokenNotForTopic"})
COLLAPSE_ID_LIMIT = 64  # bytes, Apple's limit for apns-collapse-id
RESERVED_KEYS = frozenset({"aps", "deep_link", "ticket_id"})


@dataclass(frozen=True, slots=True)
class APNsConfig:
    """How to reach APNs; ``key`` is the .p8 file's content or its path.

    ``host``/``port``/``ssl_context`` point the adapter somewhere other than Apple (a
    loopback stand-in in tests and the demo). ``concurrency`` caps in-flight streams.
    """

    key: str
    key_id: str
    team_id: str
    topic: str
    sandbox: bool = False
    host: str | None = None
    port: int | None = None
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)
    concurrency: int = 100
    max_connections: int = 1
    timeout: float = 10.0
    time_to_live: int = 24 * 3600
    priority: int = 10
    sound: str | None = "default"

    def __post_init__(self) -> None:
        for name in ("key", "key_id", "team_id", "topic"):
            if not getattr(self, name):
                raise ConfigurationError(f"APNsConfig.{name} is empty; set it from your "
                                         "Apple developer account (Keys / Identifiers)")
        if self.priority not in (5, 10):
            raise ConfigurationError("APNsConfig.priority must be 10 (now) or 5 (power-saving)")
        if self.concurrency < 1 or self.max_connections < 1 or self.time_to_live < 0:
            raise ConfigurationError("APNsConfig: concurrency and max_connections must be >= 1, "
                                     "time_to_live >= 0")

    def signing_key(self) -> str:
        """The PEM text of the .p8 key, read from disk when ``key`` is a path."""
        if "-----BEGIN" in self.key:
            return self.key
        path = Path(self.key)
        if not path.is_file():
            raise ConfigurationError(f"APNs key {self.key!r} is neither PEM text nor a readable "
                                     "file; pass the .p8 content or its path")
        return path.read_text()


def collapse_id(value: str) -> str:
    """Apple refuses collapse ids over 64 bytes; hash longer ones (stable per ticket)."""
    if len(value.encode()) <= COLLAPSE_ID_LIMIT:
        return value
    return hashlib.sha256(value.encode()).hexdigest()[:COLLAPSE_ID_LIMIT]


def apns_payload(message: PushMessage, title: str, body: str,
                 sound: str | None = "default") -> dict[str, Any]:
    """The JSON body: ``aps`` alert and thread, then our custom keys (deep link, ticket)."""
    aps: dict[str, Any] = {"alert": {"title": title, "body": body},
                           "thread-id": message.thread_id}
    if sound:
        aps["sound"] = sound
    custom = {k: v for k, v in message.data.items() if k not in RESERVED_KEYS}
    return {"aps": aps, "deep_link": message.deep_link, "ticket_id": message.ticket_id, **custom}


def serialize(payload: dict[str, Any]) -> bytes:
    """Exactly how aioapns serialises a payload, so the size we check is the size sent."""
    return json.dumps(payload, ensure_ascii=False).encode()


def fitted_payload(message: PushMessage, sound: str | None = "default") -> dict[str, Any]:
    """The payload with title/body shortened on grapheme boundaries to fit 4096 bytes."""
    fitted = fit_text(lambda t, b: serialize(apns_payload(message, t, b, sound)),
                      message.title, message.body, PUSH_PAYLOAD_LIMIT)
    return apns_payload(message, fitted.title, fitted.body, sound)


def _protocol_class(base: type[APNsTLSClientProtocol], host: str | None, port: int | None,
                    retry_after: dict[str, float]) -> type[APNsTLSClientProtocol]:
    """aioapns' protocol with our endpoint, its gaps fixed; set on one pool, not globally."""

    class Protocol(base):  # type: ignore[valid-type,misc]
        APNS_SERVER = host or base.APNS_SERVER
        APNS_PORT = port or base.APNS_PORT

        def on_response_received(self, headers: dict[bytes, bytes]) -> None:
            # aioapns drops response headers; keep Retry-After for the worker's backoff.
            value = headers.get(b"retry-after")
            if value is not None:
                seconds = parse_retry_after(value.decode("latin-1"))
                if seconds is not None:
                    retry_after[headers.get(b"apns-id", b"").decode()] = seconds
            super().on_response_received(headers)

        def on_data_received(self, raw_data: bytes, stream_id: int) -> None:
            # aioapns never returns flow-control credit for error bodies, so after 64 KiB
            # of them the connection would stall; acknowledge what we read.
            self.conn.acknowledge_received_data(len(raw_data), stream_id)
            super().on_data_received(raw_data, stream_id)

        flush_scheduled = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            # Send header strings raw, not Huffman-coded: the never-indexed JWT and the
            # per-push id are re-sent every push, and pure-Python Huffman coding of them
            # costs more CPU (here and at the peer) than the ~100 bytes it saves.
            self.conn.encoder.encode = functools.partial(self.conn.encoder.encode,
                                                         huffman=False)
            super().connection_made(transport)

        def flush(self) -> None:
            # aioapns writes (one TLS record, one syscall) after every push; with many
            # streams in flight, write once per event-loop turn instead.
            if not self.flush_scheduled:
                self.flush_scheduled = True
                self.loop.call_soon(self.flush_now)

        def flush_now(self) -> None:
            self.flush_scheduled = False
            if self.transport is not None and not self.transport.is_closing():
                super().flush()

        def connection_lost(self, exc: Exception | None) -> None:
            # A send we timed out on leaves a cancelled future behind; aioapns would call
            # set_exception on it and log InvalidStateError.
            pending: dict[str, asyncio.Future[NotificationResult]] = self.requests  # type: ignore[has-type]
            self.requests = {k: f for k, f in pending.items() if not f.done()}
            super().connection_lost(exc)

        def on_stream_ended(self, stream_id: int) -> None:
            # aioapns forgets a stream's id only on error replies; drop it on success too.
            self.request_streams.pop(stream_id, None)
            super().on_stream_ended(stream_id)

    return Protocol


async def _quiet(request: NotificationRequest, result: NotificationResult) -> None:
    """Error callback for aioapns: the adapter raises instead of aioapns logging."""


class APNsChannel(Channel):
    """Send ``PushMessage`` to iOS devices through APNs; dead tokens raise InvalidAddressError."""

    name: ClassVar[str] = "apns"
    carries: ClassVar[str] = "push"

    def __init__(self, config: APNsConfig) -> None:
        self.config = config
        self._key = config.signing_key()
        self._client: APNs | None = None
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._retry_after: dict[str, float] = {}

    async def _connect(self) -> APNs:
        """Create the aioapns client lazily: it binds to the running event loop."""
        async with self._lock:
            if self._client is None:
                c = self.config
                client = APNs(key=self._key, key_id=c.key_id, team_id=c.team_id, topic=c.topic,
                              use_sandbox=c.sandbox, ssl_context=c.ssl_context,
                              max_connections=c.max_connections, max_connection_attempts=1,
                              err_func=_quiet)
                client.pool.protocol_class = _protocol_class(
                    client.pool.protocol_class, c.host, c.port, self._retry_after)
                self._client = client
            return self._client

    async def send(self, message: Message) -> Receipt:
        if not isinstance(message, PushMessage):
            raise PermanentDeliveryError(f"the apns channel carries push messages, "
                                         f"not {message.kind}; check the routing")
        request = NotificationRequest(
            device_token=message.token,
            message=fitted_payload(message, self.config.sound),
            notification_id=str(uuid.uuid4()),
            time_to_live=self.config.time_to_live,
            priority=self.config.priority,
            collapse_key=collapse_id(message.collapse_id),
            push_type=PushType.ALERT,
        )
        client = self._client or await self._connect()
        async with self._slots:
            try:
                result = await asyncio.wait_for(client.send_notification(request),
                                                self.config.timeout)
            except TimeoutError:
                raise DeliveryTimeoutError(
                    f"APNs did not answer within {self.config.timeout}s; will retry",
                    code="timeout") from None
            except (MaxAttemptsExceeded, APNsConnectionError, ConnectionClosed, OSError) as exc:
                raise TransientDeliveryError(
                    f"could not reach APNs ({type(exc).__name__}: {exc}); will retry; check "
                    "network access to the APNs host", code="connection") from exc
        return self._outcome(message, result)

    def _outcome(self, message: PushMessage, result: NotificationResult) -> Receipt:
        """Map an APNs reply to a receipt or to the normalized delivery error."""
        retry_after = self._retry_after.pop(result.notification_id, None)
        if result.is_successful:
            return Receipt(channel=self.name, delivery_id=message.delivery_id,
                           provider_id=result.notification_id, detail="200")
        status, reason = int(result.status or 0), result.description or "unknown"
        where = f"device …{message.token[-8:]} of user {message.user_id}"
        if reason in DEAD_TOKEN_REASONS:
            raise InvalidAddressError(
                f"APNs says {status} {reason} for {where}: the token is dead; forget the device",
                code=reason)
        if status == 429 or status >= 500:
            raise TransientDeliveryError(f"APNs answered {status} {reason}; will retry",
                                         code=reason, retry_after=retry_after)
        raise PermanentDeliveryError(
            f"APNs refused the push for {where}: {status} {reason}; fix the configuration "
            "(key, team id, topic) or the message before retrying", code=reason)

    async def aclose(self) -> None:
        if self._client is not None:
            self._client.pool.close()
            self._client = None
