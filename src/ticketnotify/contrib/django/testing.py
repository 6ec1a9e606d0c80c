"""Test helpers for hosts: a settings override with the memory outbox and channel, and assertions.

    from ticketnotify.contrib.django.testing import capture_deliveries, memory_ticketnotify

    @memory_ticketnotify()
    class ReplyTests(TestCase):
        def test_reply_mails_the_requester(self):
            with capture_deliveries() as sent:
                self.client.post(reply_url, {"text": "Try the blue cable"})
            sent.assert_emails(["anna@example.com"], subject_contains="4711")

``capture_deliveries`` runs the real worker over the memory outbox when the block ends,
so what it shows is what a worker would have sent: rendered, routed, one message each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.test.utils import override_settings

from ...channels.memory import MemoryChannel
from ...guest import MemoryCodeStore
from ...messages import EmailMessage, Message, PushMessage
from ...outbox.base import JobStatus
from ...outbox.memory import MemoryOutbox
from ...worker.loop import Worker
from .settings import get_channels, get_codes, get_outbox


def memory_ticketnotify(**changes: Any) -> override_settings:
    """``override_settings`` whose ``TICKETNOTIFY`` keeps the site's keys but stores and sends in memory.

    The outbox becomes a ``MemoryOutbox``, codes a ``MemoryCodeStore``, and every channel
    (``email``, ``apns``, ``fcm``) and the code channel ``MemoryChannel``s, made fresh each
    time the override is entered (each test, or each ``TestCase`` class). Use it as a
    decorator on a test or ``TestCase``, or as a context manager.

    Args:
        changes: ``TICKETNOTIFY`` keys to set as well (e.g. ``GUEST_TICKET=...``).
    """
    return _MemoryOverride(changes)


class _MemoryOverride(override_settings):
    def __init__(self, changes: dict[str, Any]) -> None:
        self.changes = changes
        super().__init__(TICKETNOTIFY={})

    def enable(self) -> None:
        current = dict(getattr(django_settings, "TICKETNOTIFY", {}))
        current.update({"OUTBOX": MemoryOutbox(), "CODE_STORE": MemoryCodeStore(),
                        "CHANNELS": {"email": MemoryChannel(), "apns": MemoryChannel(),
                                     "fcm": MemoryChannel()},
                        "CODE_CHANNEL": MemoryChannel(), **self.changes})
        self.options = {"TICKETNOTIFY": current}
        super().enable()


class Deliveries:
    """What the worker sent for the jobs published inside a ``capture_deliveries`` block.

    Attributes:
        messages: every message sent, in delivery order.
        dead: reasons of jobs that ended as dead letters.
    """

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.dead: list[str] = []

    @property
    def emails(self) -> list[EmailMessage]:
        """The emails, in delivery order."""
        return [m for m in self.messages if isinstance(m, EmailMessage)]

    @property
    def pushes(self) -> list[PushMessage]:
        """The pushes, in delivery order."""
        return [m for m in self.messages if isinstance(m, PushMessage)]

    def assert_emails(self, to: Sequence[str], *, subject_contains: str = "",
                      text_contains: str = "") -> list[EmailMessage]:
        """Assert exactly these addresses were mailed (any order), each mail matching the filters.

        Returns:
            The emails, so a test can look further.

        Raises:
            AssertionError: other addresses, a missing filter text, or a dead letter.
        """
        assert not self.dead, f"dead letters: {self.dead}"
        got = sorted(m.to_address for m in self.emails)
        assert got == sorted(to), f"emails went to {got}, expected {sorted(to)}"
        for mail in self.emails:
            assert subject_contains in mail.subject, f"{mail.subject!r} lacks {subject_contains!r}"
            assert text_contains in mail.text, f"the mail to {mail.to_address} lacks {text_contains!r}"
        return self.emails

    def assert_pushes(self, tokens: Sequence[str]) -> list[PushMessage]:
        """Assert exactly these device tokens were pushed (any order).

        Raises:
            AssertionError: other tokens, or a dead letter.
        """
        assert not self.dead, f"dead letters: {self.dead}"
        got = sorted(m.token for m in self.pushes)
        assert got == sorted(tokens), f"pushes went to {got}, expected {sorted(tokens)}"
        return self.pushes

    def assert_nothing(self) -> None:
        """Assert nothing was sent (e.g. a rolled-back change, an internal note)."""
        assert not self.messages and not self.dead, (
            f"expected nothing, got {len(self.messages)} message(s), dead: {self.dead}")


@contextmanager
def capture_deliveries() -> Iterator[Deliveries]:
    """Run the worker over the (memory) outbox when the block ends, and show what it sent.

    ``publish_on_commit`` inside a ``TestCase`` waits for a commit that never comes; the
    block therefore runs Django's pending on-commit callbacks at its end too (as
    ``TestCase.captureOnCommitCallbacks(execute=True)`` does).

    Raises:
        AssertionError: the outbox is not a ``MemoryOutbox`` (use ``memory_ticketnotify``).
    """
    outbox = get_outbox()
    assert isinstance(outbox, MemoryOutbox), "capture_deliveries needs memory_ticketnotify()"
    channels = get_channels()
    before = {name: len(c.sent) for name, c in channels.items() if isinstance(c, MemoryChannel)}
    dead_before = {j.id for j in outbox.dead_letters(100_000)}
    result = Deliveries()
    connection = transaction.get_connection()
    pending = len(connection.run_on_commit)
    yield result
    for _, callback, _ in connection.run_on_commit[pending:]:
        callback()
    del connection.run_on_commit[pending:]
    asyncio.run(Worker(outbox, channels).drain())
    for name, channel in channels.items():
        if isinstance(channel, MemoryChannel):
            result.messages.extend(channel.sent[before.get(name, 0):])
    result.dead = [j.last_error or "" for j in outbox.dead_letters(100_000)
                   if j.status is JobStatus.DEAD and j.id not in dead_before]


def sent_codes() -> list[EmailMessage]:
    """The code emails sent so far (the code channel of ``memory_ticketnotify``)."""
    channel = get_codes().sender
    inner = getattr(channel, "channel", None)
    assert isinstance(inner, MemoryChannel), "sent_codes needs memory_ticketnotify()"
    return [m for m in inner.sent if isinstance(m, EmailMessage)]
