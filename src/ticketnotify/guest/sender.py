"""The code email: rendered like every other message and sent at once through a channel."""

from __future__ import annotations

import secrets
from typing import Any, Protocol

from ..channels.base import Channel
from ..messages import EmailMessage

TEMPLATE = "verification_code"


class RenderedEmailLike(Protocol):
    """The parts of a rendered email the code sender puts in an ``EmailMessage``."""

    @property
    def subject(self) -> str: ...
    @property
    def preheader(self) -> str: ...
    @property
    def html(self) -> str: ...
    @property
    def text(self) -> str: ...


class EmailRenderer(Protocol):
    """What the code sender needs from ``ticketnotify.rendering.Renderer``."""

    def render_email(
        self, template: str, locale: str, time_zone: str, context: dict[str, Any]
    ) -> RenderedEmailLike: ...


class EmailCodeSender:
    """A ``CodeSender`` that renders the ``verification_code`` template and sends it now.

    Not through the outbox: a code is useless after minutes, and the guest is waiting
    on the page. A delivery error reaches ``send_code``'s caller, who can say "try again".
    """

    def __init__(self, renderer: EmailRenderer, channel: Channel, *, template: str = TEMPLATE):
        self.renderer = renderer
        self.channel = channel
        self.template = template

    async def __call__(
        self, *, email: str, locale: str, time_zone: str, code: str, minutes: int, ticket_id: str
    ) -> None:
        rendered = self.renderer.render_email(
            self.template, locale, time_zone,
            {"code": code, "minutes": minutes, "ticket_id": ticket_id},
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
