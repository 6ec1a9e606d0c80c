"""The APNs and FCM stand-ins check what the real services check, and fail on cue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import jwt
import pytest
import requests
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, ResponseReceived, StreamEnded

from ticketnotify.loopback.apns import APNsLoopback
from ticketnotify.loopback.fcm import FCMLoopback
from ticketnotify.loopback.https import LoopbackHTTPSServer, ReceivedRequest, Reply

TOKEN = "ab" * 32
GOOD_HEADERS = {"apns-topic": "com.example.app", "apns-push-type": "alert",
                "authorization": "bearer x.y.z", "apns-id": "11111111-2222-3333-4444-555555555555"}


async def h2_request(server: LoopbackHTTPSServer, path: str, headers: dict[str, str],
                     body: bytes = b"", method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP/2 request, so tests can send what a well-behaved client never would."""
    reader, writer = await asyncio.open_connection(
        server.host, server.port, ssl=server.certificate.client_context(),
        server_hostname="localhost")
    conn = H2Connection(H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    conn.send_headers(1, [(":method", method), (":scheme", "https"), (":path", path),
                          (":authority", "localhost"), *headers.items()],
                      end_stream=not body)
    if body:
        conn.send_data(1, body, end_stream=True)
    writer.write(conn.data_to_send())
    status, got_headers, data = 0, {}, bytearray()
    done = False
    while not done:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        assert chunk, "server closed the connection"
        for event in conn.receive_data(chunk):
            if isinstance(event, ResponseReceived):
                got_headers = dict(event.headers)  # type: ignore[arg-type]
                status = int(got_headers.pop(":status"))
            elif isinstance(event, DataReceived):
                data.extend(event.data)
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, StreamEnded):
                done = True
        writer.write(conn.data_to_send())
    writer.close()
    return status, got_headers, bytes(data)


@pytest.fixture
async def apns() -> AsyncIterator[APNsLoopback]:
    async with APNsLoopback(topic="com.example.app") as server:
        yield server


@pytest.fixture
async def fcm() -> AsyncIterator[FCMLoopback]:
    async with FCMLoopback(project_id="p1") as server:
        yield server


async def test_apns_accepts_a_well_formed_push_and_echoes_its_id(apns: APNsLoopback) -> None:
    status, headers, _ = await h2_request(apns, f"/3/device/{TOKEN}", GOOD_HEADERS, b"{}")
    assert status == 200 and headers["apns-id"] == GOOD_HEADERS["apns-id"]
    (request,) = await apns.wait_for_requests(1)
    assert request.protocol == "h2" and request.headers["apns-topic"] == "com.example.app"


@pytest.mark.parametrize(("change", "body", "status", "reason"), [
    ({"authorization": ""}, b"{}", 403, "MissingProviderToken"),
    ({"apns-topic": ""}, b"{}", 400, "MissingTopic"),
    ({"apns-push-type": "shout"}, b"{}", 400, "InvalidPushType"),
    ({"apns-priority": "7"}, b"{}", 400, "BadPriority"),
    ({"apns-collapse-id": "x" * 65}, b"{}", 400, "BadCollapseId"),
    ({"apns-expiration": "tomorrow"}, b"{}", 400, "BadExpirationDate"),
    ({}, b"", 400, "PayloadEmpty"),
    ({}, b'{"a": "' + b"x" * 5000 + b'"}', 413, "PayloadTooLarge"),
    ({"apns-topic": "com.other.app"}, b"{}", 400, "DeviceTokenNotForTopic"),
])
async def test_apns_refuses_what_apple_refuses(apns: APNsLoopback, change: dict[str, str],
                                               body: bytes, status: int, reason: str) -> None:
    headers = {k: v for k, v in {**GOOD_HEADERS, **change}.items() if v}
    got, got_headers, data = await h2_request(apns, f"/3/device/{TOKEN}", headers, body)
    assert (got, json.loads(data)["reason"]) == (status, reason)
    assert got_headers["apns-id"]  # aioapns needs it to match the error to its request


async def test_apns_canned_failures_count_down(apns: APNsLoopback) -> None:
    apns.throttle(TOKEN, times=2, retry_after=3)
    replies = [await h2_request(apns, f"/3/device/{TOKEN}", GOOD_HEADERS, b"{}")
               for _ in range(3)]
    assert [r[0] for r in replies] == [429, 429, 200]
    assert replies[0][1]["retry-after"] == "3"
    assert len(apns.received_for(TOKEN)) == 3


async def test_waiting_for_more_requests_than_arrive_times_out(apns: APNsLoopback) -> None:
    with pytest.raises(TimeoutError, match="received 0 requests, expected 1"):
        await apns.wait_for_requests(1, timeout=0.05)


async def test_a_stand_in_bug_is_a_500_not_a_hang() -> None:
    class Broken(LoopbackHTTPSServer):
        def respond(self, request: ReceivedRequest) -> Reply:
            raise RuntimeError("boom")

    async with Broken() as server:
        status, _, data = await h2_request(server, "/", {}, b"x")
    assert status == 500 and "boom" in json.loads(data)["detail"]


def fcm_post(server: FCMLoopback, path: str, session: requests.Session, **kwargs: object
             ) -> requests.Response:
    return session.post(f"{server.base_url}{path}", verify=server.certificate.ca_file,
                        timeout=5, **kwargs)  # type: ignore[arg-type]


async def test_fcm_needs_an_issued_token_and_checks_messages(fcm: FCMLoopback) -> None:
    def exchange() -> list[requests.Response]:
        with requests.Session() as s:
            send = "/v1/projects/p1/messages:send"
            no_auth = fcm_post(fcm, send, s, json={"message": {"token": "t"}})
            assertion = jwt.encode({"iss": "a@b.c", "exp": 9999999999}, "k" * 32,
                                   algorithm="HS256")
            token = fcm_post(fcm, "/token", s, data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion}).json()["access_token"]
            s.headers["Authorization"] = f"Bearer {token}"
            return [
                no_auth,
                fcm_post(fcm, send, s, json={"message": {"token": "t", "data": {"n": 1}}}),
                fcm_post(fcm, send, s, json={"message": {"token": "t", "topic": "news"}}),
                fcm_post(fcm, send, s, json={"message": {"token": "t",
                                                         "data": {"x": "é" * 3000}}}),
                fcm_post(fcm, "/v1/projects/other/messages:send", s,
                         json={"message": {"token": "t"}}),
                fcm_post(fcm, send, s, json={"message": {"token": "t"}}),
            ]

    replies = await asyncio.to_thread(exchange)
    assert [r.status_code for r in replies] == [401, 400, 400, 400, 403, 200]
    assert [r.json().get("error", {}).get("status") for r in replies[:5]] == [
        "UNAUTHENTICATED", "INVALID_ARGUMENT", "INVALID_ARGUMENT", "INVALID_ARGUMENT",
        "PERMISSION_DENIED"]
    assert replies[5].json() == {"name": "projects/p1/messages/1"}
    assert fcm.connections_accepted == 1  # HTTP/1.1 keep-alive across all seven requests
    assert {r.protocol for r in fcm.requests} == {"http/1.1"}


async def test_malformed_http1_request_gets_400_and_close(fcm: FCMLoopback) -> None:
    reader, writer = await asyncio.open_connection(
        fcm.host, fcm.port, ssl=fcm.certificate.client_context(("http/1.1",)),
        server_hostname="localhost")
    writer.write(b"NONSENSE\r\ncontent-length: x\r\n\r\n")
    reply = await asyncio.wait_for(reader.read(), 5)  # read() returns once the server closes
    writer.close()
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert fcm.requests == []
