"""Ticket key vs number: moving a ticket to another queue keeps one thread and old links.

Written before the key/number split: on the old model the number *was* the key, so the
moved ticket (``billing-1``) got a new thread root, a new push group and a guest link that
no longer matched the host's route.
"""

from __future__ import annotations

import base64
from datetime import timedelta

from ticketnotify.channels.mime.builder import POLICY
from ticketnotify.events import AccountUser, Device, Guest, Ticket, TicketUpdate
from ticketnotify.guest.links import GuestLinks
from ticketnotify.messages import EmailMessage, PushMessage
from ticketnotify.notifier import Links, Notifier
from ticketnotify.outbox import MemoryOutbox

from .conftest import T0
from .golden import CONFIG

KEY = b"identity-key-" + b"k" * 32
LINKS = Links(web_ticket_url="https://help.example.com/t/{ticket_id}?n={ticket_number}",
              app_ticket_url="examplehelp://t/{ticket_id}")
GUEST_URL = "https://help.example.com/guest/{ticket_id}?token={token}"
ANNA = AccountUser(user_id="u-1", email="anna@example.com", devices=(Device("ios", "a" * 64),))
SAM = Guest(email="sam@example.com")


def _publish(ticket: Ticket, event: str, recipient: AccountUser | Guest,
             links: GuestLinks) -> list[EmailMessage | PushMessage]:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, links=LINKS, guest_links=links, clock=lambda: T0)
    notifier.publish(TicketUpdate(event_id=event, ticket=ticket, kind="agent_reply",
                                  recipient=recipient, occurred_at=T0))
    return [notifier.delivery_renderer.message(j) for j in outbox.claim(T0, 10, 60.0, "t")]


def _headers(message: EmailMessage) -> dict[str, str]:
    import email

    from ticketnotify.channels.smtp import SMTPChannel

    raw = SMTPChannel(CONFIG, clock=lambda: T0).render(message)
    parsed = email.message_from_bytes(raw, policy=POLICY)
    return {name: str(parsed[name]) for name in ("Subject", "References", "In-Reply-To",
                                                 "Thread-Index", "Thread-Topic")}


def test_a_ticket_moved_to_another_queue_stays_one_conversation() -> None:
    links = GuestLinks([KEY], GUEST_URL)
    before = Ticket(id="T-8812", number="support-1", subject="Card declined")
    after = Ticket(id="T-8812", number="billing-1", subject="Card declined")
    push1, mail1 = _publish(before, "e-1", ANNA, links)
    push2, mail2 = _publish(after, "e-2", ANNA, links)
    assert isinstance(mail1, EmailMessage) and isinstance(mail2, EmailMessage)
    assert isinstance(push1, PushMessage) and isinstance(push2, PushMessage)
    h1, h2 = _headers(mail1), _headers(mail2)
    assert h1["References"] == h2["References"] == "<ticket.T-8812@example.com>"
    assert h1["In-Reply-To"] == h2["In-Reply-To"]
    index1, index2 = (base64.b64decode(h["Thread-Index"]) for h in (h1, h2))
    assert index1[:22] == index2[:22]  # Outlook's conversation header
    assert push1.thread_id == push2.thread_id == push1.collapse_id == "ticket-T-8812"
    # What people see is the number: subject, body and push title.
    assert "support-1" in h1["Subject"] and "billing-1" in h2["Subject"]
    assert "billing-1" in mail2.text and "T-8812" not in mail2.subject
    assert "billing-1" in push2.title
    # Links may use both: the key for the route, the number for show.
    assert "https://help.example.com/t/T-8812?n=billing-1" in mail2.text


def test_old_guest_links_still_open_after_the_move() -> None:
    links = GuestLinks([KEY], GUEST_URL)
    before = Ticket(id="T-8812", number="support-1", subject="Card declined")
    after = Ticket(id="T-8812", number="billing-1", subject="Card declined")
    (old_mail,) = _publish(before, "e-1", SAM, links)
    (new_mail,) = _publish(after, "e-2", SAM, links)
    assert isinstance(old_mail, EmailMessage) and isinstance(new_mail, EmailMessage)
    for mail in (old_mail, new_mail):
        url = next(w for w in mail.text.split() if w.startswith("https://help.example.com/guest/"))
        assert url.startswith("https://help.example.com/guest/T-8812?token=")
        opened = links.open(url.split("token=")[1], now=T0 + timedelta(days=1),
                            ticket_id=after.id, email=SAM.email)
        assert opened.ticket_id == "T-8812"
    # In guest mail the ticket number is itself the link (the help article's wording).
    assert '><bdi dir="auto">billing-1</bdi></a>' in new_mail.html


def test_number_defaults_to_the_key() -> None:
    ticket = Ticket(id="12345", subject="x")
    assert ticket.number == "12345"


def test_merged_into_a_ticket_links_its_key_and_shows_its_number() -> None:
    links = GuestLinks([KEY], GUEST_URL)
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, links=LINKS, guest_links=links, clock=lambda: T0)
    survivor = Ticket(id="T-9000", number="billing-7", subject="Card declined")
    old = Ticket(id="T-8812", number="support-1", subject="Card declined")
    for event, who in (("e-1", SAM), ("e-2", ANNA)):
        notifier.publish(TicketUpdate(event_id=event, ticket=old, kind="merged", recipient=who,
                                      occurred_at=T0, merged_into=survivor))
    messages = [notifier.delivery_renderer.message(j) for j in outbox.claim(T0, 10, 60.0, "t")]
    guest_mail, push, account_mail = messages
    assert isinstance(guest_mail, EmailMessage) and isinstance(account_mail, EmailMessage)
    assert isinstance(push, PushMessage)
    # The old ticket's thread ends here: its key roots the thread, its number the subject.
    assert guest_mail.ticket_id == "T-8812" and "support-1" in guest_mail.subject
    assert push.thread_id == "ticket-T-8812" and push.deep_link == "examplehelp://t/T-9000"
    shown = " ".join(w for w in guest_mail.text.split() if "://" not in w)
    assert "billing-7" in shown and "T-9000" not in shown  # the key is for links, not for show
    assert "https://help.example.com/t/T-9000?n=billing-7" in account_mail.text
    url = next(w for w in guest_mail.text.split() if w.startswith("https://help.example.com/guest/"))
    assert links.open(url.split("token=")[1], now=T0, ticket_id="T-9000", email=SAM.email)
