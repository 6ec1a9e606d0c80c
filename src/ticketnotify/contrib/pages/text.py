"""The guest pages' words, from the gettext catalogs (msgids are the English copy).

Every string is a literal inside a ``gettext``/``ngettext`` call so ``ticketnotify catalog
check`` (Babel's Python extractor) finds it; templates only place these strings.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_time
from babel.support import Translations


class PageText:
    """The copy of every guest page in one locale.

    Args:
        translations: the compiled catalog of ``locale``.
        locale: the catalog locale, e.g. ``"sv"`` (also the page's ``lang``).
        time_zone: IANA name for times shown on the page (e.g. when another code may be sent).
    """

    def __init__(self, translations: Translations, locale: str, time_zone: str = "UTC") -> None:
        self._t = translations
        self.locale = locale
        self.lang = locale.split("_")[0]
        self.time_zone = time_zone

    # Headings and buttons.
    def verify_title(self) -> str:
        """Title of the pages that ask for a code."""
        return self._t.gettext("Verify your email address")

    def ticket_heading(self, number: str) -> str:
        """``Support ticket 12345``."""
        return self._t.gettext("Support ticket %(ticket)s") % {"ticket": number}

    def link_intro(self) -> str:
        """What the link page asks the guest to do."""
        return self._t.gettext(
            "This link is tied to your email address. To see the ticket and reply, ask for a "
            "code: we email it to you, and you type it on the next page.")

    def send_button(self) -> str:
        """The button that sends a code (a POST; opening the link sends nothing)."""
        return self._t.gettext("Email me a code")

    def resend_button(self) -> str:
        """The button that sends a fresh code."""
        return self._t.gettext("Email me a new code")

    def code_sent(self, minutes: int) -> str:
        """Shown after a send; ``minutes`` is the code's lifetime."""
        return self._t.ngettext(
            "We emailed you a code. It works for %(num)d minute.",
            "We emailed you a code. It works for %(num)d minutes.", minutes) % {"num": minutes}

    def code_prompt(self) -> str:
        """Above the code field."""
        return self._t.gettext("Enter the code from the email to open your ticket.")

    def code_label(self) -> str:
        """The code field's label."""
        return self._t.gettext("Code (six digits)")

    def verify_button(self) -> str:
        """Submits the code."""
        return self._t.gettext("Open my ticket")

    # Outcomes (docs/guest-access.md, "Errors to pages").
    def wrong_code(self, attempts_left: int) -> str:
        """``WrongCodeError``: how many tries remain."""
        return self._t.ngettext(
            "Wrong code. You have %(num)d try left.",
            "Wrong code. You have %(num)d tries left.", attempts_left) % {"num": attempts_left}

    def malformed_code(self) -> str:
        """``MalformedCodeError``: no attempt was used."""
        return self._t.gettext("A code is six digits. Check the email and type it again.")

    def new_code_needed(self) -> str:
        """``CodeExpiredError``, ``NoCodeError``, ``TooManyAttemptsError``."""
        return self._t.gettext("This code no longer works. Ask for a new code.")

    def rate_limited(self, retry_at: datetime) -> str:
        """``RateLimitedError``: when the next code may be sent, in the guest's time zone."""
        shown = format_time(retry_at, "short", tzinfo=ZoneInfo(self.time_zone), locale=self.locale)
        return self._t.gettext(
            "You have asked for several codes in a short time. You can ask for another code "
            "at %(time)s.") % {"time": shown}

    def send_failed(self) -> str:
        """``CodeDeliveryError``: nothing was counted, try again."""
        return self._t.gettext("We could not send the code just now. Please try again.")

    def contact_support(self) -> str:
        """``CodeDeliveryError.permanent``: the address itself was refused."""
        return self._t.gettext("We cannot send email to this address. Please contact support.")

    def unavailable(self) -> str:
        """A store outage: answer 503."""
        return self._t.gettext("Something went wrong on our side. Please try again in a minute.")

    def link_invalid_title(self) -> str:
        """Title of the page for any ``LinkError``."""
        return self._t.gettext("This link does not work")

    def link_invalid(self) -> str:
        """``LinkError``: tampered, expired, for another address or an unknown ticket."""
        return self._t.gettext(
            "Open the link in the latest email about your ticket, or contact support for a "
            "new link.")

    def link_cut_off(self) -> str:
        """``MalformedLinkError``: the mail client cut the link."""
        return self._t.gettext(
            "The link seems to be cut off. Copy the whole link from the email into the "
            "address bar.")

    def grant_required(self) -> str:
        """``GrantError`` on the host's ticket page: no valid verification for this ticket."""
        return self._t.gettext(
            "To see this ticket, open the link in the latest email about it and verify your "
            "email address.")

    def form_expired(self) -> str:
        """The form's CSRF check failed."""
        return self._t.gettext("This form has expired. Reload the page and try again.")

    def error_title(self) -> str:
        """Title of a page that reports a problem."""
        return self._t.gettext("Something went wrong")
