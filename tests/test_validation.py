"""One canonical form of an address: every spelling of one mailbox gives one key (issue 11.5)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketnotify.errors import InvalidInputError, TicketNotifyError
from ticketnotify.events import AccountUser, Guest
from ticketnotify.guest.links import normalize_email
from ticketnotify.validation import canonical_email, check_email, email_key


def test_eszett_domain_goes_out_as_its_own_a_label_not_as_strasse() -> None:
    found = canonical_email("email", "anna@straße.de")
    assert found.address == "anna@xn--strae-oqa.de"
    assert found.display == "anna@straße.de"
    assert check_email("email", "anna@strasse.de") == "anna@strasse.de"  # another domain


def test_events_store_the_delivery_form() -> None:
    assert Guest("anna@straße.de").email == "anna@xn--strae-oqa.de"
    assert AccountUser("u1", "Anna@ＥＸＡＭＰＬＥ.se").email == "Anna@example.se"


def test_full_width_domain_shares_the_rate_limit_key() -> None:
    assert normalize_email("anna@ｅｘａｍｐｌｅ.se") == normalize_email("anna@example.se")
    assert normalize_email(" Anna@Example.SE ") == "anna@example.se"


@pytest.mark.parametrize(("spelling", "canonical"), [
    ("anna@example.se.", "anna@example.se"),             # root dot
    ("anna@example。se", "anna@example.se"),            # ideographic full stop
    ("ａｎｎａ＠example.se", "anna@example.se"),          # full-width local part and at sign
    ("info@RÄKSMÖRGÅS.se", "info@xn--rksmrgs-5wao1o.se"),
    ("info@xn--rksmrgs-5wao1o.se", "info@xn--rksmrgs-5wao1o.se"),
])
def test_spellings_of_one_mailbox(spelling: str, canonical: str) -> None:
    assert check_email("email", spelling) == canonical


@pytest.mark.parametrize(("value", "says"), [
    ("åsa@exempel.se", "non-ASCII local part"),
    ("anna@exa_mple.se", "domain"),
    ("anna@xn--zz.se", "domain"),
    ("anna@-example.se", "domain"),
    ("anna@example", "dotted domain"),
    ("anna@10.0.0.1", "IP address"),
    ("anna..b@example.se", "plain email address"),
    ("Anna <anna@example.se>", "plain email address"),
    ("a" * 65 + "@example.se", "local part longer"),
    ("anna@" + "a" * 64 + ".se", "domain"),
    ("anna@example.se\r\nBcc: x@evil.test", "line breaks"),
    ("", "empty"),
    (42, "must be a string"),
])
def test_what_cannot_be_normalised_is_refused_naming_the_field(value: object, says: str) -> None:
    with pytest.raises(InvalidInputError, match=says) as caught:
        canonical_email("recipient.email", value)
    assert caught.value.field == "recipient.email"
    assert isinstance(caught.value, TicketNotifyError)


LOCALS = st.text(st.sampled_from("abcxyzAZ019.-_+"), min_size=1, max_size=12).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s)
LABELS = st.lists(st.sampled_from(["example", "straße", "räksmörgås", "ñandú", "münchen", "b2b",
                                   "mail", "αβγ", "пример", "例え"]), min_size=1, max_size=3)
TLDS = st.sampled_from(["se", "de", "com", "рф", "中国"])


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


SPELL = [
    lambda d: "".join(c if c == "ß" else c.upper() for c in d),  # "ß".upper() is "SS": another name
    lambda d: unicodedata.normalize("NFD", d),
    lambda d: unicodedata.normalize("NFC", d),
    lambda d: d if d.endswith((".", "。", "．")) else d + ".",  # the root dot, once
    lambda d: d.replace(".", "。"),
    _full_width,
]


@given(LOCALS, LABELS, TLDS, st.lists(st.sampled_from(range(len(SPELL))), max_size=3),
       st.booleans())
def test_spellings_delivered_to_one_mailbox_share_one_key(
        local: str, labels: list[str], tld: str, how: list[int], local_upper: bool) -> None:
    domain = ".".join([*labels, tld])
    spelled = domain
    for i in how:
        spelled = SPELL[i](spelled)
    other_local = local.upper() if local_upper else _full_width(local)
    first = canonical_email("e", f"{local}@{domain}")
    second = canonical_email("e", f"{other_local}@{spelled}")
    assert first.key == second.key == email_key("e", f"{local}@{domain}")
    assert first.key == normalize_email(f"{local}@{spelled}")
    assert first.address.isascii() and first.address == canonical_email("e", first.address).address
    assert first.domain == second.domain  # the same domain on the wire, whatever the spelling


@given(st.one_of(st.text(max_size=80), st.builds(lambda a, b: f"{a}@{b}", st.text(max_size=20),
                                                 st.text(max_size=40))))
def test_any_text_is_an_address_or_an_input_error(value: str) -> None:
    try:
        found = canonical_email("email", value)
    except InvalidInputError as exc:
        assert exc.field == "email"
        return
    assert found.address.isascii() and found.address.count("@") == 1
    assert canonical_email("email", found.address) == found  # canonical means stable
    assert canonical_email("email", found.display) == found
