"""The channel contract as a pytest suite any adapter can run against its own peer.

Every adapter in this package passes it (tests/channels/test_contract.py); a third-party
adapter subclasses ``ChannelContract`` in its own tests and provides a ``harness`` fixture
(needs pytest and pytest-asyncio with ``asyncio_mode = "auto"``)::

    import pytest
    from ticketnotify.channels.contract import ChannelContract, ChannelHarness, sample_email

    class PostmarkHarness(ChannelHarness):
        entry_point = "postmark"
        def __init__(self, api): self.api = api
        def make_channel(self): return PostmarkChannel(PostmarkConfig(url=self.api.url))
        def message(self, n): return sample_email(n)
        async def received(self): return len(self.api.requests)

    class TestPostmarkContract(ChannelContract):
        @pytest.fixture
        async def harness(self):
            async with FakePostmarkAPI() as api:   # a real peer on loopback, if you can
                yield PostmarkHarness(api)

Optional hooks (``failing_message``, ``stop_peer``) switch on more tests; a test whose hook
says "not possible here" is skipped, never passed silently. docs/adapters.md explains it.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal

import pytest

from ..errors import (
    DeliveryError,
    InvalidAddressError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ..messages import EmailMessage, Message, PushMessage, Receipt
from .base import Channel, load_channel_class

FailureKind = Literal["transient", "permanent", "invalid-address"]
EXPECTED: dict[str, type[DeliveryError]] = {
    "transient": TransientDeliveryError,
    "permanent": PermanentDeliveryError,
    "invalid-address": InvalidAddressError,
}


def sample_email(n: int = 1) -> EmailMessage:
    """A small rendered email, delivery id ``contract-email-<n>``."""
    return EmailMessage(
        delivery_id=f"contract-email-{n}", ticket_id="4711", ticket_subject="Skrivaren",
        locale="sv_SE", to_address="anna@example.org", subject="Ärende 4711 har uppdaterats",
        html="<p>Support har svarat.</p>", text="Support har svarat.\n", to_name="Anna")


def sample_push(n: int = 1, *, platform: str = "ios", token: str | None = None) -> PushMessage:
    """A small rendered push, delivery id ``contract-push-<n>``; ``token`` per platform."""
    return PushMessage(
        delivery_id=f"contract-push-{n}", ticket_id="4711", locale="sv_SE", platform=platform,
        token=token or f"{n:064x}", user_id="user-7", title="Nytt svar i ärende 4711",
        body="Support har svarat.", deep_link="https://help.example.com/t/4711",
        thread_id="ticket-4711", collapse_id="ticket-4711", data={"kind": "agent_reply"})


class ChannelHarness(ABC):
    """What the contract needs to know about one adapter and the peer it talks to.

    Attributes:
        entry_point: The adapter's name in the ``ticketnotify.channels`` entry points,
            or None if it is not registered (the entry-point test is then skipped).
    """

    entry_point: ClassVar[str | None] = None

    @abstractmethod
    def make_channel(self) -> Channel[Any]:
        """A fresh, unopened channel pointed at the peer."""

    @abstractmethod
    def message(self, n: int) -> Message:
        """A message the peer accepts; a different ``delivery_id`` for each ``n``."""

    @abstractmethod
    async def received(self) -> int:
        """How many messages the peer has received so far."""

    def failing_message(self, kind: FailureKind, n: int) -> Message | None:
        """A message whose next send the peer answers with a ``kind`` failure.

        Script the peer (a 451/554/550 reply, a 503 or 410 answer ...) and return the
        message to send, or None if this adapter has no such failure.
        """
        return None

    def other_kind(self, channel: Channel[Any]) -> Message | None:
        """A message of a kind ``channel`` does not carry, or None if it carries all."""
        for candidate in (sample_email(99), sample_push(99)):
            if not isinstance(candidate, channel.carries):
                return candidate
        return None

    async def stop_peer(self) -> bool:
        """Make the peer unreachable (stop listening); False if there is no peer."""
        return False


class ChannelContract:
    """The behaviour every adapter owes the worker; subclass it and provide ``harness``."""

    @pytest.fixture
    def harness(self) -> ChannelHarness:
        """The adapter under test and its peer; every subclass provides it."""
        raise NotImplementedError("provide a `harness` fixture returning a ChannelHarness")

    @pytest.fixture
    async def channel(self, harness: ChannelHarness) -> AsyncIterator[Channel[Any]]:
        """A fresh channel from the harness, closed after the test."""
        channel = harness.make_channel()
        yield channel
        await channel.aclose()

    async def test_delivers_and_returns_a_receipt_for_the_delivery(
            self, harness: ChannelHarness, channel: Channel[Any]) -> None:
        """A send reaches the peer once and the receipt names the channel and the delivery."""
        before = await harness.received()
        message = harness.message(1)
        receipt = await channel.send(message)
        assert isinstance(receipt, Receipt)
        assert receipt.channel == channel.name
        assert receipt.delivery_id == message.delivery_id
        assert await harness.received() == before + 1

    async def test_carries_names_message_classes_and_accepts_follows_it(
            self, harness: ChannelHarness, channel: Channel[Any]) -> None:
        """``carries`` holds message classes and ``accepts`` answers from them."""
        assert channel.carries and all(c in (EmailMessage, PushMessage) for c in channel.carries)
        good = harness.message(1)
        assert isinstance(good, channel.carries)
        assert channel.accepts(good) and type(channel).accepts(good)
        other = harness.other_kind(channel)
        if other is not None:
            assert not channel.accepts(other)

    async def test_refuses_a_message_of_a_kind_it_does_not_carry(
            self, harness: ChannelHarness, channel: Channel[Any]) -> None:
        """A message of another kind is refused (``wrong-kind``) before the peer sees it."""
        other = harness.other_kind(channel)
        if other is None:
            pytest.skip("this channel carries every message kind")
        before = await harness.received()
        with pytest.raises(PermanentDeliveryError) as caught:
            await channel.send(other)
        assert caught.value.code == "wrong-kind" and other.kind in str(caught.value)
        assert not isinstance(caught.value, InvalidAddressError)
        assert await harness.received() == before

    @pytest.mark.parametrize("kind", ["transient", "permanent", "invalid-address"])
    async def test_peer_failures_map_to_the_three_error_classes(
            self, harness: ChannelHarness, channel: Channel[Any], kind: FailureKind) -> None:
        """Each kind of peer failure leaves as its error class; the channel stays usable."""
        message = harness.failing_message(kind, 2)
        if message is None:
            pytest.skip(f"the harness cannot make a {kind} failure")
        with pytest.raises(DeliveryError) as caught:
            await channel.send(message)
        error = caught.value
        assert isinstance(error, EXPECTED[kind]), f"{kind}: got {type(error).__name__}: {error}"
        if kind == "permanent":
            assert not isinstance(error, InvalidAddressError)
        assert str(error), "the error says what happened"
        # One failure leaves the channel usable for the next message.
        receipt = await channel.send(harness.message(3))
        assert receipt.delivery_id == harness.message(3).delivery_id

    async def test_unreachable_peer_is_transient(
            self, harness: ChannelHarness, channel: Channel[Any]) -> None:
        """Nobody listening is a reason to retry, not to give up."""
        if not await harness.stop_peer():
            pytest.skip("no peer to stop")
        with pytest.raises(TransientDeliveryError):
            await channel.send(harness.message(1))

    async def test_concurrent_sends_each_get_their_own_receipt(
            self, harness: ChannelHarness, channel: Channel[Any]) -> None:
        """Concurrent sends each get the receipt of their own delivery."""
        messages = [harness.message(n) for n in range(10, 30)]
        receipts = await asyncio.gather(*(channel.send(m) for m in messages))
        assert [r.delivery_id for r in receipts] == [m.delivery_id for m in messages]

    async def test_aclose_is_idempotent_even_before_any_send(
            self, harness: ChannelHarness) -> None:
        """Closing twice, before anything was opened, is harmless."""
        channel = harness.make_channel()
        await channel.aclose()
        await channel.aclose()

    async def test_send_after_aclose_reopens(
            self, harness: ChannelHarness, channel: Channel[Any]) -> None:
        """A send after ``aclose`` opens what it needs again."""
        await channel.send(harness.message(1))
        await channel.aclose()
        await channel.aclose()
        receipt = await channel.send(harness.message(2))
        assert receipt.delivery_id == harness.message(2).delivery_id

    async def test_is_an_async_context_manager_that_closes(
            self, harness: ChannelHarness) -> None:
        """``async with`` closes the channel; it can still be used afterwards."""
        async with harness.make_channel() as channel:
            await channel.send(harness.message(1))
        receipt = await channel.send(harness.message(2))  # reopened after the close
        await channel.aclose()
        assert receipt.channel == channel.name

    async def test_entry_point_loads_this_class(
            self, harness: ChannelHarness, channel: Channel[Any]) -> None:
        """The entry point named by the harness loads this adapter's class."""
        if harness.entry_point is None:
            pytest.skip("not registered under ticketnotify.channels")
        assert load_channel_class(harness.entry_point) is type(channel)
