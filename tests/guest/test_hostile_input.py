"""Whatever a URL, form or cookie carries, a host catching LinkError/GrantError never sees a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ticketnotify.guest import (
    AccessGrants,
    AddressMismatchError,
    GrantError,
    GuestLinks,
    LinkError,
    MemoryCodeStore,
    TamperedLinkError,
    VerificationCodes,
    WrongTicketGrantError,
)
from ticketnotify.guest.links import normalize_email

from .test_codes import ANNA, KEYS, SECRET, T0, Clock, Inbox

LINKS = GuestLinks(KEYS)
GRANTS = AccessGrants(KEYS)
TOKEN = LINKS.issue("T-1", ANNA, now=T0)
GRANT = GRANTS.grant("T-1", now=T0).value

# Every code point, lone surrogates included, and lengths well past every limit.
any_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=300)
not_text = st.one_of(st.integers(), st.binary(max_size=8), st.lists(st.integers(), max_size=2),
                     st.just(None), st.floats(allow_nan=False))
route_ids = st.one_of(st.sampled_from(["T-1", "T-2", "T" * 65, "", " ", "T-1\r\n", "T-1 "]),
                      any_text, not_text)
emails = st.one_of(st.sampled_from([ANNA, " Anna@Example.SE ", "", "a@b\r\nBcc: x@example.se",
                                    "anna@example.se" + "e" * 300]), any_text, not_text)
tokens = st.one_of(st.just(TOKEN), st.just(GRANT), any_text, not_text)


@given(token=tokens, route_id=route_ids, email=emails)
@example(token=TOKEN, route_id="T" * 65, email=ANNA)
@example(token=TOKEN, route_id="", email=ANNA)
@example(token=TOKEN, route_id="T-1", email="not an address")
@example(token=TOKEN, route_id="T-1", email=42)
def test_open_answers_with_a_link_or_a_link_error(
    token: object, route_id: object, email: object
) -> None:
    try:
        opened = LINKS.open(token, now=T0, ticket_id=route_id, email=email)  # type: ignore[arg-type]
    except LinkError:
        return
    assert token == TOKEN and route_id in ("T-1", None) and opened.ticket_id == "T-1"
    assert email is None or normalize_email(email) == ANNA


@given(value=st.one_of(st.just(GRANT), st.just(TOKEN), any_text, not_text), route_id=route_ids)
@example(value=GRANT, route_id="T" * 65)
@example(value=GRANT, route_id="")
@example(value=GRANT, route_id=None)
def test_check_grant_answers_with_a_grant_or_a_grant_error(value: object, route_id: object) -> None:
    for check in (GRANTS.check, GRANTS.renew):
        try:
            grant = check(value, route_id, now=T0 + timedelta(minutes=1))  # type: ignore[arg-type]
        except GrantError:
            continue
        assert value == GRANT and route_id == "T-1" and grant.ticket_id == "T-1"


@pytest.mark.parametrize("route_id", ["T" * 65, "", "T-1\n", 7])
def test_an_impossible_route_id_is_the_same_answer_as_another_ticket(route_id: object) -> None:
    with pytest.raises(TamperedLinkError, match="another ticket"):
        LINKS.open(TOKEN, now=T0, ticket_id=route_id)  # type: ignore[arg-type]
    with pytest.raises(WrongTicketGrantError, match="one ticket only"):
        GRANTS.check(GRANT, route_id, now=T0)  # type: ignore[arg-type]


def test_a_hostile_route_id_is_cut_short_in_the_error_message() -> None:
    with pytest.raises(WrongTicketGrantError) as refused:
        GRANTS.check(GRANT, "X" * 5000, now=T0)
    assert len(str(refused.value)) < 200


@pytest.mark.parametrize("email", ["", "not an address", "a@b\r\nBcc: x@example.se", 42,
                                   "ånna@example.se", "a" * 300 + "@example.se"])
async def test_sending_or_verifying_for_an_odd_email_is_an_address_mismatch(email: object) -> None:
    inbox = Inbox()
    codes = VerificationCodes(LINKS, MemoryCodeStore(), inbox, SECRET, clock=Clock())
    with pytest.raises(AddressMismatchError):
        await codes.asend_code(TOKEN, email=email)  # type: ignore[arg-type]
    with pytest.raises(AddressMismatchError):
        codes.verify_code(TOKEN, "123456", email=email)  # type: ignore[arg-type]
    with pytest.raises(AddressMismatchError):
        codes.open(TOKEN, email=email)  # type: ignore[arg-type]
    assert inbox.sent == []
    assert not LINKS.address_matches(LINKS.open(TOKEN, now=T0), email)  # type: ignore[arg-type]
