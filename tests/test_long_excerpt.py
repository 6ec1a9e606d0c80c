"""A staff reply of any length still notifies; its excerpt is cut, never the update (issue 11.8)."""

from __future__ import annotations

from collections.abc import Callable

import regex

from ticketnotify.events import MAX_EXCERPT_CLUSTERS, AccountUser, Guest, Ticket, TicketUpdate
from ticketnotify.guest.links import GuestLinks
from ticketnotify.notifier import ExcerptPolicy, Links, Notifier
from ticketnotify.outbox import MemoryOutbox

from .conftest import T0

PASTED_LOG = "".join(f"2026-11-24 09:{i % 60:02d} ERROR worker 👩‍💻 🇸🇪 disk full\n" for i in range(2_000))


def test_a_pasted_log_over_20000_characters_is_published_to_account_and_guest(
        account: AccountUser, guest: Guest, make_update: Callable[..., TicketUpdate]) -> None:
    assert len(PASTED_LOG) > 20_000
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, links=Links(web_ticket_url="https://help.example.com/t/{ticket_id}"),
                        guest_links=GuestLinks([b"k" * 32], "https://help.example.com/g/{ticket_id}?t={token}"),
                        excerpts=ExcerptPolicy(guest_email=True, push=True))
    stored = 0
    for who in (account, guest):
        result = notifier.publish(make_update(who, event_id=f"log-{who.email}", excerpt=PASTED_LOG))
        assert result.stored == len(result.planned) >= 1
        stored += result.stored
    assert stored == 4  # push to two devices and an email for the account, one guest email


def test_the_excerpt_is_cut_on_a_grapheme_boundary_with_an_ellipsis(
        guest: Guest, make_update: Callable[..., TicketUpdate]) -> None:
    update = make_update(guest, excerpt=PASTED_LOG)
    assert update.excerpt is not None and update.excerpt.endswith("…")
    kept = update.excerpt[:-1]
    assert PASTED_LOG.startswith(kept)
    assert len(regex.findall(r"\X", kept)) <= MAX_EXCERPT_CLUSTERS
    ends = {m.end() for m in regex.finditer(r"\X", PASTED_LOG[: len(kept) + 20])}
    assert len(kept) in ends


def test_a_short_excerpt_is_kept_as_given(guest: Guest, make_update: Callable[..., TicketUpdate]) -> None:
    text = "Line one\nline two 👍🏽"
    assert make_update(guest, excerpt=text).excerpt == text


def test_a_megabyte_excerpt_costs_no_more_than_its_head() -> None:
    huge = "x" * 5_000_000 + "\ud800"  # a lone surrogate far past the cut is never kept
    update = TicketUpdate(event_id="e", ticket=Ticket("1", "s"),
                          kind="agent_reply", recipient=Guest("a@example.se"), occurred_at=T0,
                          excerpt=huge)
    assert update.excerpt is not None and len(update.excerpt) == MAX_EXCERPT_CLUSTERS + 1
