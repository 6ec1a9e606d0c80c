"""Every shipped locale's push titles fit the 40 characters a lock screen shows."""

from __future__ import annotations

import pytest

from ticketnotify import graphemes
from ticketnotify.events import UpdateKind
from ticketnotify.preview import PUSH_TITLE_LIMIT
from ticketnotify.rendering import Renderer

from .conftest import LOCALES_DIR
from .test_languages import news

SHIPPED = sorted(p.name for p in LOCALES_DIR.iterdir() if (p / "LC_MESSAGES").is_dir())


@pytest.mark.parametrize("locale", SHIPPED)
def test_push_titles_with_a_five_digit_number_fit(locale: str) -> None:
    renderer = Renderer()
    too_long = []
    for kind in UpdateKind:
        title = renderer.render_update_push(news(kind, locale, ticket="55120"),
                                            include_excerpt=False).title
        if len(graphemes.clusters(title)) > PUSH_TITLE_LIMIT:
            too_long.append(f"{kind.value}: {title!r}")
    assert too_long == []
