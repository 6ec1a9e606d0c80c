"""The adapter contract: declare the message class carried, deliver it, close connections.

An adapter subclasses ``Channel[EmailMessage]``, ``Channel[PushMessage]`` or
``Channel[Message]`` (both), which sets ``carries``; it implements ``deliver`` (and
``aclose`` if it holds connections). ``send`` is the one entry point callers use: it refuses
a message of a kind the channel does not carry, in one wording for every adapter, and hands
the rest to ``deliver``. docs/adapters.md is the guide for writing one.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from importlib.metadata import entry_points
from types import UnionType
from typing import Any, ClassVar, Generic, get_args, get_origin

from typing_extensions import TypeVar

from ..errors import ConfigurationError, PermanentDeliveryError
from ..messages import EmailMessage, Message, PushMessage, Receipt

ENTRY_POINT_GROUP = "ticketnotify.channels"

# The default lets code that holds channels of any kind write plain ``Channel``.
M = TypeVar("M", bound=Message, default=Any)

# The string form of ``carries`` used before it named classes; still understood.
_LEGACY_CARRIES: dict[str, tuple[type[Message], ...]] = {
    "email": (EmailMessage,), "push": (PushMessage,), "any": (EmailMessage, PushMessage),
}


class Channel(ABC, Generic[M]):
    """Deliver one message or raise Transient/Permanent/InvalidAddress delivery errors.

    Subclass ``Channel[EmailMessage]``, ``Channel[PushMessage]`` or ``Channel[Message]``;
    ``carries`` is derived from that argument (or set it to a tuple of message classes).
    Adapters open connections lazily, reuse them across ``send`` calls and close them in
    ``aclose``; retry policy belongs to the worker, never to the adapter.

    Attributes:
        name: The channel name jobs are routed to (``"email"``, ``"apns"`` ...).
        carries: The message classes this channel delivers, e.g. ``(PushMessage,)``.
    """

    name: ClassVar[str]
    carries: ClassVar[tuple[type[Message], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("carries")
        if isinstance(declared, str):  # the old contract: "email", "push" or "any"
            if declared not in _LEGACY_CARRIES:
                raise ConfigurationError(f"{cls.__name__}.carries = {declared!r}: name the "
                                         "message classes, e.g. (EmailMessage,)")
            warnings.warn(f"{cls.__name__}.carries = {declared!r} is deprecated; subclass "
                          "Channel[EmailMessage] or Channel[PushMessage] instead",
                          DeprecationWarning, stacklevel=3)
            cls.carries = _LEGACY_CARRIES[declared]
        elif isinstance(declared, type):
            cls.carries = (declared,)
        elif declared is None:
            derived = _carried_by(cls)
            if derived:
                cls.carries = derived
        if "send" in cls.__dict__ and getattr(cls.deliver, "__isabstractmethod__", False):
            # An adapter written to the old contract overrides ``send`` itself; let its
            # ``send`` be its ``deliver`` so the class is not abstract.
            cls.deliver = _legacy_deliver  # type: ignore[method-assign]

    @classmethod
    def accepts(cls, message: Message) -> bool:
        """Whether this channel carries ``message``'s class; the worker checks it once per job.

        Args:
            message: Any rendered message.

        Returns:
            True when ``message`` is an instance of one of the classes in ``carries``.
        """
        return isinstance(message, cls.carries)

    async def send(self, message: M) -> Receipt:
        """Deliver ``message`` once (no retries inside; the worker owns retry policy).

        Args:
            message: A message of a class in ``carries``.

        Returns:
            A ``Receipt`` with this channel's ``name``, the message's ``delivery_id``, the
            peer's id for it (``provider_id``: APNs ``apns-id``, FCM message name, SMTP
            Message-ID ...) and the peer's reply (``detail``).

        Raises:
            TransientDeliveryError: Retry later; read ``retry_after`` (seconds, or None)
                and ``code``. ``DeliveryTimeoutError`` (also a ``TimeoutError``) when the
                peer did not answer within the adapter's timeout (seconds).
            InvalidAddressError: The address or device token is dead: give up and tell the
                host (``code`` is the peer's reason).
            PermanentDeliveryError: Retrying will not help (bad configuration or message,
                or a message kind this channel does not carry: ``code="wrong-kind"``).
        """
        if not self.accepts(message):
            kinds = " or ".join(sorted({c.kind for c in self.carries})) or "no"
            raise PermanentDeliveryError(
                f"the {self.name} channel carries {kinds} messages, not {message.kind}; "
                f"check the routing (route {message.kind} messages to a channel that "
                "carries them)", code="wrong-kind")
        return await self.deliver(message)

    @abstractmethod
    async def deliver(self, message: M) -> Receipt:
        """The adapter's part of ``send``: ``message`` is already of a carried class.

        Raises the same errors as ``send``; anything else is an adapter bug that the
        worker logs and retries.
        """

    async def aclose(self) -> None:
        """Release connections and threads; safe to call twice.

        After ``aclose`` a ``send`` opens new connections (the adapters in this package
        all do), so closing is also how a host drops connections it suspects are stale.
        The default holds nothing.
        """

    async def __aenter__(self) -> Channel[M]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _legacy_deliver(self: Channel[Any], message: Message) -> Receipt:
    return await type(self).send(self, message)


def _carried_by(cls: type) -> tuple[type[Message], ...]:
    """The message classes of ``Channel[X]`` among ``cls``'s generic bases, if any."""
    for base in getattr(cls, "__orig_bases__", ()):
        if get_origin(base) is Channel:
            (argument,) = get_args(base)
            if isinstance(argument, UnionType) or get_origin(argument) is not None:
                return tuple(a for a in get_args(argument) if isinstance(a, type))
            if isinstance(argument, type):
                return (argument,)
    return ()


def load_channel_class(name: str) -> type[Channel[Any]]:
    """Find an adapter registered under the ``ticketnotify.channels`` entry points.

    Args:
        name: The entry point's name, e.g. ``"email"`` or a third party's ``"sms"``.

    Returns:
        The ``Channel`` subclass the entry point names (not an instance).

    Raises:
        ConfigurationError: No entry point has that name, or it is not a ``Channel``.
    """
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Channel)):
                raise ConfigurationError(f"entry point {name!r} is not a Channel subclass")
            return cls
    raise ConfigurationError(f"no channel named {name!r} in entry points {ENTRY_POINT_GROUP!r}")
