"""The catcher's web page: what arrived (newest first), each email and push in detail, the guest pages."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import DictLoader, Environment, StrictUndefined
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from ..events import UpdateKind
from .catcher import Catcher, links_in
from .guest_site import GuestSite

_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1a1a1a}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem;
border-bottom:1px solid #ddd;vertical-align:top}pre{white-space:pre-wrap;background:#f6f6f6;
padding:.8rem}iframe{width:100%;height:32rem;border:1px solid #ccc}code{font-size:.9rem}"""

_TEMPLATES = {
    "base.html": """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}ticketnotify dev{% endblock %}</title><style>{{ style }}</style></head>
<body><main>{% block main %}{% endblock %}</main></body></html>""",
    "index.html": """{% extends "base.html" %}{% block main %}
<h1>ticketnotify dev: caught mail and push</h1>
<h2>Point your host here</h2>
<table aria-label="addresses">{% for label, value in addresses.items() %}
<tr><th scope="row">{{ label }}</th><td><code>{{ value }}</code></td></tr>{% endfor %}</table>
<h2>Demo guest ticket</h2>
<p>Ticket {{ demo_ticket }} belongs to a guest. Its emails below carry the guest link: open one,
follow the link, ask for a code, and type the code from the next email.</p>
<form method="post" action="/demo/notify">
<button type="submit">Send the guest an update</button></form>
<h2>Received ({{ items|length }}), newest first</h2>
<table><thead><tr><th scope="col">#</th><th scope="col">When (UTC)</th><th scope="col">What</th>
<th scope="col">To</th><th scope="col">Subject / title</th></tr></thead><tbody>
{% for item in items %}{% set folder = 'mail' if item.kind == 'mail' else 'push' %}
<tr><td><a href="/{{ folder }}/{{ item.name }}">{{ item.name }}</a></td>
<td>{{ item.received_at.strftime('%Y-%m-%d %H:%M:%S') }}</td><td>{{ item.kind }}</td>
<td>{{ item.to }}</td><td>{{ item.summary }}</td></tr>
{% else %}<tr><td colspan="5">Nothing yet.</td></tr>{% endfor %}</tbody></table>
{% endblock %}""",
    "mail.html": """{% extends "base.html" %}{% block title %}{{ subject }}{% endblock %}{% block main %}
<p><a href="/">← all messages</a> · <a href="/mail/{{ name }}/raw">raw .eml</a></p>
<h1>{{ subject }}</h1>
{% if links %}<h2>Links in this email</h2><ul>{% for link in links %}
<li><a href="{{ link }}">{{ link }}</a></li>{% endfor %}</ul>{% endif %}
<h2>HTML</h2>{% if html %}<iframe title="HTML part" sandbox="" srcdoc="{{ html }}"></iframe>
{% else %}<p>No HTML part.</p>{% endif %}
<h2>Text</h2><pre>{{ text }}</pre>
<h2>Headers</h2><table>{% for key, value in headers %}<tr><th scope="row">{{ key }}</th>
<td><code>{{ value }}</code></td></tr>{% endfor %}</table>
{% endblock %}""",
    "push.html": """{% extends "base.html" %}{% block main %}
<p><a href="/">← all messages</a></p><h1>{{ service }} push {{ name }}</h1>
<pre>{{ payload }}</pre>{% endblock %}""",
    "ticket.html": """{% extends "base.html" %}{% block main %}
<h1>Ticket {{ ticket.ticket_id }}: {{ ticket.subject }}</h1>
<p>You verified your email address; this is the conversation a guest sees.</p>
{% for line in ticket.conversation %}<p>{{ line }}</p>{% endfor %}{% endblock %}""",
}


def build_app(catcher: Catcher, site: GuestSite, addresses: Callable[[], Mapping[str, str]],
              demo_ticket: str) -> Starlette:
    """The dev web app: the list, the detail pages, the demo ticket and the guest pages."""
    env = Environment(loader=DictLoader(_TEMPLATES), autoescape=True, undefined=StrictUndefined)

    def page(template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(template).render(style=_STYLE, **values), status)

    async def index(request: Request) -> Response:
        return page("index.html", items=catcher.items(), addresses=addresses(),
                    demo_ticket=demo_ticket)

    async def mail(request: Request) -> Response:
        name = request.path_params["name"]
        parsed = catcher.mail(name)
        if parsed is None:
            return page("push.html", 404, service="no such", name=name, payload="")
        html_part = parsed.get_body(("html",))
        text_part = parsed.get_body(("plain",))
        text = str(text_part.get_content()) if text_part is not None else ""
        return page("mail.html", name=name, subject=str(parsed.get("Subject", "")),
                    html=str(html_part.get_content()) if html_part is not None else "",
                    text=text, links=links_in(text), headers=list(parsed.items()))

    async def raw(request: Request) -> Response:
        data = catcher.raw_mail(request.path_params["name"])
        if data is None:
            return Response("no such message", 404)
        return Response(data, media_type="message/rfc822")

    async def push(request: Request) -> Response:
        name = request.path_params["name"]
        record = catcher.push(name)
        if record is None:
            return page("push.html", 404, service="no such", name=name, payload="")
        return page("push.html", name=name, service=record.get("service", ""),
                    payload=json.dumps(record, ensure_ascii=False, indent=2))

    async def notify(request: Request) -> Response:
        # A dev tool on loopback: this POST only mails the demo guest, so it has no CSRF check.
        await site.notify(demo_ticket, f"dev-{uuid.uuid4().hex}", UpdateKind.AGENT_REPLY)
        return RedirectResponse("/", status_code=303)

    @site.pages.guest_grant_required
    async def ticket(request: Request) -> Response:
        return page("ticket.html", ticket=site.tickets[request.state.guest_grant.ticket_id])

    app = Starlette(routes=[
        Route("/", index),
        Route("/mail/{name}", mail),
        Route("/mail/{name}/raw", raw),
        Route("/push/{name}", push),
        Route("/demo/notify", notify, methods=["POST"]),
        Route("/tickets/{ticket_id}", ticket),
        Mount("/guest", routes=site.pages.routes),
    ])
    site.pages.install(app)
    return app
