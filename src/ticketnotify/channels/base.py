"""The adapter contract: declare the message type carried, send it, close connections."""

from __future__ import annotations

from abc import ABC, abstractmethod
from importlib.metadata import entry_points
from typing import ClassVar

from ..errors import ConfigurationError
from ..messages import Message, Receipt

ENTRY_POINT_GROUP = "ticketnotify.channels"


class Channel(ABC):
    """Send one message or raise Transient/Permanent/InvalidAddress delivery errors.

    Adapters open connections lazily, reuse them across ``send`` calls and close them in
    ``aclose``; retry policy belongs to the worker, never to the adapter.
    """

    name: ClassVar[str]
    carries: ClassVar[str]  # "email" or "push": the ``kind`` of message accepted

    @classmethod
    def accepts(cls, message: Message) -> bool:
        """Whether this channel carries ``message``'s kind; the worker checks it once per job."""
        return cls.carries in ("any", message.kind)

    @abstractmethod
    async def send(self, message: Message) -> Receipt:
        """Deliver ``message`` once; raise a ``DeliveryError`` subclass on failure."""

    async def aclose(self) -> None:
        """Release connections; the default adapter holds none."""

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def load_channel_class(name: str) -> type[Channel]:
    """Find a third-party adapter registered under the ``ticketnotify.channels`` entry points."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Channel)):
                raise ConfigurationError(f"entry point {name!r} is not a Channel subclass")
            return cls
    raise ConfigurationError(f"no channel named {name!r} in entry points {ENTRY_POINT_GROUP!r}")
