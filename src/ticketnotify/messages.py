"""Channel-neutral rendered messages: what the worker renders a job into and adapters send.

Jobs stored by the v1 release hold these (``to_dict``) and are sent as stored
(``message_from_dict``); since Outbox v2 a job holds facts (``ticketnotify.facts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """A rendered email; the SMTP adapter adds threading and MIME structure.

    Attributes:
        ticket_id: the ticket's stable key: it roots the thread (References, Thread-Index).
        subject: the subject line, constant for a ticket (with the brand's subject tag).
        sender: the From address; ``""``: the channel's configured sender.
        sender_name: the From display name; ``None``: the channel's configured name.
        envelope_sender: the SMTP MAIL FROM; ``""``: the channel's configured sender.
        reply_to: the Reply-To address; ``""``: the channel's configured one, if any.
    """

    kind: ClassVar[str] = "email"
    delivery_id: str
    ticket_id: str
    ticket_subject: str
    locale: str
    to_address: str
    subject: str
    html: str
    text: str
    to_name: str = ""
    preheader: str = ""
    sender: str = ""
    sender_name: str | None = None
    envelope_sender: str = ""
    reply_to: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form for the outbox (flat fields: no deep copy on the publish path)."""
        return {"kind": self.kind, **{name: getattr(self, name) for name in _EMAIL_FIELDS}}


@dataclass(frozen=True, slots=True)
class PushMessage:
    """A rendered push for one device; ``thread_id``/``collapse_id`` group a ticket's pushes."""

    kind: ClassVar[str] = "push"
    delivery_id: str
    ticket_id: str
    locale: str
    platform: str
    token: str
    user_id: str
    title: str
    body: str
    deep_link: str
    thread_id: str
    collapse_id: str
    data: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form for the outbox; ``data`` is copied so the message stays frozen."""
        values = {name: getattr(self, name) for name in _PUSH_FIELDS}
        values["data"] = dict(self.data)
        return {"kind": self.kind, **values}


_EMAIL_FIELDS = tuple(f.name for f in fields(EmailMessage))
_PUSH_FIELDS = tuple(f.name for f in fields(PushMessage))

Message = EmailMessage | PushMessage


def message_from_dict(data: dict[str, Any]) -> Message:
    """Rebuild a stored message; unknown kinds are a programming error, not bad input."""
    values = {k: v for k, v in data.items() if k != "kind"}
    if data.get("kind") == "email":
        return EmailMessage(**values)
    if data.get("kind") == "push":
        return PushMessage(**values)
    raise ValueError(f"unknown message kind {data.get('kind')!r}")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a channel reports for a delivered message (provider id, peer reply)."""

    channel: str
    delivery_id: str
    provider_id: str = ""
    detail: str = ""
