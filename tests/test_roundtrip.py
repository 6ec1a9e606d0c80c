"""publish → outbox → worker → real loopback peers (aiosmtpd, HTTP/2 APNs and FCM stand-ins)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from ticketnotify.cli import main
from ticketnotify.errors import ConfigurationError, InvalidInputError, OutboxUnavailableError
from ticketnotify.events import AccountUser, Guest, Ticket, TicketUpdate
from ticketnotify.guest.links import GuestLinks
from ticketnotify.loopback.stack import LoopbackStack
from ticketnotify.messages import PushMessage
from ticketnotify.notifier import Links, Notifier
from ticketnotify.outbox import JobStatus, MemoryOutbox
from ticketnotify.outbox.sqlite import SQLiteOutbox
from ticketnotify.worker import Worker

from .conftest import T0, FakeClock

KEY = b"k" * 32
URL = "https://help.example.com/guest/{ticket_id}?token={token}"
LINKS = Links(web_ticket_url="https://help.example.com/tickets/{ticket_id}",
              app_ticket_url="examplehelp://tickets/{ticket_id}")


async def test_account_and_guest_delivered_over_real_protocols(
        tmp_path: Path, account: AccountUser, guest: Guest,
        make_update: Callable[..., TicketUpdate]) -> None:
    outbox = SQLiteOutbox(tmp_path / "outbox.sqlite3")
    links = GuestLinks([KEY], URL)
    notifier = Notifier(outbox, links=LINKS, guest_links=links)
    first = notifier.publish(make_update(account, event_id="e-1"))
    second = notifier.publish(make_update(guest, event_id="e-2", ticket_id="777"))
    assert [d.channel for d in first.planned] == ["apns", "fcm", "email"]
    assert first.stored == 3 and second.stored == 1

    async with LoopbackStack() as stack:
        assert stack.apns and stack.fcm
        stats = await Worker(outbox, stack.channels()).drain()
        mails = await stack.smtp.wait_for(2)
        (apns,) = await stack.apns.wait_for_requests(1)
        fcm = stack.fcm.sends()

    assert stats.delivered == 4 and stats.dead == 0
    assert apns.path == f"/3/device/{account.devices[0].token}"
    assert [r.json()["message"]["token"] for r in fcm] == [account.devices[1].token]
    by_rcpt = {m.rcpt_tos: m.message for m in mails}
    to_anna = by_rcpt[(account.email,)]
    assert to_anna["Subject"] == "Ditt supportärende 12345 har uppdaterats"
    to_sam = by_rcpt[(guest.email,)]
    text = to_sam.get_body(("plain",)).get_content()
    link = re.search(r"https://help\.example\.com/guest/777\?token=(\S+)", text)
    assert link, text
    opened = links.open(link.group(1), email=guest.email, ticket_id="777")
    assert opened.ticket_id == "777"
    assert guest.email not in link.group(0), "the address is not readable from the link"
    for job_key in (d.idempotency_key for d in first.planned + second.planned):
        job = outbox.get(job_key)
        assert job and job.status is JobStatus.DELIVERED
    outbox.close()


async def test_publishing_the_same_event_twice_stores_nothing_new(
        clock: FakeClock, account: AccountUser, make_update: Callable[..., TicketUpdate]) -> None:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, links=LINKS, guest_links=None, clock=clock)
    assert notifier.publish(make_update(account)).stored == 3
    again = await notifier.apublish(make_update(account))
    assert again.stored == 0 and again.duplicate
    assert sum(c.count for c in outbox.counts()) == 3


def test_a_bad_update_in_a_batch_stores_nothing(
        clock: FakeClock, account: AccountUser, guest: Guest,
        make_update: Callable[..., TicketUpdate]) -> None:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, links=LINKS, guest_links=None, clock=clock)  # no guests
    with pytest.raises(ConfigurationError, match="guest links"):
        notifier.publish_many([make_update(account, event_id="a"), make_update(guest, event_id="b")])
    assert outbox.counts() == []
    with pytest.raises(InvalidInputError, match="update"):
        notifier.publish("not an update")  # type: ignore[arg-type]
    assert outbox.counts() == []


def test_push_text_has_no_conversation_content_by_default(
        account: AccountUser, make_update: Callable[..., TicketUpdate]) -> None:
    outbox = MemoryOutbox()
    secret = "Your new PIN is 4711"
    notifier = Notifier(outbox, links=LINKS, guest_links=None)
    pushes = [outbox.get(d.idempotency_key) for d in
              notifier.publish(make_update(account, excerpt=secret)).planned if d.is_push]
    assert len(pushes) == 2
    for job in pushes:
        assert job is not None
        assert secret not in str(job.message)  # an excerpt never shown is never stored
        push = notifier.delivery_renderer.message(job)
        assert isinstance(push, PushMessage) and secret not in push.title + push.body


def test_demo_delivers_every_channel_and_exits_zero(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "guest link in the email to sam.taylor@example.com: https://" in out
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 4
    pushes = sorted(p.name for p in (tmp_path / "push").glob("*.json"))
    assert [p.split("-", 1)[1] for p in pushes] == ["apns.json", "fcm.json"]
    assert "missing" not in out and "dead" not in out


async def test_internationalized_domain_is_delivered_idna_encoded(tmp_path: Path) -> None:
    guest = Guest(email="asa@räksmörgås.se", locale="sv")
    update = TicketUpdate(event_id="idn-1", ticket=Ticket("9", "Hej"), kind="resolved",
                          recipient=guest, occurred_at=T0)
    outbox = MemoryOutbox()
    Notifier(outbox, links=LINKS, guest_links=GuestLinks([KEY], URL)).publish(update)
    async with LoopbackStack(push=False) as stack:
        stats = await Worker(outbox, stack.channels()).drain()
        (mail,) = await stack.smtp.wait_for(1)
    assert stats.delivered == 1
    assert mail.rcpt_tos == ("asa@xn--rksmrgs-5wao1o.se",)
    assert mail.message["To"].addresses[0].domain == "xn--rksmrgs-5wao1o.se"


def test_notifiers_share_one_compiled_renderer(
        account: AccountUser, make_update: Callable[..., TicketUpdate]) -> None:
    first = Notifier(MemoryOutbox(), links=LINKS, guest_links=None)
    second = Notifier(MemoryOutbox(), links=LINKS, guest_links=None)
    assert first.renderer is second.renderer
    first.publish(make_update(account, event_id="shared-1"))
    compiled = first.renderer.compiled_variants
    second.publish(make_update(account, event_id="shared-2"))
    assert second.renderer.compiled_variants == compiled, "no template compiled twice"


def test_a_locked_store_is_our_error_and_stores_nothing(
        tmp_path: Path, account: AccountUser, make_update: Callable[..., TicketUpdate]) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = SQLiteOutbox(path, busy_timeout=0.05)
    notifier = Notifier(outbox, links=LINKS, guest_links=None)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    with pytest.raises(OutboxUnavailableError, match="nothing was stored"):
        notifier.publish(make_update(account, event_id="locked"))
    holder.execute("ROLLBACK")
    holder.close()
    assert outbox.counts() == []
    assert notifier.publish(make_update(account, event_id="locked")).stored == 3, "retry is safe"
    outbox.close()


@pytest.mark.parametrize("pattern", ["https://x/{id}", "https://x/{0}", "https://x/", "https://x/{ticket_id"])
def test_link_patterns_are_checked_up_front(pattern: str) -> None:
    with pytest.raises(ConfigurationError, match="web_ticket_url"):
        Links(web_ticket_url=pattern)


@pytest.mark.parametrize("opted_in", [False, True])
def test_guest_email_relays_no_filer_text_unless_opted_in(
        guest: Guest, make_update: Callable[..., TicketUpdate], opted_in: bool) -> None:
    from ticketnotify.channels.mime.builder import build_mime_bytes
    from ticketnotify.notifier import ExcerptPolicy

    spam = "BUY PILLS at spam.example"
    update = TicketUpdate(event_id="spam-1", ticket=Ticket("4242", spam), kind="agent_reply",
                          recipient=guest, occurred_at=T0, excerpt=f"{spam} — reply text")
    outbox = MemoryOutbox()
    policy = ExcerptPolicy(guest_subject=opted_in, guest_email=opted_in)
    notifier = Notifier(outbox, links=LINKS, guest_links=GuestLinks([KEY], URL), excerpts=policy)
    (planned,) = notifier.publish(update).planned
    job = outbox.get(planned.idempotency_key)
    assert job is not None
    message = notifier.delivery_renderer.message(job)
    wire = build_mime_bytes(message, sender="s@helpdesk.example",  # type: ignore[arg-type]
                            domain="helpdesk.example").decode("utf-8", "replace")
    text = " ".join((message.subject, message.html, message.text, message.preheader))  # type: ignore[union-attr]
    assert (spam in text) is opted_in
    assert "4242" in message.subject  # type: ignore[union-attr]
    if not opted_in:
        assert "PILLS" not in wire
