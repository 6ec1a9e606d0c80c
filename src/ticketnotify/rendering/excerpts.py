"""Reply excerpts written as text, Markdown or HTML, made safe for mail and readable as text.

A helpdesk stores what its staff wrote as Markdown or HTML. Every excerpt goes one way:

1. Markdown becomes HTML with ``markdown-it-py`` (CommonMark, plus GFM tables and
   strikethrough); raw HTML inside the Markdown is kept for the sanitizer to judge.
2. The HTML goes through ``nh3`` (the Rust ``ammonia`` sanitizer) with a small allow-list:
   no scripts, styles, event handlers, classes or ids, and only ``http``, ``https`` and
   ``mailto`` links. Its output is well-formed HTML whatever the input (cut tags included).
3. That output is read once with ``html.parser`` into a token list from which two forms are
   written: the HTML for the email's quote block (headings become bold paragraphs, images
   become links unless the host opted in, links get ``rel="noopener noreferrer"``, cut to
   the visible-text limit with every open element closed), and readable plain text for the
   text part and pushes (links as ``text (url)``, list items with ``- ``, paragraphs
   separated by a blank line), never raw markup.

Plain ``"text"`` excerpts are left exactly as before: shortened and escaped by the template.
See docs/excerpts.md for what is kept and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt

from ..graphemes import ELLIPSIS
from .values import shorten

__all__ = ["Excerpt", "prepare"]

# Kept as elements; everything else is unwrapped (its text stays) or, for _DROPPED, removed
# with its content. No span/div attributes, no class, no style: the quote block has the look.
_BLOCKS = frozenset({
    "p", "div", "blockquote", "pre", "ul", "ol", "li", "hr", "table", "thead", "tbody",
    "tfoot", "tr", "th", "td", "h1", "h2", "h3", "h4", "h5", "h6",
})
_INLINE = frozenset({
    "a", "b", "strong", "i", "em", "u", "s", "del", "ins", "code", "kbd", "sub", "sup", "br",
    "span", "img",
})
_DROPPED = frozenset({
    "script", "style", "title", "template", "noscript", "iframe", "object", "embed",
    "textarea", "select", "svg", "math", "noembed", "noframes", "xmp", "plaintext",
})
_KEPT = _BLOCKS | _INLINE
_TABLE_PARTS = frozenset({"thead", "tbody", "tfoot", "tr", "td", "th"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_VOID = frozenset({"br", "hr", "img"})
_SAFE_URL = re.compile(r"(?:https?://|mailto:)\S", re.IGNORECASE)
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")

_CLEANER = nh3.Cleaner(
    tags=set(_KEPT),
    clean_content_tags=set(_DROPPED),
    attributes={"*": set(), "a": {"href"}, "img": {"src", "alt"}, "ol": {"start"}},
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",  # a relative link has no base in a mailbox
    link_rel="noopener noreferrer",
    strip_comments=True,
)
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

_Token = tuple[str, str, dict[str, str]]  # ("start" | "end" | "text", tag or text, attributes)


@dataclass(frozen=True, slots=True)
class Excerpt:
    """One excerpt ready for the templates.

    Attributes:
        text: Readable plain text, at most the limit in characters plus ``…``; for the
            email's text part and pushes.
        html: Sanitized, well-formed HTML for the email's quote block, or None for a
            ``"text"`` excerpt (the template escapes ``text`` as it always did).
    """

    text: str
    html: str | None


def prepare(source: str, fmt: str, limit: int, *, remote_images: bool = False) -> Excerpt | None:
    """Turn what the staff wrote into the text and HTML a message shows.

    Args:
        source: The excerpt as stored on the update (already at most 2,000 grapheme
            clusters; a cut inside a tag is repaired by the sanitizer).
        fmt: ``"text"``, ``"markdown"`` or ``"html"`` (``TicketUpdate.excerpt_format``).
        limit: Most visible characters to show (``EMAIL_EXCERPT_CHARS`` or
            ``PUSH_EXCERPT_CHARS``); a longer excerpt is cut at a word and ends in ``…``.
        remote_images: Keep ``https`` images as ``<img>`` in the HTML form (default False:
            an image becomes a link to it, so opening the mail loads nothing remote).

    Returns:
        The ``Excerpt``, or None when nothing readable is left (empty, or only markup that
        the sanitizer removed).
    """
    return _prepare(source, fmt, limit, remote_images)


@lru_cache(maxsize=128)  # one update's excerpt is rendered for each recipient and device
def _prepare(source: str, fmt: str, limit: int, remote_images: bool) -> Excerpt | None:
    if fmt == "text":
        text = shorten(source, limit) if source.strip() else ""
        return Excerpt(text, None) if text else None
    tokens, text = _converted(source, fmt)
    if not text:
        return None
    return Excerpt(shorten(text, limit), _write_html(tokens, limit, remote_images))


@lru_cache(maxsize=64)  # the same reply is cut to the email's and the push's length
def _converted(source: str, fmt: str) -> tuple[tuple[_Token, ...], str]:
    """Sanitized tokens and the whole readable text; markdown-it is most of the cost (~1 ms/KB)."""
    html = _MARKDOWN.render(source) if fmt == "markdown" else source
    tokens = tuple(_tokens(_CLEANER.clean(html)))
    return tokens, _TextWriter(tokens).result()


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[_Token] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tokens.append(("start", tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID:
            self.tokens.append(("end", tag, {}))

    def handle_data(self, data: str) -> None:
        self.tokens.append(("text", data, {}))


def _tokens(clean_html: str) -> list[_Token]:
    reader = _Reader()
    reader.feed(clean_html)
    reader.close()
    return reader.tokens


def _safe_url(value: str) -> str | None:
    url = value.strip()
    return url if _SAFE_URL.match(url) else None


def _write_html(tokens: tuple[_Token, ...], limit: int, remote_images: bool) -> str:
    """The quote block's HTML: allowed elements only, cut at ``limit`` visible characters."""
    out: list[str] = []
    closers: list[tuple[str, str]] = []  # (tag, closing markup) of every open element
    used = 0
    pre = 0
    in_link = 0
    for kind, value, attrs in tokens:
        if kind == "text":
            text = value if pre else _HTML_SPACE.sub(" ", value)
            if used + len(text) > limit and text.strip():
                keep = limit - used
                lead = " " if text[:1] == " " and keep > 1 else ""
                piece = shorten(text.lstrip(" "), keep - len(lead)) if keep > len(lead) else ""
                if not piece.endswith(ELLIPSIS):
                    piece += ELLIPSIS
                out.append(escape(lead + piece, False))
                break
            used += len(text)
            out.append(escape(text, False))
        elif value not in _KEPT:
            continue  # nh3 kept only _KEPT; never write an element this pass does not know
        elif kind == "end":
            if any(tag == value for tag, _ in closers):
                while closers:
                    tag, closing = closers.pop()
                    out.append(closing)
                    pre -= tag == "pre"
                    in_link -= tag == "a"
                    if tag == value:
                        break
        elif value == "img":
            src, alt = _safe_url(attrs.get("src", "")), _HTML_SPACE.sub(" ", attrs.get("alt", "")).strip()
            if src and remote_images and src.lower().startswith("https://"):
                out.append(f'<img src="{escape(src)}" alt="{escape(alt)}" '
                           'style="max-width:100%;height:auto">')
            elif src and not in_link:
                out.append(f'<a href="{escape(src)}" rel="noopener noreferrer">{escape(alt or src)}</a>')
            else:
                out.append(escape(alt, False))
            used += len(alt or src or "")
        elif value in ("br", "hr"):
            out.append(f"<{value}>")
        elif value in _HEADINGS:
            out.append("<p><strong>")
            closers.append((value, "</strong></p>"))
        elif value == "a":
            href = _safe_url(attrs.get("href", ""))
            out.append(f'<a href="{escape(href)}" rel="noopener noreferrer">' if href else "<span>")
            closers.append(("a", "</a>" if href else "</span>"))
            in_link += 1
        else:
            start = attrs.get("start", "")
            extra = f' start="{start}"' if value == "ol" and start.isdigit() and len(start) < 7 else ""
            out.append(f"<{value}{extra}>")
            closers.append((value, f"</{value}>"))
            pre += value == "pre"
    out.extend(closing for _, closing in reversed(closers))
    return "".join(out).strip()


class _TextWriter:
    """Readable plain text from the sanitized tokens: what a text-only mail client shows."""

    def __init__(self, tokens: tuple[_Token, ...]) -> None:
        self._out: list[str] = []
        self._pending = 0  # newlines owed before the next text
        self._gap_quote = 0  # quote depth of the blank lines owed (the shallower side)
        self._started = False
        self._line_empty = True
        self._quote = 0
        self._lists: list[list[int]] = []  # per open list: [next number, or -1 for bullets]
        self._marker: str | None = None
        self._pre: list[str] | None = None
        self._links: list[tuple[str | None, int]] = []
        self._cell = 0
        for kind, value, attrs in tokens:
            if kind == "text":
                self._text(value)
            elif kind == "start":
                self._start(value, attrs)
            else:
                self._end(value)

    def result(self) -> str:
        """The text, each line without trailing blanks, no blank lines at either end."""
        lines = [line.rstrip() for line in "".join(self._out).split("\n")]
        return "\n".join(lines).strip("\n")

    def _block(self) -> None:
        self._owe(1 if self._lists else 2)

    def _owe(self, newlines: int) -> None:
        self._gap_quote = self._quote if not self._pending else min(self._gap_quote, self._quote)
        self._pending = max(self._pending, newlines)

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "br":
            if self._started:
                self._owe(min(2, self._pending + 1))
        elif tag == "li":
            self._owe(1)
            top = self._lists[-1] if self._lists else [-1]
            self._marker = "- " if top[0] < 0 else f"{top[0]}. "
            if top[0] >= 0:
                top[0] += 1
        elif tag in ("ul", "ol"):
            self._block()
            start = attrs.get("start", "1")
            self._lists.append([int(start) if start.isdigit() and len(start) < 7 else 1]
                               if tag == "ol" else [-1])
        elif tag == "tr":
            self._owe(1)
            self._cell = 0
        elif tag in ("td", "th"):
            if self._cell:
                self._trim()
                self._emit(" | ")
            self._cell += 1
        elif tag == "hr":
            self._block()
            self._emit("---")
            self._block()
        elif tag == "img":
            alt = _HTML_SPACE.sub(" ", attrs.get("alt", "")).strip()
            src = _safe_url(attrs.get("src", ""))
            self._text(alt or ("" if self._links else src or ""))
            if alt and src and not self._links:
                self._emit(f" ({src})")
        elif tag == "a":
            target = self._pre if self._pre is not None else self._out
            self._links.append((_safe_url(attrs.get("href", "")), len(target)))
        elif tag in _BLOCKS and tag not in _TABLE_PARTS:
            self._block()
            if tag == "blockquote":
                self._quote += 1
            elif tag == "pre":
                self._pre = []

    def _end(self, tag: str) -> None:
        if tag == "a" and self._links:
            href, at = self._links.pop()
            target = self._pre if self._pre is not None else self._out
            label = "".join(target[at:]).strip()
            if href and label != href and f"mailto:{label}".lower() != href.lower():
                if self._pre is not None:
                    self._pre.append(f" ({href})")
                elif label:
                    self._emit(f" ({href})")
                else:
                    self._text(href)
        elif tag in ("ul", "ol") and self._lists:
            self._lists.pop()
            self._block()
        elif tag == "pre" and self._pre is not None:
            code, self._pre = "".join(self._pre).strip("\n"), None
            self._block()
            for i, line in enumerate(code.split("\n")):
                if i:
                    self._owe(1)
                self._emit(line, force=True)
            self._block()
        elif tag in _BLOCKS and tag not in _TABLE_PARTS and tag != "li":
            self._block()
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)

    def _text(self, data: str) -> None:
        if self._pre is not None:
            self._pre.append(data)
            return
        data = _HTML_SPACE.sub(" ", data)
        if self._pending or not self._started or self._line_empty or self._out[-1].endswith(" "):
            data = data.lstrip(" ")
        if data:
            self._emit(data)

    def _emit(self, text: str, *, force: bool = False) -> None:
        if not text and not force:
            return
        if not self._started or self._pending:
            if self._started:
                self._trim()
                quote = ("> " * self._gap_quote).rstrip()
                self._out.append(f"\n{quote}" * (self._pending - 1) + "\n")
            self._started, self._pending = True, 0
            depth = len(self._lists)
            marker, self._marker = self._marker, None
            indent = "  " * (depth - 1) + marker if marker and depth else "  " * depth
            self._out.append("> " * self._quote + indent)
        self._out.append(text)
        self._line_empty = not text

    def _trim(self) -> None:
        if self._out and not self._line_empty:
            self._out[-1] = self._out[-1].rstrip(" ")
