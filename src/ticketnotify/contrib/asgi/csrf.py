"""CSRF protection for the guest forms without a framework session: Origin check + signed double submit.

Two independent checks, both on every POST:

1. **Origin.** Browsers send ``Origin`` on every form POST. If it is present, its host must
   be the request's own ``Host`` (or one of ``trusted_origins``); ``Origin: null`` (sandboxed
   frames, some privacy modes) is refused.
2. **Signed double submit.** The page sets a random nonce in an HttpOnly, SameSite=Strict
   cookie and puts ``HMAC(key, nonce)`` in a hidden field. A POST needs both to match. A
   forging site can make the browser send the cookie only if SameSite is bypassed, and
   it can never read the nonce or compute the field without the key.

The key is derived from the guest-link keys (every key verifies, so rotation is safe).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.requests import Request

CSRF_COOKIE = "tn_guest_csrf"
_SALT = b"ticketnotify.guest-csrf.v1"


class CSRFGuard:
    """Make and check the hidden ``csrf`` field and its cookie.

    Args:
        keys: the guest-link keys, newest first (``GuestLinks.secret_keys``).
        trusted_origins: extra origins allowed to post (``"https://help.example.com"``),
            e.g. when a proxy rewrites ``Host``.
    """

    def __init__(self, keys: Sequence[bytes], trusted_origins: Sequence[str] = ()) -> None:
        self._keys = [hmac.new(key, _SALT, hashlib.sha256).digest() for key in keys]
        self._trusted = {urlsplit(origin).netloc.lower() for origin in trusted_origins}

    def nonce(self, request: Request) -> tuple[str, bool]:
        """The browser's nonce, or a new one; the flag says it must be set as a cookie."""
        current = request.cookies.get(CSRF_COOKIE, "")
        if 16 <= len(current) <= 64 and current.isascii():
            return current, False
        return secrets.token_urlsafe(24), True

    def field(self, nonce: str) -> str:
        """The hidden field's value for ``nonce`` (signed with the newest key)."""
        return self._sign(self._keys[0], nonce)

    def check(self, request: Request, field: object) -> bool:
        """True when the POST comes from our own page (Origin and double submit agree)."""
        origin = request.headers.get("origin")
        if origin is not None:
            allowed = {request.headers.get("host", "").lower(), *self._trusted}
            if origin == "null" or urlsplit(origin).netloc.lower() not in allowed:
                return False
        nonce = request.cookies.get(CSRF_COOKIE, "")
        if not nonce or not isinstance(field, str):
            return False
        return any(hmac.compare_digest(self._sign(key, nonce), field) for key in self._keys)

    @staticmethod
    def _sign(key: bytes, nonce: str) -> str:
        return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()
