"""One Jinja2 environment per catalog locale, wired to that locale's gettext translations."""

from __future__ import annotations

from pathlib import Path

from babel import Locale
from babel.support import Translations
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_eval_context,
    select_autoescape,
)
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape

from ..i18n import po_path, translations_from_po

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


@pass_eval_context
def isolate(ctx: EvalContext, value: object) -> str:
    """Keep a right-to-left name or subject from reordering the sentence around it."""
    if ctx.autoescape:
        return Markup('<bdi dir="auto">') + escape(value) + Markup("</bdi>")
    return f"\u2068{value}\u2069"


class LocaleTemplates:
    """Templates plus catalog for one locale; compiled templates are cached by Jinja2."""

    def __init__(
        self, locale_id: str, locales_dir: Path, templates_dir: Path = TEMPLATES_DIR
    ) -> None:
        self.locale_id = locale_id
        self.locale = Locale.parse(locale_id)
        self.translations: Translations = translations_from_po(
            po_path(locales_dir, locale_id), locale_id
        )
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
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

    def render(self, name: str, context: dict[str, object]) -> str:
        """Render one template file with the given (marker) context."""
        return self.env.get_template(name).render(context)
