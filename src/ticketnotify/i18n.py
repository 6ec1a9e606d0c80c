"""Gettext catalogs read straight from .po files, and locale negotiation with fallback.

Catalogs are parsed from the translator's ``.po`` at load time (Babel) and compiled in
memory, so an edited translation shows up in the next ``Renderer`` or preview run without a
build step; no ``.mo`` file is ever written or shipped.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.core import UnknownLocaleError as BabelUnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import PoFileError, read_po
from babel.support import Translations

from .catalog_entries import runtime_problem
from .errors import CatalogError, ConfigurationError, UnknownLocaleError

DOMAIN = "ticketnotify"
SOURCE_LOCALE = "en"  # msgids are English: text no catalog translates is in this language
# QA pseudo-locales (issue 15.5): generated from the English source at run time, never shipped.
PSEUDO_LOCALES = frozenset({"xx_long", "xx_rtl"})

log = logging.getLogger("ticketnotify.i18n")
_LOGGED: set[tuple[str, str]] = set()
_LOGGED_LOCK = threading.Lock()


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


# Languages whose text is read in another shipped language when they have no catalog:
# Norwegian (``no``, the macrolanguage) is written as Bokmål (``nb``) unless said otherwise,
# and Nynorsk (``nn``) readers all read Bokmål too (school teaches both), so ``nb`` beats
# falling back to English for them.
LANGUAGE_FALLBACK = {"no": "nb", "nn": "nb"}


def babel_spelling(text: str) -> str:
    """``text`` as Babel parses it: ``sv-SE`` → ``sv_SE``; ``no``/``no_NO`` → ``nb``/``nb_NO``.

    Babel knows ``no`` but not ``no_NO``; ``no`` is the macrolanguage whose written
    standard is Bokmål, so it is read as ``nb`` throughout.
    """
    spelled = text.strip().replace("-", "_")
    language, sep, rest = spelled.partition("_")
    if language.lower() == "no":
        return f"nb{sep}{rest}"
    return spelled


def parse_locale(text: str) -> Locale:
    """Parse ``sv_SE``, ``sv-SE`` or ``sv``; anything else is an ``UnknownLocaleError``."""
    if not isinstance(text, str) or not text.strip():
        raise UnknownLocaleError("locale", f"{text!r} is not a locale; use a tag such as 'sv_SE'")
    if pseudo_locale(text) is not None:
        return Locale.parse(SOURCE_LOCALE)  # formats like the English it is made from
    try:
        return Locale.parse(babel_spelling(text))
    except (ValueError, TypeError, BabelUnknownLocaleError) as exc:
        raise UnknownLocaleError(
            "locale", f"{text!r} is not a locale ({exc}); use a tag such as 'sv_SE' or 'en'"
        ) from exc


def pseudo_locale(text: str) -> str | None:
    """``"xx_long"``/``"xx_rtl"`` for ``xx-long``, ``xx_RTL`` ..., else ``None``."""
    key = text.strip().replace("-", "_").lower()
    return key if key in PSEUDO_LOCALES else None


def text_direction(locale_id: str) -> str:
    """``"rtl"`` or ``"ltr"``: CLDR's character order for the locale (ar, he, fa, ur ...).

    Args:
        locale_id: a catalog or recipient locale (``"ar"``, ``"he_IL"``, ``"xx-rtl"``).

    Returns:
        The value for ``<html dir>``; ``"ltr"`` for a tag Babel does not know.
    """
    pseudo = pseudo_locale(locale_id)
    if pseudo is not None:
        return "rtl" if pseudo == "xx_rtl" else "ltr"
    try:
        order = Locale.parse(locale_id.replace("-", "_")).character_order
    except (ValueError, TypeError, BabelUnknownLocaleError):
        return "ltr"
    return "rtl" if order == "right-to-left" else "ltr"


def language_tag(locale_id: str) -> str:
    """The BCP 47 tag for ``<html lang>`` / ``Content-Language`` (``pt_BR`` → ``pt-BR``)."""
    pseudo = pseudo_locale(locale_id)
    if pseudo is not None:
        return "en-XA" if pseudo == "xx_long" else "en-XB"  # the pseudo-locale convention
    return locale_id.replace("_", "-")


def po_path(locales_dir: Path, locale: str) -> Path:
    """Where the catalog of ``locale`` lives."""
    return locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


# One .po line: a comment, a keyword with one quoted string, or a continuation string.
_PO_LINE = re.compile(
    r'\s*(?:#.*|(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+"(?:[^"\\]|\\.)*"\s*'
    r'|"(?:[^"\\]|\\.)*"\s*|)'
)


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    """Parse one .po file; every failure is a ``CatalogError`` naming the file and line.

    Babel's parser silently mangles some broken lines (an unquoted ``msgstr Hej`` loses its
    first and last letter), so each line's shape is checked first.

    Args:
        path: the ``.po`` file.
        locale: the catalog's locale, for its plural rules (``None``: from the header).

    Returns:
        The parsed Babel ``Catalog``.

    Raises:
        CatalogError: the file cannot be read or is not a valid ``.po``; ``path`` and
            ``line`` (1-based, ``None`` when unknown) say where.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc}", path=str(path)) from exc
    for number, text in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not _PO_LINE.fullmatch(text):
            raise CatalogError(
                f"{path}:{number}: not a valid .po line: {text.strip()[:60]!r}; every msgid/msgstr "
                'needs its text in double quotes, with \\" for a quote inside the text',
                path=str(path), line=number,
            )
    try:
        return read_po(io.BytesIO(data), locale=locale, abort_invalid=True)
    except PoFileError as exc:
        line = exc.lineno + 1  # Babel counts from 0
        raise CatalogError(
            f"{path}:{line}: not a valid .po file: {exc.args[0]}", path=str(path), line=line
        ) from exc
    except Exception as exc:  # babel raises assorted ValueErrors (bad header, encoding)
        raise CatalogError(
            f"{path}: not a valid .po file: {exc}", path=str(path)
        ) from exc


def translations_from_po(path: Path, locale: str, *, quiet: bool = False) -> Translations:
    """Compile a .po in memory into gettext ``Translations`` (fuzzy entries are skipped).

    Raises:
        CatalogError: the file does not parse, or its ``Plural-Forms`` header does not
            compile or picks a form the catalog lacks (``path`` names the file).
    """
    return translations_from_catalog(read_catalog(path, locale), path, locale, quiet=quiet)


def translations_from_catalog(
    catalog: Catalog, path: Path, locale: str, *, quiet: bool = False
) -> Translations:
    """Compile a parsed catalog into gettext ``Translations`` (fuzzy entries are skipped).

    Babel reads a broken ``Plural-Forms`` header without complaint; gettext only fails when
    compiling or evaluating it, so both happen here, once, and name the file.

    Raises:
        CatalogError: the ``Plural-Forms`` header cannot be compiled or evaluated.
    """
    try:
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        translations = Translations(fp=buffer, domain=DOMAIN)
    except Exception as exc:  # gettext raises ValueError/SyntaxError/... on a bad header
        raise CatalogError(
            f"catalog {path} cannot be compiled: {exc}; check its Plural-Forms header "
            f"(expected for {locale!r}: {expected_plural_forms(locale) or 'unknown'})",
            path=str(path),
        ) from exc
    check_plural_rule(path, locale, translations.plural, catalog.num_plurals)
    drop_unusable_entries(translations, catalog, path, quiet=quiet)
    return translations


def drop_unusable_entries(
    translations: Translations, catalog: Catalog, path: Path, *, quiet: bool = False
) -> int:
    """Leave out entries the renderer cannot use, so each falls back on its own.

    A ``%(subjekt)s`` typo, changed markup or a half-translated plural must not stop a
    notification: the entry is removed from the compiled catalog, so that one string comes
    from the next catalog in the chain or, failing that, is the English source with English
    plural rules. Each entry is logged once per process (``ticketnotify.i18n``, WARNING);
    ``catalog check`` still reports it.

    Args:
        translations: the compiled catalog, changed in place.
        catalog: the parsed catalog it was compiled from.
        path: the ``.po`` file, for the log line.
        quiet: log nothing (``catalog check`` reports the entries itself).

    Returns:
        How many entries were left out.
    """
    dropped = 0
    table = translations._catalog
    for message in catalog:
        if not message.id:
            continue
        problem = runtime_problem(message)
        if problem is None:
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        key = ids[0] if message.context is None else f"{message.context}\x04{ids[0]}"
        if len(ids) == 1:
            table.pop(key, None)
        else:
            for index in range(max(catalog.num_plurals, len(message.string or ()))):
                table.pop((key, index), None)
        dropped += 1
        if not quiet:
            _log_once(str(path), f"{path}:{message.lineno or 0}: entry not used, readers "
                      f"get the fallback text for msgid {ids[0][:60]!r}: {problem}")
    return dropped


def _log_once(path: str, text: str) -> None:
    with _LOGGED_LOCK:
        if (path, text) in _LOGGED:
            return
        _LOGGED.add((path, text))
    log.warning("%s; run `ticketnotify catalog check`", text)


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
                f"{expected_plural_forms(locale) or 'unknown'})", path=str(path)
            ) from exc
        if not isinstance(index, int) or not 0 <= index < nplurals:
            raise CatalogError(
                f"catalog {path}: the Plural-Forms rule picks form {index!r} for n={n} but "
                f"nplurals={nplurals}; fix the header (expected for {locale!r}: "
                f"{expected_plural_forms(locale) or 'unknown'})", path=str(path)
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


def catalog_chain(locales_dirs: Sequence[Path], locale_id: str) -> list[Path]:
    """The catalogs that translate ``locale_id``, most specific first.

    Every folder's ``sv_SE`` catalog comes before any ``sv`` one, and within each the
    host's folders come before the shipped one (the last in ``locales_dirs``): a host entry
    overrides the shipped entry, and a string the host left untranslated falls back to the
    shipped translation, not to English.

    Args:
        locales_dirs: catalog folders in search order (the shipped one last).
        locale_id: a negotiated catalog locale such as ``"sv"`` or ``"pt_BR"``.

    Returns:
        The existing ``.po`` files, most specific first (may be empty).
    """
    names = [locale_id]
    language = locale_id.split("_", 1)[0]
    if language != locale_id:
        names.append(language)
    return [po_path(d, name) for name in names for d in locales_dirs if po_path(d, name).is_file()]


def chain_translations(
    paths: Sequence[Path], locale_id: str, parsed: dict[Path, Catalog] | None = None
) -> Translations:
    """Compile ``catalog_chain`` into one ``Translations``: the first file, falling back in turn.

    Raises:
        CatalogError: one of the files does not parse or compile (``path`` names it).
    """
    if not paths:
        raise CatalogError(f"no catalog for {locale_id!r}")
    parsed = parsed or {}
    compiled = [
        translations_from_catalog(parsed.get(p) or read_catalog(p, locale_id), p, locale_id)
        for p in paths
    ]
    for earlier, later in zip(compiled, compiled[1:], strict=False):
        earlier.add_fallback(later)
    return compiled[0]


@dataclass(frozen=True, slots=True)
class LocaleSet:
    """The catalog locales present on disk and the one to fall back to."""

    available: frozenset[str]
    default: str

    @classmethod
    def scan(cls, locales_dir: Path | Sequence[Path], default: str) -> LocaleSet:
        """Find every ``<locale>/LC_MESSAGES/ticketnotify.po`` below each folder.

        Raises:
            ConfigurationError: a folder does not exist, or no folder has a catalog for
                ``default``.
        """
        folders = [locales_dir] if isinstance(locales_dir, Path) else list(locales_dir)
        found: set[str] = set()
        for folder in folders:
            if not folder.is_dir():
                raise ConfigurationError(f"locales directory {folder} does not exist")
            found.update(p.name for p in folder.iterdir() if po_path(folder, p.name).is_file())
        default_norm = str(parse_locale(default))
        if default_norm not in found:
            where = ", ".join(str(f) for f in folders)
            raise ConfigurationError(
                f"default locale {default!r} has no catalog in {where} (found: "
                f"{', '.join(sorted(found)) or 'none'}); add "
                f"{po_path(folders[0], default_norm)}"
            )
        return cls(available=frozenset(found), default=default_norm)

    def negotiate(self, locale: str, *, pseudo: bool = False) -> str:
        """Best catalog for ``locale``: exact (``sv_SE``), then language (``sv``), then default.

        A language without a catalog of its own tries ``LANGUAGE_FALLBACK`` before the
        default: ``no``/``nn``/``nn_NO`` read the ``nb`` catalog. With ``pseudo``
        (staging, previews) ``xx-long`` and ``xx-rtl`` name themselves.
        """
        found = pseudo_locale(locale) if pseudo else None
        if found is not None:
            return found
        parsed = parse_locale(locale)
        fallback = LANGUAGE_FALLBACK.get(parsed.language, parsed.language)
        for candidate in (str(parsed), parsed.language, fallback):
            if candidate in self.available:
                return candidate
        return self.default
