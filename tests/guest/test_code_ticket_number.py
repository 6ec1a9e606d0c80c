"""The code email names the ticket by the number people see when the host gives one."""

from __future__ import annotations

from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.guest import EmailCodeSender, GuestLinks, MemoryCodeStore, VerificationCodes
from ticketnotify.messages import EmailMessage
from ticketnotify.rendering import Renderer

from .test_codes import ANNA, KEYS, SECRET, Clock


async def _code_mail(**number: str) -> EmailMessage:
    channel = MemoryChannel()
    clock, links = Clock(), GuestLinks(KEYS)
    async with EmailCodeSender(Renderer(), channel) as sender:
        codes = VerificationCodes(links, MemoryCodeStore(), sender, SECRET, clock=clock)
        await codes.asend_code(links.issue("tk_8f3a", ANNA, now=clock()), email=ANNA, **number)
    (mail,) = channel.sent
    assert isinstance(mail, EmailMessage)
    return mail


async def test_ticket_number_is_shown_instead_of_the_key() -> None:
    mail = await _code_mail(ticket_number="HD-1042")
    for part in (mail.subject, mail.text, mail.html):
        assert "HD-1042" in part and "tk_8f3a" not in part


async def test_without_a_number_the_key_is_shown_as_before() -> None:
    mail = await _code_mail()
    assert "tk_8f3a" in mail.subject and "tk_8f3a" in mail.text
