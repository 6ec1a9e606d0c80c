"""CC'd guest addresses: a mail each, a link each, bound to the address it was issued for."""

from __future__ import annotations

import pytest

from ticketnotify.errors import InvalidInputError
from ticketnotify.events import Guest, Ticket, TicketUpdate
from ticketnotify.guest.errors import AddressMismatchError
from ticketnotify.guest.links import GuestLinks
from ticketnotify.messages import EmailMessage
from ticketnotify.notifier import Links, Notifier
from ticketnotify.outbox import MemoryOutbox

from ..conftest import T0

KEY = b"cc-key-" + b"k" * 32
URL = "https://help.example.com/guest/{ticket_id}?token={token}"


def _mails(guest: Guest) -> list[EmailMessage]:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, links=Links(web_ticket_url="https://h.example.com/{ticket_id}"),
                        guest_links=GuestLinks([KEY], URL), clock=lambda: T0)
    notifier.publish(TicketUpdate(event_id="e-1", ticket=Ticket("T-1", "s", number="42"),
                                  kind="agent_reply", recipient=guest, occurred_at=T0))
    mails = [notifier.delivery_renderer.message(j) for j in outbox.claim(T0, 10, 60.0, "t")]
    assert all(isinstance(m, EmailMessage) for m in mails)
    return mails  # type: ignore[return-value]


def _token(mail: EmailMessage) -> str:
    url = next(w for w in mail.text.split() if w.startswith("https://help.example.com/guest/"))
    return url.split("token=")[1]


def test_each_cc_gets_its_own_mail_and_link_bound_to_it() -> None:
    guest = Guest(email="sam@example.com", name="Sam",
                  cc=("kim@example.com", "KIM@example.com", "sam@example.com", "lo@example.org"))
    mails = _mails(guest)
    assert [m.to_address for m in mails] == ["sam@example.com", "kim@example.com", "lo@example.org"]
    assert [m.to_name for m in mails] == ["Sam", "", ""]  # the requester's name is theirs alone
    links = GuestLinks([KEY], URL)
    ticket_addresses = ["sam@example.com", "kim@example.com", "lo@example.org"]
    for mail in mails:
        opened = links.open(_token(mail), now=T0, ticket_id="T-1", email=mail.to_address)
        assert links.issued_for(opened, ticket_addresses) == mail.to_address
        for other in set(ticket_addresses) - {mail.to_address}:
            with pytest.raises(AddressMismatchError):
                links.open(_token(mail), now=T0, email=other)
    with pytest.raises(AddressMismatchError):
        links.issued_for(links.open(_token(mails[1]), now=T0), ["sam@example.com", "x"])


def test_a_bad_cc_address_is_named() -> None:
    with pytest.raises(InvalidInputError) as caught:
        Guest(email="sam@example.com", cc=("kim@example.com", "root@localhost"))
    assert caught.value.field == "recipient.cc[1]"
    assert "dotted-domain rule" in str(caught.value)
    with pytest.raises(InvalidInputError, match="not one string"):
        Guest(email="sam@example.com", cc="kim@example.com")  # type: ignore[arg-type]
