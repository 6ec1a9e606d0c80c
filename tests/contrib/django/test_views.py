"""The guest pages through Django's test Client, with CSRF enforced and the code mailed by EMAIL_BACKEND."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from ticketnotify.contrib.django.settings import get_codes, get_guest_links
from ticketnotify.guest import NoCodeError

from .hostapp.models import Ticket

# transaction=True: the code store writes the SQLite file through a connection of its own,
# which a TestCase transaction holding the write lock would block (docs/django.md, "Tests").
pytestmark = pytest.mark.django_db(transaction=True)


def link_for(key: str, email: str) -> str:
    return get_guest_links().url_for(key, email).removeprefix("http://testserver")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def code_in(message: mail.EmailMessage) -> str:
    found = re.search(r"\b(\d{6})\b", message.body)
    assert found, message.body
    return found.group(1)


@pytest.fixture
def tickets() -> list[Ticket]:
    return [Ticket.objects.create(key="T-1", number="4711", subject="Printer", guest_email="sam@example.com"),
            Ticket.objects.create(key="T-2", number="4712", subject="Other", guest_email="sam@example.com"),
            Ticket.objects.create(key="S-1", number="5000", subject="Skrivare",
                                  guest_email="anna@example.se", guest_locale="sv_SE")]


def test_the_whole_guest_flow(tickets: list[Ticket]) -> None:
    client = Client(enforce_csrf_checks=True)
    link = link_for("T-1", "sam@example.com")
    for _ in range(3):  # a link scanner's GETs: nothing sent, nothing stored
        page = client.get(link)
        assert page.status_code == 200
    html = page.content.decode()
    assert "Support ticket 4711" in html and "Email me a code" in html
    assert page["Cache-Control"] == "no-store" and page["Referrer-Policy"] == "same-origin"
    assert mail.outbox == []
    token = link.rpartition("token=")[2]
    with pytest.raises(NoCodeError):
        get_codes().verify_code(token, "000000", email="sam@example.com")

    assert client.post("/guest/tickets/T-1/code", {"token": token}).status_code == 403  # no CSRF
    assert mail.outbox == []
    csrf = csrf_of(html)
    sent = client.post("/guest/tickets/T-1/code", {"token": token, "csrfmiddlewaretoken": csrf})
    assert sent.status_code == 200
    assert "We emailed you a code. It works for 10 minutes." in sent.content.decode()
    [code_mail] = mail.outbox
    assert code_mail.to == ["sam@example.com"]
    assert code_mail.extra_headers["Auto-Submitted"] == "auto-generated"
    code = code_in(code_mail)

    wrong = "000000" if code != "000000" else "111111"
    refused = client.post("/guest/tickets/T-1/verify", {"token": token, "code": wrong,
                                                        "csrfmiddlewaretoken": csrf})
    assert refused.status_code == 403
    assert "Wrong code. You have 4 tries left." in refused.content.decode()
    assert client.get("/tickets/T-1").status_code == 403

    done = client.post("/guest/tickets/T-1/verify", {"token": token, "code": code,
                                                     "csrfmiddlewaretoken": csrf})
    assert done.status_code == 303 and done["Location"] == "/tickets/T-1"
    ticket = client.get("/tickets/T-1")
    assert ticket.status_code == 200 and "Conversation of ticket 4711" in ticket.content.decode()

    other = client.get("/tickets/T-2")  # the grant opens one ticket only
    assert other.status_code == 403
    assert "open the link in the latest email" in other.content.decode()
    assert "Conversation" not in other.content.decode()


def test_the_grant_lives_in_the_session_of_that_browser_only(tickets: list[Ticket]) -> None:
    client = Client()
    link = link_for("T-1", "sam@example.com")
    token = link.rpartition("token=")[2]
    client.get(link)
    client.post("/guest/tickets/T-1/code", {"token": token})
    client.post("/guest/tickets/T-1/verify", {"token": token, "code": code_in(mail.outbox[-1])})
    assert client.get("/tickets/T-1").status_code == 200
    assert Client().get("/tickets/T-1").status_code == 403  # another browser: no grant


def test_broken_links_say_what_to_do(tickets: list[Ticket]) -> None:
    client = Client()
    link = link_for("T-1", "sam@example.com")
    cut = client.get(link[:-12])
    assert cut.status_code in (400, 403)
    tampered = client.get(link.replace("/T-1?", "/T-2?"))  # a token for another ticket
    assert tampered.status_code == 403 and "This link does not work" in tampered.content.decode()
    Ticket.objects.filter(key="T-1").update(guest_email="new@example.com")  # address corrected
    assert client.get(link).status_code == 403
    Ticket.objects.filter(key="T-1").delete()
    assert client.get(link).status_code == 404
    assert mail.outbox == []


def test_pages_speak_the_tickets_language(tickets: list[Ticket]) -> None:
    page = Client().get(link_for("S-1", "anna@example.se"))
    html = page.content.decode()
    assert page.status_code == 200 and 'lang="sv"' in html
    assert "Support ticket 5000" not in html and "5000" in html


def test_the_link_page_only_answers_get_and_the_forms_only_post(tickets: list[Ticket]) -> None:
    client = Client()
    assert client.post("/guest/tickets/T-1").status_code == 405
    assert client.get("/guest/tickets/T-1/code").status_code == 405
    assert mail.outbox == []


def test_a_language_code_without_a_catalog_still_gets_pages(tickets: list[Ticket]) -> None:
    from django.test.utils import override_settings

    with override_settings(LANGUAGE_CODE="de"):
        page = Client().get(link_for("T-1", "sam@example.com"), HTTP_ACCEPT_LANGUAGE="de")
    assert page.status_code == 200 and "Email me a code" in page.content.decode()
