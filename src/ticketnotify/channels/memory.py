"""In-memory channel for hosts' own tests: keeps what was sent, can be told to fail."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from ..errors import DeliveryError
from ..messages import Message, Receipt
from .base import Channel


class MemoryChannel(Channel):
    """Records every message; ``fail_with`` makes sends for an address raise, for host tests."""

    name: ClassVar[str] = "memory"
    carries: ClassVar[str] = "any"

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.fail_with: dict[str, DeliveryError] = {}
        self._changed = asyncio.Condition()

    async def send(self, message: Message) -> Receipt:
        address = message.to_address if message.kind == "email" else message.token  # type: ignore[union-attr]
        error = self.fail_with.get(address)
        if error is not None:
            raise error
        self.sent.append(message)
        async with self._changed:
            self._changed.notify_all()
        return Receipt(channel=self.name, delivery_id=message.delivery_id,
                       provider_id=f"memory-{len(self.sent)}")

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Message]:
        """Wait until ``count`` messages were sent (no sleeping in tests)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.sent) >= count), timeout)
        return list(self.sent)
