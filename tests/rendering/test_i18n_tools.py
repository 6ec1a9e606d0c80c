"""Issue 15.5-15.6: pseudo-locales, preview flags and whole-folder writes, catalog check tools."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ticketnotify.events import UpdateKind
from ticketnotify.examples import default_examples_dir, load_examples
from ticketnotify.preview import render_previews
from ticketnotify.rendering import RenderConfig, Renderer
from ticketnotify.rendering.pseudo import long_text, rtl_text

from .test_languages import BROKEN_DE, DE_PLURAL, news, write_po

STRESS = default_examples_dir() / "stress.json"


def test_pseudo_texts_keep_placeholders_and_markup() -> None:
    source = 'Using our app? <a class="link" href="%(app_url)s">Open</a> ticket %(ticket)s.'
    long = long_text(source)
    assert '<a class="link" href="%(app_url)s">' in long and "%(ticket)s" in long
    plain = "Your ticket has been updated"
    assert len(long_text(plain)) >= 1.4 * len(plain) and long.startswith("[")
    rtl = rtl_text(source)
    assert "\u202e" in rtl and '<a class="link" href="%(app_url)s">' in rtl and "%(ticket)s" in rtl


def test_pseudo_locales_render_every_kind() -> None:
    renderer = Renderer(RenderConfig(pseudo_locales=True))
    for locale in ("xx-long", "xx-rtl"):
        for kind in UpdateKind:
            update = news(kind, locale)
            mail = renderer.render_update_email(update, ticket_url="https://x/t", app_url=None,
                                                guest=False, include_excerpt=True)
            push = renderer.render_update_push(update, include_excerpt=False)
            assert mail.subject and push.title
            if locale == "xx-long":
                assert mail.subject.startswith("[") and "·" in push.title
            else:
                assert 'dir="rtl"' in mail.html and "\u202e" in mail.text


def test_pseudo_locales_are_off_unless_asked_for() -> None:
    mail = Renderer().render_update_email(news(UpdateKind.RESOLVED, "xx-long"),
                                          ticket_url="u", app_url=None, guest=False,
                                          include_excerpt=False)
    assert mail.subject == "Your support ticket 12345 has been updated"


def test_preview_xx_long_flags_an_over_long_push_title(tmp_path: Path) -> None:
    entries = render_previews(load_examples(STRESS), tmp_path / "out", locales=["xx-long"])
    assert any(f.startswith("push title") for e in entries for f in e.flags)
    index = (tmp_path / "out" / "index.html").read_text("utf-8")
    assert "⚠ push title" in index and 'iframe class="w375"' in index and "w700" in index
    assert 'name="viewport"' in index and "color-scheme" in index


def test_preview_replaces_the_folder_whole_and_survives_broken_copy(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.html").write_text("old")
    folder = write_po(tmp_path / "locales", "de", DE_PLURAL, BROKEN_DE)
    bad_templates = tmp_path / "templates" / "email" / "agent_reply"
    bad_templates.mkdir(parents=True)
    (bad_templates / "body.txt").write_text("{% if %}broken")
    renderer = Renderer(RenderConfig(locales_dirs=[folder], templates_dirs=[tmp_path / "templates"],
                                     pseudo_locales=True))
    entries = render_previews(load_examples(STRESS)[:1], out, renderer=renderer)
    assert {e.locale for e in entries} >= {"de", "en", "sv"}  # host and shipped locales
    assert not (out / "stale.html").exists() and (out / "index.html").is_file()
    errors = [e for e in entries if e.error]
    assert errors and all(e.kind == "agent_reply" for e in errors)  # the rest rendered
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locales", "out", "templates"]


def test_catalog_check_summary_locale_filter_and_json(tmp_path: Path) -> None:
    folder = write_po(tmp_path, "de", DE_PLURAL, BROKEN_DE)
    run = subprocess.run(
        [sys.executable, "-m", "ticketnotify.cli", "catalog", "check", "--locales", str(folder),
         "--locale", "de", "--format", "json"], capture_output=True, text=True, check=False)
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["ok"] is False and set(report["summary"]) == {"de"}
    assert any("subjekt" in p["message"] and p["line"] for p in report["problems"])
    text = subprocess.run(
        [sys.executable, "-m", "ticketnotify.cli", "catalog", "check", "--locales", str(folder),
         "--locale", "sv"], capture_output=True, text=True, check=False)
    assert text.returncode == 0 and "ok" in text.stderr  # sv is fine, de is filtered out
