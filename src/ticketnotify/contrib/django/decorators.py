"""``guest_grant_required``: the host's own ticket view opens only for a guest verified for that ticket."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from django.http import HttpRequest, HttpResponse

from ...guest.errors import GrantError
from .settings import get_codes
from .views import lookup, page, page_text, session_key

View = TypeVar("View", bound=Callable[..., HttpResponse])


@overload
def guest_grant_required(view: View) -> View: ...
@overload
def guest_grant_required(*, ticket_param: str = "ticket_id") -> Callable[[View], View]: ...


def guest_grant_required(view: View | None = None, *,
                         ticket_param: str = "ticket_id") -> View | Callable[[View], View]:
    """Let the view run only with a valid grant in the session for the URL's ticket.

    The ticket id is the view's ``ticket_param`` URL keyword argument. The view finds the
    grant in ``request.guest_grant`` (an ``AccessGrant``); when less than half of the
    grant's time is left the session gets a renewed one, never past its ``max_lifetime``.
    Without a valid grant the answer is the localized 403 page "open the link in the
    latest email about it" (template ``ticketnotify/guest/message.html``).

    Args:
        view: the view (use as ``@guest_grant_required`` or ``@guest_grant_required(...)``).
        ticket_param: the URL keyword argument that holds the ticket id.

    Returns:
        The wrapped view.
    """
    def decorate(inner: View) -> View:
        @functools.wraps(inner)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            ticket_id = str(kwargs.get(ticket_param, ""))
            session = getattr(request, "session", {})
            codes = get_codes()
            try:
                grant = codes.check_grant(session.get(session_key(ticket_id), ""), ticket_id)
            except GrantError:
                return grant_required_page(request, ticket_id)
            request.guest_grant = grant  # type: ignore[attr-defined]
            if grant.expires_at - codes.clock() < codes.grants.ttl / 2:
                with contextlib.suppress(GrantError):
                    session[session_key(ticket_id)] = codes.renew(grant.value, ticket_id).value
            return inner(request, *args, **kwargs)
        return cast(View, checked)
    return decorate(view) if view is not None else decorate


def grant_required_page(request: HttpRequest, ticket_id: str) -> HttpResponse:
    """The localized 403: "to see this ticket, open the link in the latest email about it"."""
    try:
        ticket = lookup(ticket_id) if ticket_id else None
    except Exception:  # a broken lookup must not turn a 403 into a 500
        ticket = None
    text = page_text(ticket, request)
    return page(request, "message", text, status=403, title=text.verify_title(),
                problem=text.grant_required(),
                heading=text.ticket_heading(ticket.number) if ticket else None,
                token=None, send_url=None)
