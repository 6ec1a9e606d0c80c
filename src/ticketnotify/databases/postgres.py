"""One autocommit PostgreSQL connection, reopened when it breaks, with our errors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from .common import POSTGRES, Cursor, Unavailable, first_line

if TYPE_CHECKING:
    import psycopg

ConnectionFactory = Callable[[], "psycopg.Connection[Any]"]

def import_psycopg(what: str) -> Any:
    """Psycopg 3 lives in the ``[postgres]`` extra; say so instead of a bare ImportError."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            f"{what} needs psycopg 3: pip install 'ticketnotify[postgres]'"
        ) from exc
    return psycopg


# A server that answered a connection attempt with one of these refused this setup: waiting
# will not help. libpq gives no SQLSTATE for connection failures, so these are the server's
# (English) words; any other failure to connect counts as an outage and is retried.
_CONNECT_CONFIG = ("authentication failed", "does not exist", "no pg_hba.conf entry",
                   "permission denied", "no password supplied", "role is not permitted")
# SQLSTATEs of a working connection that mean the setup is wrong (missing table or schema,
# no privilege, login rules); classes 08/53/57/58/40 and read-only (failover) are outages.
_SQLSTATE_CONFIG = ("42P01", "3F000", "42501", "28000", "28P01", "3D000")
_SQLSTATE_OUTAGE = ("08", "53", "57", "58", "40", "25006", "55P03")


class PostgresConnection:
    """One autocommit psycopg connection in UTC, opened on first use and reopened if it breaks.

    Args:
        conninfo: A libpq string or URL, or a callable returning a fresh connection (hosts
            that configure SSL, pools or search paths themselves).
        what: What the connection is for, in messages ("outbox").
        unavailable: The error class an outage raises (``OutboxUnavailableError`` ...).
    """

    def __init__(self, conninfo: str | ConnectionFactory, *, what: str,
                 unavailable: Unavailable) -> None:
        self.psycopg = import_psycopg(what)
        self.what = what
        self.unavailable = unavailable
        self.lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        if isinstance(conninfo, str):
            from psycopg.conninfo import conninfo_to_dict

            try:
                given = conninfo_to_dict(conninfo)
            except self.psycopg.Error as exc:
                raise ConfigurationError(
                    f"the {what}'s connection string is not understood: {first_line(exc)}"
                ) from exc
            # Without a timeout an unreachable server hangs the caller for minutes;
            # the host's own value, if it gave one, wins.
            extra = {} if "connect_timeout" in given else {"connect_timeout": 10}
            self._factory: ConnectionFactory = lambda: self.psycopg.connect(conninfo, **extra)
        else:
            self._factory = conninfo

    def problem(self, exc: Exception, *, connecting: bool = False) -> Exception | None:
        """Our error for a driver error: an outage, a setup problem, or None (pass it on)."""
        state = getattr(exc, "sqlstate", None) or ""
        text = first_line(exc)
        if connecting:
            config = isinstance(exc, self.psycopg.ProgrammingError) or any(
                words in str(exc) for words in _CONNECT_CONFIG)
        else:
            config = state in _SQLSTATE_CONFIG
        if config:
            hint = ("the tables are missing: open the store once with create_schema=True or "
                    "run its create_schema()" if state in ("42P01", "3F000")
                    else "check the connection string, the role and its password")
            return ConfigurationError(f"cannot use PostgreSQL for the {self.what}: {text}; {hint}")
        if connecting or isinstance(exc, self.psycopg.OperationalError | self.psycopg.InterfaceError) \
                or state.startswith(_SQLSTATE_OUTAGE):
            return self.unavailable(
                f"the {self.what} is unavailable ({type(exc).__name__}: {text}); nothing was "
                "stored or changed: try again once the database is reachable")
        return None

    def get(self) -> psycopg.Connection[Any]:
        """The live connection (call with ``lock`` held).

        Raises:
            StoreUnavailableError: ``unavailable``: the server cannot be reached now.
            ConfigurationError: The server refused this setup (login, unknown database).
        """
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                conn = self._factory()
                conn.autocommit = True
                conn.execute("SET TIME ZONE 'UTC'")
            except self.psycopg.Error as exc:
                raise (self.problem(exc, connecting=True) or exc) from exc
            self._conn = conn
        return self._conn

    @contextmanager
    def session(self) -> Iterator[psycopg.Connection[Any]]:
        """The live connection with the lock held; driver errors come out as ours."""
        with self.lock:
            conn = self.get()
            try:
                yield conn
            except self.psycopg.Error as exc:
                problem = self.problem(exc)
                if problem is None:
                    raise
                raise problem from exc

    dialect = POSTGRES

    @contextmanager
    def transaction(self, statements: int = 1) -> Iterator[Cursor]:
        """A cursor in one transaction; a single statement runs as its own (no extra trips)."""
        with self.session() as conn, (
                conn.transaction() if statements > 1 else nullcontext()), conn.cursor() as cur:
            yield cur

    def close(self) -> None:
        """Close the connection; the database keeps everything committed."""
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
