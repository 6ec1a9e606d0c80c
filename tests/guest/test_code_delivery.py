"""Sending a code: its own mail thread, a failed send keeps the old code, the loop stays free."""

from __future__ import annotations

import asyncio
import base64
import threading
from datetime import timedelta

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from ticketnotify.channels.mime.builder import thread_index, thread_root_id
from ticketnotify.channels.smtp.channel import SMTPChannel
from ticketnotify.channels.smtp.config import SMTPConfig
from ticketnotify.errors import TransientDeliveryError
from ticketnotify.guest import (
    CodeDeliveryError,
    EmailCodeSender,
    GuestLinks,
    MemoryCodeStore,
    RateLimit,
    RateLimitedError,
    VerificationCodes,
)
from ticketnotify.guest.stores.base import Attempt
from ticketnotify.loopback.smtp import LoopbackSMTPServer, RecordingHandler
from ticketnotify.rendering import Renderer

from .test_codes import ANNA, KEYS, SECRET, Clock, Inbox

SENDER = "help@example.se"


class RefusingHandler(RecordingHandler):
    """A real SMTP peer that accepts mail until ``refuse`` is set, then answers 451."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse = False

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


def codes_for(sender: object, store: MemoryCodeStore | None = None, **kwargs: object) -> tuple[
    VerificationCodes, GuestLinks, Clock
]:
    clock, links = Clock(), GuestLinks(KEYS)
    codes = VerificationCodes(links, store or MemoryCodeStore(), sender,  # type: ignore[arg-type]
                              SECRET, clock=clock, **kwargs)  # type: ignore[arg-type]
    return codes, links, clock


def code_in(text: str) -> str:
    return next(word for word in text.split() if len(word) == 6 and word.isdigit())


async def test_the_code_email_has_a_thread_of_its_own_and_a_topic() -> None:
    async with LoopbackSMTPServer() as server:
        config = SMTPConfig(host="127.0.0.1", port=server.port, sender=SENDER,
                            security="none", timeout=10)
        async with EmailCodeSender(Renderer(), SMTPChannel(config)) as sender:
            codes, links, clock = codes_for(sender)
            token = links.issue("T-1", ANNA, now=clock())
            await codes.asend_code(token, email=ANNA)
            await codes.asend_code(token, email=ANNA)
            first, second = await server.wait_for(2, timeout=10)
    domain = str(first.message["Message-ID"]).strip("<>").rpartition("@")[2]
    ticket_root = thread_root_id("T-1", domain)
    ticket_conversation = base64.b64decode(thread_index("T-1", "any-update", domain))[:22]
    for received in (first, second):
        mail = received.message
        assert ticket_root not in str(mail["In-Reply-To"])
        assert ticket_root not in str(mail["References"])
        assert base64.b64decode(str(mail["Thread-Index"]))[:22] != ticket_conversation
        assert str(mail["Thread-Topic"]).strip() != ""
        assert str(mail["Thread-Topic"]) == str(mail["Subject"])  # our text, not the filer's
    assert first.message["In-Reply-To"] != second.message["In-Reply-To"]


async def test_a_refused_send_keeps_the_previous_code_usable_and_is_not_counted() -> None:
    handler = RefusingHandler()
    async with LoopbackSMTPServer(handler=handler) as server:
        config = SMTPConfig(host="127.0.0.1", port=server.port, sender=SENDER,
                            security="none", timeout=10)
        async with EmailCodeSender(Renderer(), SMTPChannel(config)) as sender:
            codes, links, clock = codes_for(
                sender,
                address_limits=[RateLimit(3, timedelta(minutes=15))])
            token = links.issue("T-1", ANNA, now=clock())
            await codes.asend_code(token, email=ANNA)
            [received] = await server.wait_for(1, timeout=10)
            body = received.message.get_body(preferencelist=("plain",))
            assert body is not None
            previous = code_in(body.get_content())
            handler.refuse = True
            with pytest.raises(CodeDeliveryError):
                await codes.asend_code(token, email=ANNA)
            handler.refuse = False
            assert codes.verify_code(token, previous, email=ANNA).ticket_id == "T-1"
            await codes.asend_code(token, email=ANNA)
            await codes.asend_code(token, email=ANNA)  # the third: the refused one was given back
            with pytest.raises(RateLimitedError):
                await codes.asend_code(token, email=ANNA)
            assert len(server.messages) == 3
            latest_body = server.messages[2].message.get_body(preferencelist=("plain",))
            assert latest_body is not None
            latest = code_in(latest_body.get_content())
    assert codes.verify_code(token, latest, email=ANNA).ticket_id == "T-1"


async def test_after_a_failed_send_the_previous_code_still_verifies() -> None:
    inbox = Inbox()
    codes, links, clock = codes_for(inbox)
    token = links.issue("T-1", ANNA, now=clock())
    await codes.asend_code(token, email=ANNA)
    previous = inbox.last_code()
    clock.advance(minutes=2)
    inbox.fail = TransientDeliveryError("mail server down")
    with pytest.raises(CodeDeliveryError):
        await codes.asend_code(token, email=ANNA)
    sent = await asyncio.to_thread(codes.verify_code, token, previous, email=ANNA)
    assert sent.ticket_id == "T-1"


class GatedStore(MemoryCodeStore):
    """The real in-memory store whose first call of ``gated`` waits until the test opens it.

    Each call records its thread: a call made on the event loop's thread would block it.
    """

    def __init__(self, gated: str) -> None:
        super().__init__()
        self.gated = gated
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.threads: list[int] = []

    def _arrive(self, name: str) -> None:
        self.threads.append(threading.get_ident())
        if name == self.gated:
            self.entered.set()
            if not self.gate.wait(timeout=5):
                raise AssertionError("the gate never opened: the store call blocked the loop")

    def reserve_send(self, limits, now):  # type: ignore[no-untyped-def]
        self._arrive("reserve_send")
        return super().reserve_send(limits, now)

    def put_code(self, code):  # type: ignore[no-untyped-def]
        self._arrive("put_code")
        super().put_code(code)

    def take_attempt(self, ticket_id: str, address_key: str) -> Attempt | None:
        self._arrive("take_attempt")
        return super().take_attempt(ticket_id, address_key)


@pytest.mark.parametrize("gated", ["reserve_send", "put_code"])
async def test_send_code_keeps_the_event_loop_free_while_the_store_waits(gated: str) -> None:
    store, inbox = GatedStore(gated), Inbox()
    codes, links, clock = codes_for(inbox, store)
    task = asyncio.create_task(codes.asend_code(links.issue("T-1", ANNA, now=clock()), email=ANNA))
    assert await asyncio.to_thread(store.entered.wait, 5)
    assert not task.done()  # the loop ran this while the store call was held
    store.gate.set()
    sent = await asyncio.wait_for(task, timeout=5)
    assert sent.ticket_id == "T-1" and len(inbox.sent) == 1
    assert threading.get_ident() not in store.threads


async def test_averify_code_keeps_the_event_loop_free_while_the_store_waits() -> None:
    store, inbox = GatedStore("take_attempt"), Inbox()
    codes, links, clock = codes_for(inbox, store)
    token = links.issue("T-1", ANNA, now=clock())
    await codes.asend_code(token, email=ANNA)
    task = asyncio.create_task(codes.averify_code(token, inbox.last_code(), email=ANNA))
    assert await asyncio.to_thread(store.entered.wait, 5)
    assert not task.done()
    store.gate.set()
    grant = await asyncio.wait_for(task, timeout=5)
    assert grant.ticket_id == "T-1"
    assert threading.get_ident() not in store.threads
