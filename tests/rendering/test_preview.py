"""`ticketnotify preview` writes a gallery whose .eml files a mail client (and stdlib) opens."""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import re
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from ticketnotify import preview
from ticketnotify.events import AccountUser, UpdateKind
from ticketnotify.examples import default_examples_dir, load_examples
from ticketnotify.rendering import Renderer


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(unquote(href))


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketnotify")
    preview.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("previews")
    assert run_cli(["preview", str(default_examples_dir()), "--out", str(out)]) == 0
    return out


def test_every_example_locale_and_kind_is_rendered_and_linked(gallery: Path) -> None:
    updates = load_examples(default_examples_dir())
    assert any(u.event_id.startswith("stress-") for u in updates)
    parser = _Links()
    parser.feed((gallery / "index.html").read_text("utf-8"))
    linked = set(parser.hrefs)
    written = {p.relative_to(gallery).as_posix() for p in gallery.rglob("*") if p.is_file()}
    assert linked == written - {"index.html"}  # every file linked, every link exists

    accounts = sum(isinstance(u.recipient, AccountUser) for u in updates)
    per_combo = len(Renderer.shared().locales) * len(UpdateKind)  # every shipped locale × kind
    assert sum(n.endswith(".eml") for n in written) == len(updates) * per_combo
    assert sum(n.endswith(".push.json") for n in written) == accounts * per_combo
    for suffix in (".html", ".txt"):
        assert (
            sum(n.endswith(suffix) and n != "index.html" for n in written)
            == len(updates) * per_combo
        )


def test_each_eml_parses_with_both_alternatives(gallery: Path) -> None:
    emls = sorted(gallery.rglob("*.eml"))
    assert emls
    for path in emls:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert msg.get_content_type() == "multipart/alternative"
        plain = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        assert plain is not None and html is not None
        stem = path.with_suffix("")
        assert plain.get_content().replace("\r\n", "\n") == stem.with_suffix(".txt").read_text(
            "utf-8"
        )
        assert html.get_content().replace("\r\n", "\n") == stem.with_suffix(".html").read_text(
            "utf-8"
        )
        lang = path.parent.name
        subject = str(msg["Subject"])
        if msg["Reply-To"] is not None:  # the reply-by-email example brand tags its subjects
            assert re.match(r"\[#\w+\] ", subject), subject
            subject = subject.split("] ", 1)[1]
        if lang == "sv":
            assert subject.startswith("Ditt supportärende")
        elif lang == "en":
            assert subject.startswith("Your support ticket")
        else:  # every other shipped locale has its own subject line
            assert not subject.startswith("Your support ticket"), (lang, subject)
        assert msg["Auto-Submitted"] == "auto-generated"


def test_push_json_and_stress_examples(gallery: Path) -> None:
    pushes = sorted(gallery.rglob("*.push.json"))
    assert pushes
    for path in pushes:
        data = json.loads(path.read_text("utf-8"))
        assert data["title"] and data["body"] and data["locale"] == path.parent.name
    html = next(gallery.glob("*stress-html-emoji-excerpt/sv/info_requested.html")).read_text(
        "utf-8"
    )
    assert "&lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;" in html
    assert "<script" not in html and "😀👩‍👩‍👧‍👦🇸🇪" in html
    rtl = next(gallery.glob("*stress-rtl-name/en/agent_reply.html")).read_text("utf-8")
    assert (
        re.search(r"Hi <bdi dir=\"auto\">ليلى العبدالله</bdi>,", rtl)
        and '<bdi dir="auto">مشكلة في تسجيل الدخول</bdi>' in rtl
    )
    long_text = next(gallery.glob("*stress-long-subject/sv/agent_reply.txt")).read_text("utf-8")
    assert "hänvisade hit" in long_text


def _message_texts(eml: Path) -> str:
    """Every header value and decoded body of one .eml, as a mail client would show them."""
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    parts = [str(value) for value in msg.values()]
    for kind in ("plain", "html"):
        body = msg.get_body(preferencelist=(kind,))
        assert body is not None
        parts.append(body.get_content())
    return "\n".join(parts)


def _guest_files(gallery: Path) -> dict[str, list[Path]]:
    """The files of every guest example, keyed by its ticket subject."""
    updates = load_examples(default_examples_dir())
    found: dict[str, list[Path]] = {}
    for index, update in enumerate(updates, start=1):
        if isinstance(update.recipient, AccountUser):
            continue
        folder = gallery / preview._slug(index, update.event_id)
        found[update.ticket.subject] = sorted(p for p in folder.rglob("*") if p.is_file())
    assert found, "the shipped examples must include a guest"
    return found


def test_guest_previews_show_what_a_guest_gets_without_the_subject(gallery: Path) -> None:
    for subject, files in _guest_files(gallery).items():
        assert any(p.suffix == ".eml" for p in files)
        for path in files:
            shown = _message_texts(path) if path.suffix == ".eml" else path.read_text("utf-8")
            assert subject not in shown and escape(subject) not in shown, path


def test_guest_subject_flag_previews_the_host_opt_in(tmp_path: Path) -> None:
    out = tmp_path / "opt-in"
    assert run_cli(["preview", str(default_examples_dir()), "--out", str(out),
                    "--guest-subject"]) == 0
    for subject, files in _guest_files(out).items():
        texts = [p for p in files if p.suffix == ".txt"]
        assert texts and all(subject in p.read_text("utf-8") for p in texts)
