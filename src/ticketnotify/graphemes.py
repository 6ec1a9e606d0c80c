r"""Grapheme clusters, what a reader sees as one character, from ``regex``'s ``\X`` (UAX #29).

Every cut of user text (reply excerpts, push titles and bodies) falls on a cluster boundary,
so no flag (🇸🇪), ZWJ family (👩‍👩‍👧), skin tone (👍🏽), decomposed letter (``a`` + U+030A)
or Hangul syllable is split into a broken glyph. The stdlib has no UAX #29 segmenter;
``regex`` follows the Unicode version it was built with, so we keep no tables of our own.
"""

from __future__ import annotations

from collections.abc import Callable

import regex

ELLIPSIS = "\u2026"
_CLUSTER = regex.compile(r"\X")


def clusters(text: str) -> list[str]:
    """The grapheme clusters of ``text`` in order; ``"".join(clusters(t)) == t``."""
    return list(_CLUSTER.findall(text))


def starts(text: str) -> list[int]:
    """Indices at which a cluster starts, followed by ``len(text)``."""
    found = [m.start() for m in _CLUSTER.finditer(text)]
    found.append(len(text))
    return found


def _blank(cluster: str) -> bool:
    return cluster.isspace()


def head_end(text: str, starts_: list[int], count: int,
             drop: Callable[[str], bool] = _blank) -> int:
    """End index of the first ``count`` clusters, less trailing clusters ``drop`` accepts."""
    n = max(0, min(count, len(starts_) - 1))
    while n > 0 and drop(text[starts_[n - 1]:starts_[n]]):
        n -= 1
    return starts_[n]


def shorten(text: str, count: int, starts_: list[int] | None = None) -> str:
    """The first ``count`` clusters of ``text``, with an ellipsis if anything was cut.

    Trailing whitespace clusters before the ellipsis are dropped. ``starts_`` may pass
    ``starts(text)`` when the caller shortens the same text many times.
    """
    if count <= 0:
        return ""
    if starts_ is None:
        match = regex.match(rf"\X{{0,{count}}}", text)
        if match is None or match.end() == len(text):
            return text
        starts_ = starts(text[:match.end()])  # enough to drop trailing blanks
        return text[:head_end(text, starts_, count)] + ELLIPSIS
    if count >= len(starts_) - 1:
        return text
    return text[:head_end(text, starts_, count)] + ELLIPSIS
