"""A small HTTPS server (HTTP/2 via h2, HTTP/1.1 by hand) that records what it receives.

The APNs and FCM stand-ins subclass it and only decide the reply. It negotiates the
protocol by ALPN, as the real services do: aioapns speaks HTTP/2, pyfcm's ``requests``
session and google-auth's token fetch speak HTTP/1.1.

Connection faults for the fault-matrix tests are server-wide switches: ``goaway_every(n)``
(HTTP/2: answer n requests on a connection, then GOAWAY naming the last one answered and
close, as APNs does when it sheds connections), ``hang_up_every(n)`` (drop the connection
when its n-th request arrives, unanswered: the client cannot know whether it was processed)
and ``storm(times)`` in the subclasses (the next requests, whatever their token, get a 5xx).
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Self

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    RequestReceived,
    StreamEnded,
    StreamReset,
    WindowUpdated,
)
from h2.exceptions import ProtocolError
from h2.settings import SettingCodes, Settings

from .tls import LoopbackCertificate

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 410: "Gone", 411: "Length Required",
            413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}


CONNECTION_WINDOW = 16 * 1024 * 1024
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request as the server saw it; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    protocol: str

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` if it is not)."""
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class Reply:
    """Status, extra headers and body the stand-in answers with."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, value: object, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
        """A JSON reply, as both APNs and FCM send."""
        return cls(status, json.dumps(value).encode(),
                   (("content-type", "application/json"), *headers))


@dataclass
class _Waiter:
    count: int
    future: asyncio.Future[None] = field(repr=False)


class LoopbackHTTPSServer(ABC):
    """Serve on 127.0.0.1 over TLS, record every request, let tests await ``N received``."""

    def __init__(self, *, certificate: LoopbackCertificate | None = None,
                 max_concurrent_streams: int = 1000) -> None:
        self.certificate = certificate or LoopbackCertificate.generate()
        self.max_concurrent_streams = max_concurrent_streams
        self.requests: list[ReceivedRequest] = []
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.Transport] = set()
        self._waiters: list[_Waiter] = []
        self.connections_accepted = 0
        self.goaway_after: int | None = None
        self.hang_up_after: int | None = None
        self.goaways_sent = 0
        self.hang_ups = 0
        self.storm_left = 0

    def goaway_every(self, requests: int | None) -> None:
        """After ``requests`` answers on an HTTP/2 connection, send GOAWAY and close it.

        GOAWAY names the last stream answered, so the client knows every later stream on
        that connection was not processed. ``None`` turns the fault off.
        """
        self.goaway_after = requests

    def hang_up_every(self, requests: int | None) -> None:
        """Drop a connection (no GOAWAY, no answer) when its ``requests``-th request arrives.

        That request is recorded as received: the client cannot tell whether it was
        processed, the ambiguous case. ``None`` turns the fault off.
        """
        self.hang_up_after = requests

    def storm(self, times: int) -> None:
        """Answer the next ``times`` well-formed requests, whatever their token, with a 5xx."""
        self.storm_left = times

    def take_storm(self) -> bool:
        """Whether this request falls in a storm (and count it); subclasses format the reply."""
        if self.storm_left <= 0:
            return False
        self.storm_left -= 1
        return True

    @abstractmethod
    def respond(self, request: ReceivedRequest) -> Reply:
        """Decide the reply to one request (runs on the server's event loop)."""

    async def start(self, port: int = 0) -> None:
        """Listen on ``127.0.0.1:port`` (0 picks a free port, then read ``self.port``)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), self.host, port, ssl=self.certificate.server_context(),
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop open connections."""
        if self._server is not None:
            self._server.close()
            for transport in list(self._transports):
                transport.close()
            await self._server.wait_closed()
            self._server = None
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.cancel()
        self._waiters.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:<port>`` for clients that take a URL."""
        return f"https://{self.host}:{self.port}"

    async def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Return once ``count`` requests in all have arrived; ``TimeoutError`` otherwise."""
        if len(self.requests) < count:
            waiter = _Waiter(count, asyncio.get_running_loop().create_future())
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter.future, timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"{type(self).__name__} received {len(self.requests)} requests, "
                    f"expected {count} within {timeout}s"
                ) from None
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return list(self.requests)

    def record(self, request: ReceivedRequest) -> None:
        """Keep the request and wake the waiters it satisfies."""
        self.requests.append(request)
        if self._waiters:
            received = len(self.requests)
            for waiter in self._waiters:
                if received >= waiter.count and not waiter.future.done():
                    waiter.future.set_result(None)

    def handle(self, request: ReceivedRequest) -> Reply:
        """Record the request, wake waiters it satisfies, and compute the reply."""
        self.record(request)
        try:
            return self.respond(request)
        except Exception as exc:  # a stand-in bug must show up as a 500, not a hung stream
            return Reply.json(500, {"reason": "InternalServerError", "detail": repr(exc)})


class _Connection(asyncio.Protocol):
    """One TLS connection; picks HTTP/2 or HTTP/1.1 from the negotiated ALPN protocol."""

    def __init__(self, server: LoopbackHTTPSServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.impl: _H2 | _H11 | None = None
        self.sniffed = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server._transports.add(transport)
        self.server.connections_accepted += 1
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        if alpn == "h2":
            self.impl = _H2(self.server, transport)
        elif alpn is not None:
            self.impl = _H11(self.server, transport)
        # No ALPN (aioapns' default context offers none; Apple accepts that): sniff the preface.

    def data_received(self, data: bytes) -> None:
        if self.impl is None:
            assert self.transport is not None
            self.sniffed += data
            if len(self.sniffed) < len(_H2_PREFACE) and _H2_PREFACE.startswith(self.sniffed):
                return
            if self.sniffed.startswith(_H2_PREFACE):
                self.impl = _H2(self.server, self.transport)
            else:
                self.impl = _H11(self.server, self.transport)
            data, self.sniffed = self.sniffed, b""
        self.impl.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.server._transports.discard(self.transport)


class _H2:
    """Server side of HTTP/2 on h2: whole requests in, one reply per stream out."""

    def __init__(self, server: LoopbackHTTPSServer, transport: asyncio.Transport) -> None:
        self.server = server
        self.transport = transport
        self.conn = H2Connection(H2Configuration(client_side=False, header_encoding=None))
        # Effective at once, as on a real APNs connection: no stream-count race at start-up.
        self.conn.local_settings = Settings(client=False, initial_values={
            SettingCodes.MAX_CONCURRENT_STREAMS: server.max_concurrent_streams})
        self.streams: dict[int, tuple[list[tuple[bytes, bytes]], bytearray]] = {}
        self.pending: dict[int, bytes] = {}  # reply bodies waiting for flow-control window
        self.answered = 0  # requests complete on this connection (for the fault switches)
        self.closed = False
        self.conn.initiate_connection()
        # A generous connection window, so many small pushes can be in flight at once.
        self.conn.increment_flow_control_window(CONNECTION_WINDOW - 65_535)
        transport.write(self.conn.data_to_send())

    def feed(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            events = self.conn.receive_data(data)
        except ProtocolError:
            self.transport.write(self.conn.data_to_send())
            self.transport.close()
            return
        for event in events:
            if self.closed:  # a fault switch ended the connection: ignore the rest
                return
            if isinstance(event, RequestReceived):
                self.streams[event.stream_id] = (list(event.headers), bytearray())
            elif isinstance(event, DataReceived):
                entry = self.streams.get(event.stream_id)
                if entry is not None:
                    entry[1].extend(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, StreamEnded):
                self._answer(event.stream_id)
            elif isinstance(event, StreamReset):
                self.streams.pop(event.stream_id, None)
                self.pending.pop(event.stream_id, None)
            elif isinstance(event, WindowUpdated):
                self._send_pending()
            elif isinstance(event, ConnectionTerminated):
                self.transport.close()
        if not self.closed:
            self.transport.write(self.conn.data_to_send())

    def _answer(self, stream_id: int) -> None:
        raw_headers, body = self.streams.pop(stream_id)
        headers = {k.decode().lower(): v.decode() for k, v in raw_headers}
        request = ReceivedRequest(
            method=headers.pop(":method", ""), path=headers.pop(":path", ""),
            headers=headers, body=bytes(body), protocol="h2",
        )
        self.answered += 1
        server = self.server
        if server.hang_up_after is not None and self.answered >= server.hang_up_after:
            server.record(request)
            server.hang_ups += 1
            self.closed = True
            self.transport.abort()
            return
        reply = server.handle(request)
        out = [(":status", str(reply.status)), *reply.headers,
               ("content-length", str(len(reply.body)))]
        self.conn.send_headers(stream_id, out, end_stream=not reply.body)
        if reply.body:
            self.pending[stream_id] = reply.body
            self._send_pending()
        if server.goaway_after is not None and self.answered >= server.goaway_after:
            server.goaways_sent += 1
            self.closed = True
            self.conn.close_connection(additional_data=b'{"reason":"Shutdown"}',
                                       last_stream_id=stream_id)
            self.transport.write(self.conn.data_to_send())
            self.transport.close()

    def _send_pending(self) -> None:
        for stream_id, body in list(self.pending.items()):
            window = min(self.conn.local_flow_control_window(stream_id),
                         self.conn.max_outbound_frame_size)
            if window <= 0:
                continue
            chunk, rest = body[:window], body[window:]
            self.conn.send_data(stream_id, chunk, end_stream=not rest)
            if rest:
                self.pending[stream_id] = rest
            else:
                del self.pending[stream_id]


class _H11:
    """Just enough HTTP/1.1 for requests/urllib3: Content-Length bodies, keep-alive."""

    def __init__(self, server: LoopbackHTTPSServer, transport: asyncio.Transport) -> None:
        self.server = server
        self.transport = transport
        self.buffer = bytearray()
        self.answered = 0

    def feed(self, data: bytes) -> None:
        self.buffer.extend(data)
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            headers: dict[str, str] = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            try:
                method, path, _version = head[0].split(" ", 2)
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self._write(Reply(400), close=True)
                return
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._write(Reply(411), close=True)
                return
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4:end + 4 + length])
            del self.buffer[:end + 4 + length]
            request = ReceivedRequest(method, path, headers, body, "http/1.1")
            self.answered += 1
            hang_up = self.server.hang_up_after
            if hang_up is not None and self.answered >= hang_up:
                self.server.record(request)
                self.server.hang_ups += 1
                self.transport.abort()
                return
            reply = self.server.handle(request)
            self._write(reply, close=headers.get("connection", "").lower() == "close")

    def _write(self, reply: Reply, *, close: bool) -> None:
        lines = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}",
                 f"content-length: {len(reply.body)}",
                 *(f"{k}: {v}" for k, v in reply.headers)]
        if close:
            lines.append("connection: close")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body)
        if close:
            self.transport.close()
