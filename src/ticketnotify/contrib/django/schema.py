"""The store tables created through Django's migrations, from the stores' own statements.

Nothing here copies the tables' DDL: the outbox's ``MIGRATIONS`` (``outbox/sqlite.py``,
``outbox/postgres.py``) and the code store's ``SCHEMA`` (``guest/stores/``) are run on
Django's connection, and the outbox's version is recorded where the store itself looks
(``PRAGMA user_version`` for SQLite, the ``ticketnotify_schema`` table for PostgreSQL), so
a store opened later finds its schema current and creates nothing. A later outbox schema
version ships as a new Django migration calling ``apply_outbox_schema(..., version=N)``.
"""

from __future__ import annotations

from typing import Any

from .settings import SettingError, config, database_alias, outbox_on_django_db


def applies_to(connection: Any) -> bool:
    """Whether this migration run is on the database ``TICKETNOTIFY`` puts the tables in."""
    return bool(outbox_on_django_db() and connection.alias == database_alias())


def codes_on(connection: Any) -> bool:
    """Whether the code store lives in this Django database too (``CODE_STORE`` unset or "django")."""
    value = config().get("CODE_STORE", "django")
    return bool(value == "django" and connection.alias == database_alias())


def _outbox_migrations(vendor: str) -> tuple[tuple[str, ...], ...]:
    if vendor == "sqlite":
        from ...outbox.sqlite import MIGRATIONS
    elif vendor == "postgresql":
        from ...outbox.postgres import MIGRATIONS
    else:
        raise SettingError("DATABASE", f"the outbox runs on SQLite or PostgreSQL, not {vendor!r}")
    return MIGRATIONS


def outbox_version(cursor: Any, vendor: str) -> int:
    """The outbox schema version recorded in this database (0: none)."""
    if vendor == "sqlite":
        return int(cursor.execute("PRAGMA user_version").fetchone()[0])
    from ...outbox.postgres import COMPONENT, SCHEMA_TABLE

    cursor.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE}"
                   " (component text PRIMARY KEY, version integer NOT NULL)")
    cursor.execute(f"SELECT version FROM {SCHEMA_TABLE} WHERE component = %s", [COMPONENT])
    row = cursor.fetchone()
    return 0 if row is None else int(row[0])


def _record(cursor: Any, vendor: str, version: int) -> None:
    if vendor == "sqlite":
        cursor.execute(f"PRAGMA user_version={int(version)}")
        return
    from ...outbox.postgres import COMPONENT, SCHEMA_TABLE

    cursor.execute(f"INSERT INTO {SCHEMA_TABLE} (component, version) VALUES (%s, %s)"
                   " ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
                   [COMPONENT, version])


def apply_outbox_schema(connection: Any, version: int) -> None:
    """Bring the outbox tables on ``connection`` up to ``version`` with the store's own statements.

    Args:
        connection: a Django database connection (``schema_editor.connection``).
        version: the outbox schema version this Django migration stands for.

    Raises:
        SettingError: the database is neither SQLite nor PostgreSQL, or this ticketnotify
            has no schema version ``version`` (upgrade the package).
    """
    migrations = _outbox_migrations(connection.vendor)
    if version > len(migrations):
        raise SettingError("DATABASE", f"this ticketnotify knows outbox schema versions up to "
                                       f"{len(migrations)}, not {version}: upgrade ticketnotify")
    with connection.cursor() as cursor:
        raw = cursor.cursor if connection.vendor == "sqlite" else cursor
        current = outbox_version(raw, connection.vendor)
        for number, statements in enumerate(migrations[:version], start=1):
            if number > current:
                for statement in statements:
                    raw.execute(statement)
        if version > current:
            _record(raw, connection.vendor, version)


def use_wal(connection: Any) -> None:
    """Put a SQLite database in WAL mode (persistent), as the SQLite outbox keeps its own file.

    Then the worker's and the code store's connections read and write beside the site's,
    and opening the outbox inside a site transaction takes no lock. Runs outside a
    transaction (SQLite cannot switch modes inside one); PostgreSQL needs nothing.
    """
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")


def apply_code_schema(connection: Any) -> None:
    """Create the guest-code tables (``guest_codes``, ``guest_sends``) with the store's statements."""
    if connection.vendor == "sqlite":
        from ...guest.stores.sqlite import SCHEMA
    else:
        from ...guest.stores.postgres import SCHEMA
    with connection.cursor() as cursor:
        for statement in SCHEMA:
            cursor.execute(statement)


def drop_schema(connection: Any, *, outbox: bool, codes: bool) -> None:
    """Reverse of the initial migration: drop the tables and the recorded version."""
    with connection.cursor() as cursor:
        if codes:
            cursor.execute("DROP TABLE IF EXISTS guest_codes")
            cursor.execute("DROP TABLE IF EXISTS guest_sends")
        if outbox:
            cursor.execute("DROP TABLE IF EXISTS ticketnotify_outbox")
            raw = cursor.cursor if connection.vendor == "sqlite" else cursor
            _record(raw, connection.vendor, 0)
