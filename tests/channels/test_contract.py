"""One specification of a channel, run against memory, files, SMTP, APNs and FCM.

Each adapter talks to a real peer on loopback (aiosmtpd, the HTTP/2 APNs stand-in, the FCM
stand-in with its OAuth endpoint); ``ticketnotify.channels.contract`` holds the tests, so a
third-party adapter runs the very same ones (docs/adapters.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ticketnotify.channels.base import Channel
from ticketnotify.channels.contract import (
    ChannelContract,
    ChannelHarness,
    FailureKind,
    sample_email,
    sample_push,
)
from ticketnotify.channels.files import FilesChannel
from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.channels.push.apns import APNsChannel
from ticketnotify.channels.push.fcm import FCMChannel, FCMConfig
from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.errors import (
    InvalidAddressError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ticketnotify.loopback.apns import APNsLoopback
from ticketnotify.loopback.fcm import FCMLoopback
from ticketnotify.loopback.smtp import LoopbackSMTPServer
from ticketnotify.messages import EmailMessage, Message

from .push.test_apns import KEY_ID, TEAM_ID, TOPIC, config_for, make_key
from .push.test_fcm import PROJECT, credentials_for, make_service_key
from .smtp.servers import FaultyHandler


class MemoryHarness(ChannelHarness):
    entry_point = "memory"

    def __init__(self) -> None:
        self.channels: list[MemoryChannel] = []

    def make_channel(self) -> Channel[Any]:
        channel = MemoryChannel()
        self.channels.append(channel)
        return channel

    def message(self, n: int) -> Message:
        return sample_email(n) if n % 2 else sample_push(n)

    async def received(self) -> int:
        return sum(len(c.sent) for c in self.channels)

    def failing_message(self, kind: FailureKind, n: int) -> Message | None:
        error = {"transient": TransientDeliveryError("451 later"),
                 "permanent": PermanentDeliveryError("554 no"),
                 "invalid-address": InvalidAddressError("550 5.1.1 no such user")}[kind]
        address = f"{kind}@example.org"
        for channel in self.channels:
            channel.fail_with[address] = error
        return dataclasses.replace(sample_email(n), to_address=address)


class FilesHarness(ChannelHarness):
    entry_point = "files"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def make_channel(self) -> Channel[Any]:
        return FilesChannel(self.folder, sender="support@example.com")

    def message(self, n: int) -> Message:
        return sample_email(n) if n % 2 else sample_push(n)

    async def received(self) -> int:
        return len(list(self.folder.iterdir())) if self.folder.exists() else 0

    def failing_message(self, kind: FailureKind, n: int) -> Message | None:
        message = sample_email(n)
        if kind == "transient":  # a directory where the file goes: the write fails (OSError)
            (self.folder / f"{message.delivery_id}.eml").mkdir(parents=True)
            return message
        if kind == "invalid-address":
            return dataclasses.replace(message, to_address="anna@example.org\r\nBcc: x@e.org")
        return None


class SMTPHarness(ChannelHarness):
    entry_point = "email"

    def __init__(self, server: LoopbackSMTPServer) -> None:
        self.server = server

    def make_channel(self) -> Channel[Any]:
        return SMTPChannel(SMTPConfig("127.0.0.1", self.server.port, sender="help@example.com",
                                      local_hostname="client.test"))

    def message(self, n: int) -> EmailMessage:
        return sample_email(n)

    async def received(self) -> int:
        return len(self.server.messages)

    def failing_message(self, kind: FailureKind, n: int) -> Message | None:
        handler = self.server.handler
        assert isinstance(handler, FaultyHandler)
        stage, reply = {"transient": ("RCPT", "451 4.3.0 try again later"),
                        "permanent": ("DATA", "554 5.6.0 content refused"),
                        "invalid-address": ("RCPT", "550 5.1.1 no such mailbox")}[kind]
        handler.fail(stage, reply)
        return self.message(n)

    async def stop_peer(self) -> bool:
        await self.server.stop()
        return True


class APNsHarness(ChannelHarness):
    entry_point = "apns"

    def __init__(self, server: APNsLoopback, key: str) -> None:
        self.server, self.key = server, key

    def make_channel(self) -> Channel[Any]:
        return APNsChannel(config_for(self.server, self.key))

    def message(self, n: int) -> Message:
        return sample_push(n)

    async def received(self) -> int:
        return len(self.server.requests)

    def failing_message(self, kind: FailureKind, n: int) -> Message | None:
        message = sample_push(n, token=f"{n + 1000:064x}")
        if kind == "transient":
            self.server.unavailable(message.token)
        elif kind == "permanent":
            self.server.fail(message.token, 400, "BadMessageId", times=1)
        else:
            self.server.unregistered(message.token)
        return message

    async def stop_peer(self) -> bool:
        await self.server.stop()
        return True


class FCMHarness(ChannelHarness):
    entry_point = "fcm"

    def __init__(self, server: FCMLoopback, key: str) -> None:
        self.server, self.key = server, key

    def make_channel(self) -> Channel[Any]:
        return FCMChannel(FCMConfig(credentials=credentials_for(self.server, self.key),
                                    endpoint_base=self.server.endpoint_base,
                                    verify=self.server.certificate.ca_file, concurrency=4))

    def message(self, n: int) -> Message:
        return sample_push(n, platform="android", token=f"fcm-{n:04d}-" + "x" * 140)

    async def received(self) -> int:
        return len(self.server.sends())

    def failing_message(self, kind: FailureKind, n: int) -> Message | None:
        message = sample_push(n, platform="android", token=f"fcm-fail-{n:04d}-" + "x" * 140)
        if kind == "transient":
            self.server.unavailable(message.token)
        elif kind == "permanent":
            self.server.sender_mismatch(message.token)
        else:
            self.server.unregistered(message.token)
        return message

    async def stop_peer(self) -> bool:
        await self.server.stop()
        return True


class TestMemoryChannel(ChannelContract):
    @pytest.fixture
    def harness(self) -> ChannelHarness:
        return MemoryHarness()


class TestFilesChannel(ChannelContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> ChannelHarness:
        return FilesHarness(tmp_path / "outgoing")


class TestSMTPChannel(ChannelContract):
    @pytest.fixture
    async def harness(self) -> AsyncIterator[ChannelHarness]:
        async with LoopbackSMTPServer(handler=FaultyHandler()) as server:
            yield SMTPHarness(server)


@pytest.fixture(scope="module")
def apns_key() -> tuple[str, bytes]:
    return make_key()


class TestAPNsChannel(ChannelContract):
    @pytest.fixture
    async def harness(self, apns_key: tuple[str, bytes]) -> AsyncIterator[ChannelHarness]:
        async with APNsLoopback(topic=TOPIC, verify_key=apns_key[1], key_id=KEY_ID,
                                team_id=TEAM_ID) as server:
            yield APNsHarness(server, apns_key[0])


@pytest.fixture(scope="module")
def fcm_key() -> tuple[str, bytes]:
    return make_service_key()


class TestFCMChannel(ChannelContract):
    @pytest.fixture
    async def harness(self, fcm_key: tuple[str, bytes]) -> AsyncIterator[ChannelHarness]:
        async with FCMLoopback(project_id=PROJECT, verify_key=fcm_key[1]) as server:
            yield FCMHarness(server, fcm_key[0])
