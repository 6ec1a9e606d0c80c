"""Acceptance (issue 15): Chromium lays the Arabic mails out right to left, Swedish left to right.

Drives Debian's /usr/bin/chromium through Playwright (never ``playwright install``).
Screenshots go to the test's tmp_path and are copied to ``test-artifacts/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ticketnotify.events import UpdateKind
from ticketnotify.rendering import RenderConfig, Renderer

from .test_languages import ARABIC_NAME, ARABIC_SUBJECT, news

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

LAYOUT = """() => {
  const box = (el) => el ? el.getBoundingClientRect() : null;
  const content = document.querySelector('td.content');
  const button = document.querySelector('a.button');
  const quote = document.querySelector('div.quote');
  const qs = quote ? getComputedStyle(quote) : null;
  return {
    direction: getComputedStyle(document.body).direction,
    content: box(content), button: box(button), quote: box(quote),
    quoteLeft: qs ? qs.borderLeftWidth : null, quoteRight: qs ? qs.borderRightWidth : null,
    scrollWidth: document.documentElement.scrollWidth,
  };
}"""


@pytest.mark.slow
@pytest.mark.parametrize("locale", ["xx-rtl", "sv"])
@pytest.mark.parametrize("guest", [False, True], ids=["account", "guest"])
def test_chromium_lays_out_the_mail_in_the_locale_direction(
    tmp_path: Path, locale: str, guest: bool
) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing at /usr/bin/chromium: run scripts/test (it installs "
                    "Debian's chromium) or `apt-get install chromium`")
    sync_api = pytest.importorskip("playwright.sync_api")
    renderer = Renderer(RenderConfig(pseudo_locales=True))
    update = news(UpdateKind.AGENT_REPLY, locale, name=ARABIC_NAME if locale != "sv" else "Anna",
                  subject=ARABIC_SUBJECT if locale != "sv" else "Inloggning", guest=guest)
    mail = renderer.render_update_email(update, ticket_url="https://x.example/t", app_url=None,
                                        guest=guest, include_excerpt=True, include_subject=True)
    page_file = tmp_path / "mail.html"
    page_file.write_text(mail.html, "utf-8")
    rtl = locale != "sv"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for width in (375, 700):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(page_file.as_uri())
                shot = tmp_path / f"{'guest' if guest else 'account'}-{locale}-{width}.png"
                page.screenshot(path=str(shot), full_page=True)
                ARTIFACTS.mkdir(exist_ok=True)
                shutil.copy(shot, ARTIFACTS / shot.name)
                got = page.evaluate(LAYOUT)
                page.close()
                assert got["direction"] == ("rtl" if rtl else "ltr")
                content, button, quote = got["content"], got["button"], got["quote"]
                middle = content["x"] + content["width"] / 2
                if width == 700:  # a phone stretches the button across the card
                    centre = button["x"] + button["width"] / 2
                    assert (centre > middle) if rtl else (centre < middle), got
                if rtl:
                    assert got["quoteRight"] == "4px" and got["quoteLeft"] == "0px", got
                    assert quote["x"] + quote["width"] > middle
                else:
                    assert got["quoteLeft"] == "4px" and got["quoteRight"] == "0px", got
                assert got["scrollWidth"] <= width + 1  # nothing wider than the screen
        finally:
            browser.close()


@pytest.mark.slow
def test_chromium_gallery_fits_a_phone_and_switches_to_dark(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing at /usr/bin/chromium: run scripts/test")
    sync_api = pytest.importorskip("playwright.sync_api")
    from ticketnotify.examples import default_examples_dir, load_examples
    from ticketnotify.preview import render_previews

    updates = load_examples(default_examples_dir() / "stress.json")
    render_previews(updates, tmp_path / "gallery", locales=["xx-rtl", "sv"])
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 800})
            page.goto((tmp_path / "gallery" / "index.html").as_uri())
            page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 376
            widths = page.evaluate(
                "() => [...document.querySelectorAll('iframe')].slice(0, 2).map(f => f.offsetWidth)")
            assert widths == [375 + 2, 700 + 2]  # phone and desktop width (plus the border)
            page.click("#dark")
            assert "invert" in page.evaluate(
                "() => getComputedStyle(document.querySelector('iframe')).filter")
            shot = tmp_path / "gallery-375.png"
            page.screenshot(path=str(shot))
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy(shot, ARTIFACTS / shot.name)
        finally:
            browser.close()
