"""Guest deep links: what a token proves, what it hides, and every way it is refused."""

from __future__ import annotations

import base64
import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ticketnotify.errors import ConfigurationError, InvalidInputError
from ticketnotify.guest import (
    AccessGrants,
    AddressMismatchError,
    ExpiredLinkError,
    GuestLinks,
    LinkError,
    MalformedLinkError,
    NotYetValidLinkError,
    TamperedLinkError,
    WrongPurposeLinkError,
)

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
KEY_A = "a" * 16 + "-first-signing-key"
KEY_B = b"\x01" * 32
KEY_C = "rotated-in-key-" + "c" * 20

ticket_ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=64
).filter(lambda s: s.strip() != "" and "\x85" not in s)
emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.text(alphabet=string.ascii_letters + string.digits + "._+-", min_size=1, max_size=20)
    .filter(lambda local: ".." not in f".{local}."),  # RFC 5322 dot-atom: no empty dot parts
    st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=15),
    st.sampled_from(["se", "com", "example", "org"]),
)
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_."


def links(*keys: str | bytes, max_age: timedelta = timedelta(days=30)) -> GuestLinks:
    return GuestLinks(list(keys) or [KEY_A], "https://help.example.se/g/{ticket_id}?token={token}",
                      max_age=max_age)


def test_a_token_opens_to_its_ticket_and_address() -> None:
    guest_links = links()
    token = guest_links.issue("T-1001", "Anna.Svensson@Example.se", now=T0)
    opened = guest_links.open(token, now=T0 + timedelta(days=3), email=" anna.svensson@example.SE")
    assert opened.ticket_id == "T-1001"
    assert opened.issued_at == T0
    assert opened.expires_at == T0 + timedelta(days=30)
    assert guest_links.address_matches(opened, "anna.svensson@example.se")
    assert not guest_links.address_matches(opened, "someone.else@example.se")


@given(ticket_ids, emails, st.data())
def test_any_changed_character_is_refused(ticket_id: str, email: str, data: st.DataObject) -> None:
    guest_links = links()
    token = guest_links.issue(ticket_id, email, now=T0)
    index = data.draw(st.integers(0, len(token) - 1), label="index")
    replacement = data.draw(st.sampled_from(TOKEN_ALPHABET + "=%/+ ~é"), label="replacement")
    assume(replacement != token[index])
    changed = token[:index] + replacement + token[index + 1:]
    with pytest.raises((MalformedLinkError, TamperedLinkError)):
        guest_links.open(changed, now=T0)


@given(ticket_ids, emails, st.data())
def test_truncated_or_extended_tokens_are_refused(
    ticket_id: str, email: str, data: st.DataObject
) -> None:
    guest_links = links()
    token = guest_links.issue(ticket_id, email, now=T0)
    cut = data.draw(st.integers(0, len(token) - 1), label="cut")
    extra = data.draw(st.text(alphabet=TOKEN_ALPHABET, min_size=1, max_size=4), label="extra")
    for bad in (token[:cut], token + extra, extra + token, token[:cut] + extra + token[cut:]):
        with pytest.raises(LinkError):
            guest_links.open(bad, now=T0)


def test_spare_base64_bits_in_the_signature_are_not_a_second_spelling() -> None:
    guest_links = links()
    token = guest_links.issue("T-1", "a@example.se", now=T0)
    payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "=")
    # The last character carries 4 bits of data and 2 spare ones: flip only the spare ones.
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    last = alphabet.index(signature[-1])
    twins = [alphabet[(last & ~0b11) | spare] for spare in range(4) if (last & 0b11) != spare]
    for twin in twins:
        changed = f"{payload}.{signature[:-1]}{twin}"
        assert base64.urlsafe_b64decode(changed.split(".")[1] + "=") == raw  # same bytes
        with pytest.raises(TamperedLinkError):
            guest_links.open(changed, now=T0)


@given(ticket_ids, emails, ticket_ids, emails)
def test_a_token_never_opens_another_ticket_or_address(
    ticket_id: str, email: str, other_ticket: str, other_email: str
) -> None:
    guest_links = links()
    token = guest_links.issue(ticket_id, email, now=T0)
    opened = guest_links.open(token, now=T0)
    assert opened.ticket_id == ticket_id
    if other_ticket != ticket_id:
        with pytest.raises(TamperedLinkError):
            guest_links.open(token, now=T0, ticket_id=other_ticket)
    if other_email.lower() != email.lower():
        with pytest.raises(AddressMismatchError):
            guest_links.open(token, now=T0, email=other_email)
        assert not guest_links.address_matches(opened, other_email)
    assert guest_links.open(token, now=T0, ticket_id=ticket_id, email=email.upper()) == opened


@given(ticket_ids, emails)
def test_the_address_is_not_readable_from_the_url(ticket_id: str, email: str) -> None:
    guest_links = links()
    url = guest_links.url_for(ticket_id, email, now=T0)
    token = url.split("token=", 1)[1]
    payload = base64.urlsafe_b64decode(token.split(".")[0] + "==").decode()
    for text in (url, payload):
        assert email.lower() not in text.lower()


def test_url_for_fills_the_pattern_and_quotes_the_ticket_id() -> None:
    guest_links = GuestLinks([KEY_A], url_pattern="https://help.example.se/t/{ticket_id}#{token}")
    url = guest_links.url_for("T 7/8?x", "a@example.se", now=T0)
    prefix, token = url.split("#")
    assert prefix == "https://help.example.se/t/T%207%2F8%3Fx"
    assert guest_links.open(token, now=T0, ticket_id="T 7/8?x").ticket_id == "T 7/8?x"


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3000)))
def test_an_expired_token_is_refused_with_the_expiry_error(late: timedelta) -> None:
    guest_links = links(max_age=timedelta(days=30))
    token = guest_links.issue("T-1", "a@example.se", now=T0)
    with pytest.raises(ExpiredLinkError) as refused:
        guest_links.open(token, now=T0 + timedelta(days=30) + late)
    assert refused.value.expired_at == T0 + timedelta(days=30)
    assert guest_links.open(token, now=T0 + timedelta(days=30) - timedelta(seconds=1))


def test_a_token_from_the_future_is_refused_beyond_the_clock_skew() -> None:
    guest_links = links()
    token = guest_links.issue("T-1", "a@example.se", now=T0 + timedelta(minutes=5))
    assert guest_links.open(token, now=T0).ticket_id == "T-1"
    later = guest_links.issue("T-1", "a@example.se", now=T0 + timedelta(minutes=5, seconds=1))
    with pytest.raises(NotYetValidLinkError):
        guest_links.open(later, now=T0)


@given(ticket_ids, emails)
def test_a_rotated_in_key_works_and_a_rotated_out_key_is_refused(
    ticket_id: str, email: str
) -> None:
    before = GuestLinks([KEY_A])
    during = GuestLinks([KEY_C, KEY_A])  # new key signs, old one still verifies
    after = GuestLinks([KEY_C])
    old_token = before.issue(ticket_id, email, now=T0)
    new_token = during.issue(ticket_id, email, now=T0)
    assert new_token != old_token
    for guest_links, token in ((during, old_token), (during, new_token), (after, new_token)):
        assert guest_links.open(token, now=T0, email=email).ticket_id == ticket_id
    with pytest.raises(TamperedLinkError):
        after.open(old_token, now=T0)
    with pytest.raises(TamperedLinkError):
        before.open(new_token, now=T0)


def test_other_keys_never_open_a_token() -> None:
    token = GuestLinks([KEY_A]).issue("T-1", "a@example.se", now=T0)
    with pytest.raises(TamperedLinkError):
        GuestLinks([KEY_B]).open(token, now=T0)


def test_an_access_grant_is_not_a_link() -> None:
    grant = AccessGrants([KEY_A]).grant("T-1", now=T0)
    with pytest.raises(WrongPurposeLinkError) as refused:
        links().open(grant.value, now=T0)
    assert refused.value.purpose == "guest-grant"


@pytest.mark.parametrize("token", [
    "", "abc", "no-dot-at-all", "a.b", "a.b.c", "é." + "A" * 43, "a." + "A" * 42, "a." + "A" * 44,
    "a" * 2000 + "." + "A" * 43, " " + "a." + "A" * 43,
])
def test_garbage_is_malformed(token: str) -> None:
    with pytest.raises(MalformedLinkError):
        links().open(token, now=T0)


def test_a_non_string_token_is_malformed() -> None:
    with pytest.raises(MalformedLinkError):
        links().open(b"abc.def", now=T0)  # type: ignore[arg-type]


def test_link_errors_are_value_errors_with_advice() -> None:
    with pytest.raises(ValueError, match="link"):
        links().open("x", now=T0)


@pytest.mark.parametrize(("keys", "problem"), [
    ([], "empty"),
    (["short"], "at least 32"),
    ([KEY_A, b"tiny"], r"secret_keys\[1\]"),
    (KEY_A, "list of keys"),
    ([42], "str or bytes"),
])
def test_bad_keys_are_a_configuration_error(keys: object, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        GuestLinks(keys)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"url_pattern": "https://x.example/t/{ticket_id}"}, "token"),
    ({"url_pattern": "https://x.example/{token}/{email}"}, "email"),
    ({"url_pattern": "https://x.example/{token"}, "format string"),
    ({"max_age": timedelta(0)}, "max_age"),
    ({"clock_skew": timedelta(seconds=-1)}, "clock_skew"),
])
def test_bad_settings_are_a_configuration_error(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        GuestLinks([KEY_A], **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("ticket_id", "email"), [
    ("", "a@example.se"), ("T\r\n1", "a@example.se"), ("T" * 65, "a@example.se"),
    ("T-1", "not an address"), ("T-1", "a@example.se\r\nBcc: x@example.se"), ("T-1", ""),
])
def test_bad_input_is_refused_when_issuing(ticket_id: str, email: str) -> None:
    with pytest.raises(InvalidInputError):
        links().issue(ticket_id, email, now=T0)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        links().issue("T-1", "a@example.se", now=datetime(2026, 1, 1))
