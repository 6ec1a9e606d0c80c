"""The excerpt's format, its author and its attachment count are checked at the boundary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ticketnotify.errors import InvalidInputError
from ticketnotify.events import MAX_EXCERPT_CLUSTERS, Guest, Ticket, TicketUpdate

WHEN = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def update(**fields: Any) -> TicketUpdate:
    return TicketUpdate(event_id="e1", ticket=Ticket("1", "S"), kind="agent_reply",
                        recipient=Guest("g@example.com"), occurred_at=WHEN, **fields)


def test_defaults_are_plain_text_no_author_no_attachments() -> None:
    u = update(excerpt="hi")
    assert (u.excerpt_format, u.author_name, u.attachments) == ("text", None, 0)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_each_format_is_accepted(fmt: str) -> None:
    assert update(excerpt="*hi*", excerpt_format=fmt).excerpt_format == fmt


@pytest.mark.parametrize(("fields", "field"), [
    ({"excerpt_format": "Markdown"}, "excerpt_format"),
    ({"excerpt_format": "rst"}, "excerpt_format"),
    ({"excerpt_format": None}, "excerpt_format"),
    ({"author_name": ""}, "author_name"),
    ({"author_name": "Maria\r\nBcc: x@y"}, "author_name"),
    ({"author_name": "M" * 257}, "author_name"),
    ({"author_name": 7}, "author_name"),
    ({"attachments": -1}, "attachments"),
    ({"attachments": 10_001}, "attachments"),
    ({"attachments": True}, "attachments"),
    ({"attachments": 2.0}, "attachments"),
])
def test_bad_values_name_their_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        update(**fields)
    assert caught.value.field == field


def test_a_long_html_excerpt_is_cut_like_any_other_never_refused() -> None:
    source = "<p>" + "<b>ord</b> " * 1000 + "</p>"
    u = update(excerpt=source, excerpt_format="html")
    assert u.excerpt is not None and len(u.excerpt) == MAX_EXCERPT_CLUSTERS + 1
