"""build_mime: threading headers, auto-reply suppression, encodings, no header injection."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketnotify import graphemes
from ticketnotify.channels.mime.builder import (
    build_mime,
    build_mime_bytes,
    header_text,
    mime_bytes,
    thread_root_id,
)
from ticketnotify.channels.mime.headers import encoded_words
from ticketnotify.errors import InvalidInputError

from .servers import email_message

NOW = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
EXPECTED_HEADERS = [
    "From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Thread-Topic", "Thread-Index", "Auto-Submitted", "X-Auto-Response-Suppress",
    "MIME-Version", "Content-Type", "Content-Language",
]


def parse(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def build(n: int = 1, **overrides: str) -> email.message.EmailMessage:
    mime = build_mime(
        email_message(n, **overrides), sender="helpdesk@support.example.com",
        sender_name="Kundtjänst ✉️", reply_to="no-reply@support.example.com",
        domain="support.example.com", now=NOW,
    )
    return parse(mime_bytes(mime))


def test_three_updates_of_one_ticket_thread_as_one_conversation() -> None:
    updates = [build(n) for n in (1, 2, 3)]
    root = thread_root_id("T-1001", "support.example.com")
    ids = [m["Message-ID"] for m in updates]
    assert len(set(ids)) == 3
    assert root not in ids  # the root is referenced, never sent
    for m in updates:
        assert m["In-Reply-To"] == root
        assert m["References"] == root
        assert m["Subject"] == "[#T-1001] Skrivaren på plan 3 är trasig 🖨️"  # same for Gmail
        assert m["Thread-Topic"] == "[#T-1001] Skrivaren på plan 3 är trasig 🖨️"  # the subject
    indexes = [base64.b64decode(m["Thread-Index"]) for m in updates]
    assert all(len(i) == 27 for i in indexes)
    assert len({i[:22] for i in indexes}) == 1  # Outlook's conversation key: one ticket
    assert len({i[22:] for i in indexes}) == 3  # each delivery its own child block


def test_another_ticket_gets_another_thread() -> None:
    a, b = build(1), build(1, ticket_id="T-2002")
    assert a["References"] != b["References"]
    assert base64.b64decode(a["Thread-Index"])[:22] != base64.b64decode(b["Thread-Index"])[:22]


def test_same_delivery_builds_the_same_bytes() -> None:
    first = mime_bytes(build_mime(email_message(5), sender="a@example.com", domain="example.com", now=NOW))
    again = mime_bytes(build_mime(email_message(5), sender="a@example.com", domain="example.com", now=NOW))
    assert first == again


def test_marks_mail_auto_generated_and_suppresses_auto_replies() -> None:
    m = build()
    assert m["Auto-Submitted"] == "auto-generated"
    assert m["X-Auto-Response-Suppress"] == "All"
    assert m["Date"] == "Sat, 14 Mar 2026 09:26:53 +0000"
    assert m["Reply-To"] == "no-reply@support.example.com"
    assert m["Content-Language"] == "sv-SE"


def test_multipart_alternative_with_text_first() -> None:
    m = build()
    assert m.get_content_type() == "multipart/alternative"
    text, html = list(m.iter_parts())
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    lf = {part.get_content_type(): part.get_content().replace("\r\n", "\n") for part in (text, html)}
    assert lf["text/plain"] == "Hej Anna!\nDitt ärende har uppdaterats (1).\n"
    assert lf["text/html"] == "<p>Hej Anna!</p><p>Ditt ärende har uppdaterats (1).</p>\n"


def test_text_only_message_is_a_single_part() -> None:
    m = build(html="")
    assert m.get_content_type() == "text/plain"


def test_utf8_display_names_and_subject_are_encoded_and_round_trip() -> None:
    raw = mime_bytes(build_mime(
        email_message(1, to_name='Åsa "Öberg", Ärendeansvarig 😀'), sender="a@example.com",
        sender_name="Kundtjänst <Support>", domain="example.com", now=NOW,
    ))
    assert raw.isascii()  # 7-bit clean on the wire: RFC 2047 words and quoted-printable
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    m = parse(raw)
    assert m["To"].addresses[0].display_name == 'Åsa "Öberg", Ärendeansvarig 😀'
    assert m["To"].addresses[0].addr_spec == "anna.oberg@example.org"
    assert m["From"].addresses[0].display_name == "Kundtjänst <Support>"
    assert m["From"].addresses[0].addr_spec == "a@example.com"


def test_long_swedish_subject_round_trips_exactly() -> None:
    subject = (
        "[#T-1001] Skrivaren på plan 3 är trasig och måste bytas ut innan fredag, "
        "annars blir det kö på vån 4 också 😀 åäö åäö"
    )
    m = build(subject=subject, ticket_subject=subject)
    assert m["Subject"] == subject
    assert m["Thread-Topic"] == subject


@pytest.mark.parametrize("subject", ["x" * 300, "https://example.com/" + "a" * 200 + " ok"])
def test_words_too_long_to_fold_are_encoded_not_overlong(subject: str) -> None:
    raw = mime_bytes(build_mime(email_message(1, subject=subject, to_name="n" * 100),
                                sender="a@example.com", domain="example.com", now=NOW))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    m = parse(raw)
    assert m["Subject"] == subject
    assert m["To"].addresses[0].display_name.replace(" ", "") == "n" * 100


def test_odd_ids_are_digested_but_stay_stable() -> None:
    m1 = build(1, delivery_id="ärende 12/3 <x>", ticket_id="ticket with spaces")
    m2 = build(1, delivery_id="ärende 12/3 <x>", ticket_id="ticket with spaces")
    assert m1["Message-ID"] == m2["Message-ID"]
    assert m1["Message-ID"].endswith("@support.example.com>")
    assert " " not in m1["References"].strip()


@pytest.mark.parametrize("field", ["to_address", "sender"])
def test_address_with_line_break_is_refused(field: str) -> None:
    bad = "anna@example.org\r\nBcc: everyone@example.org"
    message = email_message(1, **({"to_address": bad} if field == "to_address" else {}))
    with pytest.raises(InvalidInputError) as caught:
        build_mime(message, sender=bad if field == "sender" else "a@example.com", domain="example.com")
    assert caught.value.field == field


def test_bad_domain_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="domain"):
        build_mime(email_message(1), sender="a@example.com", domain="example.com>\r\nX: y")


# Text that tries every trick: line breaks of all kinds, header-looking fragments, unicode.
_PIECES = [*"ab åäö😀:;,<>\"'\\()=?@\t", "\r", "\n", "\r\n", "\x00", "\x0b", "\x0c", "\u2028", "\x85",
           "Bcc: x@evil.example", "\r\n\r\n", "=?utf-8?q?=0D=0A?="]
nasty = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join) | st.text(max_size=60)


@settings(max_examples=200, deadline=None)
@given(subject=nasty, to_name=nasty, ticket_subject=nasty, ticket_id=nasty.filter(str.strip),
       sender_name=nasty, delivery_id=nasty.filter(str.strip))
def test_no_header_injection_through_any_text_field(
    subject: str, to_name: str, ticket_subject: str, ticket_id: str, sender_name: str,
    delivery_id: str,
) -> None:
    mime = build_mime(
        email_message(1, subject=subject, to_name=to_name, ticket_subject=ticket_subject,
                      ticket_id=ticket_id, delivery_id=delivery_id),
        sender="helpdesk@support.example.com", sender_name=sender_name,
        reply_to="no-reply@support.example.com", domain="support.example.com", now=NOW,
    )
    raw = mime_bytes(mime)
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):  # every physical line is a known header or a fold
        if not line.startswith((b"Message-ID:", b"In-Reply-To:", b"References:")):
            assert len(line) <= 78
        assert line[:1] in (b" ", b"\t") or line.split(b":", 1)[0].decode() in EXPECTED_HEADERS
    m = parse(raw)
    assert list(m.keys()) == EXPECTED_HEADERS
    assert m["To"].addresses[0].addr_spec == "anna.oberg@example.org"
    assert m["From"].addresses[0].addr_spec == "helpdesk@support.example.com"
    assert len(m["To"].addresses) == 1 and len(m["From"].addresses) == 1
    assert str(m["Subject"]) == header_text(subject)
    assert str(m["Thread-Topic"]) == header_text(subject)
    # The stdlib's phrase parser puts a space between adjacent encoded words (RFC 2047 says
    # to drop it), so display names are compared without spaces.
    for got, sent in [(m["To"].addresses[0].display_name, to_name),
                      (m["From"].addresses[0].display_name, sender_name)]:
        assert got.replace(" ", "") == header_text(sent).replace(" ", "")


@pytest.mark.parametrize("html", ["<p>Hej</p>", ""], ids=["alternative", "text-only"])
def test_the_message_object_serialises_to_the_wire_bytes(html: str) -> None:
    kw = {"sender": "a@example.com", "sender_name": "Kundtjänst 😀", "domain": "example.com", "now": NOW}
    message = email_message(3, html=html, subject="x " * 80, to_name='Åsa "Ö"')
    assert mime_bytes(build_mime(message, **kw)) == build_mime_bytes(message, **kw)  # type: ignore[arg-type]


@given(st.text(max_size=300))
def test_encoded_words_split_on_character_boundaries(text: str) -> None:
    words = encoded_words(text)
    assert all(len(w) <= 75 for w in words)
    decoded = [base64.b64decode(w[10:-2]).decode("utf-8") for w in words]  # each word whole
    assert "".join(decoded) == text


# Issue 15.7: display names are cut only between grapheme clusters, and at spaces when they
# can be, so the stdlib parser (which joins adjacent encoded words with one space) gives back
# exactly the name that was sent.
_CLUSTERS = st.sampled_from([
    "a", "Z", "å", "Ö", "ß", "ж", "Ж", "λ", "م", "ש", "ह", "क्षि", "東", "한", "ก", "e\u0301",
    "😀", "🇸🇪", "🇺🇦", "👩\u200d👩\u200d👧\u200d👦", "👍🏽", "🏴\U000e0067\U000e0062\U000e0073"
    "\U000e0063\U000e0074\U000e007f", "1", "-", "'", '"', ",", "<", "@",
])
# A word is at most 45 UTF-8 bytes: that much fits one encoded word on a 78-column line.
_WORD = st.lists(_CLUSTERS, min_size=1, max_size=12).map("".join).filter(
    lambda w: len(w.encode()) <= 45)
display_names = st.lists(_WORD, min_size=1, max_size=12).map(" ".join) | st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=10
).map(header_text)


def _wire_display_name(name: str) -> tuple[bytes, str]:
    raw = mime_bytes(build_mime(email_message(1, to_name=name), sender="a@example.com",
                                sender_name=name, domain="example.com", now=NOW))
    m = parse(raw)
    assert m["From"].addresses[0].display_name == m["To"].addresses[0].display_name
    return raw.split(b"\r\n\r\n", 1)[0], m["To"].addresses[0].display_name


@settings(max_examples=300, deadline=None)
@given(display_names)
def test_any_display_name_round_trips_exactly_in_lines_of_78(name: str) -> None:
    head, got = _wire_display_name(name)
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert got == name


def test_long_name_with_a_flag_is_cut_between_words_not_inside_them() -> None:
    name = "Kundtjänst Västra Götalandsregionen Sjukhusförvaltningen Göteborg 🇸🇪 Sverige"
    head, got = _wire_display_name(name)
    assert got == name  # was "…Väst ra … 🇸 🇪" when words were cut where the bytes fell
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))


@settings(max_examples=200, deadline=None)
@given(st.lists(_CLUSTERS, min_size=1, max_size=60).map("".join))
def test_words_longer_than_a_line_are_cut_between_grapheme_clusters(word: str) -> None:
    head, got = _wire_display_name(word)
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert got.replace(" ", "") == word.replace(" ", "")
    # every space the parser adds sits between two whole clusters of the name

    boundaries = {0}
    for cluster in graphemes.clusters(word):
        boundaries.add(max(boundaries) + len(cluster))
    at = 0
    for piece in got.split(" "):
        at += len(piece)
        assert at in boundaries


@given(st.lists(_CLUSTERS | st.just(" "), max_size=120).map("".join))
def test_encoded_words_never_split_a_grapheme_cluster(text: str) -> None:

    words = encoded_words(text)
    decoded = [base64.b64decode(w[10:-2]).decode("utf-8") for w in words]
    assert "".join(decoded) == text
    starts = set(graphemes.starts(text))
    at = 0
    for piece in decoded[:-1]:
        at += len(piece)
        assert at in starts  # no cluster of the sample set is longer than one word
