"""The connections the stores share (outbox, guest codes): one SQLite file, one PostgreSQL link."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError

if TYPE_CHECKING:
    import psycopg

ConnectionFactory = Callable[[], "psycopg.Connection[Any]"]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    """SQLite keeps instants as UTC microseconds: exact, and integer comparison is index-friendly."""
    if moment.tzinfo is None:  # naive means UTC here, as in the rest of the library's clock
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _US


def from_micros(value: int) -> datetime:
    """Inverse of ``to_micros``; always timezone-aware UTC."""
    return _EPOCH + value * _US


class SQLiteFile:
    """One WAL-mode connection shared by threads; writes take the file's write lock up front."""

    def __init__(self, path: str | os.PathLike[str], *, what: str, busy_timeout: float = 30.0,
                 pragmas: Sequence[str] = ()) -> None:
        self.path = os.fspath(path)
        self.lock = threading.RLock()
        try:
            self.conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            for pragma in pragmas:
                self.conn.execute(f"PRAGMA {pragma}")
        except sqlite3.Error as exc:
            raise ConfigurationError(
                f"cannot open {what} {self.path!r}: {exc}; check the path and permissions"
            ) from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, so checks made inside it still hold at commit."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection; the file keeps everything committed."""
        with self.lock:
            self.conn.close()


def import_psycopg(what: str) -> Any:
    """psycopg 3 lives in the ``[postgres]`` extra; say so instead of a bare ImportError."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            f"{what} needs psycopg 3: pip install 'ticketnotify[postgres]'"
        ) from exc
    return psycopg


class PostgresConnection:
    """One autocommit psycopg connection in UTC, opened on first use and reopened if it breaks.

    ``conninfo`` is a libpq string or URL, or a callable returning a fresh connection (hosts
    that configure SSL, pools or search paths themselves).
    """

    def __init__(self, conninfo: str | ConnectionFactory, *, what: str) -> None:
        self.psycopg = import_psycopg(what)
        self.what = what
        self.lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        if isinstance(conninfo, str):
            from psycopg.conninfo import conninfo_to_dict

            # Without a timeout an unreachable server hangs the caller for minutes;
            # the host's own value, if it gave one, wins.
            extra = {} if "connect_timeout" in conninfo_to_dict(conninfo) else {
                "connect_timeout": 10}
            self._factory: ConnectionFactory = lambda: self.psycopg.connect(conninfo, **extra)
        else:
            self._factory = conninfo

    def get(self) -> psycopg.Connection[Any]:
        """The live connection (call with ``lock`` held)."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                conn = self._factory()
            except self.psycopg.Error as exc:
                raise ConfigurationError(
                    f"cannot connect to PostgreSQL for the {self.what}: {exc}; check the "
                    "connection string and that the server is running"
                ) from exc
            conn.autocommit = True
            conn.execute("SET TIME ZONE 'UTC'")
            self._conn = conn
        return self._conn

    def close(self) -> None:
        """Close the connection; the database keeps everything committed."""
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
