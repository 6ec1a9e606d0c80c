"""Properties over generated hostile Markdown and HTML: nothing that runs reaches the mail.

Every generated excerpt mixes allowed and forbidden elements, event handlers, ``style`` and
URL attributes with ``javascript:`` written every way a browser still reads it (case,
whitespace and control characters inside, character references), nested lists and code
blocks. The output is read back with ``html.parser`` (tests/rendering/html_check.py) and
every element and attribute is checked.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketnotify.events import AccountUser, Device, Ticket, TicketUpdate
from ticketnotify.rendering import Renderer, excerpts
from ticketnotify.rendering.excerpts import prepare

from .html_check import Elements, dangers, visible_text, well_formed

# Generated text never carries "<" or "&". A tag-like "<...>" can still be text: CommonMark
# prints "<p href=\x01javascript:…>" (no valid tag) as written, and the HTML part shows it
# escaped. So every "<...>" in a text part must be text the HTML part shows too; leaked
# markup (a tag the sanitizer saw as an element) never is.
TAG_IN_TEXT = re.compile(r"<[A-Za-z/!?][^<>\n]*>")


def assert_no_markup(text: str, source: str, fmt: str) -> None:
    whole = prepare(source, fmt, 10**6)
    shown_as_text = visible_text(whole.html or "") if whole else ""
    for found in TAG_IN_TEXT.finditer(text):
        assert found.group() in shown_as_text, (found.group(), text)
WORD = st.lists(st.sampled_from(list("abcXYZåäö019 .,!?-_'\"()=:;/") + ["😀", "👩‍👩‍👧", "ل"]),
                min_size=1, max_size=12).map("".join)
SCRIPT_URLS = st.sampled_from([
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "\tjavascript:alert(1)",
    "java\tscript:alert(1)", "java\nscript:alert(1)", "jav&#x09;ascript:alert(1)",
    "jav&#9;ascript:alert(1)", "&#106;avascript:alert(1)", "&#x6A;avascript:alert(1)",
    "javascript&colon;alert(1)", "javascript&#58;alert(1)", "JAVASCRIPT:alert(1)",
    "javascript://%0aalert(1)", "\x01javascript:alert(1)", "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "data:image/png;base64,AAAA",
])
OTHER_URLS = st.sampled_from([
    "https://example.com/a?b=1&c=2", "http://x.example/", "mailto:a@example.com", "/relative",
    "//proto.example/x", "#top", "ftp://files.example/",
])
URLS = st.one_of(SCRIPT_URLS, OTHER_URLS)
ATTRIBUTE = st.one_of(
    st.tuples(st.sampled_from(["onerror", "onclick", "onload", "ONMOUSEOVER", "onfocus"]),
              st.just("alert(1)")),
    st.tuples(st.sampled_from(["href", "src", "action", "formaction", "xlink:href", "background",
                               "poster", "srcdoc", "data", "srcset"]), URLS),
    st.tuples(st.just("style"), st.sampled_from([
        "color:red", "background:url(javascript:alert(1))", "width:expression(alert(1))",
        "position:fixed;top:0;left:0;width:100%;height:100%"])),
    st.tuples(st.sampled_from(["class", "id", "title", "alt", "target", "rel", "start"]), WORD),
)
TAGS = st.sampled_from([
    "p", "div", "span", "b", "em", "a", "a", "img", "img", "script", "style", "iframe", "svg",
    "math", "object", "embed", "form", "input", "button", "textarea", "title", "noscript",
    "template", "xmp", "plaintext", "table", "tr", "td", "ul", "ol", "li", "pre", "code",
    "blockquote", "h1", "video", "base", "link", "meta", "details", "select", "noembed", "br",
])


def _attribute(pair: tuple[str, str], quote: str) -> str:
    name, value = pair
    if quote == "" and any(c in value for c in " \t\n\"'=<>`"):
        quote = '"'
    return f" {name}={quote}{value.replace(quote, '&quot;') if quote else value}{quote}"


ATTRIBUTES = st.lists(st.builds(_attribute, ATTRIBUTE, st.sampled_from(['"', "'", ""])), max_size=3)
LEAVES = st.one_of(WORD, st.sampled_from([
    "<!-- <script>alert(1)</script> -->", "<![CDATA[<script>alert(1)</script>]]>", "</p>", "<br/>",
    "<img src=x onerror=alert(1)//", "<a href=javascript:alert(1)>",
]))


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda tag, attrs, kids, close: f"<{tag}{''.join(attrs)}>{''.join(kids)}"
        + (f"</{tag}>" if close else ""),
        TAGS, ATTRIBUTES, st.lists(children, max_size=4), st.booleans(),
    )


HTML = st.recursive(LEAVES, _element, max_leaves=16)
MD_URL = URLS.filter(lambda u: not any(c.isspace() for c in u))
INLINE = st.one_of(
    WORD,
    st.builds(lambda t, u: f"[{t}]({u})", WORD, MD_URL),
    st.builds(lambda t, u: f"![{t}]({u})", WORD, MD_URL),
    st.builds(lambda t: f"**{t.strip() or 'b'}**", WORD),
    st.builds(lambda t: f"`{t}`", WORD),
    HTML,
)
# Leading spaces would make an indented code block, whose text (markup included) is shown
# as written: test_excerpts.py::test_code_shows_markup_as_text covers that on purpose.
LINE = st.lists(INLINE, min_size=1, max_size=4).map(lambda parts: " ".join(parts).lstrip())
CODE = st.lists(WORD, min_size=1, max_size=4).map(lambda lines: "```\n" + "\n".join(lines) + "\n```")


def _nested(items: list[tuple[int, str, str]]) -> str:
    lines, depth = [], -1
    for step, marker, line in items:
        depth = min(step, depth + 1)  # each item at most one level deeper than the one before
        lines.append("  " * depth + marker + line)
    return "\n".join(lines)


NESTED_LIST = st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["- ", "* ", "1. "]), LINE),
                       min_size=1, max_size=6).map(_nested)
BLOCK = st.one_of(
    LINE, NESTED_LIST, CODE, LINE.map(lambda t: "> " + t), LINE.map(lambda t: "# " + t),
    LINE.map(lambda t: f"| a | b |\n|---|---|\n| {t.replace('|', '/')} | x |"), HTML,
)
MARKDOWN = st.lists(BLOCK, min_size=1, max_size=6).flatmap(
    lambda blocks: st.sampled_from(["\n\n", "\n"]).map(lambda sep: sep.join(blocks)))
EXCERPTS = st.one_of(st.tuples(MARKDOWN, st.just("markdown")), st.tuples(HTML, st.just("html")))

ALLOWED = {
    "p": set(), "div": set(), "blockquote": set(), "pre": set(), "ul": set(), "ol": {"start"},
    "li": set(), "hr": set(), "table": set(), "thead": set(), "tbody": set(), "tfoot": set(),
    "tr": set(), "th": set(), "td": set(), "b": set(), "strong": set(), "i": set(), "em": set(),
    "u": set(), "s": set(), "del": set(), "ins": set(), "code": set(), "kbd": set(), "sub": set(),
    "sup": set(), "br": set(), "span": set(), "a": {"href", "rel"},
}
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WHEN = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
RENDERER = Renderer()


def check_fragment(html: str, *, remote_images: bool = False) -> None:
    assert dangers(html) == [], html
    assert well_formed(html) == [], html
    allowed = {**ALLOWED, "img": {"src", "alt", "style"}} if remote_images else ALLOWED
    for tag, attrs in Elements(html).starts:
        assert tag in allowed, (tag, html)
        assert {name for name, _ in attrs} <= allowed[tag], (tag, attrs)
        values = dict(attrs)
        if tag == "a":
            assert values["rel"] == "noopener noreferrer"
            assert (values["href"] or "").startswith(("https://", "http://", "mailto:")), values
        if tag == "img":
            assert (values["src"] or "").startswith("https://"), values


@PROPERTY
@given(EXCERPTS, st.sampled_from([600, 140, 25]), st.booleans())
def test_no_script_handler_or_script_url_survives(
    excerpt: tuple[str, str], limit: int, remote_images: bool
) -> None:
    source, fmt = excerpt
    shown = prepare(source, fmt, limit, remote_images=remote_images)
    if shown is None:
        return
    assert shown.html is not None
    check_fragment(shown.html, remote_images=remote_images)
    assert_no_markup(shown.text, source, fmt)
    assert len(shown.text) <= limit + 1


@PROPERTY
@given(EXCERPTS, st.data())
def test_a_cut_anywhere_in_the_source_still_gives_safe_well_formed_html(
    excerpt: tuple[str, str], data: st.DataObject
) -> None:
    source, fmt = excerpt
    cut = data.draw(st.integers(0, len(source)), label="cut")
    shown = prepare(source[:cut] + "…", fmt, 600)
    if shown is not None:
        assert shown.html is not None
        check_fragment(shown.html)
        assert_no_markup(shown.text, source[:cut] + "…", fmt)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXCERPTS)
def test_the_whole_email_and_push_stay_safe_and_deterministic(excerpt: tuple[str, str]) -> None:
    source, fmt = excerpt
    update = TicketUpdate(
        event_id="e1", ticket=Ticket("4711", "Subject"), kind="agent_reply",
        recipient=AccountUser("u1", "a@example.com", "sv", devices=(Device("ios", "t"),)),
        occurred_at=WHEN, excerpt=source, excerpt_format=fmt,  # type: ignore[arg-type]
        author_name="Maria", attachments=2,
    )
    mail = RENDERER.render_update_email(update, ticket_url="https://help.example/t/4711",
                                        app_url=None, guest=False, include_excerpt=True)
    push = RENDERER.render_update_push(update, include_excerpt=True)
    assert dangers(mail.html) == []
    assert_no_markup(mail.text, source, fmt)
    assert_no_markup(push.body, source, fmt)
    excerpts._prepare.cache_clear()  # converted afresh, the same bytes come out
    excerpts._converted.cache_clear()
    assert RENDERER.render_update_email(update, ticket_url="https://help.example/t/4711",
                                        app_url=None, guest=False, include_excerpt=True) == mail
    assert RENDERER.render_update_push(update, include_excerpt=True) == push
