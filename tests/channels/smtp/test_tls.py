"""STARTTLS, implicit TLS and AUTH against aiosmtpd with a certificate made by the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.errors import InvalidAddressError, TransientDeliveryError
from ticketnotify.loopback.smtp import LoopbackSMTPServer
from ticketnotify.loopback.tls import LoopbackCertificate

from .servers import FaultyHandler, email_message, make_self_signed


@pytest.fixture
def tls(tmp_path: Path) -> LoopbackCertificate:
    return make_self_signed(tmp_path)


class Logins:
    """aiosmtpd authenticator that accepts one user and remembers every attempt."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, bool]] = []

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = (data.login, data.password) == (b"helpdesk", "s3cret-lösen".encode())
        self.attempts.append((data.login.decode(), session.ssl is not None))
        return AuthResult(success=ok, handled=False)


def config(port: int, **options: object) -> SMTPConfig:
    return SMTPConfig(
        "127.0.0.1", port, sender="helpdesk@support.example.com", local_hostname="client.test",
        timeout=5, **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def starttls_server(tls: LoopbackCertificate) -> AsyncIterator[LoopbackSMTPServer]:
    async with LoopbackSMTPServer(tls_context=tls.server_context(alpn=()), require_starttls=True) as srv:
        yield srv


async def test_starttls_required_upgrades_before_mail(starttls_server, tls: LoopbackCertificate) -> None:
    cfg = config(starttls_server.port, security="starttls-required", ca_file=tls.ca_file)
    async with SMTPChannel(cfg) as ch:
        await ch.send(email_message(1))
        await ch.send(email_message(2))
    got = await starttls_server.wait_for(2)
    assert all(m.tls for m in got)
    assert starttls_server.connections == 1


async def test_opportunistic_upgrades_when_offered(starttls_server, tls: LoopbackCertificate) -> None:
    cfg = config(starttls_server.port, ca_file=tls.ca_file)
    async with SMTPChannel(cfg) as ch:
        await ch.send(email_message(1))
    [got] = await starttls_server.wait_for(1)
    assert got.tls


async def test_implicit_tls(tls: LoopbackCertificate) -> None:
    async with LoopbackSMTPServer(tls_context=tls.server_context(alpn=()), implicit_tls=True) as srv:
        cfg = config(srv.port, security="implicit-tls", ca_file=tls.ca_file)
        async with SMTPChannel(cfg) as ch:
            await ch.send(email_message(1))
        [got] = await srv.wait_for(1)
    assert got.tls
    assert got.message["Message-ID"] == "<dlv-0001@support.example.com>"


async def test_untrusted_certificate_is_refused(starttls_server) -> None:
    cfg = config(starttls_server.port, security="starttls-required")  # system CAs only
    async with SMTPChannel(cfg) as ch:
        with pytest.raises(TransientDeliveryError, match="certificate"):
            await ch.send(email_message(1))
    assert starttls_server.messages == []


async def test_untrusted_implicit_tls_is_refused(tls: LoopbackCertificate) -> None:
    async with LoopbackSMTPServer(tls_context=tls.server_context(alpn=()), implicit_tls=True) as srv:
        async with SMTPChannel(config(srv.port, security="implicit-tls")) as ch:
            with pytest.raises(TransientDeliveryError, match="certificate"):
                await ch.send(email_message(1))
        assert srv.messages == []


async def test_starttls_required_but_not_offered_holds_the_mail() -> None:
    async with LoopbackSMTPServer() as srv:
        async with SMTPChannel(config(srv.port, security="starttls-required")) as ch:
            with pytest.raises(TransientDeliveryError) as caught:
                await ch.send(email_message(1))
        assert caught.value.code == "tls-unavailable"
        assert srv.messages == []


async def test_login_over_starttls(tls: LoopbackCertificate) -> None:
    logins = Logins()
    async with LoopbackSMTPServer(
        tls_context=tls.server_context(alpn=()), require_starttls=True,
        smtp_options={"authenticator": logins, "auth_required": True},
    ) as srv:
        cfg = config(srv.port, security="starttls-required", ca_file=tls.ca_file,
                     username="helpdesk", password="s3cret-lösen")
        async with SMTPChannel(cfg) as ch:
            await ch.send(email_message(1))
        await srv.wait_for(1)
    assert logins.attempts == [("helpdesk", True)]


async def test_wrong_password_holds_mail_instead_of_dead_lettering_it(tls: LoopbackCertificate) -> None:
    logins = Logins()
    async with LoopbackSMTPServer(
        tls_context=tls.server_context(alpn=()),
        smtp_options={"authenticator": logins, "auth_required": True},
    ) as srv:
        cfg = config(srv.port, security="starttls-required", ca_file=tls.ca_file,
                     username="helpdesk", password="wrong")
        async with SMTPChannel(cfg) as ch:
            with pytest.raises(TransientDeliveryError, match="535.*check the SMTP settings") as info:
                await ch.send(email_message(1))
            assert info.value.retry_after is not None and info.value.retry_after >= 600
        assert srv.messages == []


async def test_password_is_never_sent_in_clear_opportunistically() -> None:
    logins = Logins()
    async with LoopbackSMTPServer(
        smtp_options={"authenticator": logins, "auth_require_tls": False},
    ) as srv:
        cfg = config(srv.port, username="helpdesk", password="s3cret-lösen")
        async with SMTPChannel(cfg) as ch:
            with pytest.raises(TransientDeliveryError) as caught:
                await ch.send(email_message(1))
        assert caught.value.code == "tls-unavailable"
        assert logins.attempts == []
        assert srv.messages == []


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
async def test_pipelining_over_tls_keeps_the_connection(tls: LoopbackCertificate, implicit: bool) -> None:
    handler = FaultyHandler(pipelining=True)
    async with LoopbackSMTPServer(
        handler=handler, tls_context=tls.server_context(alpn=()), implicit_tls=implicit,
    ) as srv:
        security = "implicit-tls" if implicit else "starttls-required"
        async with SMTPChannel(config(srv.port, security=security, ca_file=tls.ca_file)) as ch:
            await ch.send(email_message(1))
            handler.fail("RCPT", "550 5.1.1 No such user")
            with pytest.raises(InvalidAddressError):
                await ch.send(email_message(2))
            await ch.send(email_message(3))
        got = await srv.wait_for(2)
    assert [m.message["Message-ID"] for m in got] == [
        "<dlv-0001@support.example.com>", "<dlv-0003@support.example.com>",
    ]
    assert all(m.tls for m in got)
    assert srv.connections == 1
    assert handler.quits == 1
