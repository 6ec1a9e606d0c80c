"""Payload fitting: any text in any script ends up as ≤ 4096 bytes of valid JSON, cut whole."""

from __future__ import annotations

import json
from itertools import accumulate

import pytest
import regex
from google.auth.credentials import AnonymousCredentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketnotify.channels.push.apns import fitted_payload, serialize
from ticketnotify.channels.push.fcm import FCMChannel, FCMConfig
from ticketnotify.channels.push.payload import (
    ELLIPSIS,
    fit_text,
    grapheme_starts,
    shorten,
)
from ticketnotify.errors import PermanentDeliveryError
from ticketnotify.messages import PushMessage

# Whole user-perceived characters that a naive cut would break, plus JSON-escape-heavy ones.
CLUSTERS = [
    "👩\u200d👩\u200d👧",          # ZWJ family
    "🇸🇪", "🇫🇮",                  # regional-indicator pairs
    "👍🏽",                         # skin-tone modifier
    "1\ufe0f\u20e3",               # keycap
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland tag flag
    "å", "a\u030a", "Ö", "o\u0308",  # Swedish letters, precomposed and decomposed
    "\u1100\u1161\u11a8",          # Hangul jamo L V T
    "각",                           # precomposed Hangul
    "क्ष",                          # Devanagari conjunct (virama)
    "ع", "中", "x", " ",
    '"', "\\", "\x00", "\x1f",      # characters JSON must escape (cost 2-6 bytes)
]

cluster_text = st.lists(st.sampled_from(CLUSTERS), max_size=2500)
any_text = st.one_of(
    st.text(max_size=200),
    st.tuples(st.text(min_size=1, max_size=40), st.integers(1, 600)).map(lambda t: t[0] * t[1]),
    cluster_text.map("".join),
)


def message(title: str, body: str, deep_link: str = "https://help.example.com/t/1") -> PushMessage:
    return PushMessage(delivery_id="d", ticket_id="1", locale="sv", platform="ios",
                       token="ab" * 32, user_id="u", title=title, body=body, deep_link=deep_link,
                       thread_id="ticket-1", collapse_id="ticket-1")


@pytest.fixture(scope="module")
def fcm() -> FCMChannel:
    return FCMChannel(FCMConfig(credentials=AnonymousCredentials(), project_id="p"))


def is_honest_cut(sent: str, original: str) -> bool:
    """Sent text is the original, or a prefix ending on a cluster boundary plus an ellipsis."""
    if sent == original:
        return True
    if sent == "":
        return True
    if not sent.endswith(ELLIPSIS):
        return False
    kept = sent[:-1]
    starts = [0, *(m.end() for m in regex.finditer(r"\X", original))]  # the oracle: UAX #29
    return original.startswith(kept) and len(kept) in starts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=any_text, body=any_text)
def test_apns_payload_fits_is_valid_json_and_cut_on_boundaries(title: str, body: str) -> None:
    payload = fitted_payload(message(title, body))
    encoded = serialize(payload)
    assert len(encoded) <= 4096
    assert json.loads(encoded.decode("utf-8")) == payload
    alert = payload["aps"]["alert"]
    assert is_honest_cut(alert["title"], title) and is_honest_cut(alert["body"], body)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(title=any_text, body=any_text)
def test_fcm_payload_fits_is_valid_json_and_cut_on_boundaries(
        fcm: FCMChannel, title: str, body: str) -> None:
    encoded = fcm.payload(message(title, body))
    assert len(encoded) <= 4096
    sent = json.loads(encoded.decode("utf-8"))["message"]
    notification = sent.get("notification", {})
    assert is_honest_cut(notification.get("title", ""), title)
    assert is_honest_cut(notification.get("body", ""), body)


@given(st.lists(st.sampled_from(CLUSTERS), min_size=1, max_size=60), st.integers(0, 60))
def test_shortening_never_splits_a_cluster(clusters: list[str], keep: int) -> None:
    text = "".join(clusters)
    boundaries = {0, *accumulate(len(c) for c in clusters)}
    cut = shorten(text, keep)
    kept = cut[:-1] if cut.endswith(ELLIPSIS) and cut != text else cut
    assert len(kept) in boundaries
    assert text.startswith(kept)
    # every cluster start we compute is a real boundary between whole clusters, as regex's \X says
    assert set(grapheme_starts(text)) <= boundaries
    assert grapheme_starts(text) == [0, *(m.end() for m in regex.finditer(r"\X", text))]


@pytest.mark.parametrize(("text", "starts"), [
    ("a\u030a", [0, 2]),
    ("🇸🇪🇫🇮", [0, 2, 4]),
    ("🇸🇪🇫", [0, 2, 3]),
    ("👩\u200d👩\u200d👧x", [0, 5, 6]),
    ("👍🏽👍", [0, 2, 3]),
    ("1\ufe0f\u20e3!", [0, 3, 4]),
    ("\u1100\u1161\u11a8\u1100", [0, 3, 4]),
    ("क्षa", [0, 3, 4]),
    ("\r\nx", [0, 2, 3]),
    ("", [0]),
])
def test_grapheme_starts_on_known_clusters(text: str, starts: list[int]) -> None:
    assert grapheme_starts(text) == starts


def test_lone_surrogates_become_replacement_characters() -> None:
    payload = fitted_payload(message("Hej \ud83d", "svar \udc00" * 10))
    encoded = serialize(payload)
    assert "\ufffd" in json.loads(encoded)["aps"]["alert"]["title"]


def test_body_is_shortened_before_the_title() -> None:
    fitted = fit_text(lambda t, b: json.dumps({"t": t, "b": b}).encode(), "Rubrik", "å" * 5000,
                      limit=200)
    assert fitted.title == "Rubrik" and fitted.body.endswith(ELLIPSIS) and fitted.shortened
    assert len(fitted.payload) <= 200


def test_oversized_deep_link_is_permanent_not_truncated() -> None:
    with pytest.raises(PermanentDeliveryError, match="shorten the deep link"):
        fitted_payload(message("t", "b", deep_link="https://x/" + "a" * 5000))
