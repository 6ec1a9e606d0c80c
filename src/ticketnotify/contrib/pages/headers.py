"""The response headers every guest page carries, whichever framework serves it."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

PAGE_HEADERS: Mapping[str, str] = MappingProxyType({
    "Cache-Control": "no-store",
    # The link page's URL holds the token: it must not leave the site. Not "no-referrer":
    # with it Chromium sends "Origin: null" on the form POSTs (the ASGI Origin check refuses
    # them), and Django's CSRF check on HTTPS wants a same-origin Referer.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
})
