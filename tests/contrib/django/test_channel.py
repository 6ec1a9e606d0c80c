"""DjangoEmailChannel through Django's SMTP backend to a loopback SMTP server: headers and outcomes."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import AsyncIterator
from email import message_from_bytes, policy

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.test.utils import override_settings

from ticketnotify.channels.contract import ChannelContract, ChannelHarness, sample_email
from ticketnotify.contrib.django import DjangoEmailChannel
from ticketnotify.contrib.django.channel import backend_error
from ticketnotify.errors import InvalidAddressError, PermanentDeliveryError, TransientDeliveryError
from ticketnotify.loopback.smtp import LoopbackSMTPServer, RecordingHandler

from ...channels.smtp.servers import FaultyHandler
from ...channels.test_contract import SMTPHarness

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class Refusing(RecordingHandler):
    """Refuses two mailboxes at RCPT: one for good (5.1.1), one for now (4.3.0)."""

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def smtp_settings(port: int) -> override_settings:
    return override_settings(EMAIL_BACKEND=SMTP_BACKEND, EMAIL_HOST="127.0.0.1", EMAIL_PORT=port,
                             EMAIL_USE_TLS=False, EMAIL_TIMEOUT=10)


async def test_the_mail_on_the_wire_keeps_ticketnotifys_headers() -> None:
    async with LoopbackSMTPServer() as server:
        with smtp_settings(server.port):
            channel = DjangoEmailChannel(sender="help@example.se", sender_name="Support")
            receipt = await channel.send(sample_email(1))
        [received] = await server.wait_for(1)
    wire = message_from_bytes(received.data, policy=policy.default)
    assert received.rcpt_tos == ("anna@example.org",)
    assert wire["Message-ID"] == receipt.provider_id == "<contract-email-1@example.se>"
    assert wire["In-Reply-To"] == wire["References"] == "<ticket.4711@example.se>"
    assert wire["Auto-Submitted"] == "auto-generated"
    assert wire["X-Auto-Response-Suppress"] == "All"
    assert wire["Thread-Index"] == channel.build(sample_email(1)).extra_headers["Thread-Index"]
    assert wire["Subject"] == "Ärende 4711 har uppdaterats"
    assert wire["Content-Language"] == "sv-SE"
    assert str(wire["From"]) == "Support <help@example.se>"
    html = wire.get_body(("html",))
    assert html is not None and "Support har svarat." in html.get_content()


async def test_refusals_become_the_three_outcomes() -> None:
    async with LoopbackSMTPServer(handler=Refusing()) as server:
        with smtp_settings(server.port):
            channel = DjangoEmailChannel(sender="help@example.se")
            with pytest.raises(InvalidAddressError) as gone:
                await channel.send(_to("gone@example.org"))
            with pytest.raises(TransientDeliveryError) as busy:
                await channel.send(_to("busy@example.org"))
            assert len(server.messages) == 0
    assert gone.value.code == "550 5.1.1"
    assert busy.value.code == "451 4.3.0"


async def test_a_server_that_is_down_is_retried_later() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with smtp_settings(port), pytest.raises(TransientDeliveryError) as down:
        await DjangoEmailChannel(sender="help@example.se").send(sample_email(1))
    assert down.value.code == "connection"


def test_backend_errors_map_like_the_smtp_channels() -> None:
    where = "mail backend test"
    assert isinstance(backend_error(smtplib.SMTPSenderRefused(553, b"5.7.1 not yours", "x@y"),
                                    where=where), PermanentDeliveryError)
    login = backend_error(smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), where=where)
    assert isinstance(login, TransientDeliveryError) and login.retry_after == 600.0  # held, not lost
    assert isinstance(backend_error(smtplib.SMTPDataError(554, b"5.1.1 unknown user"), where=where),
                      InvalidAddressError)
    assert isinstance(backend_error(TimeoutError(), where=where), TransientDeliveryError)
    unknown = backend_error(RuntimeError("provider hiccup"), where=where)
    assert type(unknown) is TransientDeliveryError and unknown.code == "backend"


def test_the_sender_falls_back_to_default_from_email() -> None:
    channel = DjangoEmailChannel()
    assert (channel.sender, channel.sender_name, channel.domain) == (
        "help@example.se", "Example Support", "example.se")
    with override_settings(DEFAULT_FROM_EMAIL="not an address"), pytest.raises(Exception) as bad:
        DjangoEmailChannel()
    assert "DEFAULT_FROM_EMAIL" in str(bad.value)


def _to(address: str):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(sample_email(2), to_address=address, delivery_id=f"d-{address}")


class DjangoEmailHarness(SMTPHarness):
    entry_point = None  # configured by TICKETNOTIFY, not an entry point

    def make_channel(self) -> DjangoEmailChannel:
        return DjangoEmailChannel(sender="help@example.com")


class TestDjangoEmailChannelContract(ChannelContract):
    """The channel contract every adapter passes, over Django's SMTP backend."""

    @pytest.fixture
    async def harness(self) -> AsyncIterator[ChannelHarness]:
        async with LoopbackSMTPServer(handler=FaultyHandler()) as server:
            with smtp_settings(server.port):
                yield DjangoEmailHarness(server)
