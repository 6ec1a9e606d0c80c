"""The guest pages as a Starlette router (works in FastAPI), plus the grant check for the host's view.

    GET  {prefix}/tickets/{ticket_id}?token=…   the ticket number and "Email me a code"; changes nothing
    POST {prefix}/tickets/{ticket_id}/code      sends a code (asend_code), shows the code form
    POST {prefix}/tickets/{ticket_id}/verify    checks it (averify_code); grant cookie, 303 to the ticket

Nothing here blocks the event loop: codes go through ``asend_code``/``averify_code`` and a
synchronous ticket lookup runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route, Router

from ...errors import TicketNotifyError
from ...guest.codes import VerificationCodes
from ...guest.errors import GrantError, LinkError
from ...guest.links import OpenedLink
from ...guest.session import AccessGrant
from ..pages import GuestPageRenderer, GuestTicket, PageText, negotiate_accept_language
from ..pages.headers import PAGE_HEADERS
from ..pages.outcomes import PageProblem, link_problem, send_problem, verify_problem
from .csrf import CSRF_COOKIE, CSRFGuard

TicketLookup = Callable[[str], "GuestTicket | None | Awaitable[GuestTicket | None]"]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Response]])



@dataclass(frozen=True, slots=True)
class _Posted:
    """A form POST that passed the CSRF check, and the link and ticket its token opened."""

    form: FormData
    token: str
    link: OpenedLink
    ticket: GuestTicket


class GuestGrantRequired(HTTPException):
    """Raised by ``require_guest_grant``: no valid grant for this ticket (403).

    ``GuestPages.install(app)`` renders it as the localized "open the link in your email"
    page; without it Starlette/FastAPI answer a plain 403.

    Attributes:
        ticket_id: the ticket the request was about.
    """

    def __init__(self, ticket_id: str) -> None:
        super().__init__(403, "verify your email address to see this ticket")
        self.ticket_id = ticket_id


class GuestPages:
    """The guest flow's three routes and the grant check for the host's own ticket view.

    Args:
        codes: sends and verifies codes; its ``links`` open the tokens.
        lookup: ``ticket_id -> GuestTicket | None`` (sync or async; sync runs in a thread).
            ``None`` means no such guest ticket ("this link does not work").
        ticket_url: where a verified guest lands, with ``{ticket_id}``, e.g.
            ``"/tickets/{ticket_id}"``: the host's view that uses
            ``require_guest_grant``.
        secure_cookies: mark cookies ``Secure`` (default True; False only for plain-http
            development on localhost).
        trusted_origins: extra origins allowed to post the forms (see ``csrf.py``).
        renderer: the page templates and copy (default: shipped templates and catalogs).
        ticket_param: the path parameter holding the ticket id in the host's view.

    Raises:
        ConfigurationError: ``ticket_url`` has no ``{ticket_id}``.
    """

    def __init__(self, codes: VerificationCodes, lookup: TicketLookup, *, ticket_url: str,
                 secure_cookies: bool = True, trusted_origins: Sequence[str] = (),
                 renderer: GuestPageRenderer | None = None, ticket_param: str = "ticket_id") -> None:
        from ...errors import ConfigurationError

        if "{ticket_id}" not in ticket_url:
            raise ConfigurationError(f"ticket_url must contain {{ticket_id}}, got {ticket_url!r}")
        self.codes = codes
        self.lookup = lookup
        self.ticket_url = ticket_url
        self.secure_cookies = secure_cookies
        self.renderer = renderer or GuestPageRenderer()
        self.ticket_param = ticket_param
        self.csrf = CSRFGuard(codes.links.secret_keys, trusted_origins)
        self.router = Router(routes=[
            Route("/tickets/{ticket_id}", self.link_page, methods=["GET"], name="guest-link"),
            Route("/tickets/{ticket_id}/code", self.send_code, methods=["POST"], name="guest-code"),
            Route("/tickets/{ticket_id}/verify", self.verify_code, methods=["POST"],
                  name="guest-verify"),
        ])

    @property
    def routes(self) -> list[Any]:
        """The routes, for ``Mount("/guest", routes=pages.routes)``."""
        return list(self.router.routes)

    def install(self, app: Any) -> None:
        """Render ``GuestGrantRequired`` as the localized page (Starlette or FastAPI app)."""
        app.add_exception_handler(GuestGrantRequired, self._grant_required_page)

    def cookie_name(self, ticket_id: str) -> str:
        """The grant cookie of one ticket (a guest with two tickets holds two grants)."""
        return "tn_guest_" + hashlib.sha256(ticket_id.encode("utf-8", "replace")).hexdigest()[:20]

    async def require_guest_grant(self, request: Request) -> AccessGrant:
        """The guest's grant for the route's ticket; use as ``Depends(pages.require_guest_grant)``.

        Args:
            request: the request to the host's ticket view; the ticket id is its
                ``ticket_param`` path parameter.

        Returns:
            The valid ``AccessGrant`` (``.ticket_id`` is the ticket to show).

        Raises:
            GuestGrantRequired: no valid grant for this ticket (403; see ``install``).
        """
        ticket_id = str(request.path_params.get(self.ticket_param, ""))
        value = request.cookies.get(self.cookie_name(ticket_id), "")
        try:
            return self.codes.check_grant(value, ticket_id)
        except GrantError:
            raise GuestGrantRequired(ticket_id) from None

    def guest_grant_required(self, endpoint: Endpoint) -> Endpoint:
        """Decorator for a plain Starlette endpoint: check the grant, then slide it forward.

        The endpoint finds the grant in ``request.state.guest_grant``; its response carries a
        renewed cookie when less than half the grant's time was left (``renew_grant``).
        Without a valid grant it raises ``GuestGrantRequired`` (403, see ``install``).
        """
        @functools.wraps(endpoint)
        async def checked(request: Request, *args: Any, **kwargs: Any) -> Response:
            grant = await self.require_guest_grant(request)
            request.state.guest_grant = grant
            response = await endpoint(request, *args, **kwargs)
            self.renew_grant(response, grant)
            return response
        return cast(Endpoint, checked)

    def renew_grant(self, response: Response, grant: AccessGrant) -> bool:
        """Set a renewed grant cookie on ``response`` if less than half of ``ttl`` is left.

        An active guest is then never thrown out mid-reply; the renewal never reaches past
        the grant's ``max_lifetime``. FastAPI views call it with their ``Response``.

        Args:
            response: the response to the guest's request.
            grant: the grant ``require_guest_grant`` returned for this request.

        Returns:
            True if a renewed cookie was set.
        """
        now = self.codes.clock()
        if grant.expires_at - now >= self.codes.grants.ttl / 2:
            return False
        try:
            fresh = self.codes.renew(grant.value, grant.ticket_id)
        except GrantError:
            return False
        if fresh.expires_at <= grant.expires_at:
            return False  # at the max_lifetime cap: nothing to gain
        self._set_grant_cookie(response, fresh)
        return True

    # The three routes.
    async def link_page(self, request: Request) -> Response:
        """GET: the ticket number and the "Email me a code" button; sends and stores nothing."""
        token = request.query_params.get("token", "")
        opened = await self._open(request, token)
        if isinstance(opened, Response):
            return opened
        link, ticket = opened
        return self._page(request, "link", self._text(ticket), number=ticket.number, token=token,
                          send_url=self._url(request, "guest-code", link.ticket_id))

    async def send_code(self, request: Request) -> Response:
        """POST: send a code to the ticket's address, then show the code form."""
        posted = await self._open_posted(request)
        if isinstance(posted, Response):
            return posted
        ticket = posted.ticket
        try:
            sent = await self.codes.asend_code(posted.token, email=ticket.email,
                                               locale=ticket.locale, ticket_number=ticket.number,
                                               time_zone=ticket.time_zone)
        except TicketNotifyError as exc:
            return self._outcome(request, ticket, send_problem(exc))
        text = self._text(ticket)
        return self._code_form(request, text, posted.link, ticket, posted.token,
                               notice=text.code_sent(sent.minutes))

    async def verify_code(self, request: Request) -> Response:
        """POST: check the typed code; on success set the grant cookie and go to the ticket."""
        posted = await self._open_posted(request)
        if isinstance(posted, Response):
            return posted
        form, token, link, ticket = posted.form, posted.token, posted.link, posted.ticket
        text = self._text(ticket)
        try:
            grant = await self.codes.averify_code(token, str(form.get("code", "")), email=ticket.email)
        except TicketNotifyError as exc:
            outcome = verify_problem(exc)
            if outcome.on_code_form:
                return self._code_form(request, text, link, ticket, token, status=outcome.status,
                                       problem=outcome.message(text))
            return self._outcome(request, ticket, outcome, token=token, link=link)
        target = self.ticket_url.replace("{ticket_id}", quote(grant.ticket_id, safe=""))
        response = RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
        self._set_grant_cookie(response, grant)
        return response

    # Helpers.
    def _set_grant_cookie(self, response: Response, grant: AccessGrant) -> None:
        max_age = max(0, int((grant.expires_at - self.codes.clock()).total_seconds()))
        response.set_cookie(self.cookie_name(grant.ticket_id), grant.value, max_age=max_age, path="/",
                            httponly=True, secure=self.secure_cookies, samesite="lax")

    async def _open_posted(self, request: Request) -> _Posted | Response:
        """A form POST: the CSRF check, then ``_open`` with its token; a page if either fails."""
        form = await request.form()
        token = str(form.get("token", ""))
        if not self.csrf.check(request, form.get("csrf")):
            return self._problem(request, None, "form_expired", 403)
        opened = await self._open(request, token)
        if isinstance(opened, Response):
            return opened
        link, ticket = opened
        return _Posted(form, token, link, ticket)

    async def _open(self, request: Request, token: str) -> tuple[OpenedLink, GuestTicket] | Response:
        """Check the token against the route and the ticket's address; a page if it fails."""
        route_id = str(request.path_params["ticket_id"])
        links, now = self.codes.links, self.codes.clock()
        try:
            link = links.open(token, now=now, ticket_id=route_id)
        except LinkError as exc:
            return self._outcome(request, None, link_problem(exc))
        ticket = await self._lookup(link.ticket_id)  # the id the token vouches for
        if ticket is None:
            return self._problem(request, None, "link_invalid", 404)
        try:
            link = links.open(token, now=now, ticket_id=route_id, email=ticket.email)
        except LinkError as exc:
            return self._outcome(request, ticket, link_problem(exc))
        return link, ticket

    async def _lookup(self, ticket_id: str) -> GuestTicket | None:
        if inspect.iscoroutinefunction(self.lookup):
            found = await self.lookup(ticket_id)
        else:
            found = await asyncio.to_thread(self.lookup, ticket_id)
            if inspect.isawaitable(found):
                found = await found
        if found is not None and not isinstance(found, GuestTicket):
            raise TypeError(f"the guest ticket lookup must return GuestTicket or None, got "
                            f"{type(found).__name__}")
        return found

    def _text(self, ticket: GuestTicket | None, request: Request | None = None) -> PageText:
        if ticket is not None:
            return self.renderer.text(ticket.locale, ticket.time_zone)
        header = request.headers.get("accept-language") if request is not None else None
        return self.renderer.text(negotiate_accept_language(header))

    def _url(self, request: Request, name: str, ticket_id: str) -> str:
        return request.url_for(name, ticket_id=ticket_id).path

    def _code_form(self, request: Request, text: PageText, link: OpenedLink, ticket: GuestTicket,
                   token: str, *, status: int = 200, notice: str | None = None,
                   problem: str | None = None) -> Response:
        return self._page(request, "code", text, status=status, number=ticket.number, token=token,
                          notice=notice, problem=problem,
                          send_url=self._url(request, "guest-code", link.ticket_id),
                          verify_url=self._url(request, "guest-verify", link.ticket_id))

    def _outcome(self, request: Request, ticket: GuestTicket | None, outcome: PageProblem, *,
                 token: str | None = None, link: OpenedLink | None = None) -> Response:
        """The message page for ``outcome``; its "new code" button only where it offers one."""
        if not outcome.offer_new_code:
            token, link = None, None
        return self._problem(request, ticket, outcome.what, outcome.status, *outcome.args,
                             token=token, link=link)

    def _problem(self, request: Request, ticket: GuestTicket | None, what: str, status: int,
                 *args: Any, token: str | None = None, link: OpenedLink | None = None) -> Response:
        """A page saying what went wrong; with ``link``, a button that sends a new code."""
        text = self._text(ticket, request)
        problem: str = getattr(text, what)(*args)
        title = text.link_invalid_title() if what.startswith("link") else text.error_title()
        send_url = self._url(request, "guest-code", link.ticket_id) if link is not None else None
        return self._page(request, "message", text, status=status, title=title, problem=problem,
                          number=ticket.number if ticket else None, token=token, send_url=send_url)

    def _page(self, request: Request, page: str, text: PageText, *, status: int = 200,
              **values: Any) -> Response:
        nonce, new = self.csrf.nonce(request)
        html = self.renderer.render(page, text, csrf=self.csrf.field(nonce), **values)
        response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
        if new:
            response.set_cookie(CSRF_COOKIE, nonce, path="/", httponly=True,
                                secure=self.secure_cookies, samesite="strict")
        return response

    async def _grant_required_page(self, request: Request, exc: Exception) -> Response:
        ticket_id = exc.ticket_id if isinstance(exc, GuestGrantRequired) else ""
        try:
            ticket = await self._lookup(ticket_id) if ticket_id else None
        except Exception:  # a broken lookup must not turn a 403 into a 500
            ticket = None
        text = self._text(ticket, request)
        return self._page(request, "message", text, status=403, title=text.verify_title(),
                          problem=text.grant_required(), number=ticket.number if ticket else None,
                          token=None, send_url=None)


