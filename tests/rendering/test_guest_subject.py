"""Without the subject, guest emails name the ticket by number and still read naturally."""

from __future__ import annotations

import pytest

from ticketnotify.events import UpdateKind
from ticketnotify.rendering import Renderer

from .test_renderer import make_update

SUBJECT = "BUY CHEAP PILLS at spam.example"
# The intro sentence each kind shows when the subject is left out, as the reader sees it in
# HTML (\u2068…\u2069 mark where <bdi dir="auto"> isolates a value; issue 15.1: the text part
# leaves them out, as an ASCII number or word cannot run against a left-to-right message).
INTROS = {
    ("en", UpdateKind.AGENT_REPLY, 1): "Your ticket \u206812345\u2069 has a new reply from our "
    "support team.",
    ("en", UpdateKind.AGENT_REPLY, 3): "Your ticket \u206812345\u2069 has 3 new replies from our "
    "support team.",
    ("en", UpdateKind.STATUS_CHANGED, 1): "The status of your ticket \u206812345\u2069 is now "
    "“\u2068Waiting\u2069”.",
    ("en", UpdateKind.INFO_REQUESTED, 1): "Our support team needs more information from you to "
    "continue with your ticket \u206812345\u2069.",
    ("en", UpdateKind.REOPENED, 1): "Your ticket \u206812345\u2069 has been reopened",
    ("en", UpdateKind.RESOLVED, 1): "Your ticket \u206812345\u2069 has been marked as resolved.",
    ("sv", UpdateKind.AGENT_REPLY, 1): "Ditt ärende \u206812345\u2069 har fått ett nytt svar från "
    "vårt supportteam.",
    ("sv", UpdateKind.AGENT_REPLY, 3): "Ditt ärende \u206812345\u2069 har fått 3 nya svar från "
    "vårt supportteam.",
    ("sv", UpdateKind.STATUS_CHANGED, 1): "Statusen för ditt ärende \u206812345\u2069 är nu "
    "”\u2068Waiting\u2069”.",
    ("sv", UpdateKind.INFO_REQUESTED, 1): "Vårt supportteam behöver mer information från dig för "
    "att kunna fortsätta med ditt ärende \u206812345\u2069.",
    ("sv", UpdateKind.REOPENED, 1): "Ditt ärende \u206812345\u2069 har öppnats igen",
    ("sv", UpdateKind.RESOLVED, 1): "Ditt ärende \u206812345\u2069 har markerats som löst.",
}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize(("locale", "kind", "replies"), list(INTROS))
def test_guest_copy_without_subject_names_the_ticket_number(
    renderer: Renderer, locale: str, kind: UpdateKind, replies: int
) -> None:
    update = make_update(
        kind, True, locale, ticket_id="12345", subject=SUBJECT, excerpt="Hello there",
        name="Erik", status="Waiting", replies=replies,
    )
    email = renderer.render_update_email(
        update, ticket_url="https://x.example/t", app_url=None, guest=True,
        include_excerpt=False, include_subject=False,
    )
    text_intro = INTROS[(locale, kind, replies)].replace("\u2068", "").replace("\u2069", "")
    assert text_intro in email.text
    assert "\u2068" not in email.text and "\u2069" not in email.text
    html_intro = INTROS[(locale, kind, replies)].replace("\u2068", '<bdi dir="auto">')
    assert html_intro.replace("\u2069", "</bdi>") in email.html
    for part in (email.subject, email.preheader, email.html, email.text):
        assert "PILLS" not in part and "spam.example" not in part
        assert "“”" not in part and "””" not in part  # no empty quotes where the subject was
        assert "Subject:" not in part and "Ämne:" not in part  # no empty details row
    assert "Hello there" not in email.text  # excerpt policy is independent and still applies


def test_the_subject_stays_by_default_and_when_the_host_opts_in(renderer: Renderer) -> None:
    update = make_update(
        UpdateKind.RESOLVED, True, "sv", ticket_id="12345", subject=SUBJECT, excerpt=None,
        name="", status=None, replies=1,
    )
    email = renderer.render_update_email(
        update, ticket_url="u", app_url=None, guest=True, include_excerpt=False
    )
    assert f"Ditt ärende ”{SUBJECT}” har markerats som löst." in email.text  # Latin in sv: no isolates
    assert f"Ämne: {SUBJECT}" in email.text
    assert email.subject == "Ditt supportärende 12345 har uppdaterats"  # never in the subject
