"""Events refuse bad input at construction, naming the field, with a TicketNotifyError."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketnotify.errors import InvalidInputError, TicketNotifyError, UnknownLocaleError
from ticketnotify.events import (
    AccountUser,
    Device,
    Guest,
    Platform,
    Preferences,
    Ticket,
    TicketUpdate,
    UpdateKind,
)

from .conftest import T0


def update(**overrides: Any) -> TicketUpdate:
    values: dict[str, Any] = dict(
        event_id="evt-1", ticket=Ticket("12345", "Subject"), kind="agent_reply",
        recipient=Guest("sam@example.com"), occurred_at=T0,
    )
    values.update(overrides)
    return TicketUpdate(**values)


@pytest.mark.parametrize(("build", "field"), [
    (lambda: Guest("not-an-address"), "recipient.email"),
    (lambda: Guest("a@b"), "recipient.email"),
    (lambda: Guest("sam@example.com", locale="xx_NOPE"), "recipient.locale"),
    (lambda: Guest("sam@example.com", locale="sv\n"), "recipient.locale"),
    (lambda: Guest("sam@example.com", time_zone="Mars/Olympus"), "recipient.time_zone"),
    (lambda: Guest("sam@example.com", name="Sam\r\nBcc: x@evil.test"), "recipient.name"),
    (lambda: AccountUser("", "anna@example.se"), "recipient.user_id"),
    (lambda: AccountUser("u1", "anna@example.se", devices=("tok",)), "recipient.devices"),  # type: ignore[arg-type]
    (lambda: Ticket("", "Subject"), "ticket.id"),
    (lambda: Ticket("   ", "Subject"), "ticket.id"),
    (lambda: Ticket("1", "Hello\nBcc: x@evil.test"), "ticket.subject"),
    (lambda: Device("windows", "tok"), "device.platform"),  # type: ignore[arg-type]
    (lambda: Device("ios", "to ken"), "device.token"),
    (lambda: update(occurred_at=datetime(2026, 11, 24, 9, 30)), "occurred_at"),
    (lambda: update(kind="sneezed"), "kind"),
    (lambda: update(event_id=""), "event_id"),
    (lambda: update(new_replies=0), "new_replies"),
    (lambda: update(new_replies=10**30), "new_replies"),
    (lambda: update(occurred_at=datetime(1, 1, 1, tzinfo=UTC)), "occurred_at"),
    (lambda: update(excerpt="ok \ud800 not"), "excerpt"),
    (lambda: Ticket("1", "lone \udfff surrogate"), "ticket.subject"),
    (lambda: AccountUser("u1", "anna@example.se", preferences=None), "recipient.preferences"),  # type: ignore[arg-type]
    (lambda: Preferences(push="no"), "preferences.push"),  # type: ignore[arg-type]
    (lambda: update(recipient="sam@example.com"), "recipient"),
    (lambda: update(status="Open\r\n"), "status"),
])
def test_bad_field_is_named(build: Any, field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        build()
    assert info.value.field == field
    assert field in str(info.value)
    assert isinstance(info.value, TicketNotifyError) and isinstance(info.value, ValueError)


def test_unknown_locale_has_its_own_class() -> None:
    with pytest.raises(UnknownLocaleError, match="not a locale"):
        Guest("sam@example.com", locale="klingon_XX")


@pytest.mark.parametrize(("address", "stored"), [
    ("anna@example.se", "anna@example.se"),
    ("info@räksmörgås.se", "info@xn--rksmrgs-5wao1o.se"),  # the canonical, deliverable form
    ("o'brien+tickets@mail.example.co.uk", "o'brien+tickets@mail.example.co.uk"),
    ("anna@example.se.", "anna@example.se"),  # the root dot names the same domain
])
def test_real_addresses_are_accepted(address: str, stored: str) -> None:
    assert Guest(address).email == stored


@pytest.mark.parametrize("address", [
    "anna@example", "anna@@example.se", "anna@.example.se", "anna@example.se..", "an na@example.se",
    "anna@exa_mple.se", "<anna@example.se>", "anna@example.5", "åsa@exempel.se",
])
def test_non_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidInputError, match="recipient.email"):
        Guest(address)


def test_locale_is_normalised() -> None:
    assert Guest("sam@example.com", locale="sv-SE").locale == "sv_SE"
    assert Guest("sam@example.com", locale="en").locale == "en"


def test_valid_update_keeps_values() -> None:
    u = update(kind="resolved", excerpt="<b>done</b>")
    assert u.kind is UpdateKind.RESOLVED and u.excerpt == "<b>done</b>"
    assert Device("android", "t").platform is Platform.ANDROID


@given(st.text(min_size=1), st.sampled_from(["\r", "\n", "\r\n", "\u2028", "\x00"]), st.text())
def test_no_line_break_survives_into_header_fields(head: str, brk: str, tail: str) -> None:
    value = head + brk + tail
    for build in (lambda: Ticket("1", value), lambda: Ticket(value, "s"),
                  lambda: Guest("sam@example.com", name=value)):
        with pytest.raises(InvalidInputError):
            build()
