"""`manage.py migrate ticketnotify` creates what the stores expect, with their own statements."""

from __future__ import annotations

import sqlite3

import pytest
from django.core.management import call_command
from django.db import connection

from ticketnotify.contrib.django.settings import get_codes, get_outbox, reset
from ticketnotify.outbox.sqlite import MIGRATIONS

pytestmark = pytest.mark.django_db(transaction=True)


def tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def test_migrate_creates_the_tables_and_records_the_stores_version() -> None:
    assert {"ticketnotify_outbox", "guest_codes", "guest_sends"} <= tables()
    path = connection.settings_dict["NAME"]
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    get_outbox()  # opening finds its schema current: nothing to create
    get_codes()


def test_migrating_back_drops_them_and_the_stores_refuse_to_run_without() -> None:
    call_command("migrate", "ticketnotify", "zero", verbosity=0)
    try:
        assert not {"ticketnotify_outbox", "guest_codes", "guest_sends"} & tables()
        reset()
        with pytest.raises(Exception, match="migrate ticketnotify"):
            get_outbox()
    finally:
        call_command("migrate", "ticketnotify", verbosity=0)
    assert {"ticketnotify_outbox", "guest_codes", "guest_sends"} <= tables()
