"""Fit push title and body into a byte limit by cutting whole user-perceived characters.

APNs refuses alert payloads over 4096 bytes and FCM messages over 4096 bytes. We never cut
the JSON: we shorten the *text*, re-serialise with the adapter's own serializer and measure
again, so the result is always valid UTF-8 JSON of the size the peer will see.

Cuts fall on grapheme-cluster boundaries so no emoji (👩‍👩‍👧, 🇸🇪, 👍🏽), decomposed
letter (``a`` + U+030A = å) or Hangul syllable is split. Python's stdlib has no UAX #29
segmenter and no dependency here is worth adding for it, so ``grapheme_starts`` is an
approximation built on ``unicodedata`` that errs towards *joining*: it keeps together
everything UAX #29 keeps together for the scripts and emoji we meet (combining marks,
spacing marks, ZWJ sequences, variation selectors, emoji modifiers, tag sequences,
regional-indicator pairs, Hangul jamo, prepend marks, virama conjuncts), and sometimes a
little more (it never breaks after a ZWJ). Joining too much only makes a cut a few code
points earlier; splitting would show a broken glyph.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from ...errors import PermanentDeliveryError

PUSH_PAYLOAD_LIMIT = 4096
ELLIPSIS = "\u2026"

_SURROGATE = re.compile("[\ud800-\udfff]")
_PREPEND = frozenset((*range(0x0600, 0x0606), 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2,
                      0x110BD, 0x110CD))


def _is_extend(cp: int, ch: str) -> bool:
    """Characters that attach to the one before them (Grapheme_Extend, SpacingMark, ZWJ ...)."""
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or cp in (0x200C, 0x200D, 0xFF9E, 0xFF9F)
        or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF   # variation selectors
        or 0x1F3FB <= cp <= 0x1F3FF                              # emoji skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F                              # tag sequences (🏴 flags)
    )


def _hangul(cp: int) -> str:
    """Hangul syllable type for rules GB6-GB8: L, V, T, LV, LVT or ''."""
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    return ""


def _is_regional_indicator(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def _joins(prev: str, cur: str, ri_run: int) -> bool:
    """True when there is no cluster boundary between ``prev`` and ``cur``."""
    p, c = ord(prev), ord(cur)
    if p == 0x0D and c == 0x0A:
        return True
    if unicodedata.category(prev) in ("Cc", "Zl", "Zp") or unicodedata.category(cur) in (
            "Cc", "Zl", "Zp"):
        return False
    if _is_extend(c, cur) or p == 0x200D or p in _PREPEND:
        return True
    hp, hc = _hangul(p), _hangul(c)
    if hp == "L" and hc in ("L", "V", "LV", "LVT"):
        return True
    if hp in ("LV", "V") and hc in ("V", "T"):
        return True
    if hp in ("LVT", "T") and hc == "T":
        return True
    if _is_regional_indicator(c) and ri_run % 2 == 1:
        return True
    # GB9c (Unicode 15.1): virama + consonant stays one conjunct.
    return unicodedata.combining(prev) == 9 and unicodedata.category(cur) == "Lo"


def grapheme_starts(text: str) -> list[int]:
    """Indices at which a grapheme cluster starts, followed by ``len(text)``."""
    starts = [0] if text else []
    ri_run = 0
    for i in range(1, len(text)):
        prev, cur = text[i - 1], text[i]
        ri_run = ri_run + 1 if _is_regional_indicator(ord(prev)) else 0
        if not _joins(prev, cur, ri_run):
            starts.append(i)
    starts.append(len(text))
    return starts


def clean_text(text: str) -> str:
    """Replace lone surrogates (unencodable in UTF-8) with U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def shorten(text: str, clusters: int, starts: list[int] | None = None) -> str:
    """The first ``clusters`` grapheme clusters of ``text``, with an ellipsis if cut."""
    starts = starts if starts is not None else grapheme_starts(text)
    if clusters >= len(starts) - 1:
        return text
    if clusters <= 0:
        return ""
    return text[:starts[clusters]].rstrip() + ELLIPSIS


@dataclass(frozen=True, slots=True)
class FittedPush:
    """Title and body as sent, and the serialized payload the peer will receive."""

    title: str
    body: str
    payload: bytes
    shortened: bool


def fit_text(build: Callable[[str, str], bytes], title: str, body: str,
             limit: int = PUSH_PAYLOAD_LIMIT) -> FittedPush:
    """Shorten body, then title, until ``build(title, body)`` is at most ``limit`` bytes.

    ``build`` must be the adapter's real serializer, so the measured bytes are the sent
    bytes. Raises ``PermanentDeliveryError`` when even empty text does not fit (the deep
    link or data are too large: retrying cannot help).
    """
    title, body = clean_text(title), clean_text(body)
    payload = build(title, body)
    if len(payload) <= limit:
        return FittedPush(title, body, payload, shortened=False)
    body_starts = grapheme_starts(body)
    best = _longest_fitting(lambda n: build(title, shorten(body, n, body_starts)),
                            len(body_starts) - 1, limit)
    if best is not None:
        n, payload = best
        return FittedPush(title, shorten(body, n, body_starts), payload, shortened=True)
    title_starts = grapheme_starts(title)
    best = _longest_fitting(lambda n: build(shorten(title, n, title_starts), ""),
                            len(title_starts) - 1, limit)
    if best is None:
        raise PermanentDeliveryError(
            f"push payload is over {limit} bytes even with empty title and body; "
            "shorten the deep link or the custom data",
            code="payload_too_large",
        )
    n, payload = best
    return FittedPush(shorten(title, n, title_starts), "", payload, shortened=True)


def _longest_fitting(build_n: Callable[[int], bytes], most: int,
                     limit: int) -> tuple[int, bytes] | None:
    """Largest ``n`` in ``[0, most)`` whose payload fits (size grows with ``n``), or None."""
    lo, hi = 0, most - 1
    found: tuple[int, bytes] | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        payload = build_n(mid)
        if len(payload) <= limit:
            found = (mid, payload)
            lo = mid + 1
        else:
            hi = mid - 1
    return found
