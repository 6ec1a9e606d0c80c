"""What the guest pages need to know about a ticket; shared by ``contrib.asgi`` and ``contrib.django``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GuestTicket:
    """What the pages need to know about a guest's ticket; the host's lookup returns it.

    Attributes:
        number: the ticket number people see (printed on the pages).
        email: the guest's address on the ticket (codes go there, never to a typed one).
        locale: the guest's locale for the pages and the code email, e.g. ``"sv_SE"``.
        time_zone: IANA name for times on the pages and in the code email.
    """

    number: str
    email: str
    locale: str = "en"
    time_zone: str = "UTC"
