"""Excerpts are cut where a reader expects, never inside an emoji or a word."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ticketnotify.rendering.values import shorten

PIECES = st.sampled_from(["a", "ö", " ", "e\u0301", "👩‍👩‍👧‍👦", "👍🏽", "🇸🇪", "\u200d", "word"])


@given(st.lists(PIECES, max_size=60).map("".join), st.integers(2, 40))
def test_shorten_keeps_a_prefix_and_marks_the_cut(text: str, limit: int) -> None:
    out = shorten(text, limit)
    if len(text.strip()) <= limit:
        assert out == text.strip()
        return
    body = out[:-1]
    assert out.endswith("…")
    assert len(out) <= limit + 1 or not any(c.isspace() for c in body)  # one long character
    assert text.strip().startswith(body)
    rest = text.strip()[len(body) :]
    assert not rest[:1] or rest[0] not in "\u0301\u200d\U0001f3fd"  # cut between characters


def test_shorten_prefers_word_boundaries() -> None:
    assert shorten("Hej Anna! Vi har hittat din insättning.", 20) == "Hej Anna! Vi har…"
