"""The code email: rendered like every other message and sent at once through a channel.

A web app calls ``send_code`` from whatever loop serves the request: asgiref's
``async_to_sync`` makes a fresh loop per call and closes it, uvicorn has one per worker,
a sync view has none. A channel's connections belong to the loop that opened them (an
aiosmtplib connection pooled on one loop raised "future belongs to a different loop" on
the next; issue 11.6), so ``EmailCodeSender`` keeps its channel on one private loop in a
daemon thread and hands every send to it. Connections are reused across requests, and
no caller's loop ever touches them.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..channels.base import Channel
from ..errors import ConfigurationError
from ..messages import EmailMessage

if TYPE_CHECKING:
    from ..rendering.environment import RenderConfig

TEMPLATE = "verification_code"
T = TypeVar("T")


class RenderedEmailLike(Protocol):
    """The parts of a rendered email the code sender puts in an ``EmailMessage``."""

    @property
    def subject(self) -> str:
        """The subject line."""
    @property
    def preheader(self) -> str:
        """The inbox preview text."""
    @property
    def html(self) -> str:
        """The HTML part."""
    @property
    def text(self) -> str:
        """The plain-text part."""


class EmailRenderer(Protocol):
    """What the code sender needs from ``ticketnotify.rendering.Renderer``."""

    def render_email(
        self, template: str, locale: str, time_zone: str, context: dict[str, Any]
    ) -> RenderedEmailLike:
        """Render ``template`` (e.g. ``"verification_code"``) in ``locale``."""


class CodeSender(Protocol):
    """Delivers one code email now (codes are time-critical, so not via the outbox).

    Any exception it raises becomes ``CodeDeliveryError`` for ``send_code``'s caller.
    It is awaited on whatever loop the host calls from (a fresh one per sync
    ``send_code``): keep no loop-bound state in it, or hand the work to a loop of your
    own as ``EmailCodeSender`` does.
    """

    async def __call__(
        self, *, email: str, locale: str, time_zone: str, code: str, minutes: int, ticket_id: str,
        ticket_number: str | None = None,
    ) -> None:
        """Send ``code`` (valid ``minutes`` minutes) for ``ticket_id`` to ``email`` now.

        ``ticket_number`` (the number people see) is passed only when the host gave one;
        show it instead of ``ticket_id`` then.
        """


class LoopThread:
    """An event loop of its own in a daemon thread, started on first use, restartable."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        """The running private loop (started now if it is not)."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=_serve, args=(loop,), name=self._name,
                                          daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def on_it(self) -> bool:
        """True when called from the private loop's own thread."""
        return self._thread is threading.current_thread()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the private loop from any loop; cancelling the caller cancels it."""
        loop = self.loop()
        if self.on_it():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the private loop and block this (non-loop) thread for its result."""
        loop = self.loop()
        if self.on_it():
            coro.close()
            raise RuntimeError("run_sync called on the sender's own loop; await run() instead")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def stop(self) -> None:
        """Stop the loop and join its thread; the next ``loop()`` starts a fresh one."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not threading.current_thread():
                thread.join()


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


class EmailCodeSender:
    """A ``CodeSender`` that renders the ``verification_code`` template and sends it now.

    Not through the outbox: a code is useless after minutes, and the guest is waiting
    on the page. A delivery error reaches ``send_code``'s caller, who turns it into
    ``CodeDeliveryError`` ("we could not send the code, try again").

    The sender owns ``channel`` from now on: every send, and its closing, runs on the
    sender's private event loop (a daemon thread started on the first send), so it works
    from any number of event loops and threads and still reuses connections. Give it a
    channel of its own (not the one a ``Worker`` uses) and close the sender, not the
    channel: ``await sender.aclose()``, ``sender.close()`` or ``async with``.

    Args:
        renderer: the same ``Renderer`` the ``Notifier`` uses, so the code email speaks
            the host's catalogs and templates too; a ``RenderConfig`` here means
            ``Renderer.shared(config)`` (the one object per configuration).
        channel: the email channel to send through, e.g. ``SMTPChannel(config)``.
        template: the template to render; ``"verification_code"`` ships in English and
            Swedish and gets ``code``, ``minutes``, ``ticket_id`` and ``ticket_number``
            (the number people see, else the id) in its context.

    Raises:
        ConfigurationError: ``renderer`` is neither a renderer nor a ``RenderConfig``, or
            the config's folders are missing (from ``Renderer.shared``).
        CatalogError: a catalog of the config does not parse (``path``, ``line``).
    """

    def __init__(
        self, renderer: EmailRenderer | RenderConfig, channel: Channel, *, template: str = TEMPLATE
    ) -> None:
        if not hasattr(renderer, "render_email"):  # a RenderConfig; rendering loads lazily
            from ..rendering import RenderConfig, Renderer

            if not isinstance(renderer, RenderConfig):
                raise ConfigurationError(
                    f"renderer must be a Renderer or RenderConfig, not {type(renderer).__name__}")
            renderer = Renderer.shared(renderer)
        self.renderer: EmailRenderer = renderer
        self.channel = channel
        self.template = template
        self._home = LoopThread("ticketnotify-code-sender")

    async def __call__(
        self, *, email: str, locale: str, time_zone: str, code: str, minutes: int, ticket_id: str,
        ticket_number: str | None = None,
    ) -> None:
        """Render and send one code email; await it from any event loop.

        Args:
            email: the guest's address, as the host has it on the ticket.
            locale: the guest's locale, e.g. ``"sv_SE"``.
            time_zone: IANA time zone name for dates in the email.
            code: the six digits.
            minutes: how long the code is valid, in minutes (shown in the email).
            ticket_id: the ticket the code opens (its key).
            ticket_number: the number people see, shown in the subject and body; ``None``
                shows ``ticket_id``.

        Raises:
            DeliveryError: what the channel raised (``TransientDeliveryError``,
                ``PermanentDeliveryError``, ``InvalidAddressError``); ``send_code`` wraps it.
        """
        await self._home.run(self._send(email=email, locale=locale, time_zone=time_zone,
                                        code=code, minutes=minutes, ticket_id=ticket_id,
                                        ticket_number=ticket_number))

    async def _send(
        self, *, email: str, locale: str, time_zone: str, code: str, minutes: int, ticket_id: str,
        ticket_number: str | None = None,
    ) -> None:
        rendered = self.renderer.render_email(
            self.template, locale, time_zone,
            {"code": code, "minutes": minutes, "ticket_id": ticket_id,
             "ticket_number": ticket_number or ticket_id},
        )
        # The MIME builder threads by ``EmailMessage.ticket_id``: a one-off id gives the
        # code email a thread of its own, so it never sits in (or is collapsed into) the
        # ticket's update conversation. Its own subject is the topic, never the filer's.
        delivery_id = f"guest-code-{secrets.token_hex(8)}"
        await self.channel.send(EmailMessage(
            delivery_id=delivery_id, ticket_id=delivery_id,
            ticket_subject=rendered.subject, locale=locale, to_address=email,
            subject=rendered.subject, html=rendered.html, text=rendered.text,
            preheader=rendered.preheader,
        ))

    async def aclose(self) -> None:
        """Close the channel's connections on the sender's loop, then stop that loop.

        Safe to call more than once; a later send starts the loop (and connects) again.
        """
        await self._home.run(self.channel.aclose())
        await asyncio.to_thread(self._home.stop)

    def close(self) -> None:
        """``aclose`` for sync code (not from inside a running event loop: await ``aclose``)."""
        self._home.run_sync(self.channel.aclose())
        self._home.stop()

    async def __aenter__(self) -> EmailCodeSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"EmailCodeSender(channel={type(self.channel).__name__}, template={self.template!r})"
