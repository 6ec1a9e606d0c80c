"""Locale negotiation, clear locale errors, and .po edits visible without compiling."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ticketnotify.errors import CatalogError, ConfigurationError, UnknownLocaleError
from ticketnotify.events import Guest, Ticket, TicketUpdate, UpdateKind
from ticketnotify.i18n import parse_locale, translations_from_po
from ticketnotify.rendering import Renderer

from .conftest import LOCALES_DIR


@pytest.mark.parametrize(
    ("asked", "got"),
    [
        ("sv_SE", "sv"),
        ("sv-FI", "sv"),
        ("sv", "sv"),
        ("en_GB", "en"),
        ("en", "en"),
        ("is_IS", "en"),  # Icelandic: no catalog shipped
        ("cy", "en"),
    ],
)
def test_negotiation_falls_back_from_region_to_language_to_default(asked: str, got: str) -> None:
    assert Renderer().negotiate(asked) == got


def test_default_locale_is_configurable() -> None:
    assert Renderer(default_locale="sv").negotiate("is") == "sv"


@pytest.mark.parametrize("bad", ["", "not a locale", "xx_YY_ZZ!", "123", "en__US"])
def test_a_string_that_is_not_a_locale_is_refused_clearly(bad: str) -> None:
    with pytest.raises(UnknownLocaleError, match="is not a locale") as info:
        Renderer().negotiate(bad)
    assert isinstance(info.value, ValueError)  # hosts may catch the builtin
    assert info.value.field == "locale"


def test_parse_locale_accepts_dashes() -> None:
    assert str(parse_locale("sv-SE")) == "sv_SE"


def test_missing_default_catalog_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="default locale 'is' has no catalog"):
        Renderer(default_locale="is")
    with pytest.raises(ConfigurationError, match="does not exist"):
        Renderer(locales_dir=tmp_path / "nowhere")


def test_a_translators_po_edit_shows_without_compiling(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, locales)
    po = locales / "sv" / "LC_MESSAGES" / "ticketnotify.po"
    text = po.read_text("utf-8")
    assert 'msgstr "Visa ärendet"' in text
    po.write_text(text.replace('msgstr "Visa ärendet"', 'msgstr "Öppna ärendet nu"'), "utf-8")
    assert not list(locales.rglob("*.mo"))  # nothing compiled, before or after

    update = TicketUpdate(
        event_id="e",
        ticket=Ticket(id="1", subject="S"),
        kind=UpdateKind.RESOLVED,
        recipient=Guest(email="g@example.com", locale="sv_SE"),
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    email = Renderer(locales_dir=locales).render_update_email(
        update, ticket_url="u", app_url=None, guest=True, include_excerpt=False
    )
    assert "Öppna ärendet nu" in email.html and "Visa ärendet" not in email.html
    assert not list(locales.rglob("*.mo"))


@pytest.mark.parametrize(
    "header",
    [
        "nplurals=2; plural=(n !!= 1 ;",  # does not compile
        "nplurals=2; plural=(n / 0);",  # compiles, fails for every count
        "nplurals=2; plural=(n > 1 ? 2 : n);",  # picks a form that does not exist
    ],
)
def test_a_broken_plural_forms_header_is_a_catalog_error_naming_the_file(
    tmp_path: Path, header: str
) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, locales)
    po = locales / "sv" / "LC_MESSAGES" / "ticketnotify.po"
    text = po.read_text("utf-8")
    po.write_text(text.replace("nplurals=2; plural=(n != 1);", header), "utf-8")

    with pytest.raises(CatalogError, match="Plural-Forms") as info:
        translations_from_po(po, "sv")
    assert str(po) in str(info.value)

    update = TicketUpdate(
        event_id="e",
        ticket=Ticket(id="1", subject="S"),
        kind=UpdateKind.AGENT_REPLY,
        recipient=Guest(email="g@example.com", locale="sv_SE"),
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        new_replies=3,
    )
    renderer = Renderer(locales_dir=locales)
    with pytest.raises(CatalogError) as rendered:
        renderer.render_update_email(
            update, ticket_url="u", app_url=None, guest=True, include_excerpt=False
        )
    assert str(po) in str(rendered.value)
    # Other locales keep working: one broken catalog does not take the renderer down.
    english = renderer.render_update_email(
        replace(update, recipient=Guest(email="g@example.com", locale="en")),
        ticket_url="u", app_url=None, guest=True, include_excerpt=False,
    )
    assert english.subject == "Your support ticket 1 has been updated"
