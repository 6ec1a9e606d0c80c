"""`ticketnotify catalog check` passes on what ships and names each broken entry."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS as GETTEXT_KEYWORDS
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract as extract_jinja2

from ticketnotify import catalogs
from ticketnotify.catalogs import check_catalogs, markup, placeholders
from ticketnotify.events import UpdateKind

from .conftest import LOCALES_DIR

SV_PO = Path("sv") / "LC_MESSAGES" / "ticketnotify.po"


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketnotify")
    catalogs.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


@pytest.fixture
def locales(tmp_path: Path) -> Path:
    target = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, target)
    return target


def edit(po: Path, old: str, new: str) -> None:
    text = po.read_text("utf-8")
    assert old in text
    po.write_text(text.replace(old, new, 1), "utf-8")


def test_shipped_catalogs_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_catalogs(LOCALES_DIR) == []
    assert run_cli(["catalog", "check"]) == 0
    assert capsys.readouterr().out == ""


def test_broken_placeholder_fails_with_a_clear_line(
    locales: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    po = locales / SV_PO
    edit(
        po,
        'msgstr "Ditt supportärende %(ticket)s har uppdaterats"',
        'msgstr "Ditt supportärende %(ticket) har uppdaterats"',
    )
    assert run_cli(["catalog", "check", "--locales", str(locales)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{po}:")
    assert (
        "placeholders differ in msgid 'Your support ticket %(ticket)s has been updated'" in lines[0]
    )
    assert "msgid has %(ticket)s, msgstr has none" in lines[0]


def test_brace_placeholders_are_checked_too() -> None:
    assert placeholders("Hej {name}, {{literal}} %(ticket)s 100%%") == {
        "{name}": 1,
        "%(ticket)s": 1,
    }


def test_each_problem_kind_gets_its_own_line(locales: Path) -> None:
    po = locales / SV_PO
    edit(po, 'msgstr "Visa ärendet"', 'msgstr ""')
    edit(po, 'msgid "Updated:"', '#, fuzzy\nmsgid "Updated:"')
    edit(po, "<strong>Skicka</strong>", "<b>Skicka</b>")
    edit(po, 'msgstr "Ny status: %(status)s"', 'msgstr "Ny status: {status}"')
    problems = [str(p) for p in check_catalogs(locales)]
    assert any("untranslated: msgid 'View ticket'" in p for p in problems)
    assert any("fuzzy: msgid 'Updated:'" in p for p in problems)
    assert any("markup differs" in p and "msgstr has </b>, <b>" in p for p in problems)
    assert any("placeholders differ" in p and "msgstr has {status}" in p for p in problems)
    assert len(problems) == 4, problems


def test_stale_catalogs_are_reported(locales: Path) -> None:
    po = locales / SV_PO
    edit(po, 'msgid "Updated:"\nmsgstr "Uppdaterat:"', 'msgid "Updated at:"\nmsgstr "Uppdaterat:"')
    problems = [str(p) for p in check_catalogs(locales)]
    assert any(
        "stale: msgid 'Updated:' is used by the templates but missing" in p for p in problems
    )
    assert any("stale: msgid 'Updated at:' is no longer used" in p for p in problems)


def test_markup_compares_tags_with_attributes() -> None:
    assert markup('<a class="link" href="%(u)s">x</a>') == markup(
        '<a  class="link" href="%(u)s">y</a>'
    )
    assert markup("<strong>x</strong>") != markup("<b>x</b>")


def test_babel_cfg_extracts_what_messages_pot_holds(tmp_path: Path) -> None:
    """The translator workflow's first step reproduces the shipped template exactly."""
    out = tmp_path / "messages.pot"
    root = LOCALES_DIR.parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(root / "babel.cfg"),
            "-o",
            str(out),
            "--no-location",
            "--sort-output",
            str(root),
        ],
        check=True,
        capture_output=True,
        cwd=root,
    )
    with out.open("rb") as fresh, (LOCALES_DIR / "messages.pot").open("rb") as shipped:
        assert {m.id for m in read_po(fresh)} == {m.id for m in read_po(shipped)}


PLURAL_HEADER = "Plural-Forms: nplurals=2; plural=(n != 1);"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Plural-Forms: nplurals=2; plural=(n !!= 1 ;", "cannot be compiled"),
        ("Plural-Forms: nplurals=2; plural=n__import__;", "cannot be compiled"),
        ("Plural-Forms: nplurals=2; plural=(n / 0);", "fails for n=0"),
        ("Plural-Forms: nplurals=2; plural=(n > 1 ? 2 : n);", "picks form 2 for n=2"),
    ],
)
def test_a_plural_forms_header_gettext_cannot_use_is_a_problem_line(
    locales: Path, capsys: pytest.CaptureFixture[str], header: str, reason: str
) -> None:
    """Babel reads these headers happily; only compiling and evaluating them finds the fault."""
    po = locales / SV_PO
    edit(po, PLURAL_HEADER, header)
    assert run_cli(["catalog", "check", "--locales", str(locales)]) == 1
    lines = capsys.readouterr().out.splitlines()
    header_line = po.read_text("utf-8").splitlines().index(f'"{header}\\n"') + 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{po}:{header_line}: plural forms: ")
    assert reason in lines[0] and "nplurals=2; plural=(n != 1);" in lines[0]


def test_nplurals_that_disagree_with_the_language_are_reported(locales: Path) -> None:
    po = locales / SV_PO
    edit(po, PLURAL_HEADER, "Plural-Forms: nplurals=3; plural=(n != 1);")
    problems = [str(p) for p in check_catalogs(locales)]
    assert any(
        "plural forms: the header says nplurals=3 but 'sv' has 2 plural forms" in p
        for p in problems
    ), problems


@pytest.mark.parametrize("kind", [k.value for k in UpdateKind])
def test_every_kind_is_written_in_swedish_not_copied_english(kind: str) -> None:
    """Each kind's own strings (email and push) have a Swedish msgstr that is not the msgid."""
    with (LOCALES_DIR / SV_PO).open("rb") as fh:
        sv = read_po(fh, locale="sv")
    templates = catalogs.PACKAGE_DIR / "templates"
    files = [*(templates / "email" / kind).iterdir(), *(templates / "push" / kind).iterdir()]
    ids: set[str] = set()
    for path in files:
        with path.open("rb") as fh:
            for _, _, message, _ in extract_jinja2(
                fh, GETTEXT_KEYWORDS, [], {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
            ):
                ids.add(message if isinstance(message, str) else message[0])
    assert ids, f"{kind} has no translatable text of its own"
    for msgid in ids:
        entry = sv.get(msgid)
        assert entry is not None and entry.string, f"{kind}: {msgid!r} has no Swedish"
        strings = (entry.string,) if isinstance(entry.string, str) else entry.string
        assert all(s and s != msgid for s in strings), f"{kind}: {msgid!r} is left in English"


HOST_HEADER = (
    'msgid ""\nmsgstr ""\n"Language: {lang}\\n"\n'
    '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
)


def host_catalog(root: Path, lang: str, entries: str) -> Path:
    po = root / lang / "LC_MESSAGES" / "ticketnotify.po"
    po.parent.mkdir(parents=True, exist_ok=True)
    po.write_text(HOST_HEADER.format(lang=lang) + entries, "utf-8")
    return po


def test_a_partial_host_override_passes_because_the_shipped_entries_fill_in(
    tmp_path: Path,
) -> None:
    host_catalog(tmp_path, "sv", 'msgid "View ticket"\nmsgstr "Öppna ärendet"\n\n'
                                 'msgid "Updated:"\nmsgstr ""\n')
    assert catalogs.check_host_catalogs([tmp_path]) == []


def test_host_entries_are_checked_like_shipped_ones(tmp_path: Path) -> None:
    po = host_catalog(tmp_path, "sv", '#, fuzzy\nmsgid "View ticket"\nmsgstr "Öppna"\n\n'
                                      'msgid "Ticket %(ticket)s has been updated"\n'
                                      'msgstr "Ärendet har uppdaterats"\n')
    problems = [str(p) for p in catalogs.check_host_catalogs([tmp_path])]
    assert problems == [
        f"{po}:7: fuzzy: msgid 'View ticket' is marked fuzzy; review it and remove the flag",
        f"{po}:10: placeholders differ in msgid 'Ticket %(ticket)s has been updated': "
        "msgid has %(ticket)s, msgstr has none",
    ]


def test_a_new_host_language_must_translate_everything(tmp_path: Path) -> None:
    po = host_catalog(tmp_path, "is", 'msgid "View ticket"\nmsgstr "Skoða beiðni"\n')
    problems = catalogs.check_host_catalogs([tmp_path])
    with (LOCALES_DIR / "messages.pot").open("rb") as fh:
        expected = sum(1 for m in read_po(fh) if m.id) - 1
    assert len(problems) == expected
    assert all("has no 'is' translation" in p.message and str(po) in p.message for p in problems)


def test_a_host_msgid_no_template_uses_is_stale_when_templates_are_given(tmp_path: Path) -> None:
    locales, templates = tmp_path / "locales", tmp_path / "templates"
    (templates / "email").mkdir(parents=True)
    (templates / "email" / "update.html").write_text(
        '{% extends "ticketnotify/email/update.html" %}{% block footer %}'
        "{% trans %}Open 8-16{% endtrans %}{% endblock %}", "utf-8")
    po = host_catalog(locales, "sv", 'msgid "Open 8-16"\nmsgstr "Öppet 8-16"\n\n'
                                     'msgid "Opne 8-16"\nmsgstr "Öppet 8-16"\n')
    problems = [str(p) for p in catalogs.check_host_catalogs([locales], [templates])]
    stale = (f"{po}:9: stale: msgid 'Opne 8-16' is used by no shipped or host "
             "template; fix its spelling or remove it")
    assert stale in problems
    # The host line is translated in sv only: every other shipped locale would show English.
    others = [p for p in problems if p != stale]
    assert others and all("untranslated: msgid 'Open 8-16'" in p for p in others)
    assert not any("'sv'" in p for p in others)
    # Without --templates the added msgid counts as the host's own: no stale line, but it
    # then needs a translation in every non-English locale the host serves.
    without = [str(p) for p in catalogs.check_host_catalogs([locales])]
    assert without and all("untranslated" in p for p in without)
