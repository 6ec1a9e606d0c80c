"""What a guest page shows for each guest-access error, whichever framework serves it.

``contrib.asgi`` and ``contrib.django`` catch ``TicketNotifyError`` around the link, send
and verify steps and ask these functions which page answers it; they only render.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import TicketNotifyError
from ...guest.errors import (
    CodeDeliveryError,
    CodeExpiredError,
    LinkError,
    MalformedCodeError,
    MalformedLinkError,
    NoCodeError,
    RateLimitedError,
    TooManyAttemptsError,
    WrongCodeError,
)
from .text import PageText


@dataclass(frozen=True, slots=True)
class PageProblem:
    """The page answering one error.

    ``what`` names the ``PageText`` method giving the message (called with ``args``),
    ``status`` is the HTTP status. ``on_code_form``: show the code form again with the
    message; ``offer_new_code``: the message page carries a "send a new code" button.
    """

    what: str
    status: int
    args: tuple[object, ...] = ()
    on_code_form: bool = False
    offer_new_code: bool = False

    def message(self, text: PageText) -> str:
        """The localized message, from ``text``."""
        message: str = getattr(text, self.what)(*self.args)
        return message


def link_problem(exc: LinkError) -> PageProblem:
    """A token that does not open: cut off in copying (400) or otherwise refused (403)."""
    if isinstance(exc, MalformedLinkError):
        return PageProblem("link_cut_off", 400)
    return PageProblem("link_invalid", 403)


def send_problem(exc: TicketNotifyError) -> PageProblem:
    """An error from ``send_code``/``asend_code``."""
    if isinstance(exc, LinkError):
        return link_problem(exc)
    if isinstance(exc, RateLimitedError):
        return PageProblem("rate_limited", 429, (exc.retry_at,))
    if isinstance(exc, CodeDeliveryError):
        return PageProblem("contact_support" if exc.permanent else "send_failed", 503)
    return PageProblem("unavailable", 503)


def verify_problem(exc: TicketNotifyError) -> PageProblem:
    """An error from ``verify_code``/``averify_code``."""
    if isinstance(exc, LinkError):
        return link_problem(exc)
    if isinstance(exc, MalformedCodeError):
        return PageProblem("malformed_code", 400, on_code_form=True)
    if isinstance(exc, WrongCodeError):
        return PageProblem("wrong_code", 403, (exc.attempts_left,), on_code_form=True)
    if isinstance(exc, (CodeExpiredError, NoCodeError, TooManyAttemptsError)):
        return PageProblem("new_code_needed", 403, offer_new_code=True)
    return PageProblem("unavailable", 503)
