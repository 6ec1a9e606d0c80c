"""The ``TICKETNOTIFY`` setting made into a Notifier, VerificationCodes and channels, once per process.

Everything is built on first use (never at import, so ``manage.py`` commands that do not
notify open nothing) and rebuilt in a forked child: a connection opened before a fork
(gunicorn's ``--preload``, Celery's prefork) is never shared with the parent. A change of
``TICKETNOTIFY`` through ``override_settings`` drops the built objects too.

    TICKETNOTIFY = {
        "OUTBOX": "django",                 # Django's own database (DATABASE); or a URL
        "GUEST_LINK_KEYS": [env("GUEST_LINK_KEY")],
        "GUEST_URL": "https://help.example.com/guest/tickets/{ticket_id}?token={token}",
        "CODE_SECRET": env("GUEST_CODE_SECRET"),
        "LINKS": {"web_ticket_url": "https://help.example.com/tickets/{ticket_id}"},
        "GUEST_TICKET": "helpdesk_glue.guest_ticket",   # ticket_id -> GuestTicket | None
        "TICKET_URL": "ticket-detail",      # URL name (or pattern) a verified guest lands on
    }

docs/django.md lists every key.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import connections
from django.utils.module_loading import import_string
from django.utils.translation import to_locale

from ...brands import Brand, Links
from ...channels.base import Channel
from ...errors import ConfigurationError
from ...guest import CodeStore, EmailCodeSender, GuestLinks, VerificationCodes
from ...notifier import Notifier
from ...outbox.base import Outbox
from ...rendering import RenderConfig, Renderer

log = logging.getLogger("ticketnotify.django")
SETTING = "TICKETNOTIFY"
DJANGO_DB = "django"
KEYS = frozenset({
    "OUTBOX", "DATABASE", "CODE_STORE", "GUEST_LINK_KEYS", "GUEST_URL", "GUEST_LINK_DAYS",
    "CODE_SECRET", "LINKS", "BRANDS", "BRAND_FOR", "CHANNELS", "CODE_CHANNEL",
    "ON_INVALID_DEVICE", "GUEST_TICKET", "TICKET_URL", "LOCALES_DIRS", "TEMPLATES_DIRS",
    "SENDER", "SENDER_NAME", "REPLY_TO", "MESSAGE_ID_DOMAIN", "SECURE_COOKIES",
})


class SettingError(ConfigurationError, ImproperlyConfigured):
    """A ``TICKETNOTIFY`` key is missing or wrong; catch it as either parent.

    Attributes:
        key: the key, e.g. ``"CODE_SECRET"`` (``TICKETNOTIFY["CODE_SECRET"]``).
    """

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"settings.TICKETNOTIFY[{key!r}]: {problem}")
        self.key = key


def config() -> dict[str, Any]:
    """The ``TICKETNOTIFY`` dict as given (an empty one if unset).

    Raises:
        SettingError: it is not a dict, or has a key this version does not know (a typo).
    """
    value = getattr(django_settings, SETTING, {})
    if not isinstance(value, Mapping):
        raise SettingError("*", f"must be a dict, not {type(value).__name__}")
    unknown = sorted(set(value) - KEYS)
    if unknown:
        raise SettingError(unknown[0], f"unknown key; known keys: {', '.join(sorted(KEYS))}")
    return dict(value)


def required(key: str) -> Any:
    """A key that must be set; ``SettingError`` naming it otherwise."""
    value = config().get(key)
    if value in (None, "", [], ()):
        raise SettingError(key, "is required here (see docs/django.md)")
    return value


def database_alias() -> str:
    """The Django database that holds the outbox and code tables (``DATABASE``, default "default")."""
    alias = config().get("DATABASE", "default")
    if alias not in django_settings.DATABASES:
        raise SettingError("DATABASE", f"{alias!r} is not in settings.DATABASES")
    return str(alias)


def outbox_on_django_db() -> bool:
    """True when the outbox lives in Django's own database (``OUTBOX`` ``"django"``, the default)."""
    return bool(config().get("OUTBOX", DJANGO_DB) == DJANGO_DB)


def django_database_url(alias: str | None = None, *, key: str = "OUTBOX") -> str:
    """A URL the core stores understand for a Django database (``sqlite:///…`` or libpq ``k=v``).

    Raises:
        SettingError: the database is neither SQLite nor PostgreSQL, or is an in-memory
            SQLite database (a worker in another process could never see it).
    """
    alias = alias or database_alias()
    connection = connections[alias]
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(params["NAME"] or "")
        if not name or name == ":memory:" or "mode=memory" in name:
            raise SettingError(key, f"database {alias!r} is an in-memory SQLite database; "
                                    "the outbox needs a file (workers are other processes)")
        return f"sqlite:///{Path(name).resolve()}"
    if connection.vendor == "postgresql":
        from psycopg.conninfo import make_conninfo

        given = {"dbname": params.get("NAME"), "user": params.get("USER"),
                 "password": params.get("PASSWORD"), "host": params.get("HOST"),
                 "port": str(params.get("PORT") or "")}
        # Django's own OPTIONS (pool, isolation level ...) are no libpq keywords.
        options = {k: v for k, v in (params.get("OPTIONS") or {}).items()
                   if k not in ("pool", "isolation_level", "server_side_binding", "assume_role",
                                "cursor_factory", "context", "prepare_threshold")}
        return make_conninfo("", **{k: v for k, v in {**given, **options}.items() if v})
    raise SettingError(key, f"database {alias!r} uses {connection.vendor!r}; the outbox and "
                            "code store run on SQLite or PostgreSQL")


def outbox_url() -> str:
    """The URL of the configured outbox (the CLI tools' ``--outbox``).

    Raises:
        SettingError: ``OUTBOX`` is an object (tests' memory outbox), or see
            ``django_database_url``.
    """
    value = config().get("OUTBOX", DJANGO_DB)
    if value == DJANGO_DB:
        return django_database_url()
    if not isinstance(value, str):
        raise SettingError("OUTBOX", "is an object, not a URL; the command-line tools need "
                                     "'django' or a URL")
    return value


def default_locale() -> str:
    """``LANGUAGE_CODE`` as a catalog locale (``"sv-se"`` → ``"sv_SE"``)."""
    return to_locale(django_settings.LANGUAGE_CODE)


def default_time_zone() -> str:
    """``TIME_ZONE`` (IANA name), the zone for a guest whose ticket names none."""
    return str(getattr(django_settings, "TIME_ZONE", None) or "UTC")


def loaded(key: str, default: Any = None) -> Any:
    """A key's value with a dotted-path string imported (``"app.hooks.forget"``)."""
    value = config().get(key, default)
    if isinstance(value, str):
        try:
            return import_string(value)
        except ImportError as exc:
            raise SettingError(key, f"cannot import {value!r}: {exc}") from exc
    return value


class _Built:
    """What one process has built; replaced wholesale after a fork or a settings change."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.objects: dict[str, Any] = {}


_lock = threading.RLock()
_built = _Built()


def _get(name: str, build: Callable[[], Any]) -> Any:
    global _built
    with _lock:
        if _built.pid != os.getpid():  # forked: the parent's connections are not ours
            _built = _Built()
        if name not in _built.objects:
            _built.objects[name] = build()
        return _built.objects[name]


def reset() -> None:
    """Forget what was built (closing stores this process opened); the next use rebuilds.

    Called when ``TICKETNOTIFY`` changes (``override_settings``); tests may call it too.
    """
    global _built
    with _lock:
        old, _built = _built, _Built()
    if old.pid != os.getpid():
        return
    for name in ("outbox", "code_store"):
        store = old.objects.get(name)
        if store is not None and name in old.objects.get("_owned", ()):
            store.close()
    sender = old.objects.get("code_sender")
    if sender is not None:
        sender.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING, "DATABASES", "LANGUAGE_CODE", "DEFAULT_FROM_EMAIL"):
        reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="ticketnotify.settings")


def _owned(name: str) -> None:
    _built.objects.setdefault("_owned", set()).add(name)


def get_outbox() -> Outbox:
    """The process's outbox: Django's database (tables from ``manage.py migrate``), a URL, or an object.

    Raises:
        SettingError: a bad ``OUTBOX``/``DATABASE``, or the tables are missing ("run
            manage.py migrate ticketnotify").
        OutboxUnavailableError: the store cannot be reached now.
    """
    def build() -> Outbox:
        value = config().get("OUTBOX", DJANGO_DB)
        if isinstance(value, Outbox):
            return value
        if not isinstance(value, str):
            raise SettingError("OUTBOX", f"must be 'django', a URL or an Outbox, not "
                                         f"{type(value).__name__}")
        from ...outbox.from_url import outbox_from_url

        if value == DJANGO_DB:
            check_tables(["ticketnotify_outbox"], "OUTBOX")
            store = outbox_from_url(django_database_url(), create=False)
        else:
            try:
                store = outbox_from_url(value)
            except ConfigurationError as exc:
                raise SettingError("OUTBOX", str(exc)) from exc
        _owned("outbox")
        return store
    outbox: Outbox = _get("outbox", build)
    return outbox


def check_tables(tables: list[str], key: str) -> None:
    """Refuse to run on a database where ``manage.py migrate ticketnotify`` has not run."""
    alias = database_alias()
    with connections[alias].cursor() as cursor:
        present = set(connections[alias].introspection.table_names(cursor))
    missing = [t for t in tables if t not in present]
    if missing:
        raise SettingError(key, f"database {alias!r} has no table {missing[0]}: run "
                                f"`manage.py migrate ticketnotify --database {alias}`")


def get_renderer() -> Renderer:
    """One ``Renderer`` for notices and codes: host catalogs/templates, ``LANGUAGE_CODE`` default."""
    def build() -> Renderer:
        wanted = default_locale()
        problem: ConfigurationError | None = None
        # sv_SE, then sv; a LANGUAGE_CODE no catalog has (the admin's language) falls back
        # to the shipped English, said once in the log.
        for candidate in dict.fromkeys((wanted, wanted.split("_")[0], "en")):
            if candidate == "en" and problem is not None:
                log.warning("no catalog for LANGUAGE_CODE %r: notices default to English (%s)",
                            django_settings.LANGUAGE_CODE, problem)
            try:
                return Renderer.shared(RenderConfig(
                    locales_dirs=config().get("LOCALES_DIRS", ()),
                    templates_dirs=config().get("TEMPLATES_DIRS", ()),
                    default_locale=candidate))
            except ConfigurationError as exc:
                problem = exc
        raise SettingError("LOCALES_DIRS", f"{problem} (the default locale is LANGUAGE_CODE "
                                           f"{django_settings.LANGUAGE_CODE!r})")
    renderer: Renderer = _get("renderer", build)
    return renderer


def get_guest_links() -> GuestLinks:
    """``GuestLinks`` from ``GUEST_LINK_KEYS`` (newest first), ``GUEST_URL`` and ``GUEST_LINK_DAYS``."""
    def build() -> GuestLinks:
        from datetime import timedelta

        keys = required("GUEST_LINK_KEYS")
        if isinstance(keys, str | bytes):
            raise SettingError("GUEST_LINK_KEYS", "must be a list of keys, newest first")
        try:
            return GuestLinks(list(keys), config().get("GUEST_URL"),
                              timedelta(days=float(config().get("GUEST_LINK_DAYS", 30))))
        except ConfigurationError as exc:
            raise SettingError("GUEST_LINK_KEYS", str(exc)) from exc
    links: GuestLinks = _get("guest_links", build)
    return links


def get_channels() -> dict[str, Channel]:
    """The worker's channels: ``CHANNELS`` (name → Channel, class or dotted path), default email.

    The default is ``{"email": DjangoEmailChannel()}``: mail goes through
    ``EMAIL_BACKEND`` with the site's own mail settings.
    """
    from .channel import DjangoEmailChannel

    given = config().get("CHANNELS")
    if given is None:
        return {"email": DjangoEmailChannel.from_settings()}
    if callable(given) or isinstance(given, str):
        given = loaded("CHANNELS")()
    if not isinstance(given, Mapping):
        raise SettingError("CHANNELS", "must be a dict of name -> Channel (or a factory)")
    channels: dict[str, Channel] = {}
    for name, value in given.items():
        made = import_string(value) if isinstance(value, str) else value
        made = made() if isinstance(made, type) else made
        if not isinstance(made, Channel):
            raise SettingError("CHANNELS", f"{name!r} is a {type(made).__name__}, not a Channel")
        channels[str(name)] = made
    return channels


def get_notifier() -> Notifier:
    """The process's ``Notifier`` (built on first use, again after a fork).

    Raises:
        SettingError: a key is missing or wrong; the message names it.
    """
    def build() -> Notifier:
        cfg = config()
        links = cfg.get("LINKS", None)
        if isinstance(links, Mapping):
            try:
                links = Links(**links)
            except (TypeError, ConfigurationError) as exc:
                raise SettingError("LINKS", str(exc)) from exc
        brands = list(cfg.get("BRANDS", ()))
        if not all(isinstance(b, Brand) for b in brands):
            raise SettingError("BRANDS", "must be a list of ticketnotify.brands.Brand")
        if links is None and not brands and "LINKS" not in cfg:
            raise SettingError("LINKS", "set {'web_ticket_url': ...} for account users' links, "
                                        "BRANDS, or None if you never notify account users")
        guest = get_guest_links() if cfg.get("GUEST_LINK_KEYS") else None
        extra: dict[str, Any] = {"links": links} if links is not None or "LINKS" in cfg else {}
        try:
            return Notifier(get_outbox(), renderer=get_renderer(), guest_links=guest,
                            brands=brands, brand_for=loaded("BRAND_FOR"), **extra)
        except SettingError:
            raise
        except ConfigurationError as exc:
            raise SettingError("LINKS" if "links" in str(exc) else "GUEST_URL", str(exc)) from exc
    notifier: Notifier = _get("notifier", build)
    return notifier


def get_codes() -> VerificationCodes:
    """The process's ``VerificationCodes`` (guest pages; built on first use, again after a fork).

    Raises:
        SettingError: ``GUEST_LINK_KEYS``/``CODE_SECRET`` missing or too short, a bad
            ``CODE_STORE``.
    """
    def build() -> VerificationCodes:
        from .channel import DjangoEmailChannel

        channel = loaded("CODE_CHANNEL") or DjangoEmailChannel.from_settings()
        channel = channel() if isinstance(channel, type) else channel
        sender = EmailCodeSender(get_renderer(), channel)
        _built.objects["code_sender"] = sender
        secret = required("CODE_SECRET")
        try:
            return VerificationCodes(get_guest_links(), _code_store(), sender,
                                     secret.encode() if isinstance(secret, str) else secret)
        except SettingError:
            raise
        except ConfigurationError as exc:
            raise SettingError("CODE_SECRET", str(exc)) from exc
    codes: VerificationCodes = _get("codes", build)
    return codes


def _code_store() -> CodeStore:
    value = config().get("CODE_STORE", config().get("OUTBOX", DJANGO_DB))
    if isinstance(value, CodeStore):
        return value
    if isinstance(value, Outbox):  # a test's memory outbox: codes in memory too
        from ...guest import MemoryCodeStore

        return MemoryCodeStore()
    url = django_database_url(key="CODE_STORE") if value == DJANGO_DB else str(value)
    if value == DJANGO_DB:
        check_tables(["guest_codes", "guest_sends"], "CODE_STORE")
    from ...guest import PostgresCodeStore, SQLiteCodeStore

    if url.startswith("sqlite:///"):
        store: CodeStore = SQLiteCodeStore(url[len("sqlite:///"):])
    elif url.startswith(("postgresql://", "postgres://")) or "=" in url:
        store = PostgresCodeStore(url, create_schema=value != DJANGO_DB)
    else:
        raise SettingError("CODE_STORE", f"{value!r} is not 'django', a URL or a CodeStore")
    _built.objects["code_store"] = store
    _owned("code_store")
    return store
