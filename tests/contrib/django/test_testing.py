"""The host-facing test helpers, used the way a host's own TestCase would."""

from __future__ import annotations

import pytest
from django.test import Client

from ticketnotify.contrib.django.settings import get_guest_links
from ticketnotify.contrib.django.testing import capture_deliveries, memory_ticketnotify, sent_codes

from .hostapp.models import Ticket

pytestmark = pytest.mark.django_db  # a plain TestCase-style transaction: memory stores need no file


@memory_ticketnotify()
def test_this_reply_produced_these_deliveries() -> None:
    Ticket.objects.create(key="T-1", number="4711", subject="Printer", guest_email="sam@example.com")
    with capture_deliveries() as sent:
        assert Client().post("/tickets/T-1/reply").status_code == 200
    [mail] = sent.assert_emails(["sam@example.com"], subject_contains="4711")
    assert "http://testserver/guest/tickets/T-1?token=" in mail.text
    with capture_deliveries() as nothing:
        pass
    nothing.assert_nothing()
    with pytest.raises(AssertionError, match="expected"):
        sent.assert_emails(["someone@else.example"])


@memory_ticketnotify()
def test_code_emails_are_kept_in_memory_too() -> None:
    Ticket.objects.create(key="T-1", number="4711", subject="Printer", guest_email="sam@example.com")
    client = Client()
    token = get_guest_links().issue("T-1", "sam@example.com")
    assert client.post("/guest/tickets/T-1/code", {"token": token}).status_code == 200
    [code_mail] = sent_codes()
    assert code_mail.to_address == "sam@example.com"
