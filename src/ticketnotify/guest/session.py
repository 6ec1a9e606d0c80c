"""Access grants: the signed, short-lived, renewable proof that a guest verified for one ticket.

A grant is stateless (put its ``value`` in the host's session or a cookie): it signs the
ticket id, when the address was verified and when this value was issued, for the
``guest-grant`` purpose, with the same rotating keys as the links. It opens exactly one
ticket. ``renew`` slides the idle lifetime forward, never past ``max_lifetime`` after
verification, so a stolen value dies on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import ConfigurationError
from . import signing
from .errors import ExpiredGrantError, InvalidGrantError, WrongTicketGrantError
from .links import check_ticket_id, from_seconds, now_or, same_ticket


@dataclass(frozen=True, slots=True, repr=False)
class AccessGrant:
    """Proof the guest verified their address for ``ticket_id``; ``value`` goes in the session.

    ``repr`` and ``str`` never show ``value``: a logged grant must not open the ticket.

    Attributes:
        value: the signed grant (a bearer secret): put it in an HttpOnly, Secure cookie or
            the host's session; ``check_grant(value, ticket_id)`` on every request.
        ticket_id: the one ticket it opens.
        verified_at: when the guest typed the right code (aware UTC).
        issued_at: when this value was made (aware UTC; ``renew`` makes a new one).
        expires_at: when it stops working: ``ttl`` after ``issued_at``, never later than
            ``max_lifetime`` after ``verified_at`` (aware UTC).
    """

    value: str
    ticket_id: str
    verified_at: datetime
    issued_at: datetime
    expires_at: datetime

    def __repr__(self) -> str:
        return (f"AccessGrant(value=<redacted>, ticket_id={self.ticket_id!r}, "
                f"verified_at={self.verified_at.isoformat()!r}, "
                f"expires_at={self.expires_at.isoformat()!r})")


class AccessGrants:
    """Issue, check and renew grants; ``secret_keys[0]`` signs, every key verifies.

    Args:
        secret_keys: keys, newest first, at least 32 bytes each (normally the links' keys).
        ttl: idle lifetime of one value (default 30 minutes); ``renew`` slides it.
        max_lifetime: absolute cap after verification (default 12 hours, >= ``ttl``).

    Raises:
        ConfigurationError: bad keys, a non-positive ``ttl`` or ``max_lifetime < ttl``.
    """

    def __init__(
        self,
        secret_keys: Sequence[str | bytes],
        *,
        ttl: timedelta = timedelta(minutes=30),
        max_lifetime: timedelta = timedelta(hours=12),
    ) -> None:
        self._signer = signing.PurposeSigner(signing.secret_keys(secret_keys))
        if not isinstance(ttl, timedelta) or ttl <= timedelta(0):
            raise ConfigurationError(f"grant ttl must be a positive timedelta, not {ttl!r}")
        if not isinstance(max_lifetime, timedelta) or max_lifetime < ttl:
            raise ConfigurationError(f"grant max_lifetime must be a timedelta >= ttl ({ttl}), "
                                     f"not {max_lifetime!r}")
        self.ttl = ttl
        self.max_lifetime = max_lifetime

    def __repr__(self) -> str:
        return (f"AccessGrants(secret_keys=<{len(self._signer.keys)} redacted>, ttl={self.ttl}, "
                f"max_lifetime={self.max_lifetime})")

    def grant(
        self, ticket_id: str, *, now: datetime | None = None, verified_at: datetime | None = None
    ) -> AccessGrant:
        """A fresh grant for ``ticket_id``; ``verified_at`` defaults to ``now``."""
        ticket_id = check_ticket_id(ticket_id)
        at = int(now_or(now).timestamp())
        verified = at if verified_at is None else int(now_or(verified_at).timestamp())
        value = self._signer.sign(signing.GRANT, [ticket_id, verified, at])
        return self._make(value, ticket_id, verified, at)

    def check(self, value: str, ticket_id: str, *, now: datetime | None = None) -> AccessGrant:
        """The grant if it is authentic, unexpired and for ``ticket_id``; raise ``GrantError``.

        Only ``GrantError`` subclasses, whatever ``value`` and ``ticket_id`` hold (cookie and
        route): a ``ticket_id`` that is no valid ticket id is ``WrongTicketGrantError``.
        """
        at = now_or(now)
        try:
            fields = self._signer.verify(value, signing.GRANT)
        except signing.OtherPurpose as exc:
            raise InvalidGrantError(f"this value is a {exc.args[0]}, not an access grant; "
                                    "ask the guest to verify their address") from None
        except (signing.Malformed, signing.Tampered) as exc:
            raise InvalidGrantError(f"the access grant is not valid ({exc}); ask the guest to "
                                    "verify their address again") from None
        match fields:
            case [str(granted_ticket), int(verified), int(issued)]:
                grant = self._make(value, granted_ticket, verified, issued)
            case _:
                raise InvalidGrantError("the access grant's payload is not readable")
        if at >= grant.expires_at:
            raise ExpiredGrantError(f"the access grant expired at {grant.expires_at:%Y-%m-%d %H:%M}"
                                    " UTC; ask the guest for a new code",
                                    expired_at=grant.expires_at)
        if not same_ticket(ticket_id, grant.ticket_id):
            raise WrongTicketGrantError(f"this access grant is for ticket {grant.ticket_id}, not "
                                        f"{_shown(ticket_id)}; a grant opens one ticket only")
        return grant

    def renew(self, value: str, ticket_id: str, *, now: datetime | None = None) -> AccessGrant:
        """A new value for a still-valid grant, expiring ``ttl`` from now (capped)."""
        at = now_or(now)
        current = self.check(value, ticket_id, now=at)
        return self.grant(current.ticket_id, now=at, verified_at=current.verified_at)

    def _make(self, value: str, ticket_id: str, verified: int, issued: int) -> AccessGrant:
        verified_at, issued_at = from_seconds(verified), from_seconds(issued)
        expires_at = min(issued_at + self.ttl, verified_at + self.max_lifetime)
        return AccessGrant(value, ticket_id, verified_at, issued_at, expires_at)


def _shown(value: object) -> str:
    """A route value fit for an error message: quoted and cut short (it may be hostile)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
