"""Open an outbox from one string, so the CLI and hosts' settings name a store the same way."""

from __future__ import annotations

import re

from ..errors import ConfigurationError
from .base import Outbox

DEFAULT_URL = "sqlite:///ticketnotify-outbox.sqlite3"


def outbox_from_url(url: str) -> Outbox:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``postgresql://user@host/db``.

    A libpq key=value string (``host=db1 dbname=helpdesk``) also names PostgreSQL.
    """
    if url.startswith(("postgresql://", "postgres://")) or re.match(r"\s*\w+\s*=", url):
        from .postgres import PostgresOutbox

        return PostgresOutbox(url)
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        from .sqlite import SQLiteOutbox

        return SQLiteOutbox(url[len("sqlite:///"):])
    raise ConfigurationError(
        f"outbox URL {url!r} is not understood; use sqlite:///path/to/file.db or "
        "postgresql://user@host/dbname"
    )
