"""``ticketnotify demo``: the whole pipeline on embedded defaults, every channel for real on loopback."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import shutil
from pathlib import Path

from .errors import ConfigurationError
from .events import AccountUser, TicketUpdate
from .examples import default_examples_dir, load_examples
from .guest.links import GuestLinks
from .notifier import Links, Notifier, PublishResult
from .outbox.base import JobStatus
from .outbox.sqlite import SQLiteOutbox
from .preview import EXAMPLE_BRANDS
from .worker import Worker

# The demo's own example addresses, passed explicitly: a Notifier has no default links.
GUEST_URL = "https://support.example.com/guest/tickets/{ticket_id}?token={token}"
LINKS = Links(web_ticket_url="https://support.example.com/tickets/{ticket_id}",
              app_ticket_url="examplesupport://tickets/{ticket_id}")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo`` to the command line."""
    parser = subparsers.add_parser(
        "demo", help="publish the examples and deliver them to loopback SMTP/APNs/FCM servers",
        description="Publish the sample events, deliver them through a real SMTP conversation and "
                    "HTTP/2 APNs and FCM stand-ins on 127.0.0.1, and show what arrived where. "
                    "Needs no outside server.")
    parser.add_argument("examples", nargs="?", type=Path, default=None,
                        help="a JSON file or folder of examples (default: the shipped events.json)")
    parser.add_argument("--out", type=Path, default=Path("demo-out"),
                        help="where received messages and the outbox file go (default: demo-out)")
    parser.set_defaults(func=lambda args: asyncio.run(run_demo(args.examples, args.out)))


async def run_demo(examples: Path | None, out: Path) -> int:
    """Publish → SQLite outbox → worker → loopback peers; exit 0 only if every delivery arrived."""
    try:
        from .loopback.stack import LoopbackStack
    except ImportError as exc:
        raise ConfigurationError(
            f"the demo needs the loopback servers ({exc.name} is missing): "
            "pip install 'ticketnotify[demo]'") from exc
    updates = load_examples(examples or default_examples_dir() / "events.json")
    for sub in ("mail", "push"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "push").mkdir(parents=True)
    db = out / "outbox.sqlite3"
    for stale in out.glob("outbox.sqlite3*"):
        stale.unlink()

    outbox = SQLiteOutbox(db)
    # A throwaway key: real hosts keep theirs in a secret store and rotate it.
    # The example brands too, so `ticketnotify demo examples/brands.json` sends as them.
    notifier = Notifier(outbox, links=LINKS, brands=EXAMPLE_BRANDS,
                        guest_links=GuestLinks([secrets.token_bytes(32)], GUEST_URL))
    results = [notifier.publish(update) for update in updates]
    planned = sum(len(r.planned) for r in results)

    async with LoopbackStack(mail_dir=out / "mail") as stack:
        assert stack.apns is not None and stack.fcm is not None
        print("ticketnotify demo: every channel for real, on 127.0.0.1")
        print(f"  SMTP :{stack.smtp.port} (aiosmtpd)   APNs :{stack.apns.port} (HTTP/2)   "
              f"FCM v1 :{stack.fcm.port} (HTTP/2)   outbox: {db} (SQLite)")
        print(f"  published {len(updates)} events → {planned} deliveries stored\n")
        worker = Worker(outbox, stack.channels())
        try:
            await worker.drain()
        finally:
            await worker.aclose()
        apns_requests = list(stack.apns.requests)
        fcm_requests = stack.fcm.sends()
        for i, request in enumerate([*apns_requests, *fcm_requests], 1):
            service = "apns" if request in apns_requests else "fcm"
            (out / "push" / f"{i:03d}-{service}.json").write_text(json.dumps(
                {"service": service, "path": request.path, "headers": dict(request.headers),
                 "body": request.json()}, ensure_ascii=False, indent=2), "utf-8")
        emails = list(stack.smtp.messages)

    ok = _report(updates, results, outbox)
    outbox.close()
    print(f"\nreceived: {len(emails)} emails over SMTP → {out / 'mail'}/*.eml; "
          f"{len(apns_requests)} APNs + {len(fcm_requests)} FCM pushes → {out / 'push'}/*.json")
    for received in emails:
        text = received.message.get_body(("plain",))
        body = text.get_content() if text is not None else ""
        link = re.search(r"https://\S+token=\S+", body)
        if link:
            print(f"guest link in the email to {', '.join(received.rcpt_tos)}: {link.group(0)}")
    expected_push = sum(1 for r in results for d in r.planned if d.is_push)
    if len(emails) + len(apns_requests) + len(fcm_requests) != planned or not ok:
        print(f"\nNOT everything arrived: {planned} planned, "
              f"{len(emails)} emails and {len(apns_requests) + len(fcm_requests)} of "
              f"{expected_push} pushes received")
        return 1
    return 0


def _report(updates: list[TicketUpdate], results: list[PublishResult], outbox: SQLiteOutbox) -> bool:
    """Print a row per delivery; True when every one was delivered."""
    rows = [("event", "recipient", "channel", "to", "result")]
    ok = True
    for update, result in zip(updates, results, strict=True):
        r = update.recipient
        who = (f"{r.name or r.email} ({'account' if isinstance(r, AccountUser) else 'guest'}, "
               f"{r.locale})")
        for d in result.planned:
            job = outbox.get(d.idempotency_key)
            status = job.status.value if job else "missing"
            ok = ok and job is not None and job.status is JobStatus.DELIVERED
            if job and job.last_error:
                status += f": {job.last_error}"
            to = d.address if not d.is_push else f"{d.address[:10]}… ({d.device.platform})"  # type: ignore[union-attr]
            rows.append((update.event_id, who, d.channel, to, status))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True))
        print(f"  {cells}  {row[4]}")
    return ok
