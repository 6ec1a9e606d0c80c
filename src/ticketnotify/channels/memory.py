"""In-memory channel for hosts' own tests: keeps what was sent, can be told to fail."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from typing_extensions import override

from ..errors import DeliveryError
from ..messages import EmailMessage, Message, Receipt
from .base import Channel


class MemoryChannel(Channel[Message]):
    """Records every message; ``fail_with`` makes sends for an address raise, for host tests.

    Attributes:
        sent: Every delivered message, oldest first.
        fail_with: Address (email address or device token) → the error ``send`` raises
            for it instead of delivering.
    """

    name: ClassVar[str] = "memory"

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.fail_with: dict[str, DeliveryError] = {}
        self._changed = asyncio.Condition()

    @override
    async def deliver(self, message: Message) -> Receipt:
        address = message.to_address if isinstance(message, EmailMessage) else message.token
        error = self.fail_with.get(address)
        if error is not None:
            raise error
        self.sent.append(message)
        async with self._changed:
            self._changed.notify_all()
        return Receipt(channel=self.name, delivery_id=message.delivery_id,
                       provider_id=f"memory-{len(self.sent)}")

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Message]:
        """Wait until ``count`` messages were sent (no sleeping in tests).

        Args:
            count: How many messages in all must have been sent.
            timeout: Seconds to wait at most.

        Returns:
            A copy of ``sent``.

        Raises:
            TimeoutError: Fewer than ``count`` were sent within ``timeout`` seconds.
        """
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.sent) >= count), timeout)
        return list(self.sent)
