"""Guest codes from a real web app: any event loop, sync code, and errors a page can show.

Issue 11.6: a sync Django view calling ``async_to_sync(codes.send_code)`` worked once, then
raised ``ValueError: future belongs to a different loop`` (the SMTP channel's pooled
connection was bound to the first request's loop, which asgiref had closed), and the failed
attempt still counted against the rate limit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import async_to_sync

from ticketnotify.channels.smtp.channel import SMTPChannel
from ticketnotify.errors import TicketNotifyError, TransientDeliveryError
from ticketnotify.guest import (
    CodeDeliveryError,
    CodeStore,
    EmailCodeSender,
    GuestLinks,
    MemoryCodeStore,
    PostgresCodeStore,
    RateLimit,
    RateLimitedError,
    SQLiteCodeStore,
    VerificationCodes,
)
from ticketnotify.loopback.smtp import RecordingHandler
from ticketnotify.rendering import Renderer

from .test_codes import ANNA, KEYS, SECRET, T0, Clock, Inbox
from .threaded_smtp import ThreadedSMTP, threaded_smtp

LIMIT = [RateLimit(3, timedelta(minutes=15))]


class RefusingHandler(RecordingHandler):
    """A real SMTP peer that answers 451 to DATA while ``refuse`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse = False

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


def codes_over(smtp: ThreadedSMTP, **kwargs: object) -> tuple[VerificationCodes, str, Clock]:
    clock, links = Clock(), GuestLinks(KEYS)
    sender = EmailCodeSender(Renderer(), SMTPChannel(smtp.config()))
    codes = VerificationCodes(links, MemoryCodeStore(), sender, SECRET, clock=clock,
                              **kwargs)  # type: ignore[arg-type]
    return codes, links.issue("T-1", ANNA, now=clock()), clock


def code_of(smtp: ThreadedSMTP, index: int) -> str:
    body = smtp.server.messages[index].message.get_body(preferencelist=("plain",))
    assert body is not None
    return next(w for w in body.get_content().split() if len(w) == 6 and w.isdigit())


def test_async_to_sync_sends_a_code_on_every_request_of_one_process() -> None:
    with threaded_smtp() as smtp:
        codes, token, _ = codes_over(smtp)
        try:
            send = async_to_sync(codes.asend_code)  # what a sync Django view does
            for _request in range(3):  # each call runs on a fresh loop that asgiref then closes
                assert send(token, email=ANNA).ticket_id == "T-1"
            assert len(smtp.wait_for(3)) == 3
            assert codes.verify_code(token, code_of(smtp, 2), email=ANNA).ticket_id == "T-1"
        finally:
            codes.sender.close()  # type: ignore[attr-defined]


def test_the_sync_forms_need_no_event_loop_and_reuse_one_connection() -> None:
    with threaded_smtp() as smtp:
        codes, token, _ = codes_over(smtp)
        try:
            for _request in range(3):
                assert codes.send_code(token, email=ANNA).ticket_id == "T-1"
            smtp.wait_for(3)
            assert smtp.server.connections == 1  # the channel's pool survives between requests
            assert codes.verify_code(token, code_of(smtp, 2), email=ANNA).ticket_id == "T-1"
        finally:
            codes.sender.close()  # type: ignore[attr-defined]


def test_requests_on_many_threads_and_loops_at_once_all_get_their_code() -> None:
    with threaded_smtp() as smtp:
        clock, links = Clock(), GuestLinks(KEYS)
        sender = EmailCodeSender(Renderer(), SMTPChannel(smtp.config()))
        codes = VerificationCodes(links, MemoryCodeStore(), sender, SECRET, clock=clock)
        errors: list[BaseException] = []
        start = threading.Barrier(6)

        def request(n: int) -> None:
            email = f"guest-{n}@example.se"  # one request each: no rate limit in the way
            token = links.issue(f"T-{n}", email, now=clock())
            start.wait(10)
            try:
                if n % 2:
                    async_to_sync(codes.asend_code)(token, email=email)
                else:
                    asyncio.run(codes.asend_code(token, email=email))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=request, args=(n,)) for n in range(6)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert errors == []
            received = smtp.wait_for(6)
            assert sorted(m.rcpt_tos[0] for m in received) == [f"guest-{n}@example.se"
                                                                for n in range(6)]
        finally:
            sender.close()


def test_a_failed_send_is_not_counted_and_says_what_to_show() -> None:
    handler = RefusingHandler()
    with threaded_smtp(handler) as smtp:
        codes, token, _ = codes_over(smtp, address_limits=LIMIT, ticket_limits=LIMIT)
        try:
            codes.send_code(token, email=ANNA)
            previous = code_of(smtp, 0)
            handler.refuse = True
            for _ in range(5):  # more failures than the limit allows sends
                with pytest.raises(CodeDeliveryError) as failed:
                    codes.send_code(token, email=ANNA)
                assert not isinstance(failed.value, TransientDeliveryError)  # nothing retries it
                assert "try again" in str(failed.value) and "will retry" not in str(failed.value)
                assert failed.value.permanent is False
            handler.refuse = False
            codes.send_code(token, email=ANNA)  # not rate-limited: the failures were given back
            codes.send_code(token, email=ANNA)
            with pytest.raises(RateLimitedError):
                codes.send_code(token, email=ANNA)
            assert len(smtp.server.messages) == 3
        finally:
            codes.sender.close()  # type: ignore[attr-defined]
    # The guest's earlier code was superseded only by codes that were really sent.
    assert previous != code_of(smtp, 2)


async def test_any_error_of_a_custom_sender_is_a_code_delivery_error_and_not_counted() -> None:
    clock, links, inbox = Clock(), GuestLinks(KEYS), Inbox()
    codes = VerificationCodes(links, MemoryCodeStore(), inbox, SECRET, clock=clock,
                              address_limits=LIMIT, ticket_limits=LIMIT)
    token = links.issue("T-1", ANNA, now=clock())
    await codes.asend_code(token, email=ANNA)
    previous = inbox.last_code()
    for failure in (RuntimeError("a bug in the host's sender"),
                    ValueError("future belongs to a different loop"),
                    TransientDeliveryError("mail server down; will retry")):
        inbox.fail = failure
        with pytest.raises(CodeDeliveryError) as failed:
            await codes.asend_code(token, email=ANNA)
        assert isinstance(failed.value, TicketNotifyError)
        assert failed.value.__cause__ is failure
    inbox.fail = None
    await codes.asend_code(token, email=ANNA)
    await codes.asend_code(token, email=ANNA)  # three sent in all: the failures were not counted
    with pytest.raises(RateLimitedError):
        await codes.asend_code(token, email=ANNA)
    assert previous != inbox.last_code()


async def test_a_cancelled_send_keeps_its_slot() -> None:
    """The guest's browser went away mid-send: the email may be out, so the slot stays taken."""
    clock, links = Clock(), GuestLinks(KEYS)
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(**mail: object) -> None:
        entered.set()
        await release.wait()

    codes = VerificationCodes(links, MemoryCodeStore(), slow, SECRET, clock=clock,
                              address_limits=[RateLimit(1, timedelta(minutes=15))])
    token = links.issue("T-1", ANNA, now=clock())
    task = asyncio.create_task(codes.asend_code(token, email=ANNA))
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(RateLimitedError):
        await codes.asend_code(token, email=ANNA)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def code_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CodeStore]:
    if request.param == "memory":
        store: CodeStore = MemoryCodeStore()
    elif request.param == "sqlite":
        store = SQLiteCodeStore(tmp_path / "guest.sqlite3")
    else:
        store = PostgresCodeStore(request.getfixturevalue("pg_conninfo"))
        store.purge(T0 + timedelta(days=400), timedelta(0))  # the schema is the session's
    yield store
    store.close()


async def test_every_store_gives_back_exactly_the_failed_send(code_store: CodeStore) -> None:
    clock, links, inbox = Clock(), GuestLinks(KEYS), Inbox()
    codes = VerificationCodes(links, code_store, inbox, SECRET, clock=clock,
                              address_limits=LIMIT, ticket_limits=LIMIT)
    token = links.issue("T-1", ANNA, now=clock())
    await codes.asend_code(token, email=ANNA)
    inbox.fail = TransientDeliveryError("mail server down")
    for _ in range(4):
        with pytest.raises(CodeDeliveryError):
            await codes.asend_code(token, email=ANNA)
    inbox.fail = None
    await codes.asend_code(token, email=ANNA)  # same instant as every attempt before it:
    await codes.asend_code(token, email=ANNA)  # only the failed sends' records were removed
    with pytest.raises(RateLimitedError):
        await codes.asend_code(token, email=ANNA)
    assert len(inbox.sent) == 3


async def test_awaiting_the_old_async_send_code_still_works_with_a_warning() -> None:
    clock, links, inbox = Clock(), GuestLinks(KEYS), Inbox()
    codes = VerificationCodes(links, MemoryCodeStore(), inbox, SECRET, clock=clock)
    token = links.issue("T-1", ANNA, now=clock())
    with pytest.warns(DeprecationWarning, match="asend_code"):
        sent = await codes.send_code(token, email=ANNA)  # type: ignore[misc]
    assert sent.ticket_id == "T-1" and len(inbox.sent) == 1
