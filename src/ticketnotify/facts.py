"""The facts of one delivery: what an outbox job holds, and its compact versioned form.

Since Outbox v2 a job stores the facts a message is rendered from, not the rendering: the
update's fields the copy shows, the recipient's address, name, locale and time zone, the
brand's name and the links (the guest link already signed). The worker renders them when it
claims the job, so a template or catalog deployed between publish and delivery is what the
recipient gets, and coalescing or withdrawing notices can read the facts later.

The stored form is JSON with short keys and a version, ``{"v": 2, ...}``; a value equal to
its default is left out. ``v`` is also the template version: the templates of a release read
facts of this shape, and a later shape gets a new ``v`` that the decoder of that release
still reads. Jobs without ``v`` are v1 jobs (a rendered message, ``messages.message_from_dict``).

What is settled at publish, and why:
    * Links are filled then, the guest link signed then (its issued-at is the publish time,
      so its expiry counts from when the update happened): every retry carries the same link.
    * The excerpt policy is applied then: an excerpt the message would not show is never
      stored, nor its author or attachment count. A plain-text excerpt is stored already
      cut to the channel's length; a Markdown or HTML one is stored as the host wrote it
      (a cut could fall inside markup) and sanitized when rendered
      (``rendering.excerpts.prepare``), so the worker's ``Renderer(remote_images=)`` holds.
    * A reply-by-email brand's Reply-To and subject tag are filled then (they need the
      ticket's link parameters, which are not stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from .brands import DEFAULT_BRAND

__all__ = ["FACTS_VERSION", "DeliveryFacts", "FactsError", "decode_facts", "encode_facts",
           "event_id_in", "is_facts"]

FACTS_VERSION = 2


class FactsError(ValueError):
    """A stored job's facts cannot be read (a programming error or a damaged row)."""


@dataclass(frozen=True, slots=True)
class DeliveryFacts:
    """Everything one message is rendered from.

    Attributes:
        medium: ``"email"`` or ``"push"``: which templates render it.
        kind: The update kind's value (``"agent_reply"`` ...).
        event_id: The update's event id (push data).
        ticket_key: The ticket's stable key: Message-ID root, Thread-Index, push group.
        ticket_number: The number people see (the key when the host gave none).
        subject: The ticket's subject, ``""`` when the message must not show it.
        excerpt: The reply excerpt (plain text already cut to the channel's length;
            Markdown or HTML as written), or None when the message does not show it.
        status: The new status's display text, or None.
        new_replies: How many replies the update stands for.
        merged_into: Kind ``merged``: the surviving ticket's number.
        occurred_at: When the update happened (aware UTC).
        name: The recipient's name as the copy greets them.
        locale: The recipient's locale as the host gave it (``"sv_SE"``).
        time_zone: The recipient's IANA time zone.
        brand: The brand's name.
        address: The email address, or the push device token.
        to_name: The email's To display name (``""`` for a guest's CC'd address).
        guest: An email to a guest (signed link, guest copy).
        ticket_url: Email: the ticket's link (a guest's carries the signed token). Push: the
            deep link.
        app_url: Email to an account user: the app link, or None.
        reply_to: A reply-by-email brand's filled Reply-To, else ``""``.
        subject_tag: A reply-by-email brand's filled subject tag, else ``""``.
        platform: Push: ``"ios"`` or ``"android"``.
        user_id: Push: the account user's id (dead-device reports).
        excerpt_format: How ``excerpt`` is written: ``"text"``, ``"markdown"`` or ``"html"``.
        author_name: Email: who wrote the excerpt's reply, or None (never stored without
            an excerpt, never for push).
        attachments: Email: how many files the reply carries, 0 when the message does not
            say (the excerpt policy hides it, or none).
    """

    medium: Literal["email", "push"]
    kind: str
    event_id: str
    ticket_key: str
    ticket_number: str
    subject: str
    excerpt: str | None
    status: str | None
    new_replies: int
    merged_into: str | None
    occurred_at: datetime
    name: str
    locale: str
    time_zone: str
    brand: str
    address: str
    ticket_url: str
    to_name: str = ""
    guest: bool = False
    app_url: str | None = None
    reply_to: str = ""
    subject_tag: str = ""
    platform: str = ""
    user_id: str = ""
    excerpt_format: str = "text"
    author_name: str | None = None
    attachments: int = 0


# Short keys: v version, c medium (e/p), k kind, e event id, t ticket key, n number (left out
# when it is the key), s subject, x excerpt, st status, r new replies (left out when 1),
# m merged into, o occurred at (ISO 8601), nm name, l locale, z time zone, b brand (left out
# for the default brand), a address or token, u ticket URL or deep link, tn To name, g guest
# (1), au app URL, rt Reply-To, tg subject tag, p platform, ui user id, xf excerpt format
# (left out for text), an author name, at attachments (left out when 0). Written out by hand,
# not looped over: encoding and decoding run once per job on the publish and delivery paths.
_MEDIUM = {"email": "e", "push": "p"}
_MEDIUM_BACK: dict[str, Literal["email", "push"]] = {"e": "email", "p": "push"}
_TEXT = ("k", "e", "t", "n", "l", "z", "b", "a", "u")
_EXCERPT_FORMATS = ("text", "markdown", "html")


def encode_facts(facts: DeliveryFacts) -> dict[str, Any]:
    """The compact, JSON-able stored form (``{"v": 2, "c": "e", "k": ..., ...}``).

    Args:
        facts: One delivery's facts.

    Returns:
        A dict of short keys; values equal to their default are left out, and so is the
        ticket number when it equals the key.
    """
    out: dict[str, Any] = {
        "v": FACTS_VERSION, "c": _MEDIUM[facts.medium], "k": facts.kind, "e": facts.event_id,
        "t": facts.ticket_key, "o": facts.occurred_at.astimezone(UTC).isoformat(),
        "l": facts.locale, "z": facts.time_zone, "a": facts.address, "u": facts.ticket_url,
    }
    if facts.ticket_number != facts.ticket_key:
        out["n"] = facts.ticket_number
    if facts.brand != DEFAULT_BRAND:
        out["b"] = facts.brand
    if facts.new_replies != 1:
        out["r"] = facts.new_replies
    if facts.guest:
        out["g"] = 1
    if facts.attachments:
        out["at"] = facts.attachments
    if facts.excerpt_format != "text":
        out["xf"] = facts.excerpt_format
    for key, optional in (("x", facts.excerpt), ("st", facts.status),
                          ("m", facts.merged_into), ("au", facts.app_url),
                          ("an", facts.author_name)):
        if optional is not None:
            out[key] = optional
    for key, text in (("s", facts.subject), ("nm", facts.name), ("tn", facts.to_name),
                      ("rt", facts.reply_to), ("tg", facts.subject_tag),
                      ("p", facts.platform), ("ui", facts.user_id)):
        if text:
            out[key] = text
    return out


def is_facts(stored: dict[str, Any]) -> bool:
    """True for a v2 job (facts), False for a v1 job (a rendered message)."""
    return "v" in stored


def event_id_in(stored: dict[str, Any]) -> str | None:
    """The event id a stored job's facts name, without decoding the rest (log fields).

    Args:
        stored: A job's stored form (``Job.message``).

    Returns:
        The event id of v2 facts, or None for a v1 job (a rendered message has none) or
        facts that lack it.
    """
    if not is_facts(stored):
        return None
    found = stored.get("e")
    return found if isinstance(found, str) else None


def decode_facts(stored: dict[str, Any]) -> DeliveryFacts:
    """Read a job's stored facts back.

    Args:
        stored: What ``encode_facts`` made (as the outbox returns it).

    Returns:
        The ``DeliveryFacts``.

    Raises:
        FactsError: an unknown version or medium, or a required fact missing or of the
            wrong type; retrying cannot help (the worker dead-letters such a job).
    """
    version = stored.get("v")
    if version != FACTS_VERSION:
        raise FactsError(f"facts version {version!r} is not one this release reads "
                         f"({FACTS_VERSION}): deliver it with a newer ticketnotify")
    medium = _MEDIUM_BACK.get(stored.get("c", ""))
    if medium is None:
        raise FactsError(f"unknown medium {stored.get('c')!r}")
    get = stored.get
    try:
        key = stored["t"]
        facts = DeliveryFacts(
            medium, stored["k"], stored["e"], key, get("n", key), get("s", ""), get("x"),
            get("st"), get("r", 1), get("m"), datetime.fromisoformat(stored["o"]),
            get("nm", ""), stored["l"], stored["z"], get("b", DEFAULT_BRAND), stored["a"],
            stored["u"], get("tn", ""), bool(get("g", 0)), get("au"), get("rt", ""),
            get("tg", ""), get("p", ""), get("ui", ""), get("xf", "text"), get("an"),
            get("at", 0))
    except KeyError as exc:
        raise FactsError(f"fact {exc} is missing") from exc
    except (TypeError, ValueError) as exc:
        raise FactsError(f"unreadable facts: {exc}") from exc
    if (facts.occurred_at.tzinfo is None or type(facts.new_replies) is not int
            or type(facts.attachments) is not int):
        raise FactsError("occurred_at must carry its offset, new_replies and attachments be "
                         "numbers")
    if facts.excerpt_format not in _EXCERPT_FORMATS:
        raise FactsError(f"unknown excerpt format {facts.excerpt_format!r}")
    for short in _TEXT:
        if type(stored.get(short, "")) is not str:
            raise FactsError(f"fact {short!r} must be text, not {type(stored[short]).__name__}")
    return facts
