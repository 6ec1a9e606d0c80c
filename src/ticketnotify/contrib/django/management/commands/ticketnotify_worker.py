"""``manage.py ticketnotify_worker``: deliver the outbox with the site's settings, channels and hooks."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ticketnotify.errors import TicketNotifyError
from ticketnotify.worker.cli import run_worker

from ...settings import get_outbox
from ...worker import worker_args


class Command(BaseCommand):
    help = ("Deliver ticketnotify's outbox until SIGTERM/Ctrl-C (in-flight sends finish). "
            "Runs after django.setup(): channels and ON_INVALID_DEVICE may use the ORM.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=100, help="jobs claimed at once")
        parser.add_argument("--concurrency", type=int, default=50, help="sends in flight at once")
        parser.add_argument("--lease", type=float, default=120.0,
                            help="seconds a claimed job stays this worker's")
        parser.add_argument("--max-attempts", type=int, default=8, help="tries before dead-lettering")
        parser.add_argument("--idle", type=float, default=1.0, help="seconds to wait when idle")
        parser.add_argument("--grace", type=float, default=30.0,
                            help="seconds in-flight sends get to finish on SIGTERM")
        parser.add_argument("--progress", type=float, default=5.0,
                            help="seconds between progress lines on stderr (0: none)")
        parser.add_argument("--once", action="store_true", help="deliver what is due, then exit")
        parser.add_argument("--metrics-port", type=int, default=None,
                            help="serve Prometheus metrics on this port (needs ticketnotify[metrics])")
        parser.add_argument("--metrics-addr", default="127.0.0.1", help="address for --metrics-port")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            stats = asyncio.run(run_worker(worker_args(options), get_outbox()))
        except TicketNotifyError as exc:
            raise CommandError(str(exc)) from exc
        if options["once"]:
            self.stdout.write(f"delivered={stats.delivered} retried={stats.retried} dead={stats.dead}")
