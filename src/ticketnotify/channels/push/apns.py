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

aioapns is pinned to major 4 (pyproject ``apns`` extra): we use its key-auth connection
pool and HTTP/2 protocol, not its ``APNs`` client, and subclass both. ``_Pool`` connects
without aioapns' ERROR record and one-second sleep per failure; ``_protocol_class`` fixes
flow control for error bodies, stream bookkeeping, Retry-After, write batching, Huffman
cost, and connection loss (GOAWAY, h2 ``ProtocolError`` on a closed connection: issue 11.4).
Each fix has its reason at the line that makes it.
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

from aioapns import NotificationRequest, PushType
from aioapns.common import NotificationResult
from aioapns.connection import (
    APNsBaseClientProtocol,
    APNsKeyConnectionPool,
    APNsTLSClientProtocol,
)
from aioapns.exceptions import ConnectionClosed
from h2.events import ConnectionTerminated
from h2.exceptions import ProtocolError
from typing_extensions import override

from ...errors import ConfigurationError, TransientDeliveryError
from ...messages import PushMessage
from .base import PushChannel, PushReply
from .payload import PUSH_PAYLOAD_LIMIT, fit_text
from .retry_after import parse_retry_after

# Reasons after which the token will never work again: tell the host to forget the device.
DEAD_TOKEN_REASONS = frozenset({"Unregistered", "ExpiredToken", "BadDeviceToken",
                                "DeviceTokenNotForTopic"})
COLLAPSE_ID_LIMIT = 64  # bytes, Apple's limit for apns-collapse-id
RESERVED_KEYS = frozenset({"aps", "deep_link", "ticket_id"})


@dataclass(frozen=True, slots=True)
class APNsConfig:
    """How to reach APNs with token (.p8) authentication.

    Attributes:
        key: The .p8 signing key's PEM text, or the path of the .p8 file.
        key_id: The 10-character Key ID of that key.
        team_id: The 10-character Apple developer Team ID.
        topic: The app's bundle id (``apns-topic``), e.g. ``com.example.helpdesk``.
        sandbox: True for development builds (``api.development.push.apple.com``).
        host: Another host than Apple's (the loopback stand-in); None for Apple.
        port: Another port than 443; None for Apple's.
        ssl_context: TLS context for the connection; None for a default verifying one.
        concurrency: Pushes in flight at once, as HTTP/2 streams (keep it at or below
            the stream limit APNs announces, 1000 today).
        max_connections: HTTP/2 connections to open at most.
        timeout: Seconds one push may take (connect, write, reply) before
            ``DeliveryTimeoutError``.
        time_to_live: Seconds APNs keeps an undelivered push (``apns-expiration`` is now
            plus this); 0 means deliver now or never.
        priority: ``apns-priority``: 10 delivers now, 5 lets iOS wait to save power.
        sound: ``aps.sound`` (``"default"``), or None for a silent alert.

    Raises:
        ConfigurationError: A required field is empty or a number is out of range.
    """

    key: str = field(repr=False)  # the PEM text is a secret: never in a repr or log
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
        if self.timeout <= 0:
            raise ConfigurationError("APNsConfig.timeout must be > 0 seconds")

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


class _NotSent(Exception):
    """Internal: the push never left for APNs (or GOAWAY says it was not processed)."""


def _protocol_class(base: type[APNsTLSClientProtocol], host: str | None, port: int | None,
                    retry_after: dict[str, float]) -> type[APNsTLSClientProtocol]:
    """The protocol class of aioapns with our endpoint, its gaps fixed; set on one pool only."""

    class Protocol(base):  # type: ignore[valid-type,misc]
        APNS_SERVER = host or base.APNS_SERVER
        APNS_PORT = port or base.APNS_PORT
        flush_scheduled = False
        dead = False  # GOAWAY received, protocol error or connection lost: no new streams

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

        @property
        def is_busy(self) -> bool:
            return self.dead or bool(super().is_busy)

        async def send_notification(self, request: NotificationRequest) -> NotificationResult:
            # Issue 11.4: a connection that is going away must not take new streams, and
            # aioapns lets h2's ProtocolError (state CLOSED) escape from send_headers.
            if self.dead or self.transport is None or self.transport.is_closing():
                self.retire()
                raise _NotSent("the connection was closing")
            try:
                result: NotificationResult = await super().send_notification(request)
            except ProtocolError as exc:  # raised by send_headers: nothing was written
                self.retire()
                raise _NotSent(f"the connection was closed ({exc})") from exc
            except asyncio.CancelledError:
                # Timed out: forget the future, so a late answer is not set on a cancelled
                # one (InvalidStateError inside data_received would kill the connection).
                self.requests.pop(request.notification_id, None)  # type: ignore[has-type]
                raise
            except ConnectionClosed as exc:
                if request.notification_id in self.requests:  # type: ignore[has-type]
                    raise  # handed to h2 before the connection died: it may have arrived
                raise _NotSent("the connection closed while the push waited for a stream") \
                    from exc
            return result

        def data_received(self, data: bytes) -> None:
            # Frames after a GOAWAY (or any frame h2 refuses) raise ProtocolError here;
            # left alone, asyncio logs a traceback and aborts the transport. End quietly.
            try:
                super().data_received(data)
            except ProtocolError as exc:
                self.fail_pending(ConnectionClosed(f"HTTP/2 protocol error: {exc}"))
                self.retire()
                self.close()

        def on_connection_terminated(self, event: ConnectionTerminated) -> None:
            # GOAWAY: streams above last_stream_id were not processed, so they are sent
            # again on a fresh connection; h2 reads nothing more on this one, so streams
            # at or below it that are still open have lost their answer (ambiguous).
            # aioapns logs a WARNING per GOAWAY; APNs sends them routinely, so not us.
            last = event.last_stream_id or 0
            for stream_id, notification_id in list(self.request_streams.items()):
                if stream_id > last:
                    future = self.requests.pop(notification_id, None)  # type: ignore[has-type]
                    self.request_streams.pop(stream_id, None)
                    if future is not None and not future.done():
                        future.set_exception(_NotSent("GOAWAY: APNs did not process it"))
            self.fail_pending(ConnectionClosed(f"GOAWAY {event.error_code!s}"))
            self.retire()
            self.close()

        def fail_pending(self, error: Exception) -> None:
            for future in self.requests.values():  # type: ignore[has-type]
                if not future.done():
                    future.set_exception(error)

        def retire(self) -> None:
            """Take no new streams and leave the pool at once (a fresh connection is made)."""
            self.dead = True
            callback, self.on_connection_lost = self.on_connection_lost, None  # type: ignore[has-type]
            if callback is not None:
                callback(self)

        def connection_lost(self, exc: Exception | None) -> None:
            self.dead = True
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


class _Pool(APNsKeyConnectionPool):
    """aioapns' key pool, quiet: connect errors propagate instead of an ERROR log record."""

    async def acquire(self) -> APNsBaseClientProtocol:
        while True:
            for connection in self.connections:
                if not connection.is_busy:
                    return connection
            async with self._lock:
                for connection in self.connections:
                    if not connection.is_busy:
                        return connection
                if len(self.connections) < self.max_connections:
                    connection = await self.create_connection()
                    self.connections.append(connection)
                    return connection
            # Every connection has all its streams in use (APNsConfig.concurrency above
            # the server's stream limit): wait for one, as aioapns does.
            await asyncio.sleep(0.01)


class APNsChannel(PushChannel[NotificationRequest]):
    """Send ``PushMessage`` to iOS devices through APNs; dead tokens raise InvalidAddressError.

    Connection loss (issue 11.4): a push that never reached the wire (its connection was
    already closing, or GOAWAY says APNs did not process it) is sent again once on a fresh
    connection inside the same ``send``, so it costs no attempt. A push written before the
    connection died is ambiguous: ``TransientDeliveryError`` (``code="connection-lost"``),
    an attempt, and possibly a duplicate (which the collapse id folds on the device).

    Args:
        config: Where and how to reach APNs; see ``APNsConfig``.

    Raises:
        ConfigurationError: The signing key is neither PEM text nor a readable file.
    """

    name: ClassVar[str] = "apns"
    provider: ClassVar[str] = "APNs"
    # Reasons after which the token will never work again: tell the host to forget it.
    dead_token_reasons: ClassVar[frozenset[str]] = DEAD_TOKEN_REASONS
    permanent_hint: ClassVar[str] = ("fix the configuration (key, team id, topic) or the "
                                     "message before retrying")

    def __init__(self, config: APNsConfig) -> None:
        super().__init__(concurrency=config.concurrency, timeout=config.timeout)
        self.config = config
        self._key = config.signing_key()
        self._pool: _Pool | None = None
        self._retry_after: dict[str, float] = {}

    def _connect(self) -> _Pool:
        """Create the pool lazily: aioapns binds it to the running event loop."""
        c = self.config
        pool = _Pool(key=self._key, key_id=c.key_id, team_id=c.team_id, topic=c.topic,
                     max_connections=c.max_connections, max_connection_attempts=1,
                     use_sandbox=c.sandbox, ssl_context=c.ssl_context)
        pool.protocol_class = _protocol_class(pool.protocol_class, c.host, c.port,
                                              self._retry_after)
        self._pool = pool
        return pool

    @override
    def build(self, message: PushMessage) -> NotificationRequest:
        return NotificationRequest(
            device_token=message.token,
            message=fitted_payload(message, self.config.sound),
            notification_id=str(uuid.uuid4()),
            time_to_live=self.config.time_to_live,
            priority=self.config.priority,
            collapse_key=collapse_id(message.collapse_id),
            push_type=PushType.ALERT,
        )

    @override
    async def post(self, request: NotificationRequest) -> PushReply:
        pool = self._pool or self._connect()
        try:
            try:
                connection = await pool.acquire()
                result = await connection.send_notification(request)
            except _NotSent:  # never processed: once more on a fresh connection, no attempt
                connection = await pool.acquire()
                result = await connection.send_notification(request)
        except _NotSent as exc:
            raise TransientDeliveryError(f"APNs connections closed twice before the push was "
                                         f"sent ({exc}); will retry", code="connection-lost") from exc
        except ConnectionClosed as exc:
            raise TransientDeliveryError(
                "the APNs connection closed after the push was written and before APNs "
                "answered; will retry (the device may show it twice)",
                code="connection-lost") from exc
        retry_after = self._retry_after.pop(result.notification_id, None)
        return PushReply(status=int(result.status or 0), reason=result.description or "",
                         provider_id=result.notification_id, retry_after=retry_after)

    async def aclose(self) -> None:
        """Close the HTTP/2 connections; safe twice; a later ``send`` reconnects."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
