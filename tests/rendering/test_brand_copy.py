"""Brand copy in Swedish: every kind, both reply modes, with and without a team, no English."""

from __future__ import annotations

import pytest

from ticketnotify.brands import Brand, ReplyMode
from ticketnotify.events import AccountUser, Guest, Ticket, TicketUpdate, UpdateKind
from ticketnotify.rendering import Renderer

from .conftest import WHEN, english_phrases

ENGLISH = english_phrases()
BRANDS = [
    Brand(name="plain-team", web_ticket_url="https://x.example.com/{ticket_id}", team="Fakturateamet",
          footer_lines=("Exempel AB",)),
    Brand(name="reply", web_ticket_url="https://x.example.com/{ticket_id}", team="Fakturateamet",
          reply_mode=ReplyMode.REPLY_BY_EMAIL, subject_tag="[#{ticket_number}]"),
    Brand(name="reply-no-team", web_ticket_url="https://x.example.com/{ticket_id}",
          reply_mode=ReplyMode.REPLY_BY_EMAIL, subject_tag="[#{ticket_number}]"),
]


@pytest.mark.parametrize("brand", BRANDS, ids=lambda b: b.name)
@pytest.mark.parametrize("kind", list(UpdateKind), ids=lambda k: k.value)
def test_swedish_brand_copy_has_no_english(renderer: Renderer, brand: Brand, kind: UpdateKind) -> None:
    for who in (AccountUser(user_id="u", email="a@example.se", locale="sv"),
                Guest(email="g@example.se", locale="sv")):
        news = TicketUpdate(event_id="e", ticket=Ticket("K-1", "Fakturan", number="4711"),
                            kind=kind, recipient=who, occurred_at=WHEN, merged_into="4712")
        email = renderer.render_update_email(news, ticket_url="https://x.example.com/K-1",
                                             app_url=None, guest=isinstance(who, Guest),
                                             include_excerpt=False, brand=brand)
        for text in (email.subject, email.preheader, email.text, email.html):
            left = [phrase for phrase in ENGLISH if phrase in text]
            assert not left, f"{kind.value}/{brand.name}: English in a Swedish message: {left}"
        if brand.reply_by_email and kind is not UpdateKind.CLOSED:
            assert email.text.startswith("##- Skriv ditt svar ovanför den här raden -##")
            assert "Du kan svara genom att svara på det här e-postmeddelandet" in email.text
        if brand.team:
            assert "Fakturateamet" in email.text
