"""The guest pages as Django views: open the link → "Email me a code" → type it → the ticket.

    GET  tickets/<ticket_id>?token=…   the ticket number and a button; sends and stores nothing
    POST tickets/<ticket_id>/code      sends a code (Django's CSRF), shows the code form
    POST tickets/<ticket_id>/verify    checks it; the grant goes in the session; 303 to the ticket

The copy comes from the same catalogs as the emails (``contrib/pages``), in the ticket's
locale; the templates are ``ticketnotify/guest/*.html``, overridable the Django way.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_POST

from ...errors import TicketNotifyError
from ...guest.errors import LinkError
from ...guest.links import OpenedLink
from ..pages import GuestPageRenderer, GuestTicket, PageText, negotiate_accept_language
from ..pages.headers import PAGE_HEADERS
from ..pages.outcomes import PageProblem, link_problem, send_problem, verify_problem
from .settings import SettingError, config, default_locale, default_time_zone, get_codes, loaded

_OpenedView = Callable[[HttpRequest, OpenedLink, GuestTicket, str], HttpResponse]
HEADERS = dict(PAGE_HEADERS)  # the guest pages' headers (contrib.pages.headers)
_renderers: dict[str, GuestPageRenderer] = {}


def session_key(ticket_id: str) -> str:
    """The session key holding the grant for one ticket (a guest with two tickets holds two)."""
    return "ticketnotify.grant." + hashlib.sha256(ticket_id.encode("utf-8", "replace")).hexdigest()[:20]


def guest_ticket(number: str, email: str, locale: str | None = None,
                 time_zone: str | None = None) -> GuestTicket:
    """A ``GuestTicket`` whose missing locale and zone are ``LANGUAGE_CODE`` and ``TIME_ZONE``."""
    return GuestTicket(number=number, email=email, locale=locale or default_locale(),
                       time_zone=time_zone or default_time_zone())


def page_text(ticket: GuestTicket | None, request: HttpRequest | None = None) -> PageText:
    """The copy in the ticket's locale; before a ticket is known, ``Accept-Language``."""
    fallback = default_locale()
    renderer = _renderers.get(fallback)
    if renderer is None:
        try:
            renderer = GuestPageRenderer(default_locale=fallback.split("_")[0])
        except TicketNotifyError:  # LANGUAGE_CODE has no catalog: the shipped English copy
            renderer = GuestPageRenderer()
        _renderers[fallback] = renderer
    if ticket is not None:
        return renderer.text(ticket.locale, ticket.time_zone)
    header = request.headers.get("Accept-Language") if request is not None else None
    return renderer.text(negotiate_accept_language(header) or fallback)


def lookup(ticket_id: str) -> GuestTicket | None:
    """``TICKETNOTIFY["GUEST_TICKET"]``: the host's ``ticket_id -> GuestTicket | None``."""
    found = loaded("GUEST_TICKET")
    if not callable(found):
        raise SettingError("GUEST_TICKET", "set a function ticket_id -> GuestTicket | None "
                                           "(e.g. 'myapp.guest.guest_ticket')")
    ticket = found(ticket_id)
    if ticket is not None and not isinstance(ticket, GuestTicket):
        raise SettingError("GUEST_TICKET", f"must return GuestTicket or None, not "
                                           f"{type(ticket).__name__}")
    return ticket


def ticket_url(ticket_id: str) -> str:
    """Where a verified guest lands: ``TICKET_URL`` as a URL name (kwarg ``ticket_id``) or a pattern."""
    target = str(config().get("TICKET_URL") or "")
    if "{ticket_id}" in target:
        return target.replace("{ticket_id}", quote(ticket_id, safe=""))
    try:
        return reverse(target, kwargs={"ticket_id": ticket_id})
    except NoReverseMatch as exc:
        raise SettingError("TICKET_URL", f"{target!r} is neither a URL name taking ticket_id nor "
                                         "a pattern with {ticket_id}") from exc


def page(request: HttpRequest, name: str, text: PageText, *, status: int = 200,
         **values: object) -> HttpResponse:
    """Render ``ticketnotify/guest/<name>.html`` with the security headers of every guest page."""
    response = render(request, f"ticketnotify/guest/{name}.html", {"t": text, **values},
                      status=status)
    for header, value in HEADERS.items():
        response[header] = value
    return response


def _urls(ticket_id: str) -> dict[str, Any]:
    return {"send_url": reverse("ticketnotify:guest-code", kwargs={"ticket_id": ticket_id}),
            "verify_url": reverse("ticketnotify:guest-verify", kwargs={"ticket_id": ticket_id})}


def problem(request: HttpRequest, ticket: GuestTicket | None, what: str, status: int, *args: Any,
            token: str | None = None, link: OpenedLink | None = None) -> HttpResponse:
    """A page saying what went wrong; with ``link``, a button that sends a new code."""
    text = page_text(ticket, request)
    title = text.link_invalid_title() if what.startswith("link") else text.error_title()
    return page(request, "message", text, status=status, title=title,
                problem=getattr(text, what)(*args),
                heading=text.ticket_heading(ticket.number) if ticket else None, token=token,
                send_url=_urls(link.ticket_id)["send_url"] if link is not None else None)


def _open(request: HttpRequest, route_id: str, token: str) -> tuple[OpenedLink, GuestTicket] | HttpResponse:
    """Check the token against the route and the ticket's address; a page if it fails."""
    links = get_codes().links
    now = get_codes().clock()
    try:
        link = links.open(token, now=now, ticket_id=route_id)
    except LinkError as exc:
        return _outcome(request, None, link_problem(exc))
    ticket = lookup(link.ticket_id)  # the id the token vouches for
    if ticket is None:
        return problem(request, None, "link_invalid", 404)
    try:
        link = links.open(token, now=now, ticket_id=route_id, email=ticket.email)
    except LinkError as exc:
        return _outcome(request, ticket, link_problem(exc))
    return link, ticket


def _outcome(request: HttpRequest, ticket: GuestTicket | None, outcome: PageProblem, *,
             token: str | None = None, link: OpenedLink | None = None) -> HttpResponse:
    """The message page for ``outcome``; its "new code" button only where it offers one."""
    if not outcome.offer_new_code:
        token, link = None, None
    return problem(request, ticket, outcome.what, outcome.status, *outcome.args,
                   token=token, link=link)


def _code_form(request: HttpRequest, ticket: GuestTicket, link: OpenedLink, token: str, *,
               status: int = 200, notice: str | None = None, err: str | None = None) -> HttpResponse:
    text = page_text(ticket)
    return page(request, "code", text, status=status, heading=text.ticket_heading(ticket.number),
                token=token, notice=notice, problem=err, **_urls(link.ticket_id))


def _opened_view(view: _OpenedView) -> Callable[[HttpRequest, str], HttpResponse]:
    """A guest view called with the link and ticket its token (GET or POST ``token``) opens.

    The returned view takes ``(request, ticket_id)`` from the URLconf; a token that does
    not open answers with the problem page and never reaches ``view``.
    """
    @functools.wraps(view)
    def opened_view(request: HttpRequest, ticket_id: str) -> HttpResponse:
        token = (request.GET if request.method == "GET" else request.POST).get("token", "")
        opened = _open(request, ticket_id, token)
        if isinstance(opened, HttpResponse):
            return opened
        link, ticket = opened
        return view(request, link, ticket, token)
    return opened_view


@require_GET
@_opened_view
def link_page(request: HttpRequest, link: OpenedLink, ticket: GuestTicket, token: str) -> HttpResponse:
    """GET: the ticket number and the "Email me a code" button; sends and stores nothing."""
    text = page_text(ticket)
    return page(request, "link", text, heading=text.ticket_heading(ticket.number), token=token,
                **_urls(link.ticket_id))


@csrf_protect
@require_POST
@_opened_view
def send_code(request: HttpRequest, link: OpenedLink, ticket: GuestTicket, token: str) -> HttpResponse:
    """POST: email a code to the address on the ticket (never a typed one), then the code form."""
    try:
        sent = get_codes().send_code(token, email=ticket.email, locale=ticket.locale,
                                     ticket_number=ticket.number,
                                     time_zone=ticket.time_zone)
    except TicketNotifyError as exc:
        return _outcome(request, ticket, send_problem(exc))
    return _code_form(request, ticket, link, token, notice=page_text(ticket).code_sent(sent.minutes))


@csrf_protect
@require_POST
@_opened_view
def verify_code(request: HttpRequest, link: OpenedLink, ticket: GuestTicket, token: str) -> HttpResponse:
    """POST: check the typed code; on success the grant goes in the session, 303 to the ticket."""
    text = page_text(ticket)
    try:
        grant = get_codes().verify_code(token, request.POST.get("code", ""), email=ticket.email)
    except TicketNotifyError as exc:
        outcome = verify_problem(exc)
        if outcome.on_code_form:
            return _code_form(request, ticket, link, token, status=outcome.status,
                              err=outcome.message(text))
        return _outcome(request, ticket, outcome, token=token, link=link)
    if not hasattr(request, "session"):
        raise ImproperlyConfigured("the guest pages keep the grant in Django's session: add "
                                   "django.contrib.sessions.middleware.SessionMiddleware")
    request.session.cycle_key()  # a new session id once the guest proved the address
    request.session[session_key(grant.ticket_id)] = grant.value
    response = HttpResponseRedirect(ticket_url(grant.ticket_id), status=303)
    for header, value in HEADERS.items():
        response[header] = value
    return response
