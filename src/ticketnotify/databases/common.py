"""What both connection holders share: the cursor and holder shapes, instants, dialects."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ..errors import StoreUnavailableError

Unavailable = type[StoreUnavailableError]  # the outage error class a store raises


class Cursor(Protocol):
    """The part of a DB-API cursor (sqlite3's, psycopg's) that the shared SQL code uses."""

    @property
    def rowcount(self) -> int: ...  # noqa: D102

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...  # noqa: D102

    def fetchall(self) -> list[Any]: ...  # noqa: D102


class Database(Protocol):
    """What the shared SQL stores need of a connection holder (``SQLiteFile``, ``PostgresConnection``)."""

    @property
    def dialect(self) -> Dialect: ...  # noqa: D102

    def transaction(self, statements: int = 1) -> AbstractContextManager[Cursor]: ...  # noqa: D102

    def close(self) -> None: ...  # noqa: D102


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


def aware(moment: datetime) -> datetime:
    """Naive datetimes mean UTC, as everywhere in the library; never the session's zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True, slots=True)
class Dialect:
    """How a database spells what the shared SQL (written with ``%s``) needs."""

    sql: Callable[[str], str]  # a statement with ``%s`` placeholders, in the dialect's form
    to_db: Callable[[datetime], Any]  # an instant as stored
    from_db: Callable[[Any], datetime]  # an instant as read back, timezone-aware UTC


SQLITE = Dialect(sql=lambda s: s.replace("%s", "?"), to_db=to_micros, from_db=from_micros)
POSTGRES = Dialect(sql=lambda s: s, to_db=aware, from_db=lambda value: value)


def first_line(exc: BaseException) -> str:
    """The first line of a driver error's message (its class name if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
