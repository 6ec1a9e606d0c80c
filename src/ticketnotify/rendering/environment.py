"""Where copy and templates come from: the host's folders first, then the shipped ones.

``RenderConfig`` names the host's catalog and template folders; ``LocaleTemplates`` is one
Jinja2 environment per catalog locale, wired to that locale's merged gettext translations and
to a loader that searches the host's templates before the shipped ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
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
    pass_eval_context,
    select_autoescape,
)
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape

from ..errors import ConfigurationError
from ..i18n import default_locales_dir, parse_locale, po_path, translations_from_po

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

    Raises:
        ConfigurationError: a folder does not exist (``locales_dirs`` / ``templates_dirs``
            named in the message).
        UnknownLocaleError: ``default_locale`` is not a locale (``field`` is ``"locale"``).
    """

    locales_dirs: tuple[Path, ...]
    templates_dirs: tuple[Path, ...]
    default_locale: str
    include_shipped_locales: bool

    def __init__(
        self,
        *,
        locales_dirs: PathLike | Iterable[PathLike] = (),
        templates_dirs: PathLike | Iterable[PathLike] = (),
        default_locale: str = "en",
        include_shipped_locales: bool = True,
    ) -> None:
        object.__setattr__(self, "locales_dirs", _folders("locales_dirs", locales_dirs))
        object.__setattr__(self, "templates_dirs", _folders("templates_dirs", templates_dirs))
        object.__setattr__(self, "default_locale", str(parse_locale(default_locale)))
        object.__setattr__(self, "include_shipped_locales", bool(include_shipped_locales))
        if not include_shipped_locales and not self.locales_dirs:
            raise ConfigurationError(
                "locales_dirs: include_shipped_locales=False needs at least one folder"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RenderConfig:
        """Optional helper: read the folders from environment variables.

        ``TICKETNOTIFY_LOCALES`` and ``TICKETNOTIFY_TEMPLATES`` hold folders separated by
        ``os.pathsep`` (``:`` on POSIX); ``TICKETNOTIFY_DEFAULT_LOCALE`` the default locale.
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


@pass_eval_context
def isolate(ctx: EvalContext, value: object) -> str:
    """Keep a right-to-left name or subject from reordering the sentence around it."""
    if ctx.autoescape:
        return Markup('<bdi dir="auto">') + escape(value) + Markup("</bdi>")
    return f"\u2068{value}\u2069"


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
        self.locale = Locale.parse(locale_id)
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
        self.env.filters["isolate"] = isolate
        self.env.globals["lang"] = self.locale.language

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
        return tuple(forms)

    def render(self, name: str, context: dict[str, object]) -> str:
        """Render one template file with the given (marker) context."""
        return self.env.get_template(name).render(context)
