"""Outbox schema version 2 (Outbox v2: jobs hold facts), with the store's own statements."""

from __future__ import annotations

from typing import Any

from django.db import migrations, transaction

from ..schema import applies_to, apply_outbox_schema


def forwards(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if applies_to(connection):
        with transaction.atomic(using=connection.alias):
            apply_outbox_schema(connection, version=2)


class Migration(migrations.Migration):
    dependencies = [("ticketnotify", "0001_initial")]
    atomic = False
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
