"""Every cut of user text falls between whole grapheme clusters, judged by ``regex``'s ``\\X``."""

from __future__ import annotations

import regex
from hypothesis import given
from hypothesis import strategies as st

from ticketnotify import graphemes
from ticketnotify.channels.push import payload
from ticketnotify.rendering import values

# Clusters a hand-written segmenter gets wrong: flags, ZWJ families, skin tones, keycaps,
# tag flags, combining marks, Hangul jamo, conjuncts, prepend marks, CR LF.
CLUSTERS = [
    "🇸🇪", "🇫🇮", "🇸", "👩\u200d👩\u200d👧\u200d👦", "👨🏽\u200d💻", "👍🏽", "1\ufe0f\u20e3",
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "a\u030a", "e\u0301\u0301", "å", "\u1100\u1161\u11a8", "각", "क्ष", "\u0600", "\u200d",
    "\r\n", " ", " \u0301", ".", ",", "x", "word", "中",
]
TEXTS = st.one_of(st.lists(st.sampled_from(CLUSTERS), max_size=40).map("".join), st.text(max_size=80))


def boundaries(text: str) -> set[int]:
    return {0, *(m.end() for m in regex.finditer(r"\X", text))}


def assert_whole_prefix(out: str, original: str) -> str:
    kept = out.removesuffix(graphemes.ELLIPSIS) if out != original else out
    assert original.startswith(kept)
    assert len(kept) in boundaries(original), (kept, original)
    return kept


def test_three_swedish_flags_cut_to_whole_flags() -> None:
    assert values.shorten("🇸🇪🇸🇪🇸🇪", 3) == "🇸🇪…"
    assert graphemes.shorten("🇸🇪🇸🇪🇸🇪", 2) == "🇸🇪🇸🇪…"
    assert payload.shorten("🇸🇪🇸🇪🇸🇪", 1) == "🇸🇪…"


@given(TEXTS, st.integers(0, 45))
def test_graphemes_shorten_keeps_whole_clusters(text: str, count: int) -> None:
    out = graphemes.shorten(text, count)
    kept = assert_whole_prefix(out, text)
    assert len(regex.findall(r"\X", kept)) <= count
    assert out == text or out.endswith(graphemes.ELLIPSIS) or out == ""
    assert graphemes.shorten(text, count, graphemes.starts(text)) == out


@given(TEXTS, st.integers(0, 45))
def test_push_shorten_keeps_whole_clusters(text: str, count: int) -> None:
    assert_whole_prefix(payload.shorten(text, count), text)
    assert payload.grapheme_starts(text) == sorted(boundaries(text) | {len(text)})


@given(TEXTS, st.integers(1, 40))
def test_excerpt_shorten_keeps_whole_clusters(text: str, limit: int) -> None:
    out = values.shorten(text, limit)
    stripped = text.strip()
    if out == stripped:
        return
    assert out.endswith("…")
    kept = assert_whole_prefix(out, stripped)
    first = regex.match(r"\X", stripped)
    assert first is not None
    assert len(kept) <= limit or kept == first.group()  # one cluster longer than the limit stays whole
