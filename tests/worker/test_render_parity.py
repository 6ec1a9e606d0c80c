"""A job rendered by the worker is the message rendering the update itself gives.

Since Outbox v2 publish stores facts and the worker renders them; since the excerpt work a
reply can be Markdown or HTML with an author and attachments. Both paths must agree: the
message a worker makes from the stored job (publish → job → ``DeliveryRenderer.message``)
is what ``Renderer.render_update_email``/``render_update_push`` make from the update, for
account users and guests, left-to-right and right-to-left, whatever the excerpt policy and
``Renderer(remote_images=)``.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketnotify.events import AccountUser, Device, Guest, Ticket, TicketUpdate, UpdateKind
from ticketnotify.facts import decode_facts
from ticketnotify.guest.links import GuestLinks
from ticketnotify.messages import EmailMessage, PushMessage
from ticketnotify.notifier import ExcerptPolicy, Links, Notifier
from ticketnotify.outbox import MemoryOutbox
from ticketnotify.rendering import Renderer
from ticketnotify.rendering.values import EMAIL_EXCERPT_CHARS, PUSH_EXCERPT_CHARS, shorten

from ..conftest import T0

LINKS = Links(web_ticket_url="https://help.example.com/tickets/{ticket_id}",
              app_ticket_url="examplehelp://tickets/{ticket_id}")
GUEST_LINKS = GuestLinks([b"k" * 32], "https://help.example.com/g/{ticket_id}?t={token}")
IMAGE = "https://cdn.example.com/steps.png"
MARKDOWN = (f"**Fixed** in the [settings](https://help.example.com/s).\n\n![Steps]({IMAGE})\n\n"
            "- restart the app\n- sign in again\n\n" + "More detail follows. " * 40)
EXCERPTS = {
    "text": ("text", "Vi har rättat det. " * 60, None, 0),
    "markdown": ("markdown", MARKDOWN, "Karin Lund", 2),
    "html": ("html", '<p>Hello <script>alert(1)</script><a href="javascript:x()">here</a> and '
                     '<em>there</em>.</p><img src="http://cdn.example.com/x.png" alt="x">',
             None, 0),
}
LOCALES = {"sv": ("sv_SE", "Europe/Stockholm", "Anna"),
           "ar": ("ar_EG", "Africa/Cairo", "ليلى العبدالله")}
EVERYWHERE = ExcerptPolicy(account_email=True, guest_email=True, push=True, guest_subject=True)


def _updates(sample: str, language: str) -> list[TicketUpdate]:
    fmt, excerpt, author, attachments = EXCERPTS[sample]
    locale, zone, name = LOCALES[language]
    account = AccountUser(user_id="u-1", email="anna@example.se", locale=locale, time_zone=zone,
                          name=name, devices=(Device("ios", "tok-ios"),
                                              Device("android", "tok-android")))
    guest = Guest(email="guest@example.se", locale=locale, time_zone=zone, name=name,
                  cc=("cc@example.se",))
    return [TicketUpdate(event_id=f"e-{who}", ticket=Ticket("K-1", "Insättning syns inte",
                                                            number="4711"),
                         kind=UpdateKind.AGENT_REPLY, recipient=recipient, occurred_at=T0,
                         excerpt=excerpt, excerpt_format=fmt,  # type: ignore[arg-type]
                         author_name=author, attachments=attachments)
            for who, recipient in (("account", account), ("guest", guest))]


@pytest.mark.parametrize("remote_images", [False, True])
@pytest.mark.parametrize("policy", [ExcerptPolicy(), EVERYWHERE], ids=["default", "everywhere"])
@pytest.mark.parametrize("language", sorted(LOCALES))
@pytest.mark.parametrize("sample", sorted(EXCERPTS))
def test_the_worker_renders_a_job_as_the_update_renders(
        sample: str, language: str, policy: ExcerptPolicy, remote_images: bool) -> None:
    renderer = Renderer(remote_images=remote_images)
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, links=LINKS, guest_links=GUEST_LINKS, renderer=renderer,
                        excerpts=policy, clock=lambda: T0)
    updates = _updates(sample, language)
    for update in updates:
        notifier.publish(update)
    jobs = outbox.claim(T0, 100, 60.0, "test")
    assert len(jobs) == 5  # account: email + 2 devices; guest: requester + CC
    worker = notifier.delivery_renderer
    for job in jobs:
        facts = decode_facts(job.message)
        update = next(u for u in updates if u.event_id == facts.event_id)
        message = worker.message(job)
        if isinstance(message, PushMessage):
            push = renderer.render_update_push(update, include_excerpt=policy.push)
            assert (message.title, message.body) == (push.title, push.body)
            assert "Karin" not in message.body and "attachments" not in message.body
            continue
        assert isinstance(message, EmailMessage)
        guest = isinstance(update.recipient, Guest)
        email = renderer.render_update_email(
            update, guest=guest, brand=notifier.brand_of(update),
            ticket_url=(GUEST_LINKS.url_for("K-1", facts.address, now=T0) if guest
                        else "https://help.example.com/tickets/K-1"),
            app_url=None if guest else "examplehelp://tickets/K-1",
            include_excerpt=policy.guest_email if guest else policy.account_email,
            include_subject=policy.guest_subject if guest else True)
        assert (message.subject, message.preheader, message.text, message.html) == (
            email.subject, email.preheader, email.text, email.html)
        shown = policy.guest_email if guest else policy.account_email
        _check_excerpt(sample, message, shown, remote_images)


def _check_excerpt(sample: str, message: EmailMessage, shown: bool, remote_images: bool) -> None:
    """What the samples must show, so that two paths broken alike cannot pass."""
    assert "<script" not in message.html and "javascript:" not in message.html
    if not shown:
        assert "Karin" not in message.text and "rättat" not in message.text
        return
    if sample == "markdown":
        assert "Karin Lund" in message.text and "Karin Lund" in message.html
        assert "<strong>Fixed</strong>" in message.html
        assert (f'<img src="{IMAGE}"' in message.html) is remote_images
        assert "**Fixed**" not in message.text and "Fixed in the settings" in message.text
    elif sample == "html":
        assert "<em>there</em>" in message.html and "<em>" not in message.text
    else:
        assert "Vi har rättat det." in message.text


@given(st.text(min_size=1, max_size=900), st.sampled_from([EMAIL_EXCERPT_CHARS, PUSH_EXCERPT_CHARS]))
def test_a_plain_excerpt_cut_at_publish_is_not_cut_again_when_rendered(
        text: str, limit: int) -> None:
    once = shorten(text, limit)
    assert shorten(once, limit) == once


def test_the_stored_job_keeps_excerpt_facts_only_where_shown() -> None:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, links=LINKS, guest_links=GUEST_LINKS, clock=lambda: T0)
    for update in _updates("markdown", "sv"):
        notifier.publish(update)
    stored = {(f.medium, f.guest): f for f in (decode_facts(j.message)
                                                for j in outbox.claim(T0, 100, 60.0, "t"))}
    account = stored[("email", False)]
    assert (account.excerpt, account.excerpt_format) == (MARKDOWN, "markdown")
    assert (account.author_name, account.attachments) == ("Karin Lund", 2)
    for hidden in (stored[("email", True)], stored[("push", False)]):  # default policy
        assert (hidden.excerpt, hidden.author_name, hidden.attachments) == (None, None, 0)
    assert isinstance(account.occurred_at, datetime)
