"""Worker(outbox, channels) refuses unusable channel mappings at construction."""

from __future__ import annotations

import logging

import pytest

from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.errors import ConfigurationError
from ticketnotify.outbox.memory import MemoryOutbox
from ticketnotify.worker import Worker


def test_list_of_channels_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="channels must be a mapping"):
        Worker(MemoryOutbox(), [MemoryChannel()])  # type: ignore[arg-type]


def test_non_channel_value_names_the_entry() -> None:
    with pytest.raises(ConfigurationError, match=r"channels\['email'\] must be a .*Channel"):
        Worker(MemoryOutbox(), {"email": object()})  # type: ignore[dict-item]


def test_typo_key_names_the_entry_and_the_choices() -> None:
    with pytest.raises(ConfigurationError, match=r"channels\['mail'\].*email"):
        Worker(MemoryOutbox(), {"mail": MemoryChannel()})


def test_routed_and_entry_point_names_are_accepted() -> None:
    worker = Worker(MemoryOutbox(), {"email": MemoryChannel(), "fcm": MemoryChannel(),
                                     "memory": MemoryChannel()})
    assert set(worker.channels) == {"email", "fcm", "memory"}


async def test_drain_warns_once_about_routed_channels_it_lacks(
        caplog: pytest.LogCaptureFixture) -> None:
    worker = Worker(MemoryOutbox(), {"email": MemoryChannel()})
    with caplog.at_level(logging.WARNING, logger="ticketnotify.worker"):
        await worker.drain()
        await worker.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "apns, fcm" in warnings[0] and "outbox retry --channel" in warnings[0]


async def test_full_worker_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    worker = Worker(MemoryOutbox(), {n: MemoryChannel() for n in ("email", "apns", "fcm")})
    with caplog.at_level(logging.WARNING, logger="ticketnotify.worker"):
        await worker.drain()
        await worker.aclose()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
