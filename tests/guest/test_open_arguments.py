"""GuestLinks.open: an explicit non-str email is a mismatch, an int route id is its str."""

from __future__ import annotations

import pytest

from ticketnotify.guest.errors import AddressMismatchError
from ticketnotify.guest.links import GuestLinks

KEY = "k" * 32
URL = "https://help.example.com/guest/tickets/{ticket_id}?token={token}"


@pytest.mark.parametrize("email", [None, 42, b"sam@example.com"])
def test_non_str_email_is_an_address_mismatch(email: object) -> None:
    links = GuestLinks([KEY], URL)
    token = links.issue("12345", "sam@example.com")
    with pytest.raises(AddressMismatchError):
        links.open(token, ticket_id="12345", email=email)  # type: ignore[arg-type]


def test_int_ticket_id_from_a_route_is_compared_as_str() -> None:
    links = GuestLinks([KEY], URL)
    token = links.issue("12345", "sam@example.com")
    opened = links.open(token, ticket_id=12345, email="sam@example.com")
    assert opened.ticket_id == "12345"
