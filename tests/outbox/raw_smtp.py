"""A lean SMTP channel for the scale-out test, loaded by ``ticketnotify worker --channels``.

It speaks real SMTP to the sink but skips MIME building, which costs the full
``SMTPChannel`` ~5 ms of CPU per message: with three workers and the sink sharing two
cores, that would make the claim-protocol test take minutes. The crash test uses the
full ``SMTPChannel``.
"""

from __future__ import annotations

import asyncio
import os
from typing import ClassVar

import aiosmtplib

from ticketnotify.channels.base import Channel
from ticketnotify.errors import TransientDeliveryError
from ticketnotify.messages import Message, Receipt


class RawSMTPChannel(Channel):
    """One reused SMTP connection; the delivery id travels in the Message-ID."""

    name: ClassVar[str] = "email"
    carries: ClassVar[str] = "email"

    def __init__(self, port: int) -> None:
        self.port = port
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    async def send(self, message: Message) -> Receipt:
        body = (f"Message-ID: <{message.delivery_id}@example.com>\r\nSubject: update\r\n\r\n"
                "An agent replied.\r\n").encode()
        async with self._lock:
            try:
                if self._client is None:
                    self._client = aiosmtplib.SMTP(hostname="127.0.0.1", port=self.port)
                    await self._client.connect()
                await self._client.sendmail("notify@example.com", ["user@example.com"], body)
            except aiosmtplib.SMTPException as exc:
                self._client = None
                raise TransientDeliveryError(f"sink refused: {exc}") from exc
        return Receipt(channel=self.name, delivery_id=message.delivery_id)

    async def aclose(self) -> None:
        if self._client is not None and self._client.is_connected:
            await self._client.quit()
        self._client = None


def channels() -> dict[str, Channel]:
    """Factory named on the worker's command line; the sink's port comes from the test."""
    return {"email": RawSMTPChannel(int(os.environ["SINK_PORT"]))}
