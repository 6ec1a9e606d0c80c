"""Channel[M]: carries comes from the message class, and old-style adapters keep working."""

from __future__ import annotations

import warnings
from typing import ClassVar

import pytest

from ticketnotify.channels.base import Channel
from ticketnotify.channels.contract import sample_email, sample_push
from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.channels.push.apns import APNsChannel
from ticketnotify.channels.push.fcm import FCMChannel
from ticketnotify.channels.smtp import SMTPChannel
from ticketnotify.errors import ConfigurationError, PermanentDeliveryError
from ticketnotify.messages import EmailMessage, Message, PushMessage, Receipt


class EmailOnly(Channel[EmailMessage]):
    name: ClassVar[str] = "email-only"

    async def deliver(self, message: EmailMessage) -> Receipt:
        return Receipt(self.name, message.delivery_id, detail=message.subject)


def test_carries_is_derived_from_the_generic_argument() -> None:
    assert EmailOnly.carries == (EmailMessage,)
    assert MemoryChannel.carries == (EmailMessage, PushMessage)
    assert SMTPChannel.carries == (EmailMessage,)
    assert APNsChannel.carries == FCMChannel.carries == (PushMessage,)
    assert EmailOnly.accepts(sample_email()) and not EmailOnly.accepts(sample_push())


async def test_send_refuses_the_wrong_kind_before_deliver_runs() -> None:
    channel = EmailOnly()
    assert (await channel.send(sample_email())).detail == sample_email().subject
    with pytest.raises(PermanentDeliveryError) as caught:
        await channel.send(sample_push())  # type: ignore[arg-type]
    assert caught.value.code == "wrong-kind"
    assert str(caught.value).startswith("the email-only channel carries email messages, not push")


def test_a_channel_without_deliver_cannot_be_built() -> None:
    class Nothing(Channel[EmailMessage]):
        name: ClassVar[str] = "nothing"

    with pytest.raises(TypeError, match="deliver"):
        Nothing()  # type: ignore[abstract]


async def test_an_adapter_written_to_the_old_contract_still_works() -> None:
    with pytest.warns(DeprecationWarning, match="Channel\\[EmailMessage\\]"):
        class Old(Channel):  # type: ignore[type-arg]
            name: ClassVar[str] = "old"
            carries: ClassVar[str] = "email"  # type: ignore[assignment,misc]

            async def send(self, message: Message) -> Receipt:  # type: ignore[override]
                return Receipt(self.name, message.delivery_id)

    assert Old.carries == (EmailMessage,)
    assert Old.accepts(sample_email()) and not Old.accepts(sample_push())
    assert (await Old().send(sample_email(3))).delivery_id == "contract-email-3"


async def test_overriding_send_on_a_modern_adapter_does_not_loop() -> None:
    class Logged(EmailOnly):
        seen: ClassVar[list[str]] = []

        async def send(self, message: EmailMessage) -> Receipt:
            self.seen.append(message.delivery_id)
            return await super().send(message)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        receipt = await Logged().send(sample_email(5))
    assert receipt.delivery_id == "contract-email-5" and Logged.seen == ["contract-email-5"]


def test_an_unknown_carries_string_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="name the message classes"):
        class Odd(Channel):  # type: ignore[type-arg]
            name: ClassVar[str] = "odd"
            carries: ClassVar[str] = "fax"  # type: ignore[assignment,misc]

            async def deliver(self, message: Message) -> Receipt:
                raise NotImplementedError
