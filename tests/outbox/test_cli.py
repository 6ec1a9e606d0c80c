"""``ticketnotify outbox status|retry|purge`` on a real SQLite file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from ticketnotify.outbox.base import JobStatus, NewJob
from ticketnotify.outbox.cli import main, parse_age
from ticketnotify.outbox.sqlite import SQLiteOutbox

from .sink import email_jobs, now_utc


def seeded(path: Path) -> SQLiteOutbox:
    """Two delivered, one dead, two pending (one of them a push)."""
    store = SQLiteOutbox(path)
    jobs = email_jobs(4)
    store.add(jobs, now_utc() - timedelta(days=40))
    store.add([NewJob("push-1", "apns", {"kind": "push"})], now_utc())
    claimed = store.claim(now_utc(), 3, 60, "w")
    store.mark_delivered(claimed[0].id, now_utc())
    store.mark_delivered(claimed[1].id, now_utc())
    store.mark_dead(claimed[2].id, now_utc(), "550 no such user")
    return store


def test_status_counts_by_channel_and_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeded(tmp_path / "o.db")
    assert main(["outbox", "status", "--outbox", f"sqlite:///{tmp_path}/o.db"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:5] == [
        "apns         pending             1",
        "email        dead                1",
        "email        delivered           2",
        "email        pending             1",
    ]
    assert lines[5].startswith("oldest pending: ") and "ago" in lines[5]
    assert lines[6] == "recent dead letters (newest first, at most 10):"
    assert lines[7].endswith("email job000002 after 1 attempt(s): 550 no such user")
    assert main(["outbox", "status", "--json", "--outbox", f"sqlite:///{tmp_path}/o.db"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"channel": "email", "status": "dead", "count": 1} in report["counts"]
    assert report["oldest_pending_age_s"] >= 40 * 86400 - 60
    assert [(d["idempotency_key"], d["reason"]) for d in report["recent_dead_letters"]] == [
        ("job000002", "550 no such user")]


def test_retry_revives_dead_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = seeded(tmp_path / "o.db")
    url = f"sqlite:///{tmp_path}/o.db"
    assert main(["outbox", "retry", "--channel", "apns", "--outbox", url]) == 0
    assert capsys.readouterr().out == "0 dead job(s) pending again\n"
    assert main(["outbox", "retry", "--outbox", url]) == 0
    assert capsys.readouterr().out == "1 dead job(s) pending again\n"
    assert all(c.status is not JobStatus.DEAD for c in store.counts())


def test_purge_removes_only_old_finished_jobs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = seeded(tmp_path / "o.db")
    url = f"sqlite:///{tmp_path}/o.db"
    assert main(["outbox", "purge", "--older-than", "50d", "--outbox", url]) == 0
    assert capsys.readouterr().out == "0 finished job(s) purged\n"
    assert main(["outbox", "purge", "--older-than", "30d", "--outbox", url]) == 0
    assert capsys.readouterr().out == "3 finished job(s) purged\n"
    assert sum(c.count for c in store.counts()) == 2


def test_ages_and_bad_input_are_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_age("30d") == timedelta(days=30)
    assert parse_age("1.5h") == timedelta(minutes=90)
    with pytest.raises(SystemExit):
        main(["outbox", "purge", "--older-than", "last tuesday"])
    assert "30d, 12h or 90m" in capsys.readouterr().err
    assert main(["outbox", "status", "--outbox", "mysql://nope"]) == 2
    assert "sqlite:///" in capsys.readouterr().err
