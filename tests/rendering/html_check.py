"""Read rendered HTML back with ``html.parser`` and list what could run or load in a mail client."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements that run code, load content or submit data; none may come from an excerpt.
FORBIDDEN_TAGS = frozenset({
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
    "button", "textarea", "select", "svg", "math", "base", "link", "video", "audio", "source",
    "template", "noscript", "plaintext", "xmp",
})
URL_ATTRIBUTES = frozenset({
    "href", "src", "action", "formaction", "xlink:href", "background", "poster", "srcset",
    "srcdoc", "data", "lowsrc", "dynsrc", "cite",
})
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f]+")
VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "wbr", "source"})


class Elements(HTMLParser):
    """Every start tag with its attributes (entities decoded, as a browser sees them)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.starts: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.problems: list[str] = []
        self._open: list[str] = []
        self.feed(html)
        self.close()
        if self._open:
            self.problems.append(f"never closed: {self._open}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, attrs))
        if tag not in VOID:
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self._open or self._open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self._open[-1:] or 'nothing'}")
        else:
            self._open.pop()


def dangers(html: str) -> list[str]:
    """Each script element, event handler or script/data URL in ``html``, described."""
    found = []
    if re.search(r"<\s*script", html, re.IGNORECASE):
        found.append("the text '<script' is in the markup")
    for tag, attrs in Elements(html).starts:
        if tag in FORBIDDEN_TAGS:
            found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                found.append(f"<{tag} {name}>")
            url = _IGNORED_IN_URL.sub("", value or "").lower()
            if name in URL_ATTRIBUTES and url.startswith(("javascript:", "vbscript:", "data:")):
                found.append(f"<{tag} {name}={value!r}>")
            if name in URL_ATTRIBUTES | {"style"} and ("javascript:" in url or "expression(" in url):
                found.append(f"<{tag} {name}={value!r}> mentions script")
    return found


def well_formed(html: str) -> list[str]:
    """Unclosed or mis-nested elements of an HTML fragment."""
    return Elements(html).problems


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_data(self, data: str) -> None:
        self.found.append(data)


def visible_text(html: str) -> str:
    """The text nodes of ``html`` joined, entities decoded: what a reader sees as text."""
    reader = _Texts()
    reader.feed(html)
    reader.close()
    return "".join(reader.found)
