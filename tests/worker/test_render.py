"""A job holds facts and the worker renders them when it sends (Outbox v2).

What the recipient gets is what is deployed at delivery: a template changed after publish
shows, a catalog broken after publish falls back to the default locale (and says so), and
only a default locale that fails too makes the attempt a retry, never a dead letter.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketnotify.brands import Brand
from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.channels.smtp import Security, SMTPChannel, SMTPConfig
from ticketnotify.events import AccountUser, Device, Guest, Ticket, TicketUpdate, UpdateKind
from ticketnotify.facts import DeliveryFacts, FactsError, decode_facts, encode_facts
from ticketnotify.messages import EmailMessage, PushMessage
from ticketnotify.notifier import Links, Notifier
from ticketnotify.outbox import JobStatus, MemoryOutbox
from ticketnotify.outbox.sqlite import SQLiteOutbox
from ticketnotify.rendering import RenderConfig, Renderer
from ticketnotify.worker import Worker
from ticketnotify.worker.render import DeliveryRenderer

from ..conftest import T0, FakeClock

LINKS = Links(web_ticket_url="https://help.example.com/tickets/{ticket_id}",
              app_ticket_url="examplehelp://tickets/{ticket_id}")
ANNA = AccountUser(user_id="u-1", email="anna@example.se", locale="sv_SE",
                   time_zone="Europe/Stockholm", name="Anna")
HEADER = ('msgid ""\nmsgstr ""\n"Language: {lang}\\n"\n'
          '"Plural-Forms: nplurals=2; plural={plural};\\n"\n'
          '"Content-Type: text/plain; charset=utf-8\\n"\n\n')
ENTRY = 'msgid "View ticket"\nmsgstr "Öppna ärendet"\n'
# A Plural-Forms rule that parses but fails when evaluated: the catalog cannot be compiled,
# so no string of that locale renders (a broken entry alone falls back per string).
BROKEN_RULE = "(n / 0)"


def _update(recipient: AccountUser | Guest = ANNA, event_id: str = "e-1",
            brand: str | None = None) -> TicketUpdate:
    return TicketUpdate(event_id=event_id, ticket=Ticket("12345", "Insättning syns inte"),
                        kind=UpdateKind.AGENT_REPLY, recipient=recipient, occurred_at=T0,
                        excerpt="Vi har rättat det.", brand=brand)


def _po(root: Path, lang: str, entries: str, plural: str = "(n != 1)") -> Path:
    po = root / lang / "LC_MESSAGES" / "ticketnotify.po"
    po.parent.mkdir(parents=True, exist_ok=True)
    po.write_text(HEADER.format(lang=lang, plural=plural) + entries, "utf-8")
    return root


async def _deliver(outbox: MemoryOutbox, renderer: Renderer | DeliveryRenderer,
                   clock: FakeClock) -> tuple[MemoryChannel, Worker]:
    channel = MemoryChannel()
    worker = Worker(outbox, {"email": channel}, renderer=renderer, clock=clock)
    await worker.drain()
    return channel, worker


async def test_a_template_deployed_between_publish_and_delivery_is_what_the_recipient_gets(
        tmp_path: Path, clock: FakeClock) -> None:
    outbox = MemoryOutbox()
    Notifier(outbox, links=LINKS, guest_links=None, clock=clock).publish(_update())
    templates = tmp_path / "templates" / "email"
    templates.mkdir(parents=True)
    for ext in ("html", "txt"):
        (templates / f"update.{ext}").write_text(
            f'{{% extends "ticketnotify/email/update.{ext}" %}}\n{{% block footer %}}'
            "{{ super() }}\nDeployed after publish.\n{% endblock %}\n", "utf-8")
    deployed = Renderer(RenderConfig(templates_dirs=[tmp_path / "templates"]))
    channel, _ = await _deliver(outbox, deployed, clock)
    (mail,) = channel.sent
    assert isinstance(mail, EmailMessage)
    assert "Deployed after publish." in mail.text and "Deployed after publish." in mail.html
    assert "Visa ärendet" in mail.text  # still the recipient's language


async def test_a_catalog_broken_after_publish_still_delivers_in_the_default_locale_and_says_so(
        tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    outbox = MemoryOutbox()
    Notifier(outbox, links=LINKS, guest_links=None, clock=clock).publish(_update())
    broken = Renderer(RenderConfig(locales_dirs=[_po(tmp_path, "sv", ENTRY, BROKEN_RULE)]))
    with caplog.at_level(logging.WARNING, logger="ticketnotify.worker.render"):
        channel, worker = await _deliver(outbox, broken, clock)
    (mail,) = channel.sent
    assert isinstance(mail, EmailMessage)
    assert worker.stats.delivered == 1 and worker.stats.dead == 0
    assert "View ticket" in mail.text and "Visa ärendet" not in mail.text  # English copy
    (record,) = [r for r in caplog.records if r.name == "ticketnotify.worker.render"]
    job = next(iter(outbox._jobs.values()))
    assert record.job_id == job.id  # type: ignore[attr-defined]
    assert record.locale == "sv_SE" and record.fallback_locale == "en"  # type: ignore[attr-defined]
    assert "Plural-Forms" in record.error  # type: ignore[attr-defined]
    assert job.status is JobStatus.DELIVERED


async def test_when_the_default_locale_fails_too_the_job_is_retried_not_dead(
        tmp_path: Path, clock: FakeClock) -> None:
    outbox = MemoryOutbox()
    Notifier(outbox, links=LINKS, guest_links=None, clock=clock).publish(_update())
    locales = _po(_po(tmp_path, "sv", ENTRY, BROKEN_RULE), "en",
                  ENTRY.replace("Öppna ärendet", "Open it"), BROKEN_RULE)
    channel, worker = await _deliver(outbox, Renderer(RenderConfig(locales_dirs=[locales])),
                                     clock)
    assert channel.sent == [] and worker.stats.dead == 0
    (job,) = outbox._jobs.values()
    assert job.status is JobStatus.PENDING and job.attempts == 1
    assert job.last_error is not None and "default locale 'en'" in job.last_error
    assert job.next_attempt_at > clock()  # retried with backoff, not claimed over and over
    # The fixed deployment sends it.
    clock.advance(3600)
    channel, worker = await _deliver(outbox, Renderer(), clock)
    assert len(channel.sent) == 1 and worker.stats.delivered == 1


async def test_a_brand_the_worker_does_not_know_is_retried_with_what_to_pass(
        clock: FakeClock) -> None:
    outbox = MemoryOutbox()
    billing = Brand(name="billing", web_ticket_url="https://billing.example.com/t/{ticket_id}",
                    sender="billing@example.net", sender_name="Billing Team")
    notifier = Notifier(outbox, links=LINKS, brands=[billing], guest_links=None, clock=clock)
    notifier.publish(_update(brand="billing"))
    channel, worker = await _deliver(outbox, Renderer(), clock)
    (job,) = outbox._jobs.values()
    assert channel.sent == [] and job.status is JobStatus.PENDING
    assert job.last_error is not None and "delivery_renderer" in job.last_error
    clock.advance(3600)
    channel, _ = await _deliver(outbox, notifier.delivery_renderer, clock)
    (mail,) = channel.sent
    assert isinstance(mail, EmailMessage) and mail.sender == "billing@example.net"
    assert mail.sender_name == "Billing Team"


def test_every_header_but_date_is_the_same_on_a_retry(tmp_path: Path, clock: FakeClock) -> None:
    outbox = SQLiteOutbox(tmp_path / "o.sqlite3")
    notifier = Notifier(outbox, links=LINKS, guest_links=None, clock=clock)
    notifier.publish(_update(AccountUser(user_id="u-1", email="anna@example.se",
                                         locale="sv_SE", devices=(Device("ios", "a" * 64),))))
    smtp = SMTPChannel(SMTPConfig(host="127.0.0.1", port=25, security=Security.NONE,
                                  sender="support@example.com"), clock=clock)
    rendered = []
    for attempt in range(2):
        jobs = outbox.claim(clock(), 10, 60.0, "w")
        assert len(jobs) == 2
        messages = [notifier.delivery_renderer.message(j) for j in jobs]
        rendered.append(messages)
        mail = next(m for m in messages if isinstance(m, EmailMessage))
        raw = email.message_from_bytes(smtp.render(mail), policy=email.policy.SMTP)
        heads = {k: str(v) for k, v in raw.items() if k != "Date"}
        if attempt == 0:
            first, first_date = heads, raw["Date"]
        for job in jobs:
            outbox.mark_retry(job.id, clock() + timedelta(seconds=5), "451 later", worker_id="w")
        clock.advance(3600)
    assert rendered[0] == rendered[1]  # same facts, same messages (push ids included)
    assert heads == first and raw["Date"] != first_date
    push = next(m for m in rendered[0] if isinstance(m, PushMessage))
    assert push.collapse_id == push.thread_id == "ticket-12345"
    outbox.close()


def test_the_stored_job_of_a_swedish_account_email_is_small(clock: FakeClock) -> None:
    outbox = MemoryOutbox()
    Notifier(outbox, links=LINKS, guest_links=None, clock=clock).publish(_update())
    (job,) = outbox._jobs.values()
    stored = json.dumps(job.message, separators=(",", ":"), ensure_ascii=False).encode()
    assert len(stored) <= 1200  # the whole rendered email was ~6,800 bytes
    assert job.message["v"] == 2 and "html" not in job.message


def test_publish_checks_the_kind_has_templates_without_rendering() -> None:
    renderer = Renderer()
    assert renderer.has_templates("email", "agent_reply") and renderer.has_templates("push", "merged")
    assert not renderer.has_templates("email", "no_such_kind")
    assert renderer.compiled_variants == 0  # the check compiles nothing


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(subject=_text, excerpt=st.none() | _text, status=st.none() | _text,
       replies=st.integers(1, 99), guest=st.booleans(), name=_text, number=_text,
       medium=st.sampled_from(["email", "push"]))
def test_facts_read_back_as_they_were_stored(
        subject: str, excerpt: str | None, status: str | None, replies: int, guest: bool,
        name: str, number: str, medium: str) -> None:
    facts = DeliveryFacts(
        medium=medium, kind="agent_reply", event_id="e", ticket_key="K-1",  # type: ignore[arg-type]
        ticket_number=number or "K-1", subject=subject, excerpt=excerpt, status=status,
        new_replies=replies, merged_into=None, occurred_at=T0, name=name, locale="sv_SE",
        time_zone="Europe/Stockholm", brand="default", address="a@example.com",
        ticket_url="https://x.example/1", guest=guest)
    stored = json.loads(json.dumps(encode_facts(facts)))
    assert decode_facts(stored) == facts


@pytest.mark.parametrize("stored", [{"v": 3, "c": "e"}, {"v": 2, "c": "x"},
                                    {"v": 2, "c": "e", "k": "agent_reply"}])
def test_unreadable_facts_say_what_is_wrong(stored: dict[str, object]) -> None:
    with pytest.raises(FactsError):
        decode_facts(stored)
