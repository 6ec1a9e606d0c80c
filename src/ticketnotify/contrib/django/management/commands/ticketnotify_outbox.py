"""``manage.py ticketnotify_outbox status|retry|purge`` on the outbox ``TICKETNOTIFY`` names."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ticketnotify.errors import TicketNotifyError
from ticketnotify.outbox.cli import parse_age, purge_command, retry_command, status_command

from ...settings import outbox_url


class Command(BaseCommand):
    help = "Inspect and repair ticketnotify's outbox (the same tools as `ticketnotify outbox`)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        status = actions.add_parser("status", help="jobs by channel and status, oldest pending")
        status.add_argument("--json", action="store_true", help="machine-readable output")
        status.add_argument("--dead", type=int, default=10, metavar="N",
                            help="how many recent dead letters to list")
        retry = actions.add_parser("retry", help="make dead jobs pending again")
        retry.add_argument("--channel", help="only this channel (email, apns, fcm ...)")
        purge = actions.add_parser("purge", help="delete delivered and dead jobs older than AGE")
        purge.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 30d, 12h, 90m")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            namespace = argparse.Namespace(outbox=outbox_url(), json=options.get("json"),
                                           dead=options.get("dead"), channel=options.get("channel"))
            if action == "purge":
                namespace.older_than = parse_age(options["older_than"])
            command = {"status": status_command, "retry": retry_command, "purge": purge_command}
            command[action](namespace)
        except TicketNotifyError as exc:
            raise CommandError(str(exc)) from exc
