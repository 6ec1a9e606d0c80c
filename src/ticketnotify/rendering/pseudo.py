"""QA pseudo-locales made from the English source at run time (never written to disk).

``xx-long`` (the ``en-XA`` convention): every letter accented and each string about 40%
longer, bracketed, so truncated subjects, clipped push titles and strings that escaped
translation (they stay plain English) show up before translators start:
``[Ýöûŕ ţîçķéţ %(ticket)s ĥåš ƀééñ ûþðåţéð ············]``.

``xx-rtl`` (the ``en-XB`` convention): every run of text between placeholders and tags is
wrapped in RIGHT-TO-LEFT OVERRIDE … POP DIRECTIONAL FORMATTING, so English reads mirrored in
a right-to-left document and a layout that does not mirror is obvious.

Placeholders (``%(name)s``, ``{name}``, ``%%``), tags and entities are kept exactly, so a
pseudo catalog passes the same checks as a real one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import Translations

from ..i18n import DOMAIN, read_catalog

# What a translator must keep: placeholders, tags, entities. Everything else is text.
_KEEP = re.compile(r"%\(\w+\)[sdif]|%[sdif%]|\{\w*\}|<[^>]*>|&#?\w+;")
_ACCENTS = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "åƀçðéƒĝĥîĵķļɱñöþǫŕšţûṽŵẋýžÅƁÇÐÉƑĜĤÎĴĶĻṀÑÖÞǪŔŠŢÛṼŴẊÝŽ",
)
RLO = "\u202e"
PDF = "\u202c"
GROWTH = 0.4  # German and Finnish run 30-40% longer than English (docs/i18n.md)


def _pieces(text: str) -> list[tuple[bool, str]]:
    """``(kept, piece)`` in order: placeholders/markup kept, text transformable."""
    out: list[tuple[bool, str]] = []
    at = 0
    for match in _KEEP.finditer(text):
        if match.start() > at:
            out.append((False, text[at:match.start()]))
        out.append((True, match.group()))
        at = match.end()
    if at < len(text):
        out.append((False, text[at:]))
    return out


def long_text(text: str) -> str:
    """Accented, bracketed and ~40% longer; placeholders and markup untouched."""
    if not text:
        return text
    body = "".join(p if kept else p.translate(_ACCENTS) for kept, p in _pieces(text))
    letters = sum(len(p) for kept, p in _pieces(text) if not kept)
    return f"[{body} {'·' * max(1, round(letters * GROWTH))}]"


def rtl_text(text: str) -> str:
    """Each text run forced right to left (RLO … PDF); placeholders and markup untouched."""
    return "".join(p if kept or not p.strip() else f"{RLO}{p}{PDF}" for kept, p in _pieces(text))


_TRANSFORMS = {"xx_long": long_text, "xx_rtl": rtl_text}


def pseudo_catalog(locale_id: str, locales_dirs: Sequence[Path]) -> Catalog:
    """Every msgid of the ``messages.pot`` and catalogs in ``locales_dirs``, transformed.

    Args:
        locale_id: ``"xx_long"`` or ``"xx_rtl"``.
        locales_dirs: catalog folders (host first, shipped last); host-added strings count.

    Returns:
        A Babel ``Catalog`` with English plural rules.
    """
    transform = _TRANSFORMS[locale_id]
    out = Catalog(locale="en", domain=DOMAIN)
    for folder in locales_dirs:
        sources = [folder / "messages.pot", *sorted(folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))]
        for path in sources:
            if not path.is_file():
                continue
            for message in read_catalog(path):
                if not message.id or out.get(message.id, message.context) is not None:
                    continue
                if isinstance(message.id, str):
                    string: str | tuple[str, ...] = transform(message.id)
                else:
                    singular, plural = message.id[0], message.id[1]
                    string = (transform(singular), transform(plural))
                out.add(message.id, string, context=message.context)
    return out


def pseudo_translations(locale_id: str, locales_dirs: Sequence[Path]) -> Translations:
    """The compiled pseudo catalog for the renderer (built in memory, once per renderer)."""
    buffer = io.BytesIO()
    write_mo(buffer, pseudo_catalog(locale_id, locales_dirs))
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)
