"""Framework-neutral guest pages: localized copy and HTML templates the framework glue renders.

``contrib.asgi`` (and later ``contrib.django``) turns requests into calls on
``VerificationCodes`` and renders the outcome with ``GuestPageRenderer``; the copy comes
from the same gettext catalogs as the emails (``locales/``).
"""

from .render import GuestPageRenderer, negotiate_accept_language
from .text import PageText

__all__ = ["GuestPageRenderer", "PageText", "negotiate_accept_language"]
