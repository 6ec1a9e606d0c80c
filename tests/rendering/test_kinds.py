"""Lifecycle kinds as the requester meets them: the receipt, reminders, closing and merging."""

from __future__ import annotations

import re
from email.message import EmailMessage as MimeMessage
from html import escape

import pytest

from ticketnotify.errors import InvalidInputError
from ticketnotify.events import AccountUser, Device, Guest, Ticket, TicketUpdate, UpdateKind
from ticketnotify.examples import default_examples_dir, load_examples
from ticketnotify.guest.links import GuestLinks
from ticketnotify.loopback.stack import LoopbackStack
from ticketnotify.notifier import Links, Notifier
from ticketnotify.outbox import MemoryOutbox
from ticketnotify.rendering import TEMPLATES_DIR, Renderer
from ticketnotify.worker import Worker

from .conftest import WHEN, english_phrases

KEY = b"k" * 32
GUEST_URL = "https://help.example.com/guest/{ticket_id}?token={token}"
LINKS = Links(web_ticket_url="https://help.example.com/tickets/{ticket_id}",
              app_ticket_url="examplehelp://tickets/{ticket_id}")
ENGLISH = english_phrases()
EMAIL_PARTS = ("subject.txt", "preheader.txt", "body.html", "body.txt")


def account(locale: str = "en") -> AccountUser:
    return AccountUser(
        user_id="u-1", email="anna@example.se", locale=locale, time_zone="Europe/Stockholm",
        devices=(Device("ios", "a" * 64),), name="Anna",
    )


def guest(locale: str = "en") -> Guest:
    return Guest(email="sam@example.com", locale=locale, time_zone="Europe/London", name="Sam")


def update(
    kind: UpdateKind, recipient: AccountUser | Guest, *, ticket_id: str = "12345",
    merged_into: str | None = None, event_id: str = "e-1", excerpt: str | None = None,
) -> TicketUpdate:
    return TicketUpdate(
        event_id=event_id, ticket=Ticket(ticket_id, "Login fails"), kind=kind,
        recipient=recipient, occurred_at=WHEN, merged_into=merged_into, excerpt=excerpt,
    )


@pytest.mark.parametrize("kind", list(UpdateKind))
def test_every_kind_has_email_and_push_templates(kind: UpdateKind) -> None:
    for part in EMAIL_PARTS:
        assert (TEMPLATES_DIR / "email" / kind.value / part).is_file(), part
    for part in ("title.txt", "body.txt"):
        assert (TEMPLATES_DIR / "push" / kind.value / part).is_file(), part
    # One subject per ticket whatever happened: mail clients thread on it.
    assert (TEMPLATES_DIR / "email" / kind.value / "subject.txt").read_text() == (
        '{% include "email/update_subject.txt" %}\n')


@pytest.mark.parametrize("kind", list(UpdateKind))
@pytest.mark.parametrize("is_guest", [False, True])
@pytest.mark.parametrize("merged_into", [None, "12399"])
def test_swedish_mail_and_push_hide_no_english_for_any_kind(
    renderer: Renderer, kind: UpdateKind, is_guest: bool, merged_into: str | None
) -> None:
    """Every variant a kind has (guest, account, merged with and without a target) in Swedish."""
    recipient = guest("sv_SE") if is_guest else account("sv_SE")
    news = update(kind, recipient, merged_into=merged_into, excerpt="Hej")
    email = renderer.render_update_email(
        news, ticket_url="https://x.example/t", app_url=None if is_guest else "app://t",
        guest=is_guest, include_excerpt=True, include_subject=not is_guest,
    )
    texts = [email.subject, email.preheader, email.html, email.text]
    if not is_guest:
        push = renderer.render_update_push(news, include_excerpt=False)
        texts += [push.title, push.body]
    for text in texts:
        text = text.replace("Login fails", "")
        left = [phrase for phrase in ENGLISH if phrase in text]
        assert not left, f"{kind.value}: untranslated English in a Swedish message: {left}"
    assert email.subject == "Ditt supportärende 12345 har uppdaterats"


@pytest.mark.parametrize("locale", ["en", "sv"])
def test_each_kind_has_its_own_headline_preheader_and_push(renderer: Renderer, locale: str) -> None:
    """No kind falls back to another kind's words: a reader can tell them apart."""
    seen: dict[tuple[str, str], UpdateKind] = {}
    for kind in UpdateKind:
        news = update(kind, account(locale), merged_into="12399")
        email = renderer.render_update_email(
            news, ticket_url="u", app_url=None, guest=False, include_excerpt=False)
        push = renderer.render_update_push(news, include_excerpt=False)
        headline = re.search(r"<h1[^>]*>(.*?)</h1>", email.html, re.S)
        assert headline
        for shown in [("headline", headline.group(1)), ("preheader", email.preheader),
                      ("push", push.title + push.body)]:
            assert shown not in seen, f"{kind.value} says the same as {seen.get(shown)}: {shown}"
            seen[shown] = kind


async def deliver(*updates: TicketUpdate) -> tuple[list[MimeMessage], int, GuestLinks]:
    """publish → outbox → worker → loopback SMTP; the mails as a mail client receives them."""
    outbox = MemoryOutbox()
    links = GuestLinks([KEY], GUEST_URL)
    notifier = Notifier(outbox, links=LINKS, guest_links=links)
    pushes = 0
    for one in updates:
        pushes += sum(d.is_push for d in notifier.publish(one).planned)
    async with LoopbackStack() as stack:
        await Worker(outbox, stack.channels()).drain()
        mails = await stack.smtp.wait_for(len(updates))
    return [m.message for m in mails], pushes, links


def body(mail: MimeMessage, kind: str) -> str:
    part = mail.get_body((kind,))
    assert part is not None
    return str(part.get_content())


async def test_received_gives_a_guest_the_signed_link_and_explains_the_code() -> None:
    (mail,), pushes, links = await deliver(update(UpdateKind.RECEIVED, guest("en")))
    text, html = body(mail, "plain"), body(mail, "html")
    assert mail["Subject"] == "Your support ticket 12345 has been updated"  # the thread's subject
    found = re.search(r"https://help\.example\.com/guest/12345\?token=(\S+)", text)
    assert found, text
    opened = links.open(found.group(1), ticket_id="12345", email="sam@example.com")
    assert opened.ticket_id == "12345"
    # The ticket number itself is the link (help article), as well as the button.
    assert re.search(r'<a class="link" href="[^"]*token=[^"]+"[^>]*><bdi dir="auto">12345</bdi></a>', html)
    assert "We have received your ticket" in text
    assert "Keep this email" in text and "has a link of its own" in text
    assert "verify your email address with a code" in text
    assert "You automatically receive updates" in text
    assert "Login fails" not in text + html  # an unverified mailbox gets no filer-typed text
    assert pushes == 0


async def test_received_tells_an_account_user_where_the_ticket_is_without_a_guest_link() -> None:
    (mail,), pushes, _ = await deliver(update(UpdateKind.RECEIVED, account("sv_SE")))
    text, html = body(mail, "plain"), body(mail, "html")
    assert "/guest/" not in text + html and "token=" not in text + html
    assert "verifiera din e-post" not in text
    assert "Vi har tagit emot ditt ärende" in text
    assert "Få hjälp → Kontrollera dina ärenden" in text and "Mina ärenden" in text
    assert "Spara det här e-postmeddelandet" not in text  # the guest's way back is not theirs
    assert pushes == 0, "the receipt is the email; no push on top of the confirmation screen"


async def test_merged_links_to_the_surviving_ticket_and_keeps_the_old_thread() -> None:
    reply = update(UpdateKind.AGENT_REPLY, guest("en"), event_id="e-1")
    merged = update(UpdateKind.MERGED, guest("en"), merged_into="12399", event_id="e-2")
    mails, _, links = await deliver(reply, merged)
    by_text = {("merged" if "merged" in body(m, "plain") else "reply"): m for m in mails}
    old, notice = by_text["reply"], by_text["merged"]
    assert notice["Subject"] == old["Subject"] == "Your support ticket 12345 has been updated"
    assert notice["References"] == old["References"]  # one conversation in the mail client
    text = body(notice, "plain")
    assert "has been merged into ticket 12399" in text
    assert "View ticket 12399: https://help.example.com/guest/12399?token=" in text
    found = re.search(r"https://help\.example\.com/guest/12399\?token=(\S+)", text)
    assert found
    assert links.open(found.group(1), ticket_id="12399", email="sam@example.com")
    assert "Please continue the conversation in ticket" in text
    assert "Please keep the conversation about this problem in this ticket" not in text


def test_merged_push_opens_the_surviving_ticket_in_the_app() -> None:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, links=LINKS, guest_links=None)
    result = notifier.publish(update(UpdateKind.MERGED, account("sv"), merged_into="12399"))
    push = next(d for d in result.planned if d.is_push)
    job = outbox.get(push.idempotency_key)
    assert job is not None
    message = notifier.delivery_renderer.message(job).to_dict()
    assert message["deep_link"].endswith("/12399")
    assert message["title"] == "Ärende 12345 har slagits ihop"
    assert message["body"] == "Konversationen fortsätter i ärende 12399. Tryck för att öppna det."
    assert message["thread_id"] == "ticket-12345"  # grouped with the old ticket's pushes


@pytest.mark.parametrize("locale", ["en", "sv"])
def test_merged_without_a_target_still_reads_and_links_to_the_ticket(
    renderer: Renderer, locale: str
) -> None:
    news = update(UpdateKind.MERGED, guest(locale))
    email = renderer.render_update_email(
        news, ticket_url="https://x.example/t/12345", app_url=None, guest=True,
        include_excerpt=False, include_subject=False)
    assert ("another ticket" if locale == "en" else "ett annat ärende") in email.text
    assert ("View ticket:" if locale == "en" else "Visa ärendet:") in email.text
    assert "None" not in email.text + email.html


def test_merged_into_is_checked_and_ignored_by_other_kinds(renderer: Renderer) -> None:
    with pytest.raises(InvalidInputError) as caught:
        update(UpdateKind.MERGED, guest(), merged_into="123\r\nBcc: x@example.com")
    assert caught.value.field == "merged_into"
    with pytest.raises(InvalidInputError, match="merged_into"):
        update(UpdateKind.MERGED, guest(), merged_into=" ")
    news = update(UpdateKind.RESOLVED, account(), merged_into="99999")
    email = renderer.render_update_email(
        news, ticket_url="u", app_url=None, guest=False, include_excerpt=False)
    assert "99999" not in email.html + email.text + email.preheader


@pytest.mark.parametrize(
    ("kind", "locale", "needles"),
    [
        (UpdateKind.AWAITING_REPLY, "en", ["We are still waiting for your reply",
                                           "may be closed automatically"]),
        (UpdateKind.AWAITING_REPLY, "sv", ["Vi väntar fortfarande på ditt svar",
                                           "kan ärendet komma att stängas automatiskt"]),
        (UpdateKind.CLOSED, "en", ["can no longer reply in it", "submit a new ticket and mention "
                                   "ticket number 12345",
                                   "This email was sent automatically and replies to it are not read."]),
        (UpdateKind.CLOSED, "sv", ["Ditt ärende har stängts", "skicka in ett nytt ärende och ange "
                                   "ärendenummer 12345", "Stängt:"]),
        (UpdateKind.CLOSED_INACTIVE, "en", ["because we have not heard from you",
                                            "open the ticket and reply there"]),
        (UpdateKind.CLOSED_INACTIVE, "sv", ["eftersom vi inte har hört något från dig",
                                            "öppnar du ärendet och svarar där"]),
    ],
)
def test_reminder_and_closing_copy(
    renderer: Renderer, kind: UpdateKind, locale: str, needles: list[str]
) -> None:
    news = update(kind, account(locale))
    email = renderer.render_update_email(
        news, ticket_url="u", app_url=None, guest=False, include_excerpt=False)
    for needle in needles:
        assert needle in email.text, needle
        assert escape(needle.split(" 12345")[0]) in email.html, needle
    if kind is UpdateKind.CLOSED:  # a closed ticket takes no replies: the footer says nothing else
        assert "click Send" not in email.text and "klickar på Skicka" not in email.text
        assert "in this ticket instead of creating a new one" not in email.text


LIFECYCLE = [UpdateKind.RECEIVED, UpdateKind.AWAITING_REPLY, UpdateKind.CLOSED,
             UpdateKind.CLOSED_INACTIVE, UpdateKind.MERGED]


def test_shipped_examples_show_each_lifecycle_kind_to_both_user_types() -> None:
    """QA's gallery starts from a real event of each kind for an account user and a guest."""
    updates = load_examples(default_examples_dir())
    seen = {(u.kind, isinstance(u.recipient, AccountUser), u.recipient.locale[:2]) for u in updates}
    both = {(True, "sv"), (True, "en"), (False, "sv"), (False, "en")}
    assert {(a, lang) for k, a, lang in seen if k is UpdateKind.RECEIVED} == both
    for kind in LIFECYCLE:
        users = {a for k, a, _ in seen if k is kind}
        languages = {lang for k, _, lang in seen if k is kind}
        assert users == {True, False} and languages == {"sv", "en"}, kind.value
    merged = [u for u in updates if u.kind is UpdateKind.MERGED]
    assert merged and all(u.merged_into for u in merged)
