"""Norwegian tags reach the nb catalog; Content-Language names the language of the text."""

from __future__ import annotations

import email
from dataclasses import replace

import pytest

from ticketnotify.brands import Brand
from ticketnotify.channels.mime.builder import POLICY
from ticketnotify.channels.smtp import SMTPChannel
from ticketnotify.events import Guest, TicketUpdate
from ticketnotify.messages import EmailMessage
from ticketnotify.notifier import Notifier
from ticketnotify.outbox import MemoryOutbox
from ticketnotify.rendering import Renderer

from .. import golden


@pytest.mark.parametrize("asked", ["no", "no_NO", "no-NO", "nb_NO", "nn", "nn_NO"])
def test_norwegian_tags_negotiate_to_bokmal(asked: str) -> None:
    assert Renderer().negotiate(asked) == "nb"


def test_guest_accepts_no_NO() -> None:
    guest = Guest(email="ola@example.no", locale="no_NO")
    assert Renderer().negotiate(guest.locale) == "nb"


def _content_language(locale: str) -> str | None:
    base: TicketUpdate = golden.CASES["account_agent_reply_en"]
    update = replace(base, recipient=replace(base.recipient, locale=locale))
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, brands=[Brand.from_links(golden.LINKS)], guest_links=None,
                        clock=lambda: golden.NOW)
    notifier.publish(update)
    (job,) = [j for j in outbox.claim(golden.NOW, 10, 60.0, "t") if j.channel == "email"]
    message = notifier.delivery_renderer.message(job)  # jobs hold facts; the worker renders
    assert isinstance(message, EmailMessage)
    raw = SMTPChannel(golden.CONFIG, clock=lambda: golden.NOW).render(message)
    value = email.message_from_bytes(raw, policy=POLICY)["Content-Language"]
    return None if value is None else str(value)


@pytest.mark.parametrize(("locale", "expected"), [
    ("nn_NO", "nb"),        # no nn catalog: the body is Bokmål
    ("is_IS", "en"),        # no Icelandic catalog: the body is English
    ("sv_SE", "sv-SE"),
    ("sv_SE@euro", "sv-SE"),
])
def test_content_language_is_the_language_of_the_body(locale: str, expected: str) -> None:
    assert _content_language(locale) == expected
