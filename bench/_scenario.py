"""The one email every system in bench/peers.py and bench/latency.py sends.

It is the account user's ``agent_reply`` from ``examples/events.json`` (Swedish, sv_SE),
email only (the example's devices are dropped, so no push jobs). ticketnotify renders it;
the peers get templates made from that rendering with the per-message values turned back
into placeholders, so every system puts the same words and markup on the wire:

- ``peer.html`` / ``peer.txt`` (Jinja2, fastapi-mail): the HTML as ticketnotify sends it,
  CSS already inlined (what a team hand-inlines once);
- ``django_peer.html`` / ``django_peer.txt`` (Django, the Celery task): the same markup
  with the layout's ``<style>`` sheet instead of inline styles, so premailer inlines it
  at send time, as the issue's Celery peer does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from functools import cache
from pathlib import Path

from ticketnotify import (
    AccountUser,
    EmailMessage,
    Links,
    MemoryChannel,
    MemoryOutbox,
    Notifier,
    Ticket,
    TicketUpdate,
    Worker,
)
from ticketnotify.examples import load_examples

ROOT = Path(__file__).resolve().parents[1]
SENDER = "support@helpdesk.example"
LINKS = Links(web_ticket_url="https://help.example.com/tickets/{ticket_id}",
              app_ticket_url="examplehelp://tickets/{ticket_id}")
BACKGROUND, ACCENT = "#f3f4f6", "#1d4ed8"  # the default brand's look, as the shipped CSS uses


@cache
def example_update() -> TicketUpdate:
    """The account user's agent reply from examples/events.json, email only."""
    for update in load_examples(ROOT / "examples" / "events.json"):
        if update.kind.value == "agent_reply" and isinstance(update.recipient, AccountUser):
            return dataclasses.replace(update, recipient=dataclasses.replace(update.recipient, devices=()))
    raise RuntimeError("examples/events.json has no account agent_reply event")


def address(tag: str, n: int) -> str:
    """The n-th message's recipient; the sink reports it back per received file."""
    return f"{tag}-{n}@example.se"


def update(tag: str, n: int) -> TicketUpdate:
    """The example update for ticket 20000+n and recipient ``address(tag, n)``."""
    base = example_update()
    assert isinstance(base.recipient, AccountUser)
    return dataclasses.replace(
        base, event_id=f"{tag}-{n}",
        ticket=Ticket(id=str(20_000 + n), subject=base.ticket.subject),
        recipient=dataclasses.replace(base.recipient, email=address(tag, n)),
    )


@cache
def rendered() -> EmailMessage:
    """The example as ticketnotify renders it (through Notifier, the outbox and a worker)."""
    outbox, channel = MemoryOutbox(), MemoryChannel()
    Notifier(outbox, links=LINKS, guest_links=None).publish(example_update())

    async def deliver() -> None:
        worker = Worker(outbox, {"email": channel})
        await worker.drain()
        await worker.aclose()

    asyncio.run(deliver())
    (message,) = channel.sent
    assert isinstance(message, EmailMessage)
    return message


def context(n: int) -> dict[str, str]:
    """Per-message template values for the peers (ticket n, as ``update(tag, n)``)."""
    base = example_update()
    number = str(20_000 + n)
    return {
        "name": base.recipient.name or "", "ticket_subject": base.ticket.subject,
        "ticket_number": number, "excerpt": base.excerpt or "",
        "ticket_url": LINKS.web_ticket_url.format(ticket_id=number),
        "app_url": (LINKS.app_ticket_url or "").format(ticket_id=number),
        "updated": "24 november 2026 09:30 CET",
    }


def subject(n: int) -> str:
    """The subject line ticketnotify gives ticket n."""
    return rendered().subject.replace(example_update().ticket.id, str(20_000 + n))


def _templated(text: str) -> str:
    """Turn the example's values back into ``{{ placeholders }}`` (Jinja2 and Django alike)."""
    values = context(0)
    number = example_update().ticket.id
    pairs = [
        (values["ticket_url"].replace("20000", number), "{{ ticket_url }}"),
        (values["app_url"].replace("20000", number), "{{ app_url }}"),
        (values["excerpt"], "{{ excerpt }}"), (values["ticket_subject"], "{{ ticket_subject }}"),
        (values["name"], "{{ name }}"), (values["updated"], "{{ updated }}"),
        (number, "{{ ticket_number }}"),
    ]
    for literal, placeholder in pairs:
        if literal not in text:
            raise RuntimeError(f"the rendered example no longer contains {literal!r}")
        text = text.replace(literal, placeholder)
    return text


def _stylesheet() -> str:
    """The shipped layout's CSS, with the default brand's colours filled in."""
    layout = (ROOT / "src" / "ticketnotify" / "templates" / "email" / "layout.html").read_text("utf-8")
    match = re.search(r"<style>.*?</style>", layout, re.DOTALL)
    if match is None:
        raise RuntimeError("templates/email/layout.html has no <style> block")
    css = match.group(0).replace("{{ background_color }}", BACKGROUND)
    return css.replace("{{ accent_color }}", ACCENT)


def write_templates(folder: Path) -> Path:
    """Write the peers' templates into ``folder`` and return it."""
    message = rendered()
    html, text = _templated(message.html), _templated(message.text)
    (folder / "peer.html").write_text(html, "utf-8")
    (folder / "peer.txt").write_text(text, "utf-8")
    bare = re.sub(r"""\sstyle=("[^"]*"|'[^']*')""", "", html)
    bare = re.sub(r"<style>.*?</style>", lambda _m: _stylesheet(), bare, count=1, flags=re.DOTALL)
    (folder / "django_peer.html").write_text(bare, "utf-8")
    (folder / "django_peer.txt").write_text(text, "utf-8")
    return folder
