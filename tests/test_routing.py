"""Routing rules as properties: who gets which channel, and keys that make publish idempotent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ticketnotify.events import (
    AccountUser,
    Device,
    Guest,
    Preferences,
    Ticket,
    TicketUpdate,
    UpdateKind,
)
from ticketnotify.routing import APNS, EMAIL, FCM, PlannedDelivery, link_ticket_id, plan

from .conftest import T0

tokens = st.text(alphabet="abcdef0123456789", min_size=8, max_size=16)
devices = st.lists(st.builds(Device, st.sampled_from(["ios", "android"]), tokens), max_size=6)
prefs = st.builds(Preferences, push=st.booleans(), email=st.booleans())
accounts = st.builds(AccountUser, user_id=st.from_regex(r"u-[0-9]{1,6}", fullmatch=True),
                     email=st.just("anna@example.se"), devices=devices.map(tuple), preferences=prefs)
guests = st.builds(Guest, email=st.just("sam@example.com"))


def update_for(recipient: AccountUser | Guest, event_id: str = "evt-1",
               kind: UpdateKind = UpdateKind.AGENT_REPLY, merged_into: str | None = None) -> TicketUpdate:
    return TicketUpdate(event_id=event_id, ticket=Ticket("1", "s"), kind=kind,
                        recipient=recipient, occurred_at=T0, merged_into=merged_into)


@given(guests)
def test_guest_always_gets_exactly_one_email_with_link(guest: Guest) -> None:
    planned = plan(update_for(guest))
    assert [(d.channel, d.address, d.guest_link) for d in planned] == [(EMAIL, guest.email, True)]


@given(accounts)
def test_account_push_per_distinct_device_when_push_on(user: AccountUser) -> None:
    planned = plan(update_for(user))
    pushes = [d for d in planned if d.is_push]
    distinct = {(d.platform, d.token) for d in user.devices}
    if user.preferences.push:
        assert {(d.device.platform, d.address) for d in pushes if d.device} == distinct
        assert len(pushes) == len(distinct)
        for d in pushes:
            assert d.channel == (APNS if d.device and d.device.platform == "ios" else FCM)
    else:
        assert pushes == []


@given(accounts)
def test_account_email_follows_preference_and_stands_in_for_missing_push(user: AccountUser) -> None:
    planned = plan(update_for(user))
    emails = [d for d in planned if d.channel == EMAIL]
    prefs = user.preferences
    assert all(not d.guest_link for d in emails)
    assert len(emails) <= 1
    if prefs.email:
        assert len(emails) == 1
    elif prefs.push:
        assert len(emails) == (0 if user.devices else 1), "no device: email stands in for push"
    else:
        assert planned == [], "both switched off: nothing is sent"


event_ids = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
                    min_size=1, max_size=20).filter(str.strip)


@given(accounts, event_ids)
def test_keys_are_unique_within_and_stable_across_publishes(user: AccountUser, event_id: str) -> None:
    first, second = plan(update_for(user, event_id)), plan(update_for(user, event_id))
    keys = [d.idempotency_key for d in first]
    assert len(set(keys)) == len(keys)
    assert keys == [d.idempotency_key for d in second]
    other = plan(update_for(user, event_id + "-next"))
    assert not set(keys) & {d.idempotency_key for d in other}


def routes(planned: list[PlannedDelivery]) -> list[tuple[str, str, bool]]:
    return [(d.channel, d.address, d.guest_link) for d in planned]


@given(accounts | guests, st.sampled_from([k for k in UpdateKind if k is not UpdateKind.RECEIVED]))
def test_every_lifecycle_kind_routes_like_a_reply(user: AccountUser | Guest, kind: UpdateKind) -> None:
    assert routes(plan(update_for(user, kind=kind))) == routes(plan(update_for(user)))


@given(accounts)
def test_the_receipt_is_one_email_when_email_is_on(user: AccountUser) -> None:
    """Filed seconds ago and confirmed on screen: the receipt is the email, no push on top."""
    planned = plan(update_for(user, kind=UpdateKind.RECEIVED))
    if user.preferences.email:
        assert routes(planned) == [(EMAIL, user.email, False)]
    else:  # email off: the usual rule, so a push-only user still hears about it
        assert routes(planned) == routes(plan(update_for(user)))


@given(guests)
def test_the_receipt_reaches_a_guest_with_the_link(guest: Guest) -> None:
    assert routes(plan(update_for(guest, kind=UpdateKind.RECEIVED))) == [(EMAIL, guest.email, True)]


@given(st.sampled_from(list(UpdateKind)), st.none() | st.just("77"))
def test_only_a_merge_with_a_target_links_elsewhere(kind: UpdateKind, target: str | None) -> None:
    update = update_for(Guest(email="sam@example.com"), kind=kind, merged_into=target)
    expected = "77" if kind is UpdateKind.MERGED and target else "1"
    assert link_ticket_id(update) == expected
