"""``ticketnotify outbox status|retry|purge`` on a real SQLite file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from ticketnotify.outbox.base import JobStatus, NewJob, Outbox, Outcome, OutcomeKind
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
    assert lines[6].startswith("oldest due: ") and "waiting" in lines[6]
    assert lines[7] == "recent dead letters (newest first, at most 10):"
    assert lines[8].endswith("email job000002 after 1 attempt(s): 550 no such user")
    assert main(["outbox", "status", "--json", "--outbox", f"sqlite:///{tmp_path}/o.db"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"channel": "email", "status": "dead", "count": 1} in report["counts"]
    assert report["oldest_pending_age_s"] >= 40 * 86400 - 60
    assert [(d["idempotency_key"], d["reason"]) for d in report["recent_dead_letters"]] == [
        ("job000002", "550 no such user")]
    # The pending email was due 40 days ago: that is how long it has waited for a worker.
    assert report["oldest_due_age_s"] >= 40 * 86400 - 60
    assert report["oldest_due"] == report["oldest_pending"]


def test_status_says_when_nothing_is_due(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A retry scheduled for later is pending but not due: no age to report yet."""
    store = SQLiteOutbox(tmp_path / "o.db")
    store.add(email_jobs(1), now_utc())
    (job,) = store.claim(now_utc(), 1, 60, "w")
    store.mark_retry(job.id, now_utc() + timedelta(hours=1), "451 later", worker_id="w")
    url = f"sqlite:///{tmp_path}/o.db"
    assert main(["outbox", "status", "--outbox", url]) == 0
    assert "oldest due: none (workers are keeping up)" in capsys.readouterr().out.splitlines()
    assert main(["outbox", "status", "--json", "--outbox", url]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["oldest_due"] is None and report["oldest_due_age_s"] is None
    assert report["oldest_pending"] is not None


def test_oldest_due_is_the_earliest_due_attempt(outbox: Outbox) -> None:
    """Every store: pending jobs due by ``now`` count, later retries and finished jobs not."""
    t0 = now_utc()
    outbox.add(email_jobs(3), t0 - timedelta(seconds=30))
    assert outbox.oldest_due(t0) == t0 - timedelta(seconds=30)
    assert outbox.oldest_due(t0 - timedelta(seconds=31)) is None
    a, b, c = outbox.claim(t0, 3, 60, "w")  # claimed but not done: still waiting
    assert outbox.oldest_due(t0) == t0 - timedelta(seconds=30)
    outbox.record([Outcome(a.id, OutcomeKind.DELIVERED, t0),
                   Outcome(b.id, OutcomeKind.RETRY, t0 + timedelta(seconds=5), "451"),
                   Outcome(c.id, OutcomeKind.DEAD, t0, "550")], worker_id="w")
    assert outbox.oldest_due(t0) is None
    assert outbox.oldest_due(t0 + timedelta(seconds=9)) == t0 + timedelta(seconds=5)


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
