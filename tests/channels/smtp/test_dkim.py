"""DKIM: what the server receives verifies with dkimpy against the test's public key."""

from __future__ import annotations

import base64

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.channels.smtp.dkim import DKIMConfig
from ticketnotify.errors import ConfigurationError
from ticketnotify.loopback.smtp import LoopbackSMTPServer

from .servers import email_message


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def dns_for(public_der: bytes, expect: bytes = b"tn2026._domainkey.support.example.com."):
    """dkimpy's DNS hook: answer only the selector record we published."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        if name != expect:
            return None
        return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)

    return lookup


async def test_signed_message_verifies(key_pair: tuple[bytes, bytes]) -> None:
    private, public = key_pair
    async with LoopbackSMTPServer() as srv:
        cfg = SMTPConfig(
            "127.0.0.1", srv.port, sender="helpdesk@support.example.com",
            local_hostname="client.test",
            dkim=DKIMConfig(domain="support.example.com", selector="tn2026", private_key=private),
        )
        async with SMTPChannel(cfg) as ch:
            await ch.send(email_message(1))
        [got] = await srv.wait_for(1)
    assert got.data.startswith(b"DKIM-Signature:")
    assert dkim.verify(got.data, dnsfunc=dns_for(public))
    signed = got.message["DKIM-Signature"]
    assert "d=support.example.com" in signed and "s=tn2026" in signed
    assert "c=relaxed/relaxed" in signed
    for header in ("from", "subject", "message-id", "references", "auto-submitted"):
        assert header in signed.lower()


async def test_tampered_message_fails_verification(key_pair: tuple[bytes, bytes]) -> None:
    private, public = key_pair
    ch = SMTPChannel(SMTPConfig(
        sender="helpdesk@support.example.com",
        dkim=DKIMConfig(domain="support.example.com", selector="tn2026", private_key=private),
    ))
    raw = ch.render(email_message(1))
    assert dkim.verify(raw, dnsfunc=dns_for(public))
    tampered = raw.replace(b"Message-ID: <dlv-0001@", b"Message-ID: <dlv-0002@")
    assert tampered != raw
    assert not dkim.verify(tampered, dnsfunc=dns_for(public))


def test_a_key_that_is_not_pem_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="PEM"):
        DKIMConfig(domain="support.example.com", selector="s", private_key=b"not a key")


def test_a_broken_pem_key_is_refused_at_configuration() -> None:
    broken = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ConfigurationError, match="does not parse"):
        DKIMConfig(domain="support.example.com", selector="s", private_key=broken)
