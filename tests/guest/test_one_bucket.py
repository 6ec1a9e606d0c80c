"""Every spelling of one mailbox counts against one rate-limit bucket (issue 11.5).

Before: ``anna@ｅｘａｍｐｌｅ.se`` (full-width letters) had a bucket of its own but was
delivered to ``anna@example.se``, so 12 code emails reached one mailbox in a minute
against a limit of 3.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketnotify.guest import GuestLinks, MemoryCodeStore, RateLimit, RateLimitedError, VerificationCodes

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
KEYS = ["link-key-" + "k" * 32]
SECRET = b"code-secret-" + b"s" * 32
SPELLINGS = [
    "anna@example.se", "anna@ｅｘａｍｐｌｅ.se", "ANNA@EXAMPLE.SE", " anna@example.se. ",
    "anna@example。se", "ａｎｎａ＠ｅｘａｍｐｌｅ．ｓｅ", "Anna@Example.Se",
]


class Sent:
    """A CodeSender that only counts: the limit under test is ours, not the mailbox's."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, *, email: str, locale: str, time_zone: str, code: str,
                       minutes: int, ticket_id: str) -> None:
        self.count += 1


async def send_all(spellings: list[str]) -> tuple[int, int]:
    """Send one code per spelling, each for its own ticket; (sent, refused)."""
    links = GuestLinks(KEYS)
    sent = Sent()
    codes = VerificationCodes(links, MemoryCodeStore(), sent, SECRET, clock=lambda: T0,
                              address_limits=[RateLimit(3, timedelta(minutes=1))],
                              ticket_limits=[RateLimit(100, timedelta(minutes=1))])
    refused = 0
    for n, spelling in enumerate(spellings):
        token = links.issue(f"T-{n}", "anna@example.se", now=T0)
        try:
            await codes.asend_code(token, email=spelling)
        except RateLimitedError:
            refused += 1
    return sent.count, refused


async def test_full_width_spelling_shares_the_bucket() -> None:
    assert await send_all(SPELLINGS[:2] * 6) == (3, 9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(SPELLINGS), min_size=4, max_size=8))
def test_any_spellings_of_one_mailbox_share_one_bucket(spellings: list[str]) -> None:
    sent, refused = asyncio.run(send_all(spellings))
    assert sent == 3 and refused == len(spellings) - 3


@pytest.mark.parametrize("other", ["anna@strasse.de", "anna@xn--strae-oqa.de"])
async def test_strasse_and_strasse_with_eszett_are_two_mailboxes(other: str) -> None:
    links = GuestLinks(KEYS)
    token = links.issue("T-1", "anna@straße.de", now=T0)
    assert links.address_matches(links.open(token, now=T0), other) is (other != "anna@strasse.de")
