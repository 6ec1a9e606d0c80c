"""No silent placeholders and no secrets in repr (issue 11.10).

Before: ``Notifier(outbox)`` put ``https://support.example.com/…`` and ``examplesupport://…``
into real messages, ``GuestLinks(keys)`` built ``support.example.com`` guest links, and
``repr(AccessGrant)`` printed the grant value.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.errors import ConfigurationError
from ticketnotify.events import AccountUser, Guest, TicketUpdate
from ticketnotify.guest import (
    AccessGrants,
    EmailCodeSender,
    GuestLinks,
    MemoryCodeStore,
    VerificationCodes,
)
from ticketnotify.guest.signing import PurposeSigner
from ticketnotify.notifier import Links, Notifier
from ticketnotify.outbox import MemoryOutbox
from ticketnotify.rendering import Renderer

from .conftest import T0

KEY = "k" * 40
URL = "https://help.example.se/guest/{ticket_id}?token={token}"
LINKS = Links(web_ticket_url="https://help.example.se/tickets/{ticket_id}",
              app_ticket_url="examplehelp://tickets/{ticket_id}")


def test_a_notifier_without_links_is_refused_naming_the_argument() -> None:
    with pytest.raises(ConfigurationError, match=r"links=Links\(web_ticket_url="):
        Notifier(MemoryOutbox(), guest_links=GuestLinks([KEY], URL))
    with pytest.raises(ConfigurationError, match=r"guest_links=GuestLinks\(keys, url_pattern="):
        Notifier(MemoryOutbox(), links=LINKS)
    with pytest.raises(ConfigurationError, match="without url_pattern"):
        Notifier(MemoryOutbox(), links=LINKS, guest_links=GuestLinks([KEY]))
    with pytest.raises(ConfigurationError, match="web_ticket_url is required"):
        Links()


def test_guest_links_without_a_pattern_open_links_but_build_none() -> None:
    verifying = GuestLinks([KEY])  # what a web app that only opens links needs
    token = GuestLinks([KEY], URL).issue("T-1", "anna@example.se", now=T0)
    assert verifying.open(token, now=T0, email="anna@example.se").ticket_id == "T-1"
    with pytest.raises(ConfigurationError, match="url_pattern"):
        verifying.url_for("T-1", "anna@example.se")


def test_none_is_a_deliberate_choice_that_fails_loudly_when_needed(
        account: AccountUser, guest: Guest, make_update: Callable[..., TicketUpdate]) -> None:
    outbox = MemoryOutbox()
    with pytest.raises(ConfigurationError, match="links=None"):
        Notifier(outbox, links=None, guest_links=GuestLinks([KEY], URL)).publish(
            make_update(account))
    with pytest.raises(ConfigurationError, match="guest_links=None"):
        Notifier(outbox, links=LINKS, guest_links=None).publish(make_update(guest))
    assert outbox.counts() == []


def test_real_messages_carry_only_the_hosts_addresses(
        account: AccountUser, guest: Guest, make_update: Callable[..., TicketUpdate]) -> None:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, links=LINKS, guest_links=GuestLinks([KEY], URL))
    planned = [*notifier.publish(make_update(account, event_id="a")).planned,
               *notifier.publish(make_update(guest, event_id="g")).planned]
    stored = json.dumps([outbox.get(d.idempotency_key).message  # type: ignore[union-attr]
                         for d in planned])
    assert "support.example.com" not in stored and "examplesupport" not in stored
    assert "https://help.example.se/tickets/12345" in stored
    assert "examplehelp://tickets/12345" in stored
    assert "https://help.example.se/guest/12345?token=" in stored


def test_without_an_app_link_a_push_opens_the_web_page(
        account: AccountUser, make_update: Callable[..., TicketUpdate]) -> None:
    outbox = MemoryOutbox()
    web_only = Links(web_ticket_url="https://help.example.se/tickets/{ticket_id}")
    notifier = Notifier(outbox, links=web_only, guest_links=None)
    result = notifier.publish(make_update(account))
    pushes = [outbox.get(d.idempotency_key) for d in result.planned if d.is_push]
    assert pushes and all(
        job is not None and notifier.delivery_renderer.message(job).to_dict()["deep_link"]
        == "https://help.example.se/tickets/12345" for job in pushes)


secrets_ = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=32,
                   max_size=64)


def shown(obj: object) -> str:
    return repr(obj) + str(obj)


@settings(max_examples=50, deadline=None)
@given(key=secrets_, older=secrets_, code_secret=st.binary(min_size=32, max_size=48))
def test_no_secret_appears_in_the_repr_of_any_object_holding_one(
        key: str, older: str, code_secret: bytes) -> None:
    links = GuestLinks([key, older], URL)
    grants = AccessGrants([key, older])
    grant = grants.grant("T-1", now=T0)
    codes = VerificationCodes(links, MemoryCodeStore(),
                              EmailCodeSender(Renderer.shared(), MemoryChannel()), code_secret)
    notifier = Notifier(MemoryOutbox(), links=LINKS, guest_links=links)
    objects = [links, grants, grant, codes, codes.sender, codes.grants, notifier,
               PurposeSigner([key.encode(), older.encode()])]
    texts = [shown(obj) for obj in objects]
    for text in texts:
        for secret in (key, older, grant.value, grant.value.split(".")[1]):
            assert secret not in text
        for form in (repr(code_secret), code_secret.hex(), str(code_secret)):
            assert form not in text
    assert "T-1" in shown(grant) and "redacted" in shown(grant)
