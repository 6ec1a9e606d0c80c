"""Outbox schema version 1 and the guest-code tables, from the stores' own statements.

A later outbox schema version comes as ``0002_outbox_v2`` calling
``apply_outbox_schema(connection, version=2)``; see ``ticketnotify/contrib/django/schema.py``.
"""

from typing import Any

from django.db import migrations, transaction

from ticketnotify.contrib.django.schema import (
    applies_to,
    apply_code_schema,
    apply_outbox_schema,
    codes_on,
    drop_schema,
    use_wal,
)


def forwards(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if applies_to(connection) or codes_on(connection):
        use_wal(connection)  # outside the transaction: SQLite switches modes only there
    with transaction.atomic(using=connection.alias):
        if applies_to(connection):
            apply_outbox_schema(connection, version=1)
        if codes_on(connection):
            apply_code_schema(connection)


def backwards(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    drop_schema(connection, outbox=applies_to(connection), codes=codes_on(connection))


class Migration(migrations.Migration):
    initial = True
    atomic = False  # forwards() opens its own transaction after the WAL switch
    operations = [migrations.RunPython(forwards, backwards)]
