"""SQLite specifics: WAL, joining a host connection on the same file, clear refusals."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ticketnotify.errors import ConfigurationError, InvalidInputError
from ticketnotify.outbox.base import JobStatus, Outcome, OutcomeKind
from ticketnotify.outbox.sqlite import SQLiteOutbox

from .test_contract import job

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def test_the_file_is_in_wal_mode_and_versioned(tmp_path: Path) -> None:
    SQLiteOutbox(tmp_path / "o.db").close()
    conn = sqlite3.connect(tmp_path / "o.db")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA user_version").fetchone() == (2,)  # Outbox v2
    conn.close()


def test_publishing_on_a_rolled_back_host_connection_leaves_no_job(tmp_path: Path) -> None:
    store = SQLiteOutbox(tmp_path / "o.db")
    host = sqlite3.connect(tmp_path / "o.db")
    host.execute("CREATE TABLE tickets (id TEXT PRIMARY KEY, status TEXT)")
    host.commit()
    host.execute("INSERT INTO tickets VALUES ('T-1', 'solved')")
    assert store.add([job("a"), job("b")], T0, transaction=host) == 2
    host.rollback()
    assert store.get("a") is None and store.counts() == []
    host.execute("INSERT INTO tickets VALUES ('T-1', 'solved')")
    assert store.add([job("a")], T0, transaction=host) == 1
    host.commit()
    assert store.get("a") is not None
    host.close()


def test_a_failing_row_stores_none_of_the_update(tmp_path: Path) -> None:
    store = SQLiteOutbox(tmp_path / "o.db")
    broken = job("b")
    object.__setattr__(broken, "channel", None)  # NOT NULL violated by the second row
    with pytest.raises(InvalidInputError, match="nothing was stored") as refused:
        store.add([job("a"), broken], T0)
    assert refused.value.field == "jobs"
    assert store.get("a") is None


def test_refusals_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="durability"):
        SQLiteOutbox(tmp_path / "o.db", durability="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="check the path"):
        SQLiteOutbox(tmp_path / "missing-dir" / "o.db")
    store = SQLiteOutbox(tmp_path / "o.db")
    with pytest.raises(InvalidInputError, match=r"sqlite3\.Connection") as refused:
        store.add([job("a")], T0, transaction=object())
    assert refused.value.field == "transaction"


def test_a_batch_of_outcomes_commits_all_or_none(tmp_path: Path) -> None:
    store = SQLiteOutbox(tmp_path / "o.db")
    store.add([job("a"), job("b")], T0)
    ids = [j.id for j in store.claim(T0, 10, 60, "w")]
    with pytest.raises(OverflowError):  # an id SQLite cannot hold fails the second UPDATE
        store.record([Outcome(ids[0], OutcomeKind.DELIVERED, T0, "250 ok"),
                      Outcome(2**70, OutcomeKind.DEAD, T0, "550")], worker_id="w")
    assert store.get("a").status is JobStatus.PENDING  # type: ignore[union-attr]
    assert store.record([Outcome(i, OutcomeKind.DELIVERED, T0, "250 ok") for i in ids],
                        worker_id="w") == [True, True]
    store.close()


def test_an_autocommit_connection_outside_a_transaction_is_refused(tmp_path: Path) -> None:
    store = SQLiteOutbox(tmp_path / "o.db")
    host = sqlite3.connect(tmp_path / "o.db", isolation_level=None)
    with pytest.raises(InvalidInputError, match="autocommit") as refused:
        store.add([job("a")], T0, transaction=host)
    assert refused.value.field == "transaction"
    assert store.get("a") is None
    host.close()
    store.close()


def test_a_connection_on_another_file_is_refused(tmp_path: Path) -> None:
    store = SQLiteOutbox(tmp_path / "o.db")
    SQLiteOutbox(tmp_path / "other.db").close()
    host = sqlite3.connect(tmp_path / "other.db")
    with pytest.raises(InvalidInputError, match="no worker would see"):
        store.add([job("a")], T0, transaction=host)
    host.rollback()
    host.close()
    store.close()


def test_a_failed_insert_leaves_the_host_transaction_usable(tmp_path: Path) -> None:
    store = SQLiteOutbox(tmp_path / "o.db")
    host = sqlite3.connect(tmp_path / "o.db")
    host.execute("CREATE TABLE tickets (id TEXT PRIMARY KEY, status TEXT)")
    host.commit()
    host.execute("INSERT INTO tickets VALUES ('T-1', 'solved')")
    broken = job("b")
    object.__setattr__(broken, "channel", None)  # NOT NULL violated by the second row
    with pytest.raises(InvalidInputError):
        store.add([job("a"), broken], T0, transaction=host)
    host.execute("UPDATE tickets SET status = 'closed'")
    host.commit()
    assert host.execute("SELECT status FROM tickets").fetchall() == [("closed",)]
    assert store.get("a") is None, "none of the update's jobs"
    host.close()
    store.close()
