"""Internationalized domains reach the wire as IDNA 2008 A-labels (issue 10.4 / 11.5)."""

from __future__ import annotations

import pytest

from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.events import Guest, Ticket, TicketUpdate
from ticketnotify.guest.links import GuestLinks
from ticketnotify.loopback.smtp import LoopbackSMTPServer
from ticketnotify.loopback.stack import LoopbackStack
from ticketnotify.notifier import Notifier
from ticketnotify.outbox import MemoryOutbox
from ticketnotify.worker import Worker

from ...conftest import T0
from .servers import email_message

KEY = b"k" * 32
URL = "https://help.example.com/guest/{ticket_id}?token={token}"


@pytest.mark.parametrize("spelling", ["anna@straße.de", "anna@STRAßE.DE", "anna@ｓｔｒａßｅ.de"])
async def test_published_guest_at_strasse_is_mailed_at_its_own_a_label(spelling: str) -> None:
    update = TicketUpdate(event_id="idn-ß", ticket=Ticket("9", "Hej"), kind="resolved",
                          recipient=Guest(spelling, locale="de"), occurred_at=T0)
    outbox = MemoryOutbox()
    links = GuestLinks([KEY], URL)
    Notifier(outbox, links=None, guest_links=links).publish(update)
    async with LoopbackStack(push=False) as stack:
        stats = await Worker(outbox, stack.channels()).drain()
        (mail,) = await stack.smtp.wait_for(1)
    assert stats.delivered == 1
    assert mail.rcpt_tos == ("anna@xn--strae-oqa.de",)  # not strasse.de, another domain
    assert mail.message["To"].addresses[0].addr_spec == "anna@xn--strae-oqa.de"
    assert b"<anna@xn--strae-oqa.de>" in mail.data


async def test_channel_sends_a_stored_unicode_address_as_the_a_label() -> None:
    """Jobs stored before canonical addresses still go to the IDNA 2008 domain."""
    async with LoopbackSMTPServer() as server:
        config = SMTPConfig("127.0.0.1", server.port, sender="hilfe@straße.de",
                            local_hostname="client.test", timeout=5)
        async with SMTPChannel(config) as channel:
            await channel.send(email_message(to_address="anna@Straße.de"))
        (mail,) = await server.wait_for(1)
    assert mail.rcpt_tos == ("anna@xn--strae-oqa.de",)
    assert mail.mail_from == "hilfe@xn--strae-oqa.de"
    assert mail.message["To"].addresses[0].addr_spec == "anna@xn--strae-oqa.de"
    assert mail.message["From"].addresses[0].addr_spec == "hilfe@xn--strae-oqa.de"
