"""Where copy and templates come from: the host's folders first, then the shipped ones.

``RenderConfig`` names the host's catalog and template folders; ``LocaleTemplates`` is one
Jinja2 environment per catalog locale, wired to that locale's merged gettext translations and
to a loader that searches the host's templates before the shipped ones.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.support import Translations
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup, escape

from ..errors import CatalogError, ConfigurationError, InvalidInputError
from ..i18n import (
    default_locales_dir,
    language_tag,
    parse_locale,
    po_path,
    text_direction,
    translations_from_po,
)
from .bidi import isolate_text
from .compiled import bidi_marker

log = logging.getLogger("ticketnotify.i18n")

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
# ``{% extends "ticketnotify/email/update.html" %}`` always reaches the shipped file, so a host
# template of the same name can extend it and override one block.
SHIPPED_PREFIX = "ticketnotify"

PathLike = str | os.PathLike[str]


def _folders(field: str, value: PathLike | Iterable[PathLike]) -> tuple[Path, ...]:
    items = [value] if isinstance(value, str | os.PathLike) else list(value)
    folders: list[Path] = []
    for item in items:
        folder = Path(item).expanduser()
        if not folder.is_dir():
            raise ConfigurationError(
                f"{field}: {folder} does not exist or is not a directory; pass the folder holding "
                + ("<locale>/LC_MESSAGES/ticketnotify.po" if field == "locales_dirs"
                   else "email/… and push/… templates")
            )
        folders.append(folder.resolve())
    return tuple(folders)


@dataclass(frozen=True, slots=True, init=False)
class RenderConfig:
    """The host's own copy and look: catalog and template folders searched before the shipped ones.

    One value describes one rendering setup; pass the same ``Renderer`` (built from it) to
    ``Notifier(renderer=...)`` and ``EmailCodeSender(renderer=...)``. Configs compare equal
    when their (resolved) folders and default locale are equal, so ``Renderer.shared(config)``
    and the compiled-template cache key on them.

    Args:
        locales_dirs: the host's catalog folders, each holding
            ``<locale>/LC_MESSAGES/ticketnotify.po``; earlier folders win. A host ``sv``
            catalog overrides single shipped ``sv`` entries (entries it leaves untranslated
            keep the shipped text); a host ``da`` catalog adds Danish.
        templates_dirs: the host's template folders (same layout as the shipped
            ``templates/``: ``email/<kind>/body.html`` ...); earlier folders win. A host
            template may ``{% extends "ticketnotify/email/update.html" %}`` to reach the
            shipped file of the same name and override one block.
        default_locale: the locale used when a recipient's locale has no catalog.
        include_shipped_locales: ``False`` uses only ``locales_dirs`` (a complete set of
            catalogs of your own); the shipped templates are always searched last.
        pseudo_locales: ``True`` (staging, QA) lets a recipient locale ``xx-long`` (accented,
            ~40% longer) or ``xx-rtl`` (mirrored, right to left) select a pseudo-locale made
            from the English source at run time (docs/i18n.md); ``False`` renders them as the
            default locale.

    Raises:
        ConfigurationError: a folder does not exist (``locales_dirs`` / ``templates_dirs``
            named in the message).
        UnknownLocaleError: ``default_locale`` is not a locale (``field`` is ``"locale"``).
    """

    locales_dirs: tuple[Path, ...]
    templates_dirs: tuple[Path, ...]
    default_locale: str
    include_shipped_locales: bool
    pseudo_locales: bool

    def __init__(
        self,
        *,
        locales_dirs: PathLike | Iterable[PathLike] = (),
        templates_dirs: PathLike | Iterable[PathLike] = (),
        default_locale: str = "en",
        include_shipped_locales: bool = True,
        pseudo_locales: bool = False,
    ) -> None:
        object.__setattr__(self, "locales_dirs", _folders("locales_dirs", locales_dirs))
        object.__setattr__(self, "templates_dirs", _folders("templates_dirs", templates_dirs))
        object.__setattr__(self, "default_locale", str(parse_locale(default_locale)))
        object.__setattr__(self, "include_shipped_locales", bool(include_shipped_locales))
        object.__setattr__(self, "pseudo_locales", bool(pseudo_locales))
        if not include_shipped_locales and not self.locales_dirs:
            raise ConfigurationError(
                "locales_dirs: include_shipped_locales=False needs at least one folder"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RenderConfig:
        """Optional helper: read the folders from environment variables.

        ``TICKETNOTIFY_LOCALES`` and ``TICKETNOTIFY_TEMPLATES`` hold folders separated by
        ``os.pathsep`` (``:`` on POSIX); ``TICKETNOTIFY_DEFAULT_LOCALE`` the default locale;
        ``TICKETNOTIFY_PSEUDO_LOCALES=1`` turns the QA pseudo-locales on (staging only).
        Unset variables mean the shipped catalogs and templates only.

        Args:
            environ: the variables to read; ``os.environ`` when ``None``.

        Returns:
            The ``RenderConfig`` they describe.

        Raises:
            ConfigurationError: a named folder does not exist.
            UnknownLocaleError: the default locale is not a locale.
        """
        env = os.environ if environ is None else environ

        def split(name: str) -> list[str]:
            return [part for part in env.get(name, "").split(os.pathsep) if part]

        return cls(
            locales_dirs=split("TICKETNOTIFY_LOCALES"),
            templates_dirs=split("TICKETNOTIFY_TEMPLATES"),
            default_locale=env.get("TICKETNOTIFY_DEFAULT_LOCALE") or "en",
            pseudo_locales=env.get("TICKETNOTIFY_PSEUDO_LOCALES", "").lower() in ("1", "true", "yes"),
        )

    @property
    def all_locales_dirs(self) -> tuple[Path, ...]:
        """Catalog folders in search order: the host's, then the shipped one."""
        if not self.include_shipped_locales:
            return self.locales_dirs
        shipped = default_locales_dir().resolve()
        return (*(d for d in self.locales_dirs if d != shipped), shipped)

    @property
    def all_templates_dirs(self) -> tuple[Path, ...]:
        """Template folders in search order: the host's, then the shipped one."""
        return (*self.templates_dirs, TEMPLATES_DIR)


def template_loader(templates_dirs: Sequence[Path] = ()) -> ChoiceLoader:
    """Host folders first, then the shipped templates; ``ticketnotify/…`` is always shipped."""
    return ChoiceLoader([
        PrefixLoader({SHIPPED_PREFIX: FileSystemLoader(str(TEMPLATES_DIR))}),
        FileSystemLoader([str(d) for d in (*templates_dirs, TEMPLATES_DIR)]),
    ])


@pass_context
def isolate(ctx: Context, value: object) -> str:
    """Keep a value of another direction (name, subject, number) from reordering the text.

    HTML: always ``<bdi dir="auto">``. Plain text: a ``.bidi`` slot, filled per message with
    U+2068/U+2069 only when the value's direction may differ from the message's
    (``rendering.bidi``), so a copied ASCII ticket number carries no invisible characters.
    """
    if ctx.eval_ctx.autoescape:
        return Markup('<bdi dir="auto">') + escape(value) + Markup("</bdi>")
    marker = bidi_marker(value)
    if marker is not None:
        return marker
    return isolate_text(str(value), ctx.get("dir") == "rtl")


def _log_fallback(locale_id: str, msgid: str, exc: Exception) -> None:
    key = (locale_id, msgid)
    if key not in _FALLBACK_LOGGED:
        _FALLBACK_LOGGED.add(key)
        log.warning("catalog %r: msgid %r cannot be filled (%r); readers get the English "
                    "text; run `ticketnotify catalog check`", locale_id, msgid[:60], exc)


_FALLBACK_LOGGED: set[tuple[str, str]] = set()


def safe_gettext(locale_id: str, translations: Translations) -> tuple[object, object]:
    """Jinja2 new-style ``gettext``/``ngettext`` that fall back to the English source.

    Broken entries are already left out when a catalog is compiled; this is the last net for
    anything that still fails to format, so one entry never stops a notification.
    """

    @pass_context
    def gettext(__context: Context, __string: str, **variables: object) -> str:
        rv = __context.call(translations.gettext, __string)
        markup = __context.eval_ctx.autoescape
        try:
            return (Markup(rv) if markup else rv) % variables
        except (KeyError, ValueError, TypeError) as exc:
            _log_fallback(locale_id, __string, exc)
            return (Markup(__string) if markup else __string) % variables

    @pass_context
    def ngettext(
        __context: Context, __singular: str, __plural: str, __num: int, **variables: object
    ) -> str:
        variables.setdefault("num", __num)
        rv = __context.call(translations.ngettext, __singular, __plural, __num)
        markup = __context.eval_ctx.autoescape
        try:
            return (Markup(rv) if markup else rv) % variables
        except (KeyError, ValueError, TypeError) as exc:
            _log_fallback(locale_id, __singular, exc)
            source = __singular if __num == 1 else __plural
            return (Markup(source) if markup else source) % variables

    return gettext, ngettext


class LocaleTemplates:
    """Templates plus catalog for one locale; compiled templates are cached by Jinja2.

    Args:
        locale_id: the catalog locale (``"sv"``, ``"da"``).
        translations: the locale's merged ``Translations``, or a folder holding
            ``<locale_id>/LC_MESSAGES/ticketnotify.po`` to read them from.
        templates_dirs: the host's template folders, searched before the shipped ones.
    """

    def __init__(
        self,
        locale_id: str,
        translations: Translations | Path,
        templates_dirs: Sequence[Path] = (),
    ) -> None:
        self.locale_id = locale_id
        self.locale: Locale = parse_locale(locale_id)
        self.direction = text_direction(locale_id)
        if isinstance(translations, Path):
            translations = translations_from_po(po_path(translations, locale_id), locale_id)
        self.translations: Translations = translations
        self.env = Environment(
            loader=template_loader(templates_dirs),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            extensions=["jinja2.ext.i18n"],
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        self.env.policies["ext.i18n.trimmed"] = True
        self.env.install_gettext_translations(  # type: ignore[attr-defined]  # added by ext.i18n
            self.translations, newstyle=True
        )
        gettext, ngettext = safe_gettext(locale_id, self.translations)
        self.env.globals["gettext"] = gettext
        self.env.globals["ngettext"] = ngettext
        self.env.filters["isolate"] = isolate
        self.env.globals["lang"] = language_tag(locale_id)
        self.env.globals["dir"] = self.direction
        # Logical sides for the layout's CSS: compiled in per direction, so inlining keeps them.
        rtl = self.direction == "rtl"
        self.env.globals["start"] = "right" if rtl else "left"
        self.env.globals["end"] = "left" if rtl else "right"

    def plural(self, n: int) -> int:
        """The catalog's plural-form index for ``n`` (``Plural-Forms`` header)."""
        return int(self.translations.plural(n))

    def plural_key(self, n: int) -> tuple[int, ...]:
        """Plural-form index of ``n`` in every catalog of the chain (a variant's plural part).

        A string the host left untranslated is taken from the shipped catalog with that
        catalog's own plural rule, so two counts share a compiled variant only if every
        catalog in the chain picks the same form for both.
        """
        forms: list[int] = []
        current: object = self.translations
        while current is not None:
            plural = getattr(current, "plural", None)
            if plural is not None:
                forms.append(int(plural(n)))
            current = getattr(current, "_fallback", None)
        forms.append(int(n != 1))  # a string no catalog translates is English
        return tuple(forms)

    def render(self, name: str, context: dict[str, object]) -> str:
        """Render one template file with the given (marker) context."""
        return self.env.get_template(name).render(context)


def resolve_config(
    config: RenderConfig | None, locales_dir: Path | None, default_locale: str | None
) -> RenderConfig:
    if config is not None:
        if locales_dir is not None or default_locale is not None:
            raise ConfigurationError(
                "pass either config=RenderConfig(...) or locales_dir=/default_locale=, not both"
            )
        if not isinstance(config, RenderConfig):
            raise ConfigurationError(f"config must be a RenderConfig, not {type(config).__name__}")
        return config
    if locales_dir is not None:
        return RenderConfig(locales_dirs=[locales_dir], default_locale=default_locale or "en",
                            include_shipped_locales=False)
    return RenderConfig(default_locale=default_locale or "en")


@contextmanager
def template_errors(locale_id: str, base: str, config: RenderConfig) -> Iterator[None]:
    """Name the template, value or catalog entry behind a failure while compiling."""
    try:
        yield
    except TemplateNotFound as exc:
        where = ", ".join(str(d) for d in config.all_templates_dirs)
        raise InvalidInputError(
            "template", f"no template {base!r}: {exc.name} is missing under {where}"
        ) from exc
    except TemplateSyntaxError as exc:
        raise ConfigurationError(
            f"{exc.filename or exc.name}:{exc.lineno}: template syntax error: {exc.message}"
        ) from exc
    except UndefinedError as exc:
        raise InvalidInputError("context", f"{base} needs a value: {exc.message}") from exc
    except (KeyError, ValueError, TypeError) as exc:
        # A msgstr whose placeholders do not match its msgid fails at "%" formatting.
        raise CatalogError(
            f"catalog {locale_id!r} cannot fill {base}: {exc!r}; "
            "run `ticketnotify catalog check` to find the broken entry"
        ) from exc
