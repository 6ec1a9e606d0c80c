"""Excerpts written as Markdown or HTML: safe in the HTML part, readable in text and pushes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from ticketnotify.events import AccountUser, Device, Guest, Ticket, TicketUpdate
from ticketnotify.rendering import RenderedEmail, Renderer, excerpts
from ticketnotify.rendering.excerpts import prepare

from .html_check import Elements, dangers, visible_text, well_formed
from .text_excerpt_digests import DIGESTS, digests

WHEN = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
HOSTILE_MARKDOWN = """Hi **Anna**, the deposit is back.

<script>alert('x')</script>

See <img src="https://evil.example/x.png" onerror="alert(1)"> and [click me](javascript:alert(1))
and <a href="JaVa&#x09;Script:alert(2)">this</a> and [the receipt](https://shop.example/r?a=1&b=2).
"""


def account(locale: str = "en") -> AccountUser:
    return AccountUser("u1", "a@example.com", locale, "Europe/Stockholm",
                       devices=(Device("ios", "tok"),), name="Anna")


def update(excerpt: str | None, fmt: str = "markdown", *, locale: str = "en",
           guest: bool = False, **fields: Any) -> TicketUpdate:
    recipient = Guest("g@example.com", locale) if guest else account(locale)
    return TicketUpdate(event_id="e1", ticket=Ticket("4711", "Deposit missing"), kind="agent_reply",
                        recipient=recipient, occurred_at=WHEN, excerpt=excerpt,
                        excerpt_format=fmt, **fields)  # type: ignore[arg-type]


def email(renderer: Renderer, u: TicketUpdate, *, include_excerpt: bool = True) -> RenderedEmail:
    return renderer.render_update_email(u, ticket_url="https://help.example/t/4711", app_url=None,
                                        guest=isinstance(u.recipient, Guest),
                                        include_excerpt=include_excerpt)


def test_markdown_with_script_onerror_image_and_javascript_link_renders_safe(renderer: Renderer) -> None:
    mail = email(renderer, update(HOSTILE_MARKDOWN))
    assert dangers(mail.html) == []
    assert "alert('x')" not in mail.html + mail.text and "alert(2)" not in mail.html + mail.text
    # CommonMark refuses the javascript: destination, so that one stays visible as text
    assert "[click me](javascript:alert(1))" in mail.text
    assert "evil.example" not in [v for _, attrs in Elements(mail.html).starts
                                  for n, v in attrs if n == "src"]
    # what the agent meant to say survives, with the good link kept
    assert "<strong>Anna</strong>" in mail.html
    assert ('<a href="https://shop.example/r?a=1&amp;b=2" rel="noopener noreferrer">the receipt</a>'
            in mail.html)
    assert "the receipt (https://shop.example/r?a=1&b=2)" in mail.text
    assert "<" not in mail.text


def test_html_loses_styles_classes_and_handlers_but_keeps_structure() -> None:
    shown = prepare('<div class="x" style="position:fixed;top:0" onclick="steal()">'
                    '<h2 id="t">Status</h2><p style="font-size:90px">Fixed <em>today</em>.</p>'
                    '<ul><li>one<ul><li>nested</li></ul></li><li>two</li></ul>'
                    '<table width="2000"><tr><th>Item</th><th>Qty</th></tr><tr><td>Cable</td><td>2</td>'
                    '</tr></table></div>', "html", 600)
    assert shown is not None and shown.html is not None
    assert shown.html == (
        "<div><p><strong>Status</strong></p><p>Fixed <em>today</em>.</p>"
        "<ul><li>one<ul><li>nested</li></ul></li><li>two</li></ul>"
        "<table><tbody><tr><th>Item</th><th>Qty</th></tr><tr><td>Cable</td><td>2</td></tr></tbody>"
        "</table></div>"
    )
    assert shown.text == "Status\n\nFixed today.\n\n- one\n  - nested\n- two\n\nItem | Qty\nCable | 2"


def test_text_form_reads_like_a_plain_mail() -> None:
    shown = prepare("First paragraph\nwith a soft break.\n\nSecond, see [docs](https://d.example/x).\n\n"
                    "3. third\n4. fourth\n\n> quoted\n> reply\n\n```\nif a:\n    b()\n```\n\n"
                    "Mail <support@example.com> or [us](mailto:us@example.com).", "markdown", 600)
    assert shown is not None
    assert shown.text == (
        "First paragraph with a soft break.\n\n"
        "Second, see docs (https://d.example/x).\n\n"
        "3. third\n4. fourth\n\n"
        "> quoted reply\n\n"
        "if a:\n    b()\n\n"
        "Mail support@example.com or us (mailto:us@example.com)."
    )


def test_code_shows_markup_as_text() -> None:
    """Code is shown as written: its "<" is text (escaped in HTML), never an element."""
    shown = prepare("Run:\n\n    <script>x()</script>\n\nor `<b>`.", "markdown", 600)
    assert shown is not None and shown.html is not None
    assert shown.html == "<p>Run:</p> <pre><code>&lt;script&gt;x()&lt;/script&gt;\n</code></pre> " \
        "<p>or <code>&lt;b&gt;</code>.</p>"
    assert shown.text == "Run:\n\n<script>x()</script>\n\nor <b>."


def test_images_become_links_unless_the_host_opts_in() -> None:
    source = ('![the error](https://cdn.example/e.png) ![](data:image/png;base64,AAAA) '
              '<img src="x.png" alt="rel">')
    shown = prepare(source, "markdown", 600)
    assert shown is not None and shown.html is not None
    assert "<img" not in shown.html
    assert '<a href="https://cdn.example/e.png" rel="noopener noreferrer">the error</a>' in shown.html
    assert "data:" not in shown.html and "x.png" not in shown.html and "rel" in shown.html
    assert shown.text == "the error (https://cdn.example/e.png) rel"

    opted = prepare(source + " ![plain](http://cdn.example/p.png)", "markdown", 600, remote_images=True)
    assert opted is not None and opted.html is not None
    images = [dict(attrs) for tag, attrs in Elements(opted.html).starts if tag == "img"]
    assert images == [{"src": "https://cdn.example/e.png", "alt": "the error",
                       "style": "max-width:100%;height:auto"}]  # https only: no mixed content


def test_renderer_option_keeps_remote_images() -> None:
    u = update("![chart](https://cdn.example/c.png)")
    assert "<img" not in email(Renderer(), u).html
    assert '<img src="https://cdn.example/c.png"' in email(Renderer(remote_images=True), u).html


def test_a_cut_never_leaves_a_tag_open() -> None:
    source = "Intro " + "<b>bold <i>deep <a href='https://x.example'>link text</a> tail</i></b> " * 40
    shown = prepare(source, "html", 120)
    assert shown is not None and shown.html is not None
    assert well_formed(shown.html) == []
    assert re.fullmatch(r".*…(</(a|i|b)>)*", shown.html, re.DOTALL)  # the cut, then only closings
    visible = visible_text(shown.html)
    assert len(visible) <= 121 and visible.endswith("…")
    assert len(shown.text) <= 121 and shown.text.endswith("…")


def test_the_2000_cluster_cut_inside_a_tag_is_repaired() -> None:
    # The cut at construction lands inside the attribute of a hostile link.
    source = "a" * 1990 + '<a href="javascript:alert(1)" onclick="x()">click</a>'
    u = update(source, "html")
    assert u.excerpt is not None and u.excerpt.endswith('<a href="j…')
    shown = prepare(u.excerpt, "html", 10_000)
    assert shown is not None and shown.html is not None
    assert dangers(shown.html) == [] and well_formed(shown.html) == []
    assert shown.html == "a" * 1990


def test_markup_that_leaves_nothing_readable_shows_no_quote(renderer: Renderer) -> None:
    mail = email(renderer, update("<script>alert(1)</script><style>p{}</style>", "html"))
    assert "Latest message" not in mail.text and 'class="quote"' not in mail.html


def test_autolink_with_a_script_scheme_stays_text(renderer: Renderer) -> None:
    mail = email(renderer, update("see <javascript:alert(1)>"))
    assert dangers(mail.html) == []
    assert "see &lt;javascript:alert(1)&gt;" in mail.html


@pytest.mark.parametrize(("locale", "author", "files"), [
    ("en", "Maria from the support team wrote:", "2 attachments"),
    ("sv", "Maria från supportteamet skrev:", "2 bilagor"),
])
def test_author_and_attachments_in_each_language(
    renderer: Renderer, locale: str, author: str, files: str
) -> None:
    mail = email(renderer, update("Done.", "text", locale=locale, author_name="Maria", attachments=2))
    text = mail.text.replace("\u2068", "").replace("\u2069", "")
    assert f"{author}\nDone.\n\n{files}\n" in text
    assert '<bdi dir="auto">Maria</bdi>' in mail.html and files in mail.html


def test_one_attachment_is_singular_and_none_shows_nothing(renderer: Renderer) -> None:
    assert "1 attachment\n" in email(renderer, update("x", attachments=1)).text
    assert "1 bilaga\n" in email(renderer, update("x", locale="sv", attachments=1)).text
    assert "attachment" not in email(renderer, update("x", attachments=0)).text


def test_attachments_without_reply_text_still_show(renderer: Renderer) -> None:
    mail = email(renderer, update(None, attachments=2, author_name="Maria"))
    assert "2 attachments" in mail.text and "Maria" not in mail.text  # no quote to introduce


def test_author_and_attachments_follow_the_excerpt_policy(renderer: Renderer) -> None:
    u = update("Secret plan.", guest=True, author_name="Maria", attachments=3)
    mail = email(renderer, u, include_excerpt=False)  # the guest default
    assert "Maria" not in mail.text + mail.html and "attachment" not in mail.text


def test_pushes_never_show_the_author_or_attachments(renderer: Renderer) -> None:
    u = update("**Fixed** it, see [log](https://x.example/l).", author_name="Maria", attachments=2)
    opted_in = renderer.render_update_push(u, include_excerpt=True)
    assert opted_in.body == "Fixed it, see log (https://x.example/l)."
    assert "Maria" not in opted_in.title + opted_in.body
    default = renderer.render_update_push(u, include_excerpt=False)
    assert "Maria" not in default.body and "Fixed" not in default.body


def test_text_excerpts_render_byte_for_byte_as_before() -> None:
    """Digests written by the code before excerpt formats (tests/rendering/text_excerpt_digests.py)."""
    assert digests(Renderer()) == DIGESTS


def test_rendering_is_deterministic() -> None:
    u = update(HOSTILE_MARKDOWN + "\n- a\n  - b\n\n| x | y |\n|---|---|\n| 1 | 2 |\n")
    first = email(Renderer(), u)
    excerpts._prepare.cache_clear()  # convert again, not from the cache
    excerpts._converted.cache_clear()
    assert email(Renderer(), u) == first

