"""``ticketnotify guest``: make a key, issue a link for QA, and tell why a link is refused."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import ConfigurationError
from .errors import LinkError
from .links import GuestLinks

KEYS_ENV = "TICKETNOTIFY_GUEST_KEYS"
URL_PATTERN_ENV = "TICKETNOTIFY_GUEST_URL_PATTERN"


def register(subparsers: Any) -> None:
    """Add ``guest new-key``, ``guest link`` and ``guest check``."""
    guest = subparsers.add_parser("guest", help="guest deep links: new key, issue, check")
    commands = guest.add_subparsers(dest="guest_command", metavar="ACTION", required=True)

    new_key = commands.add_parser("new-key", help="print a fresh random signing key")
    new_key.set_defaults(func=_new_key)

    for name, helptext in (("link", "print the deep link for a ticket and address"),
                           ("check", "open a token or link and say whether it is valid")):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("--keys-env", default=KEYS_ENV, metavar="NAME",
                         help=f"environment variable with comma-separated keys, newest first "
                              f"(default {KEYS_ENV})")
        sub.add_argument("--max-age-days", type=float, default=30.0,
                         help="link lifetime in days (default 30)")
        if name == "link":
            sub.add_argument("ticket_id")
            sub.add_argument("email")
            sub.add_argument("--url-pattern", default=None,
                             help="the guest ticket page with {token} (and {ticket_id}); "
                                  f"default ${URL_PATTERN_ENV}")
            sub.set_defaults(func=_link)
        else:
            sub.add_argument("token", help="the token, or the whole link")
            sub.add_argument("--email", help="also check the link is for this address")
            sub.add_argument("--ticket-id", help="also check the link is for this ticket")
            sub.set_defaults(func=_check)


def _links(args: argparse.Namespace, *, build: bool = False) -> GuestLinks:
    raw = os.environ.get(args.keys_env, "")
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    if not keys:
        raise ConfigurationError(f"set {args.keys_env} to the signing keys, comma-separated, "
                                 "newest first (make one with: ticketnotify guest new-key)")
    url_pattern = None
    if build:
        url_pattern = args.url_pattern or os.environ.get(URL_PATTERN_ENV)
        if not url_pattern:
            raise ConfigurationError(
                f"pass --url-pattern or set {URL_PATTERN_ENV} to your guest ticket page, e.g. "
                "'https://help.example.com/guest/tickets/{ticket_id}?token={token}'")
    return GuestLinks(keys, url_pattern, timedelta(days=args.max_age_days))


def _new_key(args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(32))
    return 0


def _link(args: argparse.Namespace) -> int:
    print(_links(args, build=True).url_for(args.ticket_id, args.email))
    return 0


def _check(args: argparse.Namespace) -> int:
    token = args.token
    if "://" in token:
        token = parse_qs(urlsplit(token).query).get("token", [""])[0]
    try:
        links = _links(args)
        opened = (links.open(token, ticket_id=args.ticket_id) if args.email is None  # optional
                  else links.open(token, email=args.email, ticket_id=args.ticket_id))
    except LinkError as exc:
        print(f"refused: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"valid: ticket {opened.ticket_id}, issued {opened.issued_at:%Y-%m-%d %H:%M} UTC, "
          f"expires {opened.expires_at:%Y-%m-%d %H:%M} UTC"
          + ("" if args.email else " (address not checked: pass --email)"))
    return 0
