"""One renderer per module (compiled variants are reused) and ticket values that bite."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from hypothesis import strategies as st

from ticketnotify.i18n import default_locales_dir
from ticketnotify.rendering import Renderer

LOCALES_DIR = default_locales_dir()
WHEN = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)

# No spaces: an English phrase can then only come from a template, never from a value.
_PIECES = st.sampled_from(
    list("aZ09åäöÅÄÖ<>&\"'/=;#%{}()-_.") + ["😀", "👩‍👩‍👧", "ل", "א", "\u200f"]
)
# Every value carries markup characters, so a missed escape always shows.
ticket_text = st.builds(
    lambda core, tail: f"<b>{''.join(core)}&amp;'\"{''.join(tail)}",
    st.lists(_PIECES, max_size=20),
    st.lists(_PIECES, max_size=5),
)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def english_phrases() -> list[str]:
    """Multi-word English fragments of every msgid, split at placeholders and markup."""
    with (LOCALES_DIR / "messages.pot").open("rb") as fh:
        catalog = read_po(fh)
    phrases: set[str] = set()
    for message in catalog:
        ids = (message.id,) if isinstance(message.id, str) else message.id
        for msgid in ids:
            if not msgid:
                continue
            for piece in re.split(r"%\(\w+\)s|<[^>]+>|[“”:.,?→]", msgid):
                piece = " ".join(piece.split())
                if piece.count(" ") >= 1 and len(piece) >= 8:
                    phrases.add(piece)
    return sorted(phrases)


def examples_dir() -> Path:
    return LOCALES_DIR.parent / "examples"
