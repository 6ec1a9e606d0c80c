r"""Fit push title and body into a byte limit by cutting whole user-perceived characters.

APNs refuses alert payloads over 4096 bytes and FCM messages over 4096 bytes. We never cut
the JSON: we shorten the *text*, re-serialise with the adapter's own serializer and measure
again, so the result is always valid UTF-8 JSON of the size the peer will see.

Cuts fall on grapheme-cluster boundaries (``ticketnotify.graphemes``, ``regex``'s ``\\X``)
so no emoji (👩‍👩‍👧, 🇸🇪, 👍🏽), decomposed letter (``a`` + U+030A = å) or Hangul syllable
is split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ... import graphemes
from ...errors import PermanentDeliveryError
from ...validation import SURROGATE

PUSH_PAYLOAD_LIMIT = 4096
ELLIPSIS = graphemes.ELLIPSIS


def grapheme_starts(text: str) -> list[int]:
    """Indices at which a grapheme cluster starts, followed by ``len(text)``."""
    return graphemes.starts(text)


def clean_text(text: str) -> str:
    """Replace lone surrogates (unencodable in UTF-8) with U+FFFD."""
    return SURROGATE.sub("\ufffd", text)


def shorten(text: str, clusters: int, starts: list[int] | None = None) -> str:
    """The first ``clusters`` grapheme clusters of ``text``, with an ellipsis if cut."""
    return graphemes.shorten(text, clusters, starts if starts is not None else grapheme_starts(text))


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
