"""``manage.py ticketnotify_purge_codes``: drop expired guest codes and old send records (cron, hourly)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ticketnotify.errors import TicketNotifyError

from ...settings import get_codes


class Command(BaseCommand):
    help = "Delete expired guest verification codes and send records no rate limit needs (run hourly)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            removed = get_codes().purge()
        except TicketNotifyError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{removed} expired code(s) and send record(s) purged")
