"""Every update kind × user type × locale renders, escaped, in the reader's language."""

from __future__ import annotations

import re
from html import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketnotify.events import AccountUser, Device, Guest, Ticket, TicketUpdate, UpdateKind
from ticketnotify.rendering import Renderer
from ticketnotify.rendering.bidi import isolate_text

from .conftest import WHEN, english_phrases, ticket_text

SUBJECTS = {
    "en": "Your support ticket {} has been updated",
    "sv": "Ditt supportärende {} har uppdaterats",
}
ENGLISH = english_phrases()
TAG = re.compile(r"<[^>]*>")
LOCALES = ["en", "en_GB", "sv", "sv_SE"]


def make_update(
    kind: UpdateKind,
    guest: bool,
    locale: str,
    *,
    ticket_id: str,
    subject: str,
    excerpt: str | None,
    name: str,
    status: str | None,
    replies: int,
    merged_into: str | None = None,
) -> TicketUpdate:
    recipient: AccountUser | Guest
    if guest:
        recipient = Guest(
            email="g@example.com", locale=locale, time_zone="Europe/Stockholm", name=name
        )
    else:
        recipient = AccountUser(
            user_id="u1",
            email="a@example.com",
            locale=locale,
            time_zone="America/New_York",
            name=name,
            devices=(Device("ios", "tok"),),
        )
    return TicketUpdate(
        event_id="e1",
        ticket=Ticket(id=ticket_id, subject=subject),
        kind=kind,
        recipient=recipient,
        occurred_at=WHEN,
        excerpt=excerpt,
        status=status,
        new_replies=replies,
        merged_into=merged_into,
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(list(UpdateKind)),
    guest=st.booleans(),
    locale=st.sampled_from(LOCALES),
    include_excerpt=st.booleans(),
    include_subject=st.booleans(),
    ticket_id=ticket_text.map(lambda s: s[:60]),
    subject=ticket_text.map(lambda s: "Subj" + s),
    excerpt=st.none() | ticket_text.map(lambda s: "Exc" + s),
    name=st.just("") | ticket_text.map(lambda s: "Nm" + s),
    status=st.none() | ticket_text.map(lambda s: "Stat" + s),
    replies=st.integers(1, 2000),
    merged_into=st.none() | ticket_text.map(lambda s: "Mrg" + s[:50]),
)
def test_every_kind_user_and_locale_renders_escaped_and_translated(
    renderer: Renderer,
    kind: UpdateKind,
    guest: bool,
    locale: str,
    include_excerpt: bool,
    include_subject: bool,
    ticket_id: str,
    subject: str,
    excerpt: str | None,
    name: str,
    status: str | None,
    replies: int,
    merged_into: str | None,
) -> None:
    update = make_update(
        kind,
        guest,
        locale,
        ticket_id=ticket_id,
        subject=subject,
        excerpt=excerpt,
        name=name,
        status=status,
        replies=replies,
        merged_into=merged_into,
    )
    app_url = None if guest else "examplesupport://tickets/1"
    email = renderer.render_update_email(
        update,
        ticket_url="https://support.example.com/t/1",
        app_url=app_url,
        guest=guest,
        include_excerpt=include_excerpt,
        include_subject=include_subject,
    )
    lang = locale[:2]
    # one subject per ticket: threads; a number of the other direction is isolated (15.1)
    assert email.subject == SUBJECTS[lang].format(isolate_text(ticket_id, rtl=False))
    assert email.preheader and "\n" not in email.preheader

    # Every ticket value is escaped in the HTML: the raw markup never appears, the escaped does.
    shown = [ticket_id] + ([subject] if include_subject else []) + ([name] if name else [])
    if include_excerpt and excerpt:
        shown.append(excerpt)
    if kind is UpdateKind.STATUS_CHANGED and status:
        shown.append(status)
    if kind is UpdateKind.MERGED and merged_into:
        shown.append(merged_into)  # the surviving ticket's number, escaped like every value
    for value in shown:
        assert escape(value) in email.html
        assert value in email.text
    assert "<b>" not in email.html  # every value starts with <b>; none may reach the HTML raw
    if not (include_excerpt and excerpt):
        assert "Latest message" not in email.html and "Senaste meddelandet" not in email.html
    if not include_subject:
        # The subject is what the filer typed: with include_subject=False (every guest by
        # default) no part carries it, not even escaped, quoted or as a bare "Subject:" row.
        for part in (email.subject, email.preheader, email.html, email.text):
            assert "Subj" not in part
        assert ticket_id in email.text and escape(ticket_id) in email.html

    # The tag structure does not depend on the values: nothing a ticket says becomes markup.
    neutral = make_update(
        kind,
        guest,
        locale,
        ticket_id="N",
        subject="S",
        excerpt="E" if excerpt else None,
        name="M" if name else "",
        status="T" if status else None,
        replies=replies,
        merged_into="R" if merged_into else None,
    )
    plain = renderer.render_update_email(
        neutral,
        ticket_url="https://support.example.com/t/1",
        app_url=app_url,
        guest=guest,
        include_excerpt=include_excerpt,
        include_subject=include_subject,
    )
    assert TAG.findall(email.html) == TAG.findall(plain.html)

    if guest:
        assert (
            "verify your email address" if lang == "en" else "verifiera din e-post"
        ) in email.text
        assert "examplesupport://" not in email.html
    else:
        assert (
            "examplesupport://tickets/1" in email.html
            and "examplesupport://tickets/1" in email.text
        )
    assert (
        "replies to it are not read" if lang == "en" else "svar på det läses inte"
    ) in email.text
    assert "<p" not in plain.text and "<strong>" not in plain.text

    texts = [email.subject, email.preheader, email.html, email.text]
    if not guest:
        push = renderer.render_update_push(update, include_excerpt=include_excerpt)
        assert ticket_id in push.title and subject not in push.body + push.title
        if excerpt and not include_excerpt:
            assert excerpt.strip()[:10] not in push.body
        texts += [push.title, push.body]
    if lang == "sv":
        for text in texts:
            for value in shown:
                text = text.replace(value, "").replace(escape(value), "")
            left = [p for p in ENGLISH if p in text]
            assert not left, f"untranslated English in a Swedish message: {left}"


@pytest.mark.parametrize(
    ("locale", "count", "expected"),
    [
        ("sv_SE", 1, "Nytt svar i ditt ärende"),
        ("sv_SE", 3, "3 nya svar i ditt ärende"),
        ("en", 1, "New reply in your ticket"),
        ("en", 3, "3 new replies in your ticket"),
        ("sv", 1234, "1\xa0234 nya svar i ditt ärende"),
    ],
)
def test_plural_forms_come_from_the_catalog(
    renderer: Renderer, locale: str, count: int, expected: str
) -> None:
    update = make_update(
        UpdateKind.AGENT_REPLY,
        False,
        locale,
        ticket_id="12345",
        subject="S",
        excerpt=None,
        name="",
        status=None,
        replies=count,
    )
    email = renderer.render_update_email(
        update, ticket_url="https://x.example/t", app_url=None, guest=False, include_excerpt=False
    )
    assert expected in email.text and expected in email.html


def test_swedish_copy_uses_the_help_article_terms(renderer: Renderer) -> None:
    update = make_update(
        UpdateKind.INFO_REQUESTED,
        True,
        "sv_SE",
        ticket_id="12345",
        subject="Insättning",
        excerpt=None,
        name="Erik",
        status=None,
        replies=1,
    )
    email = renderer.render_update_email(
        update, ticket_url="https://x.example/t", app_url=None, guest=True, include_excerpt=False
    )
    assert email.subject == "Ditt supportärende 12345 har uppdaterats"
    assert "Visa ärendet" in email.html and "<strong>Skicka</strong>" in email.html
    assert "ärende" in email.preheader or "information" in email.preheader
    assert "Du kommer" not in email.text  # we address the reader directly, not in future tense


def test_dates_are_in_the_readers_zone_and_language(renderer: Renderer) -> None:
    sv = make_update(
        UpdateKind.RESOLVED,
        True,
        "sv_SE",
        ticket_id="1",
        subject="S",
        excerpt=None,
        name="",
        status=None,
        replies=1,
    )
    en = make_update(
        UpdateKind.RESOLVED,
        False,
        "en",
        ticket_id="1",
        subject="S",
        excerpt=None,
        name="",
        status=None,
        replies=1,
    )
    sv_text = renderer.render_update_email(
        sv, ticket_url="u", app_url=None, guest=True, include_excerpt=False
    ).text
    en_text = renderer.render_update_email(
        en, ticket_url="u", app_url=None, guest=False, include_excerpt=False
    ).text
    assert "24 november 2026 22:30 CET" in sv_text  # 21:30 UTC in Stockholm
    assert "November 24, 2026" in en_text and "4:30\u202fPM EST" in en_text  # New York


def test_media_queries_survive_and_styles_are_inlined(renderer: Renderer) -> None:
    update = make_update(
        UpdateKind.REOPENED,
        False,
        "en",
        ticket_id="1",
        subject="S",
        excerpt=None,
        name="",
        status=None,
        replies=1,
    )
    html = renderer.render_update_email(
        update, ticket_url="u", app_url=None, guest=False, include_excerpt=False
    ).html
    assert "@media only screen and (max-width: 620px)" in html
    assert "width: 100% !important" in html
    assert re.search(r'<a class="button" href="u" style="[^"]*background-color:#1d4ed8', html)


def test_css_is_inlined_once_per_variant_not_per_message() -> None:
    renderer = Renderer()
    for i in range(25):
        update = make_update(
            UpdateKind.AGENT_REPLY,
            False,
            "sv_SE",
            ticket_id=str(i),
            subject=f"S{i}",
            excerpt=f"E{i}",
            name="Anna",
            status=None,
            replies=2 + i,
        )
        renderer.render_update_email(
            update, ticket_url="u", app_url="a", guest=False, include_excerpt=True
        )
    assert renderer.compiled_variants == 1  # same shape, same plural form: one premailer run


@pytest.mark.parametrize(
    ("locale", "minutes", "needles"),
    [
        (
            "sv_SE",
            10,
            [
                "Verifieringskod för ditt supportärende 12345",
                "Koden gäller i 10 minuter",
                "bortse från det här e-postmeddelandet",
            ],
        ),
        ("sv", 1, ["Koden gäller i 1 minut och"]),
        (
            "en",
            15,
            [
                "Verification code for your support ticket 12345",
                "valid for 15 minutes",
                "If you did not ask for a code, you can ignore this email",
            ],
        ),
    ],
)
def test_verification_code_email(
    renderer: Renderer, locale: str, minutes: int, needles: list[str]
) -> None:
    email = renderer.render_email(
        "verification_code",
        locale,
        "Europe/Stockholm",
        {"code": "042917", "minutes": minutes, "ticket_id": "12345"},
    )
    whole = "\n".join([email.subject, email.preheader, email.text, email.html])
    for needle in needles:
        assert needle in whole
    assert "042917" in email.text and "042917" in email.html


def test_render_email_refuses_missing_values_and_unknown_templates(renderer: Renderer) -> None:
    from ticketnotify.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="ticket_id"):
        renderer.render_email("verification_code", "en", "UTC", {"code": "1", "minutes": 5})
    with pytest.raises(InvalidInputError, match="no template"):
        renderer.render_email("no_such_email", "en", "UTC", {})
    with pytest.raises(InvalidInputError, match="not a template name"):
        renderer.render_email("../layout", "en", "UTC", {})
    with pytest.raises(InvalidInputError, match="time zone"):
        renderer.render_email("verification_code", "en", "Mars/Olympus", {})
