"""A host app around the guest pages and the demo tickets; used by the ASGI and browser tests."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

from ticketnotify.dev.guest_site import DemoTicket, GuestSite
from ticketnotify.events import Guest
from ticketnotify.loopback.smtp import ReceivedMessage


def text_of(mail: ReceivedMessage) -> str:
    body = mail.message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def link_in(mail: ReceivedMessage) -> str:
    found = re.search(r"http://\S+/guest/tickets/\S+token=[\w.\-]+", text_of(mail))
    assert found, text_of(mail)
    return found.group(0)


def code_in(mail: ReceivedMessage) -> str:
    found = re.search(r"\b(\d{6})\b", text_of(mail))
    assert found, text_of(mail)
    return found.group(1)


def host_app(site: GuestSite) -> Starlette:
    """What a host writes: its own ticket view behind the grant, the guest pages mounted."""

    @site.pages.guest_grant_required
    async def ticket_view(request: Request) -> Response:
        ticket = site.tickets[request.state.guest_grant.ticket_id]
        return HTMLResponse(f"<h1>Conversation of ticket {ticket.ticket_id}</h1>")

    app = Starlette(routes=[Route("/tickets/{ticket_id}", ticket_view),
                            Mount("/guest", routes=site.pages.routes)])
    site.pages.install(app)
    return app


def tickets(site: GuestSite) -> None:
    site.add(DemoTicket("T-1", "Deposit missing", Guest(email="sam@example.com", locale="en",
                                                         time_zone="Europe/London")))
    site.add(DemoTicket("T-2", "Other question", Guest(email="sam@example.com")))
    site.add(DemoTicket("S-1", "Insättning saknas", Guest(email="anna@example.se", locale="sv_SE",
                                                           time_zone="Europe/Stockholm")))


