"""The host's own copy and look: catalogs merged over the shipped ones, templates searched first."""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.errors import CatalogError, ConfigurationError
from ticketnotify.events import AccountUser, Device, Guest, Ticket, TicketUpdate, UpdateKind
from ticketnotify.guest.sender import EmailCodeSender
from ticketnotify.notifier import Links, Notifier
from ticketnotify.outbox import MemoryOutbox
from ticketnotify.rendering import RenderConfig, Renderer

from .conftest import LOCALES_DIR

HOST = LOCALES_DIR.parent / "examples" / "host-customization"
HOST_LOCALES = HOST / "locales"
HOST_TEMPLATES = HOST / "templates"
FOOTER_DA = "Nordlys Cyklers kundeservice har åbent på hverdage fra kl. 8.00 til 16.00."
FOOTER_SV = "Nordlys Cyklers kundtjänst har öppet vardagar kl. 8.00–16.00."
FOOTER_EN = "Nordlys Cykler customer service is open on weekdays from 8:00 to 16:00."
LINKS = Links(web_ticket_url="https://help.example.com/tickets/{ticket_id}")
WHEN = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)
HEADER = (
    'msgid ""\nmsgstr ""\n"Language: {lang}\\n"\n'
    '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n'
    '"Content-Type: text/plain; charset=utf-8\\n"\n\n'
)


def host_po(root: Path, lang: str, entries: str) -> Path:
    po = root / lang / "LC_MESSAGES" / "ticketnotify.po"
    po.parent.mkdir(parents=True, exist_ok=True)
    po.write_text(HEADER.format(lang=lang) + entries, "utf-8")
    return po


def update(kind: UpdateKind, locale: str, *, guest: bool = True) -> TicketUpdate:
    recipient: AccountUser | Guest = (
        Guest(email="sam@example.com", locale=locale, time_zone="Europe/Copenhagen", name="Sam")
        if guest else AccountUser(user_id="u-1", email="anna@example.se", locale=locale,
                                  time_zone="Europe/Copenhagen", devices=(Device("ios", "a" * 64),))
    )
    return TicketUpdate(event_id="e-1", ticket=Ticket("12345", "Login fails"), kind=kind,
                        recipient=recipient, occurred_at=WHEN, new_replies=2)


def email_text(renderer: Renderer, kind: UpdateKind, locale: str) -> tuple[str, str]:
    email = renderer.render_update_email(update(kind, locale), ticket_url="https://t/1",
                                         app_url=None, guest=True, include_excerpt=False)
    return email.html, email.text


@pytest.fixture(scope="module")
def host_renderer() -> Renderer:
    return Renderer(RenderConfig(locales_dirs=[HOST_LOCALES], templates_dirs=[HOST_TEMPLATES]))


@pytest.fixture(scope="module")
def host_copy_only() -> Renderer:
    """The host's catalogs with the shipped templates: the look the footer is added to."""
    return Renderer(RenderConfig(locales_dirs=[HOST_LOCALES]))


def test_a_host_sv_entry_overrides_one_string_and_the_rest_stays_shipped_swedish(
    tmp_path: Path,
) -> None:
    host_po(tmp_path, "sv", 'msgid "View ticket"\nmsgstr "Öppna ärendet"\n')
    renderer = Renderer(RenderConfig(locales_dirs=[tmp_path]))
    html, text = email_text(renderer, UpdateKind.RESOLVED, "sv_SE")
    assert "Öppna ärendet" in html and "Visa ärendet" not in html
    assert "har markerats som löst" in text  # shipped Swedish, not English
    assert "resolved" not in text


def test_an_untranslated_or_fuzzy_host_entry_falls_back_to_the_shipped_entry(
    tmp_path: Path,
) -> None:
    host_po(tmp_path, "sv", 'msgid "View ticket"\nmsgstr ""\n\n'
                            '#, fuzzy\nmsgid "Updated:"\nmsgstr "Ändrad:"\n')
    renderer = Renderer(RenderConfig(locales_dirs=[tmp_path]))
    html, text = email_text(renderer, UpdateKind.STATUS_CHANGED, "sv")
    assert "Visa ärendet" in html and "View ticket" not in html
    assert "Uppdaterat:" in text and "Ändrad:" not in text and "Updated:" not in text


def test_a_host_da_catalog_is_read_before_the_shipped_danish(host_renderer: Renderer) -> None:
    assert host_renderer.locales == Renderer.shared().locales  # Danish ships; the host overrides
    assert host_renderer.negotiate("da_DK") == "da"
    html, text = email_text(host_renderer, UpdateKind.AGENT_REPLY, "da_DK")
    assert "Vores supportteam har sendt 2 nye svar i din sag" in text
    assert "Se sagen" in html


@pytest.mark.parametrize("kind", list(UpdateKind))
@pytest.mark.parametrize(("locale", "footer"), [("da", FOOTER_DA), ("sv", FOOTER_SV),
                                                 ("en", FOOTER_EN)])
def test_the_host_footer_extends_the_shipped_one_in_every_kind(
    host_renderer: Renderer, host_copy_only: Renderer, kind: UpdateKind, locale: str,
    footer: str,
) -> None:
    html, text = email_text(host_renderer, kind, locale)
    shipped_html, shipped_text = email_text(host_copy_only, kind, locale)
    assert footer in html and footer in text
    assert footer not in shipped_html and footer not in shipped_text
    # super(): the shipped footer is kept, the host line follows it
    last_shipped = shipped_text.rstrip().splitlines()[-1]
    assert text.index(last_shipped) < text.index(footer)


def test_two_configs_never_share_compiled_templates(host_renderer: Renderer) -> None:
    shipped = Renderer.shared()
    custom = Renderer.shared(RenderConfig(locales_dirs=[HOST_LOCALES],
                                          templates_dirs=[HOST_TEMPLATES]))
    again = Renderer.shared(RenderConfig(locales_dirs=[str(HOST_LOCALES)],
                                         templates_dirs=[HOST_TEMPLATES / "." / "email" / ".."]))
    assert custom is again and custom is not shipped
    first = email_text(custom, UpdateKind.REOPENED, "en")[1]
    second = email_text(shipped, UpdateKind.REOPENED, "en")[1]
    assert FOOTER_EN in first and FOOTER_EN not in second
    assert len(custom._emails) and len(shipped._emails)
    assert all(key[0] == custom.config for key in custom._emails)
    assert all(key[0] == shipped.config for key in shipped._emails)


def test_render_config_names_a_missing_folder_and_reads_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="templates_dirs: .*nowhere"):
        RenderConfig(templates_dirs=[tmp_path / "nowhere"])
    config = RenderConfig.from_env({
        "TICKETNOTIFY_LOCALES": str(HOST_LOCALES),
        "TICKETNOTIFY_TEMPLATES": str(HOST_TEMPLATES),
        "TICKETNOTIFY_DEFAULT_LOCALE": "da-DK",
    })
    assert config == RenderConfig(locales_dirs=HOST_LOCALES, templates_dirs=HOST_TEMPLATES,
                                  default_locale="da_DK")
    assert RenderConfig.from_env({}) == RenderConfig()
    with pytest.raises(ConfigurationError, match="not both"):
        Renderer(RenderConfig(), locales_dir=LOCALES_DIR)


@pytest.mark.parametrize(
    ("broken", "line"),
    [
        ('msgid "View ticket"\nmsgstr Se sagen\n', 8),  # Babel alone drops "S" and "n"
        ('msgid "View ticket"\nmsgstr "Se "sagen""\n', 8),  # an unescaped quote
        ('msgid "View ticket"\n"Se sagen"\n', 7),  # Babel: a msgid with no msgstr
        ('msgid "Updated:"\nmsgstr "Opdateret:"\n\nmsgid "View ticket"\nmsgstr\n', 11),
    ],
)
def test_a_host_po_that_fails_to_parse_is_a_catalog_error_naming_file_and_line(
    tmp_path: Path, broken: str, line: int
) -> None:
    po = host_po(tmp_path, "da", broken)
    with pytest.raises(CatalogError) as info:
        Renderer(RenderConfig(locales_dirs=[tmp_path]))  # at setup, not at the first delivery
    assert info.value.path == str(po) and info.value.line == line
    assert str(info.value).startswith(f"{po}:{line}: ")


async def test_the_notifier_and_the_code_sender_share_one_renderer(
    host_renderer: Renderer,
) -> None:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, renderer=host_renderer, links=LINKS, guest_links=None)
    notifier.publish(update(UpdateKind.RECEIVED, "da", guest=False))
    later = datetime(2100, 1, 1, tzinfo=UTC)
    stored = json.dumps([notifier.delivery_renderer.message(job).to_dict()
                         for job in outbox.claim(later, 10, 30.0, "w")], ensure_ascii=False)
    assert "Vi har modtaget din sag" in stored and FOOTER_DA in stored

    channel = MemoryChannel()
    async with EmailCodeSender(renderer=host_renderer, channel=channel) as sender:
        await sender(email="sam@example.com", locale="da", time_zone="Europe/Copenhagen",
                     code="123456", minutes=10, ticket_id="12345")
    (mail,) = channel.sent
    assert mail.subject == "Bekræftelseskode til din supportsag 12345"  # type: ignore[attr-defined]
    # A RenderConfig passed instead is the process-wide renderer of that configuration.
    by_config = EmailCodeSender(renderer=host_renderer.config, channel=MemoryChannel())
    assert by_config.renderer is Renderer.shared(host_renderer.config)


_STRINGS = ["View ticket", "Updated:", "Ticket number:", "Hi %(name)s,",
            "Your support ticket %(ticket)s has been updated",
            "Open the ticket to see the latest update."]


_PLACEHOLDERS = {msgid: " ".join(re.findall(r"%\(\w+\)s", msgid)) for msgid in _STRINGS}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overridden=st.sets(st.sampled_from(_STRINGS)))
def test_each_string_comes_from_the_host_if_it_has_one_else_from_the_shipped_catalog(
    tmp_path_factory: pytest.TempPathFactory, overridden: set[str]
) -> None:
    root = tmp_path_factory.mktemp("host")
    entries = "".join(
        f'msgid "{msgid}"\nmsgstr "VÄRD{i} {_PLACEHOLDERS[msgid]}"\n\n'
        for i, msgid in enumerate(_STRINGS) if msgid in overridden
    )
    host_po(root, "sv", entries)
    html, text = email_text(Renderer(RenderConfig(locales_dirs=[root])),
                            UpdateKind.STATUS_CHANGED, "sv")
    shipped_html, shipped_text = email_text(Renderer(), UpdateKind.STATUS_CHANGED, "sv")
    for i, msgid in enumerate(_STRINGS):
        if msgid in overridden:
            assert f"VÄRD{i}" in html + text
        else:
            assert f"VÄRD{i}" not in html + text
    if not overridden:
        assert (html, text) == (shipped_html, shipped_text)


def test_a_host_template_replaces_a_shipped_file_by_name(tmp_path: Path) -> None:
    title = tmp_path / "push" / "resolved" / "title.txt"
    title.parent.mkdir(parents=True)
    title.write_text("{% trans %}Your ticket has been resolved{% endtrans %} ✔\n", "utf-8")
    renderer = Renderer(RenderConfig(templates_dirs=[tmp_path]))
    push = renderer.render_update_push(update(UpdateKind.RESOLVED, "sv", guest=False),
                                       include_excerpt=False)
    assert push.title == "Ditt ärende har lösts ✔"


def test_the_example_is_a_copy_a_host_can_take(tmp_path: Path) -> None:
    """No Python in the example: catalogs and templates only."""
    files = [p for p in HOST.rglob("*") if p.is_file()]
    assert files and all(p.suffix in {".po", ".html", ".txt", ".md"} for p in files)
    shutil.copytree(HOST, tmp_path / "host")
    moved = Renderer(RenderConfig(locales_dirs=[tmp_path / "host" / "locales"],
                                  templates_dirs=[tmp_path / "host" / "templates"]))
    assert FOOTER_DA in email_text(moved, UpdateKind.CLOSED, "da")[1]


def ticketnotify(*args: str) -> subprocess.CompletedProcess[str]:
    """The command a host runs, in a process of its own (the installed console script)."""
    script = Path(sys.executable).parent / "ticketnotify"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ticketnotify.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=600,
                          check=False)


@pytest.mark.slow
def test_acceptance_a_host_folder_shows_in_preview_and_passes_catalog_check(
    tmp_path: Path,
) -> None:
    """Issue 12: a Danish catalog and a footer override, no Python, through the CLI alone."""
    out = tmp_path / "gallery"
    done = ticketnotify("preview", "--out", str(out), "--locales", str(HOST_LOCALES),
                        "--templates", str(HOST_TEMPLATES))
    assert done.returncode == 0, done.stderr
    index = (out / "index.html").read_text("utf-8")
    assert 'data-locale="da"' in index
    danish = sorted(out.glob("*/da/*.txt"))
    assert len(danish) == len({p.parent.parent for p in danish}) * len(UpdateKind)
    for path in danish:
        text = path.read_text("utf-8")
        html = path.with_suffix(".html").read_text("utf-8")
        assert FOOTER_DA in text and FOOTER_DA in html, path
        assert "Sagsnummer:" in text and "Ticket number:" not in text, path
    mail = email.message_from_bytes(next(out.glob("*/da/resolved.eml")).read_bytes(),
                                    policy=email.policy.default)
    assert re.fullmatch(r"Din supportsag \S+ er blevet opdateret", str(mail["Subject"]))
    for path in out.glob("*/sv/*.html"):
        assert FOOTER_SV in path.read_text("utf-8"), path

    for extra in ([], ["--templates", str(HOST_TEMPLATES)]):
        checked = ticketnotify("catalog", "check", "--locales", str(HOST_LOCALES), *extra)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout == "" and "catalog check: ok" in checked.stderr


@pytest.mark.slow
def test_catalog_check_reports_a_host_template_string_no_catalog_translates(
    tmp_path: Path,
) -> None:
    host = tmp_path / "host"
    shutil.copytree(HOST, host)
    sv = host / "locales" / "sv" / "LC_MESSAGES" / "ticketnotify.po"
    sv.write_text(sv.read_text("utf-8").split('msgid "Nordlys')[0], "utf-8")
    checked = ticketnotify("catalog", "check", "--locales", str(host / "locales"),
                           "--templates", str(host / "templates"))
    assert checked.returncode == 1
    template = host / "templates" / "email" / "update.html"
    lines = template.read_text("utf-8").splitlines()
    line = next(n for n, t in enumerate(lines, start=1) if "{% trans %}Nordlys" in t)
    assert checked.stdout.splitlines() == [
        f"{template}:{line}: untranslated: msgid {FOOTER_EN!r} has no 'sv' translation in any "
        f"catalog (readers see English); translate it in {sv}"
    ]


def test_a_syntax_error_in_a_host_template_names_the_file_and_line(tmp_path: Path) -> None:
    body = tmp_path / "email" / "update.html"
    body.parent.mkdir(parents=True)
    body.write_text('{% extends "ticketnotify/email/update.html" %}\n'
                    "{% block footer %}{% trans %}Open{% endtrans %}\n", "utf-8")
    renderer = Renderer(RenderConfig(templates_dirs=[tmp_path]))
    with pytest.raises(ConfigurationError) as info:
        email_text(renderer, UpdateKind.RESOLVED, "sv")
    assert str(info.value).startswith(f"{body}:2: template syntax error")
