"""One SQLite file in WAL mode shared by threads, with our errors and deliberate checkpoints."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from urllib.parse import quote

from ..errors import ConfigurationError
from .common import SQLITE, Cursor, Unavailable, first_line

# SQLite's primary result codes (https://sqlite.org/rescode.html) that mean the file cannot
# be used as configured: waiting will not help, someone has to fix a path or permissions.
_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_AUTH, _SQLITE_NOTADB = 3, 8, 14, 23, 26
_SQLITE_CONFIG = {_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_AUTH, _SQLITE_NOTADB}
_SQLITE_IOERR, _SQLITE_FULL = 10, 13
# Busy, locked, out of memory, I/O error, corrupt, full, lock protocol: the file is there but
# cannot take this call now.
_SQLITE_OUTAGE = {5, 6, 7, _SQLITE_IOERR, 11, _SQLITE_FULL, 15}

# Bytes of write-ahead log after which a worker's claim folds the log back into the file
# (and what a reset log is truncated to). SQLite's own bound (``wal_autocheckpoint``) is
# kept high for publish speed, but then a log of ~1 MB held the only free space after a
# disk-full, and nothing folded it back (issue 11.3). Publishers never fold on size: each
# fold costs an fsync, and folding every 4 MB in ``publish`` cost ~40% of its rate here.
WAL_LIMIT = 4 * 1024 * 1024
# An idle worker folds a log bigger than this: a smaller one is not worth an fsync on every
# poll while a trickle of publishes goes on.
IDLE_FOLD = 64 * 1024
# Log growth (bytes) after which a write asks the file system for its free space again.
FREE_SPACE_STEP = 256 * 1024


class SQLiteFile:
    """One WAL-mode connection shared by threads; writes take the file's write lock up front.

    Args:
        path: The database file.
        what: What the file is for, in messages ("SQLite outbox").
        unavailable: The error class an outage raises (``OutboxUnavailableError`` ...).
        busy_timeout: Seconds a write waits for another process's write lock.
        pragmas: ``PRAGMA`` settings applied after opening (``"synchronous=NORMAL"``).
        create: False refuses to create a file that does not exist yet.
        wal_limit: Bytes of write-ahead log after which a write folds it into the file.

    Raises:
        ConfigurationError: The file cannot be opened or created (missing directory,
            permissions, not a database), or does not exist and ``create`` is False.
        StoreUnavailableError: ``unavailable`` itself: the file is locked or the disk full.
    """

    def __init__(self, path: str | os.PathLike[str], *, what: str, unavailable: Unavailable,
                 busy_timeout: float = 30.0, pragmas: Sequence[str] = (),
                 create: bool = True, wal_limit: int = WAL_LIMIT) -> None:
        self.path = os.fspath(path)
        self.what = what
        self.unavailable = unavailable
        self.lock = threading.RLock()
        self._busy_ms = int(busy_timeout * 1000)
        self.wal_limit = wal_limit
        self._wal = self.path + "-wal"
        self._fold_first = False  # a disk-full left the log unfolded: fold before writing
        self._free = (0, 0)  # (free bytes last seen, log size then): see _room_left
        if not create and not os.path.exists(self.path):
            raise ConfigurationError(
                f"no {what} at {self.path!r}: the file does not exist (nothing was created); "
                "name the file your publishers write to (the README's default is "
                "ticketnotify.sqlite3)")
        target = self.path if create else f"file:{quote(os.path.abspath(self.path))}?mode=rw"
        try:
            self.conn = sqlite3.connect(target, timeout=busy_timeout, isolation_level=None,
                                        check_same_thread=False, uri=not create)
        except sqlite3.Error as exc:
            raise ConfigurationError(
                f"cannot open {what} {self.path!r}: {exc}; check the path and permissions"
            ) from exc
        with self.guard():
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute(f"PRAGMA journal_size_limit={self.wal_limit}")
            for pragma in pragmas:
                self.conn.execute(f"PRAGMA {pragma}")

    def problem(self, exc: sqlite3.Error) -> Exception | None:
        """Our error for a driver error: an outage, a setup problem, or None (pass it on)."""
        code = getattr(exc, "sqlite_errorcode", None)
        primary = None if code is None else code & 0xFF
        if primary in _SQLITE_CONFIG:
            return ConfigurationError(
                f"cannot use {self.what} {self.path!r}: {first_line(exc)}; check the path "
                "and permissions")
        if isinstance(exc, sqlite3.OperationalError) or primary in _SQLITE_OUTAGE:
            return self.unavailable(
                f"the {self.what} {self.path!r} is unavailable ({type(exc).__name__}: "
                f"{first_line(exc)}); nothing was stored or changed: try again once the disk "
                "has room and no other process holds the file locked")
        return None

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Raise our errors for the driver's; after a disk-full, fold the WAL back at once."""
        try:
            yield
        except sqlite3.Error as exc:
            problem = self.problem(exc)
            if problem is None:
                raise
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code in (_SQLITE_FULL, _SQLITE_IOERR):
                # The log grows by appending until a checkpoint folds it back; TRUNCATE then
                # gives its space to the file system. Folding needs room for the file to
                # grow, so until it succeeds every write tries it first, before it uses up
                # space freed meanwhile (issue 11.3).
                self._fold_first = not self.checkpoint()
            raise problem from exc

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads, with the lock held and errors translated."""
        with self.lock, self.guard():
            yield self.conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, so checks made inside it still hold at commit."""
        with self.lock:
            if self._fold_first:
                self._fold_first = not self.checkpoint()
            with self.guard():
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                    self.conn.execute("COMMIT")
                except BaseException:
                    # SQLite may have rolled back already (disk full, I/O error); a failing
                    # ROLLBACK must not hide the error that says why.
                    if self.conn.in_transaction:
                        with suppress(sqlite3.Error):
                            self.conn.execute("ROLLBACK")
                    raise
            wal = self.wal_size()
            if wal > self._room_left(wal):
                # Bigger than the room left on the disk: folding now still has room for
                # the file to grow, later it might not (issue 11.3).
                self.checkpoint()

    def fold(self, *, idle: bool) -> None:
        """Fold the log back if it passed ``wal_limit``, or a worker found nothing due (64 KB+).

        Workers call this after claiming, so publishers never wait for a fold.
        """
        wal = self.wal_size()
        if wal > self.wal_limit or (idle and wal > IDLE_FOLD):
            self.checkpoint()

    dialect = SQLITE

    @contextmanager
    def transaction(self, statements: int = 1) -> Iterator[Cursor]:
        """A cursor in one write transaction (``write``), whatever the number of statements."""
        with self.write() as conn:
            yield conn.cursor()

    def wal_size(self) -> int:
        """Bytes in the write-ahead log file now (0 if there is none)."""
        try:
            return os.stat(self._wal).st_size
        except OSError:
            return 0

    def _room_left(self, wal: int) -> int:
        """``free_space()``, asked again only when it could matter (it costs a statvfs).

        The answer is reused while the log has grown less than ``FREE_SPACE_STEP`` bytes
        since it was asked and stays under half of it; nearer the edge every write asks.
        """
        known, asked_at = self._free
        if wal * 2 > known or wal - asked_at >= FREE_SPACE_STEP or wal < asked_at:
            known, asked_at = self._free = (self.free_space(), wal)
        return known

    def free_space(self) -> int:
        """Bytes the file system holding the file still has for us (huge if unknown)."""
        try:
            stat = os.statvfs(os.path.dirname(os.path.abspath(self.path)))
        except (OSError, AttributeError):  # no statvfs (Windows): rely on the size bound
            return 1 << 62
        return stat.f_bavail * stat.f_frsize

    def checkpoint(self, mode: str = "TRUNCATE") -> bool:
        """Fold the WAL into the file (TRUNCATE: and give the log's space back); True if done.

        Waits at most 0.2 s for other processes' readers and writers (then the next call
        tries again), and never raises: it only ever makes room. ``"PASSIVE"`` waits for
        nobody and lets the next write start the log over, without shrinking the file.
        """
        with self.lock:
            if self.conn.in_transaction:
                return False
            try:
                self.conn.execute("PRAGMA busy_timeout=200")
                try:
                    busy = self.conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[0]
                finally:
                    self.conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            except sqlite3.Error:
                return False
            return bool(busy == 0)

    def close(self) -> None:
        """Close the connection; the file keeps everything committed."""
        with self.lock:
            self.conn.close()
