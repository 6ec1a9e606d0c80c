"""examples/django_helpdesk driven through django-helpdesk's own views (the PyPI release, 2.6.1).

The public ticket form, a staff reply, a status change, an internal note and the guest
flow from the mail ticketnotify sent: the helpdesk's own requester mails stay off.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from helpdesk.models import Queue, Ticket

from ticketnotify.contrib.django.testing import capture_deliveries, memory_ticketnotify, sent_codes

pytestmark = pytest.mark.django_db

RECIPE = memory_ticketnotify(GUEST_TICKET="examples.django_helpdesk.glue.lookup",
                             TICKET_URL="helpdesk-guest-ticket")


@pytest.fixture
def queue() -> Queue:
    return Queue.objects.create(title="Support", slug="support", allow_public_submission=True,
                                email_address="help@example.se")


@pytest.fixture
def staff() -> Client:
    agent = get_user_model().objects.create_user("agent", "agent@example.se", "pw", is_staff=True)
    client = Client()
    client.force_login(agent)
    return client


def file_ticket(queue: Queue) -> Ticket:
    answer = Client().post("/helpdesk/", {  # the helpdesk's public form, as a guest fills it in
        "queue": queue.id, "title": "Printer jams", "body": "Every second page jams.",
        "priority": 3, "submitter_email": "sam@example.com"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    return Ticket.objects.get()


def staff_update(staff: Client, ticket: Ticket, **fields: object) -> None:
    form = {"queue": ticket.queue.id, "title": ticket.title, "body": ticket.description,
            "priority": ticket.priority, "new_status": ticket.status, **fields}
    answer = staff.post(f"/helpdesk/tickets/{ticket.id}/update/", form)
    assert answer.status_code == 302, answer.content.decode()[:2000]


@RECIPE
def test_the_helpdesk_mails_through_ticketnotify_only(queue: Queue, staff: Client) -> None:
    with capture_deliveries() as received:
        ticket = file_ticket(queue)
    [first] = received.assert_emails(["sam@example.com"], subject_contains="support-1")
    assert "/guest/tickets/1?token=" in first.text  # the signed guest link, keyed by id
    assert [m for m in mail.outbox if "sam@example.com" in m.to] == []  # helpdesk's own: off

    with capture_deliveries() as reply:
        staff_update(staff, ticket, comment="Try the blue tray.", public="1")
    [answer] = reply.assert_emails(["sam@example.com"])
    assert answer.subject == first.subject  # one conversation in the guest's mail client

    with capture_deliveries() as note:
        staff_update(staff, ticket, comment="Internal: toner is out.")  # not public
    note.assert_nothing()

    with capture_deliveries() as resolved:
        staff_update(staff, ticket, comment="Fixed by the new tray.", public="1",
                     new_status=Ticket.RESOLVED_STATUS)
    [done] = resolved.assert_emails(["sam@example.com"])
    assert done.text != answer.text
    assert [m for m in mail.outbox if "sam@example.com" in m.to] == []


@RECIPE
def test_the_guest_opens_the_helpdesk_ticket_from_the_mail(queue: Queue, staff: Client) -> None:
    with capture_deliveries() as received:
        ticket = file_ticket(queue)
    staff_update(staff, ticket, comment="Try the blue tray.", public="1")
    link = re.search(r"http://testserver(/guest/tickets/\S+)", received.emails[0].text)
    assert link
    guest = Client()
    page = guest.get(link.group(1))
    assert page.status_code == 200 and "support-1" in page.content.decode()
    token = link.group(1).rpartition("token=")[2]
    guest.post(f"/guest/tickets/{ticket.id}/code", {"token": token})
    code = re.search(r"\b(\d{6})\b", sent_codes()[-1].text)
    assert code
    landed = guest.post(f"/guest/tickets/{ticket.id}/verify", {"token": token, "code": code.group(1)})
    assert landed.status_code == 303 and landed["Location"] == f"/support/tickets/{ticket.id}"
    conversation = guest.get(landed["Location"]).content.decode()
    assert "Try the blue tray." in conversation and "Internal" not in conversation
    assert Client().get(landed["Location"]).status_code == 403
