"""Golden .eml files of fixed updates, rendered by the notification-only defaults.

The files were written from main *before* brands and reply modes existed (commit message
says so); ``tests/test_golden.py`` renders the same updates now and compares byte for byte,
so the default mode cannot drift unnoticed. ``write()`` regenerates them: only ever on
purpose, when the default copy is meant to change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ticketnotify.channels.smtp import SMTPChannel, SMTPConfig
from ticketnotify.events import AccountUser, Device, Guest, Ticket, TicketUpdate
from ticketnotify.guest.links import GuestLinks
from ticketnotify.messages import EmailMessage
from ticketnotify.notifier import Links, Notifier
from ticketnotify.outbox import MemoryOutbox

HERE = Path(__file__).parent
NOW = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)
KEY = b"golden-key-" + b"k" * 32
LINKS = Links(web_ticket_url="https://help.example.com/tickets/{ticket_id}",
              app_ticket_url="examplehelp://tickets/{ticket_id}")
GUEST_URL = "https://help.example.com/guest/{ticket_id}?token={token}"
CONFIG = SMTPConfig(host="127.0.0.1", port=2525, security="none",
                    sender="support@example.com", sender_name="Example Support")

CASES: dict[str, TicketUpdate] = {
    "account_agent_reply_en": TicketUpdate(
        event_id="g-1", ticket=Ticket(id="12345", subject="Withdrawal stuck"),
        kind="agent_reply",
        recipient=AccountUser(user_id="u-1", email="anna@example.com", name="Anna",
                              devices=(Device("ios", "a" * 64),)),
        occurred_at=NOW, excerpt="We have looked at your withdrawal.", new_replies=2),
    "guest_info_requested_sv": TicketUpdate(
        event_id="g-2", ticket=Ticket(id="777", subject="Konto låst"),
        kind="info_requested",
        recipient=Guest(email="gast@example.se", locale="sv", time_zone="Europe/Stockholm"),
        occurred_at=NOW, excerpt="Skicka en skärmdump."),
    "guest_closed_en": TicketUpdate(
        event_id="g-3", ticket=Ticket(id="778", subject="Password"), kind="closed",
        recipient=Guest(email="guest@example.com"), occurred_at=NOW),
    "account_received_sv": TicketUpdate(
        event_id="g-4", ticket=Ticket(id="779", subject="Insättning"), kind="received",
        recipient=AccountUser(user_id="u-2", email="bo@example.se", locale="sv",
                              time_zone="Europe/Stockholm"),
        occurred_at=NOW, excerpt="Min insättning syns inte."),
}


def render(update: TicketUpdate, notifier: Notifier | None = None) -> bytes:
    """The .eml bytes of the update's email delivery, with a fixed clock throughout."""
    outbox = MemoryOutbox()
    notifier = notifier or Notifier(outbox, links=LINKS, guest_links=GuestLinks([KEY], GUEST_URL),
                                    clock=lambda: NOW)
    notifier.outbox = outbox
    notifier.publish(update)
    (job,) = [j for j in outbox.claim(NOW, 10, 60.0, "golden") if j.channel == "email"]
    message = notifier.delivery_renderer.message(job)
    assert isinstance(message, EmailMessage)
    return SMTPChannel(CONFIG, clock=lambda: NOW).render(message)


def write() -> None:
    """Regenerate every golden file (only when the default copy is meant to change)."""
    for name, update in CASES.items():
        (HERE / f"{name}.eml").write_bytes(render(update))


if __name__ == "__main__":
    write()
