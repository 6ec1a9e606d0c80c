"""Reply modes: notification-only (default, byte for byte as before) and reply-by-email."""

from __future__ import annotations

import email

import pytest

from ticketnotify.brands import Brand
from ticketnotify.channels.mime.builder import POLICY
from ticketnotify.channels.smtp import SMTPChannel
from ticketnotify.errors import InvalidInputError
from ticketnotify.events import Ticket, TicketUpdate
from ticketnotify.guest.links import GuestLinks
from ticketnotify.messages import EmailMessage
from ticketnotify.notifier import Notifier
from ticketnotify.outbox import MemoryOutbox

from . import golden

REPLY = Brand(
    name="desk", web_ticket_url=golden.LINKS.web_ticket_url,
    app_ticket_url=golden.LINKS.app_ticket_url, reply_mode="reply-by-email",
    reply_to="support+{ticket_id}@example.com", subject_tag="[#{ticket_number}]")
FOOTER = {
    "en": ("You can answer by replying to this email", "replies to it are not read"),
    "sv": ("Du kan svara genom att svara på det här e-postmeddelandet", "svar på det läses inte"),
}


def _mail(update: TicketUpdate, brand: Brand = REPLY) -> tuple[EmailMessage, email.message.Message]:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, brands=[brand], clock=lambda: golden.NOW,
                        guest_links=GuestLinks([golden.KEY], golden.GUEST_URL))
    notifier.publish(update)
    (job,) = [j for j in outbox.claim(golden.NOW, 10, 60.0, "t") if j.channel == "email"]
    message = notifier.delivery_renderer.message(job)
    assert isinstance(message, EmailMessage)
    raw = SMTPChannel(golden.CONFIG, clock=lambda: golden.NOW).render(message)
    return message, email.message_from_bytes(raw, policy=POLICY)


@pytest.mark.parametrize("name", ["account_agent_reply_en", "guest_info_requested_sv"])
def test_reply_by_email_adds_reply_to_tag_and_changes_the_footer(name: str) -> None:
    update = golden.CASES[name]
    message, mime = _mail(update)
    number = update.ticket.number
    assert mime["Reply-To"] == f"support+{update.ticket.id}@example.com"
    assert str(mime["Subject"]).startswith(f"[#{number}] ")
    assert mime["Auto-Submitted"] == "auto-generated"
    assert mime["Thread-Topic"] == mime["Subject"]
    lang = update.recipient.locale
    says, said_before = FOOTER[lang]
    assert says in message.text and says in message.html
    assert said_before not in message.text
    # The default mode of the same update says what it always said (test_golden: bytes).
    plain, plain_mime = _mail(update, Brand.from_links(golden.LINKS))
    assert said_before in plain.text and says not in plain.text
    assert plain_mime["Reply-To"] is None and not str(plain_mime["Subject"]).startswith("[#")


def test_the_subject_stays_constant_for_every_kind_of_one_ticket() -> None:
    base = golden.CASES["account_agent_reply_en"]
    subjects = set()
    for kind in ("received", "agent_reply", "info_requested", "resolved", "closed"):
        update = TicketUpdate(event_id=f"e-{kind}", ticket=base.ticket, kind=kind,
                              recipient=base.recipient, occurred_at=golden.NOW)
        subjects.add(_mail(update)[1]["Subject"])
    assert len(subjects) == 1


def test_closed_says_a_reply_is_not_added_and_has_no_reply_line() -> None:
    update = golden.CASES["guest_closed_en"]
    message, _ = _mail(update)
    assert "This ticket is closed, so a reply to this email is not added to it." in message.text
    assert "##-" not in message.text and "You can answer by replying" not in message.text
    assert _mail(golden.CASES["account_agent_reply_en"])[0].text.startswith("##- Please type")


def test_a_reply_to_pattern_that_fills_to_no_address_refuses_the_publish() -> None:
    brand = Brand(name="desk", web_ticket_url="https://x.example.com/{ticket_id}",
                  reply_mode="reply-by-email", reply_to="support+{ticket_id}@example.com")
    base = golden.CASES["account_agent_reply_en"]
    update = TicketUpdate(event_id="e", ticket=Ticket(id="a b", subject="s"), kind="agent_reply",
                          recipient=base.recipient, occurred_at=golden.NOW)
    with pytest.raises(InvalidInputError) as caught:
        _mail(update, brand)
    assert caught.value.field == "brand.reply_to"
