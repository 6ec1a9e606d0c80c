"""Code stores: one contract for memory, SQLite and PostgreSQL, plus restart and file sharing.

PostgreSQL tests run on the real server on loopback, in a database of their own that is
dropped afterwards, so parallel test runs never wipe each other's rows.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketnotify.guest import (
    CodeStore,
    GuestLinks,
    MemoryCodeStore,
    NoCodeError,
    PostgresCodeStore,
    RateLimit,
    RateLimitedError,
    SQLiteCodeStore,
    StoredCode,
    VerificationCodes,
    WrongCodeError,
)
from ticketnotify.guest.stores.base import next_allowed
from ticketnotify.outbox.base import NewJob
from ticketnotify.outbox.sqlite import SQLiteOutbox

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
LIMITS = (RateLimit(3, timedelta(minutes=15)), RateLimit(10, timedelta(days=1)))
KEYS = ["link-key-" + "k" * 32]
SECRET = b"code-secret-" + b"s" * 32


def code(ticket: str = "T-1", address: str = "addr-1", hash_: str = "h1", attempts: int = 5,
         expires: timedelta = timedelta(minutes=10)) -> StoredCode:
    return StoredCode(ticket, address, hash_, T0, T0 + expires, attempts)


ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A throwaway database on the loopback PostgreSQL; an unreachable server fails the test."""
    name = f"tn_guest_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for these tests: {exc}")
    yield f"host=127.0.0.1 port=5432 user=postgres dbname={name}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], CodeStore]]:
    """A factory: every call opens the same data again (another connection where there is one)."""
    opened: list[CodeStore] = []
    conninfo = ""
    if request.param == "postgres":
        conninfo = request.getfixturevalue("pg_database")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            PostgresCodeStore(conninfo).close()
            conn.execute("TRUNCATE guest_codes, guest_sends")

    def make() -> CodeStore:
        if request.param == "memory":
            store: CodeStore = opened[0] if opened else MemoryCodeStore()
        elif request.param == "sqlite":
            store = SQLiteCodeStore(tmp_path / "guest.sqlite3")
        else:
            store = PostgresCodeStore(conninfo)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_reserve_send_counts_every_key_and_refuses_with_the_next_time(
    make_store: Callable[[], CodeStore],
) -> None:
    store = make_store()
    for minute in range(3):
        assert store.reserve_send({"a:1": LIMITS, "t:1": LIMITS},
                                  T0 + timedelta(minutes=minute)) is None
    assert store.reserve_send({"a:1": LIMITS}, T0 + timedelta(minutes=5)) == \
        T0 + timedelta(minutes=15)
    # "t:1" is full, so nothing is recorded for "a:2" either: all keys or none.
    assert store.reserve_send({"a:2": LIMITS, "t:1": LIMITS}, T0 + timedelta(minutes=5)) == \
        T0 + timedelta(minutes=15)
    for _ in range(3):
        assert store.reserve_send({"a:2": LIMITS}, T0 + timedelta(minutes=6)) is None
    assert store.reserve_send({"t:1": LIMITS}, T0 + timedelta(minutes=15)) is None


def test_a_code_is_replaced_attempted_and_discarded_once(
    make_store: Callable[[], CodeStore],
) -> None:
    store = make_store()
    assert store.take_attempt("T-1", "addr-1") is None
    store.put_code(code(hash_="old", attempts=2))
    store.put_code(code(hash_="new", attempts=2))  # supersedes
    first = store.take_attempt("T-1", "addr-1")
    assert first is not None and first.allowed and first.code.code_hash == "new"
    assert first.code.attempts_left == 1
    assert first.code.expires_at == T0 + timedelta(minutes=10)
    second = store.take_attempt("T-1", "addr-1")
    assert second is not None and second.allowed and second.code.attempts_left == 0
    third = store.take_attempt("T-1", "addr-1")
    assert third is not None and not third.allowed and third.code.attempts_left == 0
    assert not store.discard_code("T-1", "addr-1", "old")
    assert store.discard_code("T-1", "addr-1", "new")
    assert not store.discard_code("T-1", "addr-1", "new")
    assert store.take_attempt("T-1", "addr-1") is None


def test_codes_are_kept_per_ticket_and_address(make_store: Callable[[], CodeStore]) -> None:
    store = make_store()
    store.put_code(code("T-1", "addr-1", "h-a"))
    store.put_code(code("T-1", "addr-2", "h-b"))
    store.put_code(code("T-2", "addr-1", "h-c"))
    hashes = set()
    for ticket, address in (("T-1", "addr-1"), ("T-1", "addr-2"), ("T-2", "addr-1")):
        attempt = store.take_attempt(ticket, address)
        assert attempt is not None
        hashes.add(attempt.code.code_hash)
    assert hashes == {"h-a", "h-b", "h-c"}


def test_purge_drops_expired_codes_and_old_sends(make_store: Callable[[], CodeStore]) -> None:
    store = make_store()
    store.put_code(code("T-1", expires=timedelta(minutes=10)))
    store.put_code(code("T-2", expires=timedelta(hours=2)))
    store.reserve_send({"a:1": LIMITS}, T0)
    store.reserve_send({"a:1": LIMITS}, T0 + timedelta(hours=23))
    assert store.purge(T0 + timedelta(hours=1), keep_sends_for=timedelta(days=1)) == 1
    assert store.take_attempt("T-1", "addr-1") is None
    assert store.take_attempt("T-2", "addr-1") is not None
    assert store.purge(T0 + timedelta(days=1), keep_sends_for=timedelta(days=1)) == 2
    for _ in range(3):  # both old sends are gone: three fit the 15-minute window again
        assert store.reserve_send({"a:1": LIMITS}, T0 + timedelta(days=1)) is None


def test_parallel_guesses_never_exceed_the_attempts(make_store: Callable[[], CodeStore]) -> None:
    stores = [make_store() for _ in range(4)]
    stores[0].put_code(code(attempts=5))
    allowed: list[bool] = []
    consumed: list[bool] = []
    start = threading.Barrier(8)

    def guess(store: CodeStore) -> None:
        start.wait(timeout=10)
        for _ in range(5):
            attempt = store.take_attempt("T-1", "addr-1")
            allowed.append(attempt is not None and attempt.allowed)
            consumed.append(store.discard_code("T-1", "addr-1", "no-such-hash"))

    threads = [threading.Thread(target=guess, args=(stores[i % 4],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert allowed.count(True) == 5 and len(allowed) == 40
    assert not any(consumed)


def test_parallel_sends_never_slip_under_a_limit(make_store: Callable[[], CodeStore]) -> None:
    stores = [make_store() for _ in range(4)]
    results: list[datetime | None] = []
    start = threading.Barrier(8)

    def send(store: CodeStore, address: str) -> None:
        start.wait(timeout=10)
        for _ in range(2):
            results.append(store.reserve_send({address: LIMITS, "ticket:T-1": LIMITS}, T0))

    threads = [threading.Thread(target=send, args=(stores[i % 4], f"address:{i}"))
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 16 and results.count(None) == 3
    assert {r for r in results if r is not None} == {T0 + timedelta(minutes=15)}


def test_only_one_of_many_parallel_consumers_wins(make_store: Callable[[], CodeStore]) -> None:
    stores = [make_store() for _ in range(4)]
    stores[0].put_code(code(hash_="the-code"))
    wins: list[bool] = []
    start = threading.Barrier(8)

    def consume(store: CodeStore) -> None:
        start.wait(timeout=10)
        wins.append(store.discard_code("T-1", "addr-1", "the-code"))

    threads = [threading.Thread(target=consume, args=(stores[i % 4],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert wins.count(True) == 1 and len(wins) == 8


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 3 * 24 * 3600), min_size=0, max_size=25),
    st.lists(st.tuples(st.integers(1, 5), st.integers(1, 2 * 24 * 3600)), min_size=1, max_size=3),
)
def test_retry_at_is_exactly_when_the_next_send_fits(
    offsets: list[int], raw_limits: list[tuple[int, int]]
) -> None:
    """A store honours the limits; the retry time it names is the first instant a send fits."""
    limits = [RateLimit(count, timedelta(seconds=window)) for count, window in raw_limits]
    store = MemoryCodeStore()
    accepted: list[datetime] = []
    for offset in sorted(offsets):
        now = T0 + timedelta(seconds=offset)
        retry = store.reserve_send({"k": limits}, now)
        fits = all(sum(1 for t in accepted if t > now - lim.window) < lim.count for lim in limits)
        assert (retry is None) == fits
        if retry is None:
            accepted.append(now)
            continue
        assert retry > now
        assert next_allowed(accepted, limits, retry) is None
        assert next_allowed(accepted, limits, retry - timedelta(microseconds=1)) is not None
    for limit in limits:  # the limit held in every window
        for t in accepted:
            assert sum(1 for u in accepted if t - limit.window < u <= t) <= limit.count


class Inbox:
    def __init__(self) -> None:
        self.codes: list[str] = []

    async def __call__(self, *, email: str, locale: str, time_zone: str, code: str,
                       minutes: int, ticket_id: str) -> None:
        self.codes.append(code)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def test_codes_attempts_and_limits_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    links, clock, inbox = GuestLinks(KEYS), Clock(), Inbox()
    token = links.issue("T-1", "anna@example.se", now=T0)
    other = links.issue("T-2", "anna@example.se", now=T0)

    before = SQLiteCodeStore(path)
    codes = VerificationCodes(links, before, inbox, SECRET, clock=clock)
    await codes.asend_code(other, email="anna@example.se")
    await codes.asend_code(token, email="anna@example.se")
    await codes.asend_code(token, email="anna@example.se")
    wrong = f"{(int(inbox.codes[-1]) + 1) % 1_000_000:06d}"
    for _ in range(3):
        with pytest.raises(WrongCodeError):
            codes.verify_code(token, wrong, email="anna@example.se")
    before.close()

    after = SQLiteCodeStore(path)  # as a restarted process would
    codes = VerificationCodes(links, after, inbox, SECRET, clock=clock)
    with pytest.raises(RateLimitedError):  # three sends for this address already happened
        await codes.asend_code(token, email="anna@example.se")
    with pytest.raises(WrongCodeError) as refused:
        codes.verify_code(token, wrong, email="anna@example.se")
    assert refused.value.attempts_left == 1
    assert codes.verify_code(other, inbox.codes[0], email="anna@example.se").ticket_id == "T-2"
    assert codes.verify_code(token, inbox.codes[-1], email="anna@example.se").ticket_id == "T-1"
    with pytest.raises(NoCodeError):
        codes.verify_code(token, inbox.codes[-1], email="anna@example.se")
    with pytest.raises(NoCodeError):
        codes.verify_code(other, inbox.codes[0], email="anna@example.se")
    after.close()


async def test_the_store_shares_a_file_with_the_sqlite_outbox(tmp_path: Path) -> None:
    path = tmp_path / "ticketnotify.sqlite3"
    outbox = SQLiteOutbox(path)
    with sqlite3.connect(path) as peek:
        version = peek.execute("PRAGMA user_version").fetchone()[0]
    store = SQLiteCodeStore(path)
    store.put_code(code())
    assert outbox.add([NewJob("key-1", "email", {"kind": "email"})], T0) == 1
    assert store.take_attempt("T-1", "addr-1") is not None
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master "
                                                 "WHERE type = 'table'")}
        assert conn.execute("PRAGMA user_version").fetchone()[0] == version
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"guest_codes", "guest_sends"} <= tables
    assert all(t.startswith(("guest_", "ticketnotify_", "sqlite_")) for t in tables)
    reopened = SQLiteOutbox(path)  # the outbox's migrations still see their own version
    assert reopened.add([NewJob("key-1", "email", {"kind": "email"})], T0) == 0
    for closable in (store, outbox, reopened):
        closable.close()


async def test_the_file_holds_no_code_and_no_address(tmp_path: Path) -> None:
    path = tmp_path / "guest.sqlite3"
    store, inbox = SQLiteCodeStore(path), Inbox()
    links = GuestLinks(KEYS)
    codes = VerificationCodes(links, store, inbox, SECRET, clock=Clock())
    await codes.asend_code(links.issue("T-1", "anna@example.se", now=T0), email="anna@example.se")
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"anna" not in raw and inbox.codes[0].encode() not in raw


def test_an_unopenable_path_is_a_configuration_error(tmp_path: Path) -> None:
    from ticketnotify.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="code store"):
        SQLiteCodeStore(tmp_path / "no-such-dir" / "guest.sqlite3")
