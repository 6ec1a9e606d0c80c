"""``ticketnotify outbox status|retry|purge``: inspect and repair the outbox."""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from ..cli import standalone_main
from ..clock import utc_now
from ..errors import ConfigurationError, InvalidInputError
from .from_url import DEFAULT_URL, outbox_from_url

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w``: how old is old enough to purge."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise InvalidInputError("--older-than", f"{text!r} is not an age like 30d, 12h or 90m")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


def _age_argument(text: str) -> timedelta:
    """Argparse shows an ArgumentTypeError's own words, so the user sees the expected form."""
    try:
        return parse_age(text)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(exc.problem) from exc


def _add_outbox_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--outbox", default=os.environ.get("TICKETNOTIFY_OUTBOX", DEFAULT_URL),
        help="sqlite:///file.db or postgresql://user@host/db (env TICKETNOTIFY_OUTBOX; "
             f"default {DEFAULT_URL})",
    )


def register(subparsers: Any) -> None:
    """Add ``outbox`` to the ``ticketnotify`` command line (``worker`` lives in ``worker/cli.py``)."""
    outbox = subparsers.add_parser("outbox", help="inspect and repair the outbox")
    commands = outbox.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    status = commands.add_parser(
        "status", help="jobs by channel and status, oldest pending and oldest due job, "
                       "recent dead letters")
    _add_outbox_option(status)
    status.add_argument("--json", action="store_true",
                        help="one JSON object: counts, oldest_pending(_age_s), "
                             "oldest_due(_age_s), recent_dead_letters with reasons")
    status.add_argument("--dead", type=int, default=10, metavar="N",
                        help="how many recent dead letters to list with their reasons")
    status.set_defaults(func=status_command)
    retry = commands.add_parser("retry", help="make dead jobs pending again")
    _add_outbox_option(retry)
    retry.add_argument("--channel", help="only this channel (email, apns, fcm ...)")
    retry.set_defaults(func=retry_command)
    purge = commands.add_parser("purge", help="delete delivered and dead jobs older than an age")
    _add_outbox_option(purge)
    purge.add_argument("--older-than", required=True, type=_age_argument, metavar="AGE",
                       help="e.g. 30d, 12h, 90m")
    purge.set_defaults(func=purge_command)


def status_command(args: argparse.Namespace) -> int:
    """Print counts by channel and status, ages and recent dead letters; return the exit code.

    The ages are how long the oldest pending job has existed and how long the oldest due
    job has waited for a worker (seconds).
    """
    now = utc_now()
    store = outbox_from_url(args.outbox, create=False)
    try:
        counts = store.counts()
        oldest = store.oldest_pending()
        due = store.oldest_due(now)
        dead = store.dead_letters(args.dead)
    finally:
        store.close()
    due_age = None if due is None else max(0.0, (now - due).total_seconds())
    if args.json:
        print(json.dumps({
            "counts": [{"channel": c.channel, "status": c.status.value, "count": c.count}
                       for c in counts],
            "oldest_pending": oldest.isoformat() if oldest else None,
            "oldest_pending_age_s": (now - oldest).total_seconds() if oldest else None,
            "oldest_due": due.isoformat() if due else None,
            "oldest_due_age_s": due_age,
            "recent_dead_letters": [
                {"id": j.id, "idempotency_key": j.idempotency_key, "channel": j.channel,
                 "attempts": j.attempts, "reason": j.last_error} for j in dead],
        }))
        return 0
    print(f"{'channel':<12} {'status':<10} {'jobs':>10}")
    for c in counts:
        print(f"{c.channel:<12} {c.status.value:<10} {c.count:>10}")
    if oldest is None:
        print("oldest pending: none")
    else:
        age = (now - oldest).total_seconds()
        print(f"oldest pending: {oldest.isoformat()} ({age:.0f}s ago)")
    if due is None:
        print("oldest due: none (workers are keeping up)")
    else:
        print(f"oldest due: {due.isoformat()} (waiting {due_age:.1f}s for a worker)")
    if dead:
        print(f"recent dead letters (newest first, at most {args.dead}):")
    for j in dead:
        reason = " ".join((j.last_error or "no reason stored").split())
        reason = reason if len(reason) <= 200 else reason[:199] + "…"
        print(f"  job {j.id} {j.channel} {j.idempotency_key} after {j.attempts} attempt(s): "
              f"{reason}")
    return 0


def retry_command(args: argparse.Namespace) -> int:
    """Give dead jobs fresh attempts (after fixing what killed them)."""
    store = outbox_from_url(args.outbox, create=False)
    try:
        revived = store.retry_dead(utc_now(), channel=args.channel)
    finally:
        store.close()
    print(f"{revived} dead job(s) pending again")
    return 0


def purge_command(args: argparse.Namespace) -> int:
    """Delete finished jobs; pending ones are never purged."""
    store = outbox_from_url(args.outbox, create=False)
    try:
        removed = store.purge(utc_now() - args.older_than)
    finally:
        store.close()
    print(f"{removed} finished job(s) purged")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run these commands without the top-level CLI (``python -m ticketnotify.outbox.cli``)."""
    return standalone_main(register, argv, (ConfigurationError, InvalidInputError))


if __name__ == "__main__":
    raise SystemExit(main())
