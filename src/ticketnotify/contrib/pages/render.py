"""Render the guest pages (Jinja2, autoescaped) in the guest's locale."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ...errors import TicketNotifyError
from ...i18n import LocaleSet, default_locales_dir, po_path, translations_from_po
from .text import PageText

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


class GuestPageRenderer:
    """Turns a page name and its values into HTML in the best catalog locale.

    Templates: ``link.html`` (the "Email me a code" button), ``code.html`` (the code form),
    ``message.html`` (a problem, optionally with a button to send a new code). A host can
    pass ``templates_dir`` with its own copies; every value a template prints is escaped.

    Args:
        locales_dir: the catalogs (default: the shipped ``locales/``).
        default_locale: used when the guest's locale has no catalog (default ``"en"``).
        templates_dir: the page templates (default: the shipped ones).

    Raises:
        ConfigurationError: no catalog for ``default_locale`` in ``locales_dir``.
    """

    def __init__(self, *, locales_dir: Path | None = None, default_locale: str = "en",
                 templates_dir: Path = TEMPLATES_DIR) -> None:
        self.locales_dir = locales_dir or default_locales_dir()
        self.locales = LocaleSet.scan(self.locales_dir, default_locale)
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
            undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        )
        self._translations: dict[str, Translations] = {}
        self._lock = threading.Lock()

    def text(self, locale: str | None, time_zone: str = "UTC") -> PageText:
        """The page copy for ``locale`` (negotiated: ``sv_SE`` → ``sv`` → default)."""
        try:
            chosen = self.locales.negotiate(locale) if locale else self.locales.default
        except TicketNotifyError:  # a locale the host stored badly still gets a page
            chosen = self.locales.default
        with self._lock:
            translations = self._translations.get(chosen)
            if translations is None:
                translations = translations_from_po(po_path(self.locales_dir, chosen), chosen)
                self._translations[chosen] = translations
        return PageText(translations, chosen, time_zone)

    def render(self, page: str, text: PageText, **values: Any) -> str:
        """HTML of ``page`` (``"link"``, ``"code"`` or ``"message"``) with ``t`` = ``text``."""
        return self.env.get_template(f"{page}.html").render(t=text, **values)


def negotiate_accept_language(header: str | None) -> str | None:
    """The first language tag of an ``Accept-Language`` header, highest quality first.

    Used only when no ticket is known yet (a broken link); otherwise the guest's own locale
    from the ticket decides.
    """
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0 and len(tag) <= 35:
            ranked.append((-quality, index, tag.replace("-", "_")))
    return min(ranked)[2] if ranked else None
