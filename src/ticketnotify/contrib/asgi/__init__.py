"""Guest pages for ASGI apps: a Starlette router (works in FastAPI) and a grant check.

    pages = GuestPages(codes, lookup, ticket_url="/tickets/{ticket_id}")
    app.mount("/guest", pages.router)      # or Mount("/guest", routes=pages.routes)
    pages.install(app)                     # localized page for GuestGrantRequired

See docs/asgi.md.
"""

from .csrf import CSRFGuard
from .pages import GuestGrantRequired, GuestPages, GuestTicket, TicketLookup

__all__ = ["CSRFGuard", "GuestGrantRequired", "GuestPages", "GuestTicket", "TicketLookup"]
