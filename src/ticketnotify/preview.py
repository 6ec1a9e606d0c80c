"""``ticketnotify preview``: every example × locale × update kind as files QA opens directly.

Writes ``<example>/<locale>/<kind>.html``, ``.txt``, ``.eml`` (the full MIME message the SMTP
channel would send) and, for account users, ``.push.json``; ``index.html`` links them all.
No server, no outbox, no network: the files are the preview.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from html import escape
from pathlib import Path
from urllib.parse import quote

from . import graphemes
from .brands import Brand, Links, ReplyMode, fill_url, link_values, reply_headers
from .catalogs import add_host_folders
from .channels.mime.builder import build_mime, mime_bytes
from .errors import InvalidInputError, TicketNotifyError
from .events import AccountUser, TicketUpdate, UpdateKind
from .examples import default_examples_dir, load_examples
from .messages import EmailMessage
from .notifier import ExcerptPolicy
from .rendering import RenderConfig, Renderer
from .routing import link_ticket

# Limits the gallery flags (docs/i18n.md gives the sources): what a reader sees before a
# client cuts the text, counted in grapheme clusters.
SUBJECT_LIMIT = 78
PUSH_TITLE_LIMIT = 40
SENDER = "support@example.com"
SENDER_NAME = "Example Support"
DOMAIN = "example.com"
# Previews are never sent: these example addresses only show where the links sit. Real
# mail gets the host's own (``Notifier`` has no default links).
EXAMPLE_LINKS = Links(web_ticket_url="https://support.example.com/tickets/{ticket_id}",
                      app_ticket_url="examplesupport://tickets/{ticket_id}")
# Not signed either; a host passes its pattern with PREVIEW-UNSIGNED as the token.
GUEST_URL = "https://support.example.com/guest/tickets/{ticket_id}?token=PREVIEW-UNSIGNED"
# Brands the shipped examples pick (examples/brands.json): a second sender without an app
# and with its own look and footer, and a desk that takes replies by email.
EXAMPLE_BRANDS = (
    Brand(name="billing", web_ticket_url="https://billing.example.com/tickets/{ticket_number}",
          guest_ticket_url="https://billing.example.com/guest/{ticket_id}?t={token}",
          sender="billing@example.com", sender_name="Example Billing", team="Example Billing",
          accent_color="#b45309", logo_url="https://billing.example.com/logo.png",
          footer_lines=("Example Billing AB", "Box 123, 111 22 Stockholm")),
    Brand(name="desk", web_ticket_url="https://desk.example.com/tickets/{ticket_id}",
          app_ticket_url="exampledesk://tickets/{ticket_id}", sender="desk@example.com",
          sender_name="Example Desk", reply_mode=ReplyMode.REPLY_BY_EMAIL,
          reply_to="desk+{ticket_id}@example.com", subject_tag="[#{ticket_number}]"),
)


@dataclass(frozen=True, slots=True)
class PreviewOptions:
    """Which links, brands and excerpt policy the previews show: the ``Notifier``'s own settings.

    ``links`` make the default brand; an example with ``"brand": "billing"`` is shown as
    the brand of that name in ``brands``.
    """

    links: Links = EXAMPLE_LINKS
    excerpts: ExcerptPolicy = field(default_factory=ExcerptPolicy)
    guest_url: str = GUEST_URL
    brands: tuple[Brand, ...] = EXAMPLE_BRANDS

    def brand_of(self, update: TicketUpdate) -> Brand:
        """The brand an example update is shown as.

        Raises:
            InvalidInputError: the example names no brand of ``brands`` (``.field`` ``"brand"``).
        """
        if update.brand is None:
            return Brand.from_links(self.links)
        for brand in self.brands:
            if brand.name == update.brand:
                return brand
        raise InvalidInputError("brand", f"{update.brand!r} is not one of the preview brands "
                                         f"({', '.join(b.name for b in self.brands)})")


@dataclass(slots=True)
class PreviewEntry:
    """One rendered example × locale × kind, as the gallery lists it."""

    example: str
    locale: str
    kind: str
    recipient: str
    subject: str
    preheader: str
    files: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    error: str = ""


def _slug(index: int, event_id: str) -> str:
    return f"{index:02d}-" + (re.sub(r"[^A-Za-z0-9._-]+", "-", event_id).strip("-.") or "example")


def _link(template: str, ticket_id: str) -> str:
    return template.format(ticket_id=quote(ticket_id, safe=""))


def render_previews(
    updates: list[TicketUpdate],
    out_dir: Path,
    *,
    renderer: Renderer | None = None,
    options: PreviewOptions = PreviewOptions(),
    locales: Sequence[str] | None = None,
) -> list[PreviewEntry]:
    """Render every update in every locale and every kind into ``out_dir``.

    The files are written to a temporary folder next to ``out_dir`` that replaces it only
    when everything is written, so an interrupted run never leaves a half-written gallery.
    A message that cannot be rendered is listed with its error; the others still render.
    An example naming an unknown brand is refused before anything is written.

    Args:
        updates: the example updates.
        out_dir: the gallery folder (replaced as a whole).
        renderer: the renderer (default: shipped catalogs, pseudo-locales on).
        options: links, brands and excerpt policy.
        locales: the recipient locales to show (default: every catalog locale, shipped and
            host); ``xx-long`` / ``xx-rtl`` need a renderer with ``pseudo_locales=True``.

    Returns:
        One ``PreviewEntry`` per example × locale × kind, with ``flags`` for a subject or
        push title longer than ``SUBJECT_LIMIT`` / ``PUSH_TITLE_LIMIT`` clusters.

    Raises:
        InvalidInputError: an example names a brand ``options.brands`` lacks (``field``
            ``"brand"``); ``out_dir`` is left as it was.
    """
    renderer = renderer or Renderer(RenderConfig(pseudo_locales=True))
    for original in updates:  # an example naming no known brand is refused before any write
        options.brand_of(original)
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        entries: list[PreviewEntry] = []
        for index, original in enumerate(updates, start=1):
            example = _slug(index, original.event_id)
            for locale in locales or sorted(renderer.locales):
                for kind in UpdateKind:
                    update = replace(
                        original, kind=kind, recipient=replace(original.recipient, locale=locale)
                    )
                    try:
                        entries.append(_render_one(renderer, update, work, example, options))
                    except TicketNotifyError as exc:
                        entries.append(PreviewEntry(
                            example=example, locale=update.recipient.locale, kind=kind.value,
                            recipient=update.recipient.email, subject="", preheader="",
                            error=str(exc)))
        write_index(work, entries)
        _swap_in(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return entries


def _swap_in(work: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by the finished ``work`` folder (two renames)."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{work.name.rsplit('.', 1)[-1]}")
        out_dir.rename(old)
    work.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _over(label: str, text: str, limit: int) -> str | None:
    count = len(graphemes.clusters(text))
    return f"{label} {count} > {limit} characters" if count > limit else None


def _render_one(
    renderer: Renderer, update: TicketUpdate, out_dir: Path, example: str, options: PreviewOptions
) -> PreviewEntry:
    r = update.recipient
    guest = not isinstance(r, AccountUser)
    ticket_id = update.ticket.id  # the key: it roots the thread, as the Notifier does
    brand = options.brand_of(update)
    values = link_values(link_ticket(update), brand.name, r.email)  # after a merge: the survivor
    web = fill_url(brand.web_ticket_url or options.links.web_ticket_url, values)
    app = fill_url(brand.app_ticket_url, values) if brand.app_ticket_url else None
    if not guest:
        ticket_url = web
    elif brand.guest_ticket_url:
        ticket_url = fill_url(brand.guest_ticket_url, {**values, "token": "PREVIEW-UNSIGNED"})
    else:
        ticket_url = _link(options.guest_url, values["ticket_id"])
    excerpts = options.excerpts
    with_subject = excerpts.guest_subject or not guest
    email = renderer.render_update_email(
        update,
        ticket_url=ticket_url,
        app_url=None if guest else app,
        guest=guest,
        include_excerpt=excerpts.guest_email if guest else excerpts.account_email,
        include_subject=with_subject,
        brand=brand,
    )
    subject, reply_to = reply_headers(brand, email.subject, values)
    folder = out_dir / example / r.locale
    folder.mkdir(parents=True, exist_ok=True)
    stem = update.kind.value
    entry = PreviewEntry(
        example=example, locale=r.locale, kind=stem,
        recipient=("guest " if guest else "account ") + r.email,
        subject=subject, preheader=email.preheader,
    )
    entry.flags = [f for f in [_over("subject", subject, SUBJECT_LIMIT)] if f]
    message = EmailMessage(
        delivery_id=f"preview-{example}-{r.locale}-{stem}", ticket_id=ticket_id,
        ticket_subject=update.ticket.subject if with_subject else "", locale=r.locale,
        to_address=r.email, to_name=r.name, subject=subject, html=email.html,
        text=email.text, preheader=email.preheader, sender=brand.sender or "",
        sender_name=brand.sender_name, reply_to=reply_to,
    )
    mime = build_mime(message, sender=SENDER, sender_name=SENDER_NAME, domain=DOMAIN,
                      now=update.occurred_at)
    files = {
        "html": email.html.encode("utf-8"),
        "txt": email.text.encode("utf-8"),
        "eml": mime_bytes(mime),
    }
    if not guest:
        push = renderer.render_update_push(update, include_excerpt=excerpts.push)
        flag = _over("push title", push.title, PUSH_TITLE_LIMIT)
        if flag:
            entry.flags.append(flag)
        files["push.json"] = json.dumps(
            {"title": push.title, "body": push.body, "locale": r.locale, "kind": stem,
             "deep_link": app or web},
            ensure_ascii=False, indent=2,
        ).encode("utf-8") + b"\n"
    for suffix, data in files.items():
        path = folder / f"{stem}.{suffix}"
        path.write_bytes(data)
        entry.files[suffix] = path.relative_to(out_dir).as_posix()
    return entry


_PAGE_CSS = (
    ":root{color-scheme:light dark}"
    "body{font-family:system-ui,sans-serif;margin:0 auto;padding:12px;max-width:1100px;"
    "color:#1f2937;background:#fff}"
    "@media (prefers-color-scheme:dark){body{color:#e5e7eb;background:#111827}}"
    "h2{font-size:1.05em;margin:24px 0 8px;padding:6px 8px;background:rgba(127,127,127,.15);"
    "overflow-wrap:anywhere}"
    ".msg{border-bottom:1px solid rgba(127,127,127,.3);padding:8px 0}"
    ".meta{font-size:90%;color:#6b7280}.subject{overflow-wrap:anywhere}"
    ".flag{color:#b91c1c;font-weight:bold}.error{color:#b91c1c}"
    ".files a{margin-inline-end:10px;display:inline-block}"
    ".frames{display:flex;gap:12px;overflow-x:auto;max-width:100%;padding:8px 0}"
    ".frames figure{margin:0}.frames iframe{border:1px solid #9ca3af;height:640px;"
    "background:#fff}.w375{width:375px}.w700{width:700px}"
    "#dark:checked~main .frames iframe{filter:invert(1) hue-rotate(180deg)}"
)


def write_index(out_dir: Path, entries: list[PreviewEntry]) -> Path:
    """A static gallery page that fits a 375 px phone.

    One block per example × locale × kind: subject and preheader (isolated, so right-to-left
    text reads right), flags for over-long subjects and push titles, links to every file,
    and the HTML mail at phone (375 px) and desktop (700 px) width, in light mode or, with
    the *dark mode* switch, inverted the way dark-mode mail apps recolour a light mail.
    The frames scroll sideways inside the page, which itself never gets wider than the
    screen; they load only when a message's *show* is opened.
    """
    blocks: list[str] = []
    current = ""
    flagged = sum(bool(e.flags) for e in entries)
    for e in entries:
        if e.example != current:
            current = e.example
            blocks.append(f'<h2 id="{escape(e.example)}">{escape(e.example)} · '
                          f"{escape(e.recipient)}</h2>")
        links = " ".join(
            f'<a href="{escape(quote(path))}">{escape(label)}</a>'
            for label, path in e.files.items()
        )
        flags = "".join(f'<div class="flag">⚠ {escape(f)}</div>' for f in e.flags)
        error = f'<div class="error">{escape(e.error)}</div>' if e.error else ""
        frames = ""
        if "html" in e.files:
            src = escape(quote(e.files["html"]))
            frames = (
                '<details><summary>show at 375 px and 700 px</summary><div class="frames">'
                f'<figure><figcaption>375 px</figcaption><iframe class="w375" loading="lazy" '
                f'src="{src}" title="{escape(e.kind)} at 375 px"></iframe></figure>'
                f'<figure><figcaption>700 px</figcaption><iframe class="w700" loading="lazy" '
                f'src="{src}" title="{escape(e.kind)} at 700 px"></iframe></figure>'
                "</div></details>"
            )
        blocks.append(
            f'<div class="msg" data-locale="{escape(e.locale)}" data-kind="{escape(e.kind)}">'
            f'<div class="meta">{escape(e.locale)} · {escape(e.kind)}</div>'
            f'<div class="subject"><strong><bdi dir="auto">{escape(e.subject)}</bdi></strong>'
            f'<br><span class="meta"><bdi dir="auto">{escape(e.preheader)}</bdi></span></div>'
            f'{flags}{error}<div class="files">{links}</div>{frames}</div>'
        )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>ticketnotify previews</title><style>{_PAGE_CSS}</style></head><body>"
        '<input type="checkbox" id="dark"> <label for="dark">dark mode</label>'
        f"<main><h1>ticketnotify previews</h1><p>{len(entries)} messages, {flagged} flagged "
        f"(subject over {SUBJECT_LIMIT} or push title over {PUSH_TITLE_LIMIT} characters). "
        "Open .html in a browser, .eml in a mail client, .txt for the plain-text alternative, "
        ".push.json for push.</p>\n"
        + "\n".join(blocks)
        + "\n</main></body></html>\n"
    )
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def run_preview(args: argparse.Namespace) -> int:
    """CLI entry: load examples, render the gallery, say where it is."""
    updates = load_examples(args.examples or default_examples_dir())
    out_dir = Path(args.out)
    options = PreviewOptions(excerpts=ExcerptPolicy(
        push=args.push_excerpt, guest_email=args.guest_excerpt, guest_subject=args.guest_subject))
    renderer = Renderer(RenderConfig(locales_dirs=args.locales or (),
                                     templates_dirs=args.templates or (),
                                     default_locale=args.default_locale, pseudo_locales=True))
    entries = render_previews(updates, out_dir, renderer=renderer, options=options,
                              locales=args.locale or None)
    for entry in entries:
        for problem in ([*entry.flags, entry.error] if entry.error else entry.flags):
            print(f"{entry.example}/{entry.locale}/{entry.kind}: {problem}", file=sys.stderr)
    print(f"preview: {len(entries)} messages from {len(updates)} examples, "
          f"{sum(bool(e.flags) for e in entries)} flagged; "
          f"open {out_dir / 'index.html'}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``preview`` to the ``ticketnotify`` command line."""
    parser = subparsers.add_parser(
        "preview", help="render every example × locale × update kind into files and a gallery"
    )
    parser.add_argument("examples", nargs="?", metavar="EXAMPLES",
                        help="examples .json file or folder (default: the shipped examples)")
    parser.add_argument("--out", required=True, metavar="DIR", help="where to write the previews")
    parser.add_argument("--push-excerpt", action="store_true",
                        help="show the reply excerpt in pushes (off by default: lock screens)")
    parser.add_argument("--guest-excerpt", action="store_true",
                        help="show the reply excerpt in guest emails (off by default)")
    parser.add_argument("--guest-subject", action="store_true",
                        help="show the ticket subject in guest emails (off by default: "
                             "unverified mailboxes)")
    parser.add_argument("--locale", metavar="LOCALE", action="append",
                        help="render only this recipient locale (repeatable), e.g. sv_SE or "
                             "the QA pseudo-locales xx-long and xx-rtl (default: every catalog)")
    add_host_folders(parser, templates_help="your own template folder, searched before the "
                                            "shipped templates (repeatable; earlier wins)")
    parser.add_argument("--default-locale", metavar="LOCALE", default="en",
                        help="locale for recipients whose locale has no catalog (default: en)")
    parser.set_defaults(func=run_preview)
