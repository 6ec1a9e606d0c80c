"""Errors of guest access: links, access grants and verification codes.

Each says what was wrong and what the guest or host should do next, so the host can map
them to a page without parsing text. Problems with a value that came from outside (a link
token, a grant, a typed code) also subclass ``ValueError``.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import InvalidInputError, StoreUnavailableError, TicketNotifyError


class GuestAccessError(TicketNotifyError):
    """Root of every guest-access error."""


class LinkError(GuestAccessError, ValueError):
    """A guest link token was refused; show "this link does not work, ask for a new one"."""


class MalformedLinkError(LinkError):
    """The token is not shaped like one of ours (truncated, wrong characters, too long)."""


class TamperedLinkError(LinkError):
    """The signature does not match: the token was altered or signed with a retired key."""


class ExpiredLinkError(LinkError):
    """The token is authentic but older than the link lifetime; the guest needs a fresh email."""

    def __init__(self, message: str, *, expired_at: datetime) -> None:
        self.expired_at = expired_at
        super().__init__(message)


class NotYetValidLinkError(LinkError):
    """The token claims to be issued in the future: the issuing and checking clocks disagree."""


class WrongPurposeLinkError(LinkError):
    """The token is authentic but made for another purpose (e.g. an access grant used as a link)."""

    def __init__(self, message: str, *, purpose: str) -> None:
        self.purpose = purpose
        super().__init__(message)


class AddressMismatchError(LinkError):
    """The token was issued for another address than the one the host has on the ticket."""


class GrantError(GuestAccessError, ValueError):
    """An access grant was refused; ask the guest to verify their address again."""


class InvalidGrantError(GrantError):
    """The grant is malformed, tampered, signed by a retired key or not a grant at all."""


class ExpiredGrantError(GrantError):
    """The grant is authentic but its time is up (idle lifetime or absolute cap)."""

    def __init__(self, message: str, *, expired_at: datetime) -> None:
        self.expired_at = expired_at
        super().__init__(message)


class WrongTicketGrantError(GrantError):
    """The grant is for another ticket: a grant opens exactly one ticket, never more."""


class CodeError(GuestAccessError):
    """A verification code could not be sent or was not accepted."""


class CodeDeliveryError(CodeError):
    """The code email could not be sent now; show "we could not send the code, try again".

    Nothing retries it (a code is for the guest waiting on the page), the send was not
    counted against the rate limits, and the guest's previous code, if any, still works.
    ``permanent`` is True when the mail server refused the address itself (trying again
    will not help: show "we cannot send email to this address, contact support").
    The channel's own error is the ``__cause__``.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        self.permanent = permanent
        super().__init__(message)

class CodeStoreUnavailableError(CodeError, StoreUnavailableError):
    """The code store is out of reach (database down, locked, disk full); nothing was stored.

    Show "we cannot send or check codes right now, please try again in a minute". The
    store call that raised it changed nothing, so trying again is safe.
    """


class MalformedCodeError(CodeError, InvalidInputError):
    """What was typed is not six digits; no attempt is used up."""

    def __init__(self, problem: str) -> None:
        super().__init__("code", problem)


class NoCodeError(CodeError):
    """No code is pending for this ticket and address (never sent, already used or superseded)."""


class CodeExpiredError(CodeError):
    """The code is older than its lifetime; the guest should ask for a new one."""

    def __init__(self, message: str, *, expired_at: datetime) -> None:
        self.expired_at = expired_at
        super().__init__(message)


class WrongCodeError(CodeError):
    """The code does not match; ``attempts_left`` more tries are allowed for this code."""

    def __init__(self, message: str, *, attempts_left: int) -> None:
        self.attempts_left = attempts_left
        super().__init__(message)


class TooManyAttemptsError(CodeError):
    """Every attempt for this code is used up; only a new code helps."""


class RateLimitedError(CodeError):
    """Too many codes were sent lately; ``retry_at`` says when the next send is allowed."""

    def __init__(self, message: str, *, retry_at: datetime) -> None:
        self.retry_at = retry_at
        super().__init__(message)
