"""FCMChannel against the loopback FCM v1 server and its OAuth token endpoint."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import service_account

from ticketnotify.channels.push.fcm import FCM_SCOPE, FCMChannel, FCMConfig
from ticketnotify.channels.push.retry_after import parse_retry_after
from ticketnotify.errors import (
    ConfigurationError,
    DeliveryTimeoutError,
    InvalidAddressError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ticketnotify.loopback.fcm import CannedFailure, FCMLoopback
from ticketnotify.messages import PushMessage

PROJECT = "helpdesk-demo"
TOKEN = "fcm-token-" + "x" * 140


def make_service_key() -> tuple[str, bytes]:
    """A service account's RSA key: its PEM (for the client) and public key (for the stand-in)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, public


@pytest.fixture(scope="module")
def service_key() -> tuple[str, bytes]:
    return make_service_key()


@pytest.fixture
async def server(service_key: tuple[str, bytes]) -> AsyncIterator[FCMLoopback]:
    srv = FCMLoopback(project_id=PROJECT, verify_key=service_key[1])
    await srv.start()
    yield srv
    await srv.stop()


def credentials_for(server: FCMLoopback, private_key: str,
                    project: str = PROJECT) -> service_account.Credentials:
    return service_account.Credentials.from_service_account_info({
        "type": "service_account", "project_id": project, "private_key": private_key,
        "private_key_id": "k1", "client_email": "push@helpdesk-demo.iam.gserviceaccount.com",
        "token_uri": server.token_uri,
    }, scopes=[FCM_SCOPE])


@pytest.fixture
async def channel(server: FCMLoopback, service_key: tuple[str, bytes]) -> AsyncIterator[FCMChannel]:
    ch = FCMChannel(FCMConfig(credentials=credentials_for(server, service_key[0]),
                              endpoint_base=server.endpoint_base,
                              verify=server.certificate.ca_file, concurrency=4))
    yield ch
    await ch.aclose()


def push(token: str = TOKEN, **changes: object) -> PushMessage:
    message = PushMessage(
        delivery_id="d-1", ticket_id="4711", locale="sv_SE", platform="android", token=token,
        user_id="user-7", title="Nytt svar i ärende #4711", body="Support har svarat.",
        deep_link="https://help.example.com/t/4711", thread_id="ticket-4711",
        collapse_id="ticket-4711", data={"kind": "agent_reply"},
    )
    return dataclasses.replace(message, **changes)  # type: ignore[arg-type]


async def test_delivers_notification_data_and_android_options(
        channel: FCMChannel, server: FCMLoopback) -> None:
    receipt = await channel.send(push())
    assert receipt.provider_id == f"projects/{PROJECT}/messages/1"
    (message,) = server.sent_to(TOKEN)
    assert message["notification"] == {"title": "Nytt svar i ärende #4711",
                                       "body": "Support har svarat."}
    assert message["data"] == {"kind": "agent_reply", "ticket_id": "4711",
                               "deep_link": "https://help.example.com/t/4711"}
    assert message["android"] == {"collapse_key": "ticket-4711", "priority": "HIGH",
                                  "ttl": "86400s", "notification": {"tag": "ticket-4711"}}
    assert server.sends()[0].headers["authorization"] == "Bearer ya29.loopback-1"


async def test_access_token_is_fetched_once_and_reused(
        channel: FCMChannel, server: FCMLoopback) -> None:
    await asyncio.gather(*(channel.send(push(delivery_id=f"d-{i}")) for i in range(20)))
    assert len(server.sends()) == 20
    assert server.issued_tokens == ["ya29.loopback-1"]


async def test_data_values_are_sent_as_strings(channel: FCMChannel, server: FCMLoopback) -> None:
    await channel.send(push(data={"count": 3, "flag": True}))  # type: ignore[dict-item]
    (message,) = server.sent_to(TOKEN)
    data = message["data"]
    assert isinstance(data, dict) and data["count"] == "3" and data["flag"] == "True"


async def test_keys_fcm_reserves_are_left_out_of_data(channel: FCMChannel,
                                                      server: FCMLoopback) -> None:
    await channel.send(push(data={"from": "x", "google.sent": "y", "kind": "resolved"}))
    (message,) = server.sent_to(TOKEN)
    data = message["data"]
    assert isinstance(data, dict) and set(data) == {"kind", "ticket_id", "deep_link"}


async def test_unregistered_token_is_an_invalid_address(
        channel: FCMChannel, server: FCMLoopback) -> None:
    server.unregistered(TOKEN)
    with pytest.raises(InvalidAddressError) as caught:
        await channel.send(push())
    assert caught.value.code == "UNREGISTERED"


async def test_malformed_token_is_an_invalid_address(
        channel: FCMChannel, server: FCMLoopback) -> None:
    server.invalid_token(TOKEN)
    with pytest.raises(InvalidAddressError) as caught:
        await channel.send(push())
    assert caught.value.code == "INVALID_ARGUMENT"


async def test_other_invalid_argument_is_permanent_not_a_dead_token(
        channel: FCMChannel, server: FCMLoopback) -> None:
    server.fail(TOKEN, CannedFailure(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
                                     "Invalid value at 'message.android.ttl'"))
    with pytest.raises(PermanentDeliveryError) as caught:
        await channel.send(push())
    assert not isinstance(caught.value, InvalidAddressError)


async def test_sender_mismatch_is_permanent_so_a_wrong_project_wipes_no_devices(
        channel: FCMChannel, server: FCMLoopback) -> None:
    server.sender_mismatch(TOKEN)
    with pytest.raises(PermanentDeliveryError) as caught:
        await channel.send(push())
    assert not isinstance(caught.value, InvalidAddressError)
    assert caught.value.code == "SENDER_ID_MISMATCH"


async def test_quota_exceeded_is_transient_with_retry_after_then_succeeds(
        channel: FCMChannel, server: FCMLoopback) -> None:
    server.throttle(TOKEN, times=1, retry_after=1)
    with pytest.raises(TransientDeliveryError) as caught:
        await channel.send(push())
    assert caught.value.retry_after == 1.0 and caught.value.code == "QUOTA_EXCEEDED"
    assert len(server.sends()) == 1  # pyfcm would have slept and resent inside the call
    assert (await channel.send(push())).detail == "200"


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_transient_and_not_retried_inside_the_call(
        channel: FCMChannel, server: FCMLoopback, status: int) -> None:
    server.unavailable(TOKEN, status=status, retry_after=30)
    with pytest.raises(TransientDeliveryError) as caught:
        await channel.send(push())
    assert caught.value.retry_after == 30.0
    assert len(server.sends()) == 1


async def test_wrong_project_is_permanent(server: FCMLoopback,
                                          service_key: tuple[str, bytes]) -> None:
    creds = credentials_for(server, service_key[0], project="someone-elses-project")
    async with FCMChannel(FCMConfig(credentials=creds, endpoint_base=server.endpoint_base,
                                    verify=server.certificate.ca_file)) as ch:
        with pytest.raises(PermanentDeliveryError) as caught:
            await ch.send(push())
    assert caught.value.code == "PERMISSION_DENIED"


async def test_refused_service_account_is_permanent(server: FCMLoopback) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    async with FCMChannel(FCMConfig(credentials=credentials_for(server, pem),
                                    endpoint_base=server.endpoint_base,
                                    verify=server.certificate.ca_file)) as ch:
        with pytest.raises(PermanentDeliveryError, match="service account was refused"):
            await ch.send(push())
    assert server.sends() == []


async def test_untrusted_server_certificate_is_transient(
        server: FCMLoopback, service_key: tuple[str, bytes]) -> None:
    async with FCMChannel(FCMConfig(credentials=credentials_for(server, service_key[0]),
                                    endpoint_base=server.endpoint_base)) as ch:
        with pytest.raises(TransientDeliveryError):
            await ch.send(push())


async def test_long_text_is_shortened_and_accepted(channel: FCMChannel,
                                                   server: FCMLoopback) -> None:
    body = "Ärendet är löst 🇸🇪🇫🇮 " * 500
    await channel.send(push(body=body))
    (message,) = server.sent_to(TOKEN)
    notification = message["notification"]
    assert isinstance(notification, dict)
    assert notification["body"].endswith("…") and body.startswith(notification["body"][:-1])
    assert len(server.sends()[0].body) <= 4096


def test_config_without_credentials_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="credentials or service_account_file"):
        FCMConfig()


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after("2", now) == 2.0
    assert parse_retry_after(later, now) == 90.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None) is None


def test_payload_is_valid_json_of_pyfcm_shape(channel: FCMChannel) -> None:
    body = json.loads(channel.payload(push()))
    assert body["validate_only"] is False and body["message"]["token"] == TOKEN


async def test_silent_peer_times_out_on_token_fetch_and_on_send(
        server: FCMLoopback, service_key: tuple[str, bytes]) -> None:
    # A TLS server that accepts and never answers: first as the OAuth endpoint, then as FCM.
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0,
                                        ssl=server.certificate.server_context(("http/1.1",)))
    silent_base = f"https://127.0.0.1:{silent.sockets[0].getsockname()[1]}"
    try:
        hung_token = credentials_for(server, service_key[0])
        hung_token._token_uri = f"{silent_base}/token"
        async with FCMChannel(FCMConfig(credentials=hung_token, timeout=0.3,
                                        endpoint_base=server.endpoint_base,
                                        verify=server.certificate.ca_file)) as ch:
            with pytest.raises(DeliveryTimeoutError):
                await ch.send(push())
        async with FCMChannel(FCMConfig(credentials=credentials_for(server, service_key[0]),
                                        timeout=0.3, endpoint_base=f"{silent_base}/v1/projects",
                                        verify=server.certificate.ca_file)) as ch:
            with pytest.raises(DeliveryTimeoutError):
                await ch.send(push())
    finally:
        silent.close()
