"""Open an outbox from one string, so the CLI and hosts' settings name a store the same way."""

from __future__ import annotations

import re

from ..errors import ConfigurationError
from .base import Outbox

# The one default file, the README's: publishers, workers and ``outbox status`` all use it.
DEFAULT_PATH = "ticketnotify.sqlite3"
DEFAULT_URL = f"sqlite:///{DEFAULT_PATH}"


def outbox_from_url(url: str, *, create: bool = True) -> Outbox:
    """Open the outbox a URL names.

    Args:
        url: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
            ``postgresql://user@host/db`` (or ``postgres://``), or a libpq ``key=value``
            string (``host=db1 dbname=helpdesk``).
        create: True (publishers) creates what is missing: the SQLite file, the tables.
            False (workers, ``outbox status``) opens only an outbox that exists: a SQLite
            file that is not there, or a database without the outbox table, is refused
            instead of silently creating an empty outbox that nobody publishes into.

    Returns:
        A ``SQLiteOutbox`` or ``PostgresOutbox``; close it when done.

    Raises:
        ConfigurationError: The URL is not understood; or with ``create=False`` the outbox
            does not exist; or the server refused the login or database.
        OutboxUnavailableError: The store cannot be reached now (server down, file locked,
            disk full).
    """
    if url.startswith(("postgresql://", "postgres://")) or re.match(r"\s*\w+\s*=", url):
        from .postgres import PostgresOutbox

        store = PostgresOutbox(url, create_schema=create)
        if not create:
            try:
                store.check_schema()
            except BaseException:
                store.close()
                raise
        return store
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        from .sqlite import SQLiteOutbox

        return SQLiteOutbox(url[len("sqlite:///"):], create=create)
    raise ConfigurationError(
        f"outbox URL {url!r} is not understood; use sqlite:///path/to/file.db or "
        "postgresql://user@host/dbname"
    )
