"""Gettext catalogs read straight from .po files, and locale negotiation with fallback.

Catalogs are parsed from the translator's ``.po`` at load time (Babel) and compiled in
memory, so an edited translation shows up in the next ``Renderer`` or preview run without a
build step; no ``.mo`` file is ever written or shipped.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.core import UnknownLocaleError as BabelUnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from babel.support import Translations

from .errors import CatalogError, ConfigurationError, UnknownLocaleError

DOMAIN = "ticketnotify"


def default_locales_dir() -> Path:
    """The shipped catalogs: inside the package (wheel) or at the repo root (editable)."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "locales", package_dir.parent.parent / "locales"):
        if (candidate / "messages.pot").is_file() or candidate.is_dir():
            return candidate
    raise ConfigurationError(
        f"no locales directory found next to {package_dir} or at the repository root; "
        "pass locales_dir= to point at the directory holding <locale>/LC_MESSAGES/*.po"
    )


def parse_locale(text: str) -> Locale:
    """Parse ``sv_SE``, ``sv-SE`` or ``sv``; anything else is an ``UnknownLocaleError``."""
    if not isinstance(text, str) or not text.strip():
        raise UnknownLocaleError("locale", f"{text!r} is not a locale; use a tag such as 'sv_SE'")
    try:
        return Locale.parse(text.strip().replace("-", "_"))
    except (ValueError, TypeError, BabelUnknownLocaleError) as exc:
        raise UnknownLocaleError(
            "locale", f"{text!r} is not a locale ({exc}); use a tag such as 'sv_SE' or 'en'"
        ) from exc


def po_path(locales_dir: Path, locale: str) -> Path:
    """Where the catalog of ``locale`` lives."""
    return locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    """Parse one .po file, turning parse failures into a ``CatalogError`` naming the file."""
    try:
        with path.open("rb") as fh:
            return read_po(fh, locale=locale, abort_invalid=True)
    except OSError as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc}") from exc
    except Exception as exc:  # babel raises PoFileError and assorted ValueErrors
        raise CatalogError(f"catalog {path} is not a valid .po file: {exc}") from exc


def translations_from_po(path: Path, locale: str) -> Translations:
    """Compile a .po in memory into gettext ``Translations`` (fuzzy entries are skipped).

    Babel reads a broken ``Plural-Forms`` header without complaint; gettext only fails when
    compiling or evaluating it, so both happen here, once, and name the file.
    """
    catalog = read_catalog(path, locale)
    try:
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        translations = Translations(fp=buffer, domain=DOMAIN)
    except Exception as exc:  # gettext raises ValueError/SyntaxError/... on a bad header
        raise CatalogError(
            f"catalog {path} cannot be compiled: {exc}; check its Plural-Forms header "
            f"(expected for {locale!r}: {expected_plural_forms(locale) or 'unknown'})"
        ) from exc
    check_plural_rule(path, locale, translations.plural, catalog.num_plurals)
    return translations


# Enough counts to reach every branch of the CLDR rules (n%10, n%100, n%1000 families).
_PLURAL_PROBES = (*range(0, 1001), 1_000_000, 2_000_000)


def check_plural_rule(
    path: Path, locale: str | None, plural: Callable[[int], int], nplurals: int
) -> None:
    """Every count must pick a form that exists; otherwise a render fails for that count."""
    for n in _PLURAL_PROBES:
        try:
            index = plural(n)
        except Exception as exc:  # e.g. ZeroDivisionError from "plural=(n / 0)"
            raise CatalogError(
                f"catalog {path}: the Plural-Forms rule fails for n={n} ({exc!r}); "
                f"fix the header (expected for {locale!r}: "
                f"{expected_plural_forms(locale) or 'unknown'})"
            ) from exc
        if not isinstance(index, int) or not 0 <= index < nplurals:
            raise CatalogError(
                f"catalog {path}: the Plural-Forms rule picks form {index!r} for n={n} but "
                f"nplurals={nplurals}; fix the header (expected for {locale!r}: "
                f"{expected_plural_forms(locale) or 'unknown'})"
            )


def expected_plural_forms(locale: str | None) -> str | None:
    """Babel's (CLDR) ``Plural-Forms`` header for ``locale``, or None if it has none."""
    if not locale:
        return None
    try:
        return str(get_plural(locale))
    except (ValueError, TypeError, BabelUnknownLocaleError):
        return None


def expected_nplurals(locale: str) -> int | None:
    """How many plural forms Babel's (CLDR) data says ``locale`` has."""
    try:
        return int(get_plural(locale).num_plurals)
    except (ValueError, TypeError, BabelUnknownLocaleError):
        return None


@dataclass(frozen=True, slots=True)
class LocaleSet:
    """The catalog locales present on disk and the one to fall back to."""

    available: frozenset[str]
    default: str

    @classmethod
    def scan(cls, locales_dir: Path, default: str) -> LocaleSet:
        """Find every ``<locale>/LC_MESSAGES/ticketnotify.po`` below ``locales_dir``."""
        if not locales_dir.is_dir():
            raise ConfigurationError(f"locales directory {locales_dir} does not exist")
        found = frozenset(
            p.name for p in locales_dir.iterdir() if po_path(locales_dir, p.name).is_file()
        )
        default_norm = str(parse_locale(default))
        if default_norm not in found:
            raise ConfigurationError(
                f"default locale {default!r} has no catalog in {locales_dir} (found: "
                f"{', '.join(sorted(found)) or 'none'}); add {po_path(locales_dir, default_norm)}"
            )
        return cls(available=found, default=default_norm)

    def negotiate(self, locale: str) -> str:
        """Best catalog for ``locale``: exact (``sv_SE``), then language (``sv``), then default."""
        parsed = parse_locale(locale)
        for candidate in (str(parsed), parsed.language):
            if candidate in self.available:
                return candidate
        return self.default
