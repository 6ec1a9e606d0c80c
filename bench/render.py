"""Complete email renders per second (subject + inlined HTML + text) for one recipient.

Baseline, measured in the same run: render the same templates with Jinja2 and inline the CSS
with premailer for every message, the straightforward way. ``Renderer`` inlines once per
template × locale × variant and then only substitutes escaped values.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from ticketnotify.events import AccountUser, Device, Platform, Ticket, TicketUpdate, UpdateKind
from ticketnotify.rendering import Renderer
from ticketnotify.rendering.branding import brand_look, brand_values
from ticketnotify.rendering.compiled import inline_css
from ticketnotify.rendering.environment import LocaleTemplates
from ticketnotify.rendering.values import format_when

TICKET_URL = "https://support.example.com/tickets/12345"
APP_URL = "examplesupport://tickets/12345"


def _update(i: int) -> TicketUpdate:
    return TicketUpdate(
        event_id=f"bench-{i}",
        ticket=Ticket(id=str(12345 + i), subject=f"Insättning syns inte på kontot <{i}> & mer"),
        kind=UpdateKind.AGENT_REPLY,
        recipient=AccountUser(
            user_id="u-1", email="anna@example.se", name="Anna Lindqvist", locale="sv_SE",
            time_zone="Europe/Stockholm", devices=(Device(Platform.IOS, "a" * 64),),
        ),
        occurred_at=datetime(2026, 11, 24, 8, 30, i % 60, tzinfo=UTC),
        excerpt=f"Hej Anna! Vi har hittat din insättning nummer {i} & den syns inom en timme.",
        new_replies=1 + i % 3,
    )


def _fast(renderer: Renderer, updates: list[TicketUpdate], n: int) -> float:
    render = renderer.render_update_email
    count = len(updates)
    started = time.perf_counter()
    for i in range(n):
        email = render(updates[i % count], ticket_url=TICKET_URL, app_url=APP_URL,
                       guest=False, include_excerpt=True)
    elapsed = time.perf_counter() - started
    assert "Ditt supportärende" in email.subject and "style=" in email.html
    return n / elapsed


def _baseline(templates: LocaleTemplates, updates: list[TicketUpdate], n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        u = updates[i % len(updates)]
        ctx: dict[str, Any] = {
            "ticket_id": u.ticket.id, "ticket_subject": u.ticket.subject, "excerpt": u.excerpt,
            "status": u.status, "new_replies": u.new_replies, "name": u.recipient.name,
            "occurred_at": format_when(u.occurred_at, u.recipient.time_zone, u.recipient.locale),
            "guest": False, "ticket_url": TICKET_URL, "app_url": APP_URL,
            "author_name": None, "attachments": 0, "excerpt_html": None,
            **brand_values(None), **dict(brand_look(None)),
        }
        subject = " ".join(templates.render("email/agent_reply/subject.txt", ctx).split())
        preheader = " ".join(templates.render("email/agent_reply/preheader.txt", ctx).split())
        html = inline_css(templates.render(
            "email/agent_reply/body.html", {**ctx, "subject": subject, "preheader": preheader}))
        text = templates.render("email/agent_reply/body.txt", ctx)
    elapsed = time.perf_counter() - started
    assert "Ditt supportärende" in subject and "style=" in html and text
    return n / elapsed


def run(quick: bool) -> list[dict[str, Any]]:
    """Measure both ways on one core; return the ``render_emails_per_s`` figure."""
    renderer = Renderer()
    updates = [_update(i) for i in range(64)]
    _fast(renderer, updates, 200)  # compile the variants (plural forms) before timing
    fast = max(_fast(renderer, updates, 20_000 if quick else 200_000) for _ in range(3))
    templates = LocaleTemplates("sv", renderer._locales_dir)
    _baseline(templates, updates, 3)
    base = _baseline(templates, updates, 30 if quick else 300)
    return [{
        "name": "render_emails_per_s",
        "value": round(fast, 1),
        "unit": "emails/s",
        "baseline": round(base, 1),
        "ratio": round(fast / base, 1),
    }]


if __name__ == "__main__":
    import sys

    for figure in run("--quick" in sys.argv):
        print(json.dumps(figure, ensure_ascii=False))
