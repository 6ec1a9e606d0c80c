"""APNsChannel against the loopback APNs server: headers, payload, and every error class."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ticketnotify.channels.push.apns import APNsChannel, APNsConfig
from ticketnotify.errors import (
    ConfigurationError,
    DeliveryTimeoutError,
    InvalidAddressError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ticketnotify.loopback.apns import APNsLoopback
from ticketnotify.messages import EmailMessage, PushMessage

TOPIC = "com.example.helpdesk"
KEY_ID = "ABC123DEFG"
TEAM_ID = "TEAM456XYZ"
TOKEN = "a1" * 32


def make_key() -> tuple[str, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, public


@pytest.fixture(scope="module")
def signing_key() -> tuple[str, bytes]:
    return make_key()


@pytest.fixture
async def server(signing_key: tuple[str, bytes]) -> AsyncIterator[APNsLoopback]:
    srv = APNsLoopback(topic=TOPIC, verify_key=signing_key[1], key_id=KEY_ID, team_id=TEAM_ID)
    await srv.start()
    yield srv
    await srv.stop()


def config_for(server: APNsLoopback, key: str, **changes: object) -> APNsConfig:
    base = APNsConfig(key=key, key_id=KEY_ID, team_id=TEAM_ID, topic=TOPIC, host="127.0.0.1",
                      port=server.port, ssl_context=server.certificate.client_context())
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def channel(server: APNsLoopback,
                  signing_key: tuple[str, bytes]) -> AsyncIterator[APNsChannel]:
    ch = APNsChannel(config_for(server, signing_key[0]))
    yield ch
    await ch.aclose()


def push(token: str = TOKEN, **changes: object) -> PushMessage:
    message = PushMessage(
        delivery_id="d-1", ticket_id="4711", locale="sv_SE", platform="ios", token=token,
        user_id="user-7", title="Nytt svar i ärende #4711",
        body="Support har svarat på ditt ärende.",
        deep_link="https://help.example.com/t/4711", thread_id="ticket-4711",
        collapse_id="ticket-4711", data={"kind": "agent_reply"},
    )
    return dataclasses.replace(message, **changes)  # type: ignore[arg-type]


async def test_delivers_alert_with_deliberate_headers_and_payload(
        channel: APNsChannel, server: APNsLoopback) -> None:
    receipt = await channel.send(push())
    (request,) = await server.wait_for_requests(1)
    assert receipt.channel == "apns" and receipt.delivery_id == "d-1"
    assert receipt.provider_id == request.headers["apns-id"]
    assert request.path == f"/3/device/{TOKEN}"
    assert request.headers["apns-topic"] == TOPIC
    assert request.headers["apns-push-type"] == "alert"
    assert request.headers["apns-priority"] == "10"
    assert request.headers["apns-collapse-id"] == "ticket-4711"
    assert abs(int(request.headers["apns-expiration"]) - (time.time() + 86400)) < 60
    assert request.headers["authorization"].startswith("bearer ")  # and the server verified it
    body = request.json()
    assert body["aps"]["alert"] == {"title": "Nytt svar i ärende #4711",
                                    "body": "Support har svarat på ditt ärende."}
    assert body["aps"]["thread-id"] == "ticket-4711"
    assert body["deep_link"] == "https://help.example.com/t/4711"
    assert body["ticket_id"] == "4711" and body["kind"] == "agent_reply"


async def test_many_concurrent_pushes_share_one_connection(
        channel: APNsChannel, server: APNsLoopback) -> None:
    receipts = await asyncio.gather(*(channel.send(push(delivery_id=f"d-{i}")) for i in range(300)))
    assert {r.delivery_id for r in receipts} == {f"d-{i}" for i in range(300)}
    assert len(await server.wait_for_requests(300)) == 300
    assert server.connections_accepted == 1
    assert channel._pool is not None
    (connection,) = channel._pool.connections
    assert connection.request_streams == {} and connection.requests == {}  # nothing kept


@pytest.mark.parametrize(("script", "reason"), [
    ("unregistered", "Unregistered"),
    ("bad_device_token", "BadDeviceToken"),
    ("not_for_topic", "DeviceTokenNotForTopic"),
])
async def test_dead_tokens_are_invalid_addresses(
        channel: APNsChannel, server: APNsLoopback, script: str, reason: str) -> None:
    getattr(server, script)(TOKEN)
    with pytest.raises(InvalidAddressError) as caught:
        await channel.send(push())
    assert caught.value.code == reason
    assert "forget the device" in str(caught.value)


async def test_token_of_another_app_is_an_invalid_address(
        server: APNsLoopback, signing_key: tuple[str, bytes]) -> None:
    async with APNsChannel(config_for(server, signing_key[0], topic="com.other.app")) as ch:
        with pytest.raises(InvalidAddressError) as caught:
            await ch.send(push())
    assert caught.value.code == "DeviceTokenNotForTopic"


async def test_malformed_token_is_an_invalid_address(channel: APNsChannel) -> None:
    with pytest.raises(InvalidAddressError) as caught:
        await channel.send(push(token="not-a-hex-token"))
    assert caught.value.code == "BadDeviceToken"


async def test_throttling_is_transient_with_retry_after_then_succeeds(
        channel: APNsChannel, server: APNsLoopback) -> None:
    server.throttle(TOKEN, times=1, retry_after=7)
    with pytest.raises(TransientDeliveryError) as caught:
        await channel.send(push())
    assert caught.value.retry_after == 7.0 and caught.value.code == "TooManyRequests"
    assert (await channel.send(push())).detail == "200"


@pytest.mark.parametrize(("status", "reason"), [(500, "InternalServerError"),
                                                (503, "ServiceUnavailable")])
async def test_server_errors_are_transient(channel: APNsChannel, server: APNsLoopback,
                                           status: int, reason: str) -> None:
    server.unavailable(TOKEN, status=status, reason=reason)
    with pytest.raises(TransientDeliveryError) as caught:
        await channel.send(push())
    assert not isinstance(caught.value, PermanentDeliveryError)
    assert caught.value.retry_after is None and caught.value.code == reason


async def test_wrong_signing_key_is_permanent_not_a_dead_token(server: APNsLoopback) -> None:
    other_key, _ = make_key()
    async with APNsChannel(config_for(server, other_key)) as ch:
        with pytest.raises(PermanentDeliveryError) as caught:
            await ch.send(push())
    assert not isinstance(caught.value, InvalidAddressError)
    assert caught.value.code == "InvalidProviderToken"


async def test_other_4xx_is_permanent(channel: APNsChannel, server: APNsLoopback) -> None:
    server.fail(TOKEN, 400, "BadMessageId")
    with pytest.raises(PermanentDeliveryError) as caught:
        await channel.send(push())
    assert not isinstance(caught.value, InvalidAddressError)


async def test_long_text_is_shortened_to_fit_and_accepted(
        channel: APNsChannel, server: APNsLoopback) -> None:
    body = "Hej! Ärendet är löst 👩‍👩‍👧 " * 400
    await channel.send(push(body=body))
    (request,) = await server.wait_for_requests(1)
    assert len(request.body) <= 4096
    sent = request.json()["aps"]["alert"]["body"]
    assert sent.endswith("…") and body.startswith(sent[:-1])


async def test_long_collapse_id_is_hashed_to_apples_limit(
        channel: APNsChannel, server: APNsLoopback) -> None:
    await channel.send(push(collapse_id="ticket-" + "x" * 100))
    (request,) = await server.wait_for_requests(1)
    assert len(request.headers["apns-collapse-id"]) == 64


async def test_error_replies_beyond_the_flow_control_window_do_not_stall(
        channel: APNsChannel, server: APNsLoopback) -> None:
    server.unregistered(TOKEN)  # ~70 bytes of error body each: 2000 of them exceed 64 KiB
    results = await asyncio.gather(*(channel.send(push()) for _ in range(2000)),
                                   return_exceptions=True)
    assert all(isinstance(r, InvalidAddressError) for r in results)


async def test_unreachable_host_is_transient(signing_key: tuple[str, bytes],
                                             server: APNsLoopback) -> None:
    port = server.port
    await server.stop()
    async with APNsChannel(config_for(server, signing_key[0], port=port)) as ch:
        with pytest.raises(TransientDeliveryError):
            await ch.send(push())


async def test_key_can_be_a_path_to_the_p8_file(tmp_path: Path, server: APNsLoopback,
                                                signing_key: tuple[str, bytes]) -> None:
    p8 = tmp_path / f"AuthKey_{KEY_ID}.p8"
    p8.write_text(signing_key[0])
    async with APNsChannel(config_for(server, str(p8))) as ch:
        assert (await ch.send(push())).detail == "200"


def test_missing_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="neither PEM text nor a readable file"):
        APNsChannel(APNsConfig(key=str(tmp_path / "nope.p8"), key_id=KEY_ID, team_id=TEAM_ID,
                               topic=TOPIC))


async def test_email_message_is_refused(channel: APNsChannel) -> None:
    email = EmailMessage(delivery_id="e", ticket_id="1", ticket_subject="s", locale="en",
                         to_address="a@example.com", subject="s", html="<p>x</p>", text="x")
    with pytest.raises(PermanentDeliveryError, match="carries push messages"):
        await channel.send(email)


def test_payload_json_is_what_was_measured() -> None:
    from ticketnotify.channels.push.apns import fitted_payload, serialize

    payload = fitted_payload(push(title="🇸🇪" * 3000, body="å" * 3000))
    encoded = serialize(payload)
    assert len(encoded) <= 4096 and json.loads(encoded) == payload


async def test_context_without_alpn_still_speaks_http2(server: APNsLoopback,
                                                       signing_key: tuple[str, bytes]) -> None:
    # aioapns' own default context offers no ALPN; APNs (and the stand-in) accept that.
    plain = ssl.create_default_context(cafile=server.certificate.ca_file)
    async with APNsChannel(config_for(server, signing_key[0], ssl_context=plain)) as ch:
        assert (await ch.send(push())).detail == "200"
    assert server.requests[0].protocol == "h2"


async def test_silent_peer_is_a_delivery_timeout(server: APNsLoopback,
                                                 signing_key: tuple[str, bytes]) -> None:
    # TLS handshake completes, then nothing: no SETTINGS, no response.
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0,
                                        ssl=server.certificate.server_context())
    port = silent.sockets[0].getsockname()[1]
    try:
        async with APNsChannel(config_for(server, signing_key[0], port=port, timeout=0.3)) as ch:
            with pytest.raises(DeliveryTimeoutError):
                await ch.send(push())
    finally:
        silent.close()


def test_the_signing_key_never_shows_in_a_repr() -> None:
    pem, _ = make_key()
    config = APNsConfig(key=pem, key_id=KEY_ID, team_id=TEAM_ID, topic=TOPIC)
    body = pem.splitlines()[1]  # a line of the key itself
    assert body not in repr(config) and body not in str(config)
    assert KEY_ID in repr(config)  # the rest is still there to debug with
