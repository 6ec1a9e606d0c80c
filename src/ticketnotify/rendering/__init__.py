"""Localized email and push rendering: Jinja2 + Babel, CSS inlined once per template variant."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path

from babel.messages.catalog import Catalog

from ..brands import Brand
from ..errors import InvalidInputError
from ..events import TicketUpdate
from ..facts import DeliveryFacts
from ..i18n import (
    PSEUDO_LOCALES,
    LocaleSet,
    catalog_chain,
    chain_translations,
    read_catalog,
)
from ..routing import merged_into_number
from ..validation import check_timezone
from .branding import DEFAULT_LOOK, brand_look, brand_values
from .compiled import (
    BIDI_SUFFIX,
    Skeleton,
    SkeletonCache,
    SlotValue,
    inline_css,
    marker_context,
    variant_of,
)
from .environment import (
    TEMPLATES_DIR,
    LocaleTemplates,
    RenderConfig,
    resolve_config,
    template_errors,
)
from .excerpts import prepare as prepare_excerpt
from .pseudo import pseudo_translations
from .values import (
    EMAIL_EXCERPT_CHARS,
    PUSH_EXCERPT_CHARS,
    babel_locale,
    bidi_names,
    fill_values,
    format_when,
    with_bidi,
)

__all__ = ["RenderConfig", "RenderedEmail", "RenderedPush", "Renderer", "TEMPLATES_DIR"]


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """Subject, preheader line, inlined HTML and plain-text alternative of one email."""

    subject: str
    preheader: str
    html: str
    text: str


@dataclass(frozen=True, slots=True)
class RenderedPush:
    """Title and body of one push notification."""

    title: str
    body: str


@dataclass(frozen=True, slots=True)
class _EmailSkeleton:
    subject: Skeleton
    preheader: Skeleton
    html: Skeleton
    text: Skeleton
    bidi: frozenset[str] = frozenset()  # values the text parts isolate per message
    html_bidi: tuple[str, ...] = ()  # ``.bidi`` slots in the HTML (the <title> subject)


_SHARED: dict[RenderConfig, Renderer] = {}
_SHARED_LOCK = threading.Lock()


class Renderer:
    """Renders every message in the recipient's language, zone and plural rules.

    Every catalog (the host's and the shipped ones) is parsed when the ``Renderer`` is made,
    so a broken host ``.po`` fails here, naming the file and line, and a new ``Renderer``
    picks up a translator's edit. Each template × locale × variant is rendered by Jinja2 and
    inlined by premailer once; later messages only substitute escaped values.

    Build one per configuration and pass the same object to ``Notifier(renderer=...)`` and
    ``EmailCodeSender(renderer=...)`` (``Renderer.shared(config)`` does that per process).

    Args:
        config: the host's catalog and template folders (``RenderConfig``); default: the
            shipped catalogs and templates only.
        locales_dir: older form: one complete catalog folder used *instead of* the shipped
            one (``RenderConfig(locales_dirs=..., include_shipped_locales=False)``).
        default_locale: with ``locales_dir``: the fallback locale (default ``"en"``).

    Raises:
        ConfigurationError: a folder does not exist, both ``config`` and ``locales_dir``
            were given, or no catalog exists for the default locale.
        CatalogError: a catalog does not parse (``path`` and ``line`` say where).

    ``remote_images=True`` keeps ``https`` images of Markdown and HTML excerpts as images
    (default: each becomes a link to it, so opening a mail loads nothing remote).
    """

    def __init__(
        self,
        config: RenderConfig | None = None,
        *,
        locales_dir: Path | None = None,
        default_locale: str | None = None,
        remote_images: bool = False,
    ) -> None:
        self._remote_images = remote_images
        self.config = resolve_config(config, locales_dir, default_locale)
        self._locales_dirs = self.config.all_locales_dirs
        self._locales_dir = self._locales_dirs[-1]  # the base set (bench/render.py reads it)
        self._locales = LocaleSet.scan(list(self._locales_dirs), self.config.default_locale)
        # Parse every catalog now: a host's broken file is a CatalogError at setup, not at
        # delivery. Compiling (plural rules) stays per locale, on first use.
        self._parsed: dict[Path, Catalog] = {}
        for locale_id in self._locales.available:
            for po in catalog_chain(self._locales_dirs, locale_id):
                if po not in self._parsed:
                    self._parsed[po] = read_catalog(po, locale_id)
        self._templates: dict[str, LocaleTemplates] = {}
        self._emails: SkeletonCache[_EmailSkeleton] = SkeletonCache(self.config)
        self._pushes: SkeletonCache[tuple[Skeleton, Skeleton]] = SkeletonCache(self.config)
        self._negotiated: dict[str, str] = {}
        self._folders: dict[tuple[str, str], bool] = {}
        self._formats: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def shared(
        cls,
        config: RenderConfig | None = None,
        *,
        locales_dir: Path | None = None,
        default_locale: str | None = None,
    ) -> Renderer:
        """One Renderer per configuration for the whole process.

        Compiling a template variant (Jinja2 + premailer) costs tens of milliseconds; a host
        that builds a ``Notifier`` per request must not pay that each time. Equal configs
        (same folders, same default locale) get the same object, different ones never share.
        A long-running process sees catalog edits after a restart; build a fresh ``Renderer``
        to see them now.

        Args:
            config: as for ``Renderer``; ``None`` is the shipped catalogs and templates.
            locales_dir: as for ``Renderer`` (older form).
            default_locale: as for ``Renderer`` (with ``locales_dir``).

        Returns:
            The process-wide ``Renderer`` of that configuration.

        Raises:
            ConfigurationError, CatalogError: as for ``Renderer``.
        """
        key = resolve_config(config, locales_dir, default_locale)
        with _SHARED_LOCK:
            renderer = _SHARED.get(key)
            if renderer is None:
                renderer = _SHARED[key] = cls(key)
            return renderer

    @property
    def locales(self) -> frozenset[str]:
        """Catalog locales found on disk."""
        return self._locales.available

    @property
    def compiled_variants(self) -> int:
        """How many template variants have been compiled (and CSS-inlined) so far."""
        return len(self._emails) + len(self._pushes)

    def negotiate(self, locale: str) -> str:
        """Best available catalog locale: ``sv_SE`` → ``sv`` → the default locale.

        With ``RenderConfig(pseudo_locales=True)``, ``xx-long``/``xx-rtl`` give themselves.
        """
        found = self._negotiated.get(locale)
        if found is None:
            found = self._locales.negotiate(locale, pseudo=self.config.pseudo_locales)
            if len(self._negotiated) < 4096:  # bounded: locale strings may come from hosts
                self._negotiated[locale] = found
        return found

    def render_update_email(
        self,
        update: TicketUpdate,
        *,
        ticket_url: str,
        app_url: str | None,
        guest: bool,
        include_excerpt: bool,
        include_subject: bool = True,
        brand: Brand | None = None,
    ) -> RenderedEmail:
        """One update as email: one subject per ticket, the news in body and preheader.

        ``include_subject=False`` leaves the ticket's subject out of every part (the copy names
        the ticket by number instead): it is text whoever filed the ticket typed, and an
        unverified guest mailbox must not receive it, or the notifier relays spam.
        ``brand`` gives the team name, logo, colours, footer lines and reply mode; ``None``
        is the default look and notification-only copy.
        """
        r = update.recipient
        values = self._update_values(update, include_excerpt, EMAIL_EXCERPT_CHARS)
        if not include_subject:
            values["ticket_subject"] = ""  # templates test it for truth and pick the other copy
        values["guest"] = bool(guest)
        values["ticket_url"] = ticket_url
        values["app_url"] = None if guest or not app_url else app_url
        values.update(brand_values(brand))
        return self._render_email(update.kind.value, r.locale, values, html_slots=_SANITIZED_HTML,
                                  look=brand_look(brand))

    def render_update_push(self, update: TicketUpdate, *, include_excerpt: bool) -> RenderedPush:
        """The push for one update; no conversation content unless the host opted in."""
        values = self._update_values(update, include_excerpt, PUSH_EXCERPT_CHARS)
        values.pop("ticket_subject")  # lock screens are public: the subject stays in the app
        return self._render_push(update.kind.value, update.recipient.locale, values)

    def _render_push(self, kind: str, locale: str, values: dict[str, SlotValue]) -> RenderedPush:
        for name in _EMAIL_ONLY:  # the author's name is conversation, as the subject is
            values.pop(name, None)
        templates = self._templates_for(locale)
        key = (kind, templates.locale_id, variant_of(values, templates.plural_key))
        skeletons = self._pushes.get(key)
        if skeletons is None:
            ctx = marker_context(values)
            base = f"push/{kind}"
            with template_errors(templates.locale_id, base, self.config):
                skeletons = (
                    _line(templates.render(f"{base}/title.txt", ctx)),
                    _line(templates.render(f"{base}/body.txt", ctx)),
                )
            skeletons = self._pushes.put(key, skeletons)
        filled = fill_values(values, babel_locale(self.formatting_locale(locale)))
        filled = with_bidi(filled, bidi_names(*skeletons), templates.direction == "rtl")
        return RenderedPush(title=skeletons[0].fill(filled), body=skeletons[1].fill(filled))

    def render_email(
        self, template: str, locale: str, time_zone: str, context: Mapping[str, object]
    ) -> RenderedEmail:
        """Render a named email (e.g. ``verification_code``) from plain values.

        Values must be str, int, bool, None or aware datetimes (shown in ``time_zone``);
        templates only print values or test them for truth.
        """
        check_timezone("time_zone", time_zone)
        fmt_locale = babel_locale(self.formatting_locale(locale))
        values: dict[str, SlotValue] = {}
        for name, value in context.items():
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    raise InvalidInputError(name, "must be timezone-aware (naive datetime given)")
                values[name] = format_when(value, time_zone, str(fmt_locale))
            elif value is None or isinstance(value, str | int | bool):
                values[name] = value
            else:
                raise InvalidInputError(
                    name, f"must be str, int, bool, None or datetime, got {type(value).__name__}"
                )
        return self._render_email(template, locale, values)

    def formatting_locale(self, locale: str) -> str:
        """The locale dates and numbers are written in: the language the text is in.

        A recipient whose language has a catalog keeps their own regional formats
        (``sv_FI``); one whose language has none (``nl_NL`` → English text) gets the formats
        of the catalog the text comes from, so no message mixes two languages. The time zone
        always stays the recipient's.

        Args:
            locale: the recipient's locale.

        Returns:
            A Babel locale identifier such as ``"sv_FI"`` or ``"en"``.
        """
        found = self._formats.get(locale)
        if found is None:
            locale_id = self.negotiate(locale)
            wanted = babel_locale(locale)
            if locale_id in PSEUDO_LOCALES:
                found = "en"
            elif wanted.language == babel_locale(locale_id).language:
                found = str(wanted)
            else:
                found = locale_id
            if len(self._formats) < 4096:  # bounded: locale strings may come from hosts
                self._formats[locale] = found
        return found

    def render_facts(
        self, facts: DeliveryFacts, brand: Brand | None = None, *, locale: str | None = None
    ) -> RenderedEmail | RenderedPush:
        """Render one delivery from a job's stored facts (the worker's path since Outbox v2).

        Args:
            facts: the job's ``DeliveryFacts`` (its excerpt is sanitized and cut here).
            brand: the brand ``facts.brand`` names (team, logo, colours, footer); ``None``
                is the default look.
            locale: render in this locale instead of ``facts.locale`` (the worker's
                fallback to the default locale when the recipient's catalog fails).

        Returns:
            ``RenderedEmail`` for ``facts.medium == "email"``, else ``RenderedPush``.

        Raises:
            CatalogError, ConfigurationError, InvalidInputError: the templates or catalogs
                of that locale cannot render it.
        """
        loc = locale or facts.locale
        push = facts.medium == "push"
        values = self._content_values(
            number=facts.ticket_number, subject=facts.subject, excerpt=facts.excerpt,
            excerpt_format=facts.excerpt_format, author_name=facts.author_name,
            attachments=facts.attachments or None, status=facts.status,
            new_replies=facts.new_replies, occurred_at=facts.occurred_at,
            time_zone=facts.time_zone, locale=loc, name=facts.name,
            merged_into=facts.merged_into,
            excerpt_chars=PUSH_EXCERPT_CHARS if push else EMAIL_EXCERPT_CHARS)
        if push:
            del values["ticket_subject"]
            return self._render_push(facts.kind, loc, values)
        values["guest"] = facts.guest
        values["ticket_url"] = facts.ticket_url
        values["app_url"] = None if facts.guest or not facts.app_url else facts.app_url
        values.update(brand_values(brand))
        return self._render_email(facts.kind, loc, values, html_slots=_SANITIZED_HTML,
                                  look=brand_look(brand))

    def has_templates(self, medium: str, kind: str) -> bool:
        """Whether a template folder ``<medium>/<kind>`` exists (``publish``'s cheap check)."""
        found = self._folders.get((medium, kind))
        if found is None:
            found = self._folders[(medium, kind)] = any(
                (Path(d) / medium / kind).is_dir() for d in self.config.all_templates_dirs)
        return found

    def _update_values(
        self, update: TicketUpdate, include_excerpt: bool, excerpt_chars: int
    ) -> dict[str, SlotValue]:
        r = update.recipient
        return self._content_values(
            number=update.ticket.number,  # templates show it: the number, not the key
            subject=update.ticket.subject,
            excerpt=update.excerpt if include_excerpt else None,
            excerpt_format=update.excerpt_format, author_name=update.author_name,
            attachments=(update.attachments or None) if include_excerpt else None,
            status=update.status, new_replies=update.new_replies,
            occurred_at=update.occurred_at, time_zone=r.time_zone, locale=r.locale,
            # kind "merged": the ticket the conversation continues in (a number, not content)
            name=r.name, merged_into=merged_into_number(update), excerpt_chars=excerpt_chars)

    def _content_values(
        self, *, number: str, subject: str, excerpt: str | None, excerpt_format: str,
        author_name: str | None, attachments: int | None, status: str | None,
        new_replies: int, occurred_at: datetime, time_zone: str, locale: str, name: str,
        merged_into: str | None, excerpt_chars: int,
    ) -> dict[str, SlotValue]:
        """The slot values of an update's message: one place for publish's facts and an update."""
        shown = prepare_excerpt(excerpt, excerpt_format, excerpt_chars,
                                remote_images=self._remote_images) if excerpt else None
        return {
            "ticket_id": number,
            "ticket_subject": subject,
            "excerpt": shown.text if shown else None,
            "excerpt_html": shown.html if shown else None,  # sanitized: filled unescaped
            "author_name": author_name if shown else None,
            # None, not 0: a count of 0 shares its plural form (and so its variant) with 2
            "attachments": attachments,
            "status": status or None,
            "new_replies": new_replies,
            "occurred_at": format_when(occurred_at, time_zone, self.formatting_locale(locale)),
            "name": name,
            "merged_into": merged_into,
        }

    def _templates_for(self, locale: str) -> LocaleTemplates:
        locale_id = self.negotiate(locale)
        found = self._templates.get(locale_id)
        if found is None:
            with self._lock:
                found = self._templates.get(locale_id)
                if found is None and locale_id in PSEUDO_LOCALES:
                    translations = pseudo_translations(locale_id, self._locales_dirs)
                    found = LocaleTemplates(locale_id, translations, self.config.templates_dirs)
                    self._templates[locale_id] = found
                if found is None:
                    chain = catalog_chain(self._locales_dirs, locale_id)
                    translations = chain_translations(chain, locale_id, self._parsed)
                    found = LocaleTemplates(locale_id, translations, self.config.templates_dirs)
                    self._templates[locale_id] = found
        return found

    def _render_email(
        self, template: str, locale: str, values: dict[str, SlotValue],
        look: tuple[tuple[str, str], ...] = DEFAULT_LOOK,
        html_slots: frozenset[str] = frozenset(),
    ) -> RenderedEmail:
        templates = self._templates_for(locale)
        key = (template, templates.locale_id, variant_of(values, templates.plural_key), look)
        skeleton = self._emails.get(key)
        if skeleton is None:
            skeleton = self._emails.put(key, self._compile_email(templates, template, values, look))
        filled = fill_values(values, babel_locale(self.formatting_locale(locale)))
        plain = with_bidi(filled, skeleton.bidi, templates.direction == "rtl")
        escaped = {name: value if name in html_slots else escape(value)
                   for name, value in filled.items()}
        for name in skeleton.html_bidi:  # the subject in <title>
            escaped[name] = escape(plain[name])
        return RenderedEmail(
            subject=skeleton.subject.fill(plain),
            preheader=skeleton.preheader.fill(plain),
            html=skeleton.html.fill(escaped),
            text=skeleton.text.fill(plain),
        )

    def _compile_email(
        self, templates: LocaleTemplates, template: str, values: dict[str, SlotValue],
        look: tuple[tuple[str, str], ...],
    ) -> _EmailSkeleton:
        if not template.replace("_", "").isalnum():
            raise InvalidInputError("template", f"{template!r} is not a template name")
        ctx = {**marker_context(values), **dict(look)}  # colours: compiled in, checked by Brand
        base = f"email/{template}"
        with template_errors(templates.locale_id, base, self.config):
            subject = templates.render(f"{base}/subject.txt", ctx)
            preheader = templates.render(f"{base}/preheader.txt", ctx)
            heads = {"subject": " ".join(subject.split()), "preheader": " ".join(preheader.split())}
            html = inline_css(templates.render(f"{base}/body.html", {**ctx, **heads}))
            text = templates.render(f"{base}/body.txt", ctx)
        parts = (_line(subject), _line(preheader), Skeleton.build(html.rstrip() + "\n"),
                 Skeleton.build(text.strip() + "\n"))
        html_bidi = tuple(sorted(n for n in parts[2].slots if n.endswith(BIDI_SUFFIX)))
        return _EmailSkeleton(*parts, bidi=bidi_names(*parts), html_bidi=html_bidi)


# Values already sanitized to safe HTML by rendering.excerpts; every other value is escaped.
_SANITIZED_HTML = frozenset({"excerpt_html"})
_EMAIL_ONLY = ("excerpt_html", "author_name", "attachments")


def _line(rendered: str) -> Skeleton:
    """Subjects, preheaders and push texts are one line with single spaces."""
    return Skeleton.build(rendered, one_line=True)
