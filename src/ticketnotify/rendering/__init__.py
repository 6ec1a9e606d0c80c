"""Localized email and push rendering: Jinja2 + Babel, CSS inlined once per template variant."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from html import escape
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from jinja2 import TemplateNotFound, TemplateSyntaxError, UndefinedError

from ..brands import Brand
from ..errors import CatalogError, ConfigurationError, InvalidInputError
from ..events import TicketUpdate
from ..facts import DeliveryFacts
from ..i18n import LocaleSet, catalog_chain, chain_translations, parse_locale, read_catalog
from ..routing import merged_into_number
from ..validation import check_timezone
from .branding import DEFAULT_LOOK, brand_look, brand_values
from .compiled import (
    Skeleton,
    SkeletonCache,
    SlotValue,
    inline_css,
    marker_context,
    variant_of,
)
from .environment import TEMPLATES_DIR, LocaleTemplates, RenderConfig
from .values import EMAIL_EXCERPT_CHARS, PUSH_EXCERPT_CHARS, format_count, format_when, shorten

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


@lru_cache(maxsize=256)
def _babel_locale(locale: str) -> Locale:
    return parse_locale(locale)


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
    """

    def __init__(
        self,
        config: RenderConfig | None = None,
        *,
        locales_dir: Path | None = None,
        default_locale: str | None = None,
    ) -> None:
        self.config = _config(config, locales_dir, default_locale)
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
        key = _config(config, locales_dir, default_locale)
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
        """Best available catalog locale: ``sv_SE`` → ``sv`` → the default locale."""
        found = self._negotiated.get(locale)
        if found is None:
            found = self._locales.negotiate(locale)
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
        return self._render_email(update.kind.value, r.locale, values, look=brand_look(brand))

    def render_update_push(self, update: TicketUpdate, *, include_excerpt: bool) -> RenderedPush:
        """The push for one update; no conversation content unless the host opted in."""
        values = self._update_values(update, include_excerpt, PUSH_EXCERPT_CHARS)
        values.pop("ticket_subject")  # lock screens are public: the subject stays in the app
        return self._render_push(update.kind.value, update.recipient.locale, values)

    def _render_push(self, kind: str, locale: str, values: dict[str, SlotValue]) -> RenderedPush:
        templates = self._templates_for(locale)
        key = (kind, templates.locale_id, variant_of(values, templates.plural_key))
        skeletons = self._pushes.get(key)
        if skeletons is None:
            ctx = marker_context(values)
            base = f"push/{kind}"
            with _template_errors(templates.locale_id, base, self.config):
                skeletons = (
                    _line(templates.render(f"{base}/title.txt", ctx)),
                    _line(templates.render(f"{base}/body.txt", ctx)),
                )
            skeletons = self._pushes.put(key, skeletons)
        filled = _fill_values(values, _babel_locale(locale))
        return RenderedPush(title=skeletons[0].fill(filled), body=skeletons[1].fill(filled))

    def render_email(
        self, template: str, locale: str, time_zone: str, context: Mapping[str, object]
    ) -> RenderedEmail:
        """Render a named email (e.g. ``verification_code``) from plain values.

        Values must be str, int, bool, None or aware datetimes (shown in ``time_zone``);
        templates only print values or test them for truth.
        """
        check_timezone("time_zone", time_zone)
        babel_locale = _babel_locale(locale)
        values: dict[str, SlotValue] = {}
        for name, value in context.items():
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    raise InvalidInputError(name, "must be timezone-aware (naive datetime given)")
                values[name] = format_when(value, time_zone, str(babel_locale))
            elif value is None or isinstance(value, str | int | bool):
                values[name] = value
            else:
                raise InvalidInputError(
                    name, f"must be str, int, bool, None or datetime, got {type(value).__name__}"
                )
        return self._render_email(template, locale, values)

    def render_facts(
        self, facts: DeliveryFacts, brand: Brand | None = None, *, locale: str | None = None
    ) -> RenderedEmail | RenderedPush:
        """Render one delivery from a job's stored facts (the worker's path since Outbox v2).

        Args:
            facts: the job's ``DeliveryFacts``; its excerpt is already cut to length.
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
        values: dict[str, SlotValue] = {
            "ticket_id": facts.ticket_number, "ticket_subject": facts.subject,
            "excerpt": facts.excerpt or None, "status": facts.status or None,
            "new_replies": facts.new_replies,
            "occurred_at": format_when(facts.occurred_at, facts.time_zone, loc),
            "name": facts.name, "merged_into": facts.merged_into,
        }
        if facts.medium == "push":
            del values["ticket_subject"]
            return self._render_push(facts.kind, loc, values)
        values["guest"] = facts.guest
        values["ticket_url"] = facts.ticket_url
        values["app_url"] = None if facts.guest or not facts.app_url else facts.app_url
        values.update(brand_values(brand))
        return self._render_email(facts.kind, loc, values, look=brand_look(brand))

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
        excerpt = update.excerpt if include_excerpt and update.excerpt else None
        if excerpt is not None and not excerpt.strip():
            excerpt = None
        return {
            "ticket_id": update.ticket.number,  # templates show it: the number, not the key
            "ticket_subject": update.ticket.subject,
            "excerpt": shorten(excerpt, excerpt_chars) if excerpt else None,
            "status": update.status or None,
            "new_replies": update.new_replies,
            "occurred_at": format_when(update.occurred_at, r.time_zone, r.locale),
            "name": r.name,
            # kind "merged": the ticket the conversation continues in (a number, not content)
            "merged_into": merged_into_number(update),
        }

    def _templates_for(self, locale: str) -> LocaleTemplates:
        locale_id = self.negotiate(locale)
        found = self._templates.get(locale_id)
        if found is None:
            with self._lock:
                found = self._templates.get(locale_id)
                if found is None:
                    chain = catalog_chain(self._locales_dirs, locale_id)
                    translations = chain_translations(chain, locale_id, self._parsed)
                    found = LocaleTemplates(locale_id, translations, self.config.templates_dirs)
                    self._templates[locale_id] = found
        return found

    def _render_email(
        self, template: str, locale: str, values: dict[str, SlotValue],
        look: tuple[tuple[str, str], ...] = DEFAULT_LOOK,
    ) -> RenderedEmail:
        templates = self._templates_for(locale)
        key = (template, templates.locale_id, variant_of(values, templates.plural_key), look)
        skeleton = self._emails.get(key)
        if skeleton is None:
            skeleton = self._emails.put(key, self._compile_email(templates, template, values, look))
        filled = _fill_values(values, _babel_locale(locale))
        escaped = {name: escape(value) for name, value in filled.items()}
        return RenderedEmail(
            subject=skeleton.subject.fill(filled),
            preheader=skeleton.preheader.fill(filled),
            html=skeleton.html.fill(escaped),
            text=skeleton.text.fill(filled),
        )

    def _compile_email(
        self, templates: LocaleTemplates, template: str, values: dict[str, SlotValue],
        look: tuple[tuple[str, str], ...],
    ) -> _EmailSkeleton:
        if not template.replace("_", "").isalnum():
            raise InvalidInputError("template", f"{template!r} is not a template name")
        ctx = {**marker_context(values), **dict(look)}  # colours: compiled in, checked by Brand
        base = f"email/{template}"
        with _template_errors(templates.locale_id, base, self.config):
            subject = templates.render(f"{base}/subject.txt", ctx)
            preheader = templates.render(f"{base}/preheader.txt", ctx)
            heads = {"subject": " ".join(subject.split()), "preheader": " ".join(preheader.split())}
            html = inline_css(templates.render(f"{base}/body.html", {**ctx, **heads}))
            text = templates.render(f"{base}/body.txt", ctx)
        return _EmailSkeleton(
            subject=_line(subject),
            preheader=_line(preheader),
            html=Skeleton.build(html.rstrip() + "\n"),
            text=Skeleton.build(text.strip() + "\n"),
        )


def _config(
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


def _fill_values(values: Mapping[str, SlotValue], locale: Locale) -> dict[str, str]:
    """Per-message strings for the slots: counts formatted for the locale, strings as given."""
    out: dict[str, str] = {}
    for name, value in values.items():
        kind = type(value)
        if kind is str:
            out[name] = value  # type: ignore[assignment]
        elif kind is int:
            out[name] = format_count(value, locale)  # type: ignore[arg-type]
    return out


@contextmanager
def _template_errors(locale_id: str, base: str, config: RenderConfig) -> Iterator[None]:
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


def _line(rendered: str) -> Skeleton:
    """Subjects, preheaders and push texts are one line with single spaces."""
    return Skeleton.build(rendered, one_line=True)
