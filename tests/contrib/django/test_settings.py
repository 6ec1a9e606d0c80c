"""TICKETNOTIFY: errors name the key, Django's language and zone are the defaults, fork-safe singletons."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings

from ticketnotify.contrib.django import SettingError, get_codes, get_notifier, guest_ticket
from ticketnotify.contrib.django.settings import default_locale, django_database_url, get_renderer
from ticketnotify.errors import ConfigurationError

from .project import settings as project

BASE = project.TICKETNOTIFY


@pytest.mark.parametrize(("change", "key"), [
    ({"CODE_SECRET": None}, "CODE_SECRET"),
    ({"CODE_SECRET": "short"}, "CODE_SECRET"),
    ({"GUEST_LINK_KEYS": "one-key-not-a-list" * 3}, "GUEST_LINK_KEYS"),
    ({"GUEST_LINKS_KEYS": ["typo"]}, "GUEST_LINKS_KEYS"),
    ({"OUTBOX": "mysql://db"}, "OUTBOX"),
])
@pytest.mark.django_db(transaction=True)
def test_a_bad_setting_is_named(change: dict[str, object], key: str) -> None:
    with override_settings(TICKETNOTIFY={**BASE, **change}), pytest.raises(SettingError) as bad:
        get_notifier()
        get_codes()
    assert bad.value.key == key and f"TICKETNOTIFY[{key!r}]" in str(bad.value)
    assert isinstance(bad.value, ImproperlyConfigured) and isinstance(bad.value, ConfigurationError)


def test_an_in_memory_database_cannot_hold_the_outbox() -> None:
    with pytest.raises(SettingError, match="in-memory SQLite"):
        django_database_url("memory")


def test_language_code_and_time_zone_are_the_defaults() -> None:
    with override_settings(LANGUAGE_CODE="sv-se", TIME_ZONE="Europe/Helsinki"):
        assert default_locale() == "sv_SE"
        assert get_renderer().config.default_locale == "sv"  # the catalog sv serves sv_SE
        ticket = guest_ticket("4711", "anna@example.se")
        assert (ticket.locale, ticket.time_zone) == ("sv_SE", "Europe/Helsinki")


@pytest.mark.django_db(transaction=True)
def test_built_once_per_process_and_again_after_a_fork_or_a_settings_change() -> None:
    first = get_notifier()
    assert get_notifier() is first
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's outbox connection must not be reused
        try:
            os.write(write, b"new" if get_notifier() is not first else b"same")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 10) == b"new"
    os.close(read)
    assert get_notifier() is first  # the parent keeps its own
    with override_settings(TICKETNOTIFY={**BASE}):
        assert get_notifier() is not first
