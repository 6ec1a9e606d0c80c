"""``ticketnotify outbox status|retry|purge`` and the worker's refusals, on a real SQLite file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from ticketnotify.channels.base import Channel
from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.errors import InvalidAddressError
from ticketnotify.events import Device
from ticketnotify.messages import PushMessage
from ticketnotify.outbox.base import ChannelCount, JobStatus, NewJob
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
    assert main(["outbox", "status", "--json", "--outbox", f"sqlite:///{tmp_path}/o.db"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"channel": "email", "status": "dead", "count": 1} in report["counts"]
    assert report["oldest_pending_age_s"] >= 40 * 86400 - 60


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


def test_a_worker_without_channels_says_how_to_configure_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TICKETNOTIFY_SMTP_SENDER", "TICKETNOTIFY_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    assert main(["worker", "--once", "--outbox", f"sqlite:///{tmp_path}/o.db"]) == 2
    assert "no channels configured" in capsys.readouterr().err


SENT_BY_FACTORY: list[MemoryChannel] = []


def memory_channels() -> dict[str, Channel]:
    """A host's channel factory, as named by ``--channels tests.outbox.test_cli:memory_channels``."""
    SENT_BY_FACTORY.append(MemoryChannel())
    return {"email": SENT_BY_FACTORY[-1], "apns": SENT_BY_FACTORY[-1]}


def test_worker_once_delivers_through_the_hosts_channel_factory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = seeded(tmp_path / "o.db")
    url = f"sqlite:///{tmp_path}/o.db"
    factory = "tests.outbox.test_cli:memory_channels"
    assert main(["worker", "--once", "--progress", "0", "--outbox", url, "--channels", factory]) == 0
    assert sorted(m.delivery_id for m in SENT_BY_FACTORY[-1].sent) == ["job000003"]
    assert "delivered=1 " in capsys.readouterr().err
    assert {c.status for c in store.counts() if c.channel == "email"} == {
        JobStatus.DELIVERED, JobStatus.DEAD}
    assert main(["worker", "--once", "--outbox", url, "--channels", "no.such.module:x"]) == 2
    assert "--channels 'no.such.module:x'" in capsys.readouterr().err


DEAD_TOKEN = "de" * 32
FORGOTTEN: list[tuple[str, Device]] = []


def dead_push_channels() -> dict[str, Channel]:
    """A host factory whose APNs stand-in answers that one token is dead."""
    channel = MemoryChannel()
    channel.fail_with[DEAD_TOKEN] = InvalidAddressError("410 Unregistered")
    return {"apns": channel}


def forget_device(user_id: str, device: Device) -> None:
    """The host's hook, as named by ``--on-invalid-device tests.outbox.test_cli:forget_device``."""
    FORGOTTEN.append((user_id, device))


def push_job(key: str) -> NewJob:
    message = PushMessage(delivery_id=key, ticket_id="1", locale="en", platform="ios",
                          token=DEAD_TOKEN, user_id="u-1", title="t", body="b",
                          deep_link="app://t/1", thread_id="ticket-1", collapse_id="ticket-1")
    return NewJob(key, "apns", message.to_dict())


def test_worker_reports_dead_devices_to_the_hosts_function(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SQLiteOutbox(tmp_path / "o.db")
    store.add([push_job("p1"), push_job("p2")], now_utc())
    url = f"sqlite:///{tmp_path}/o.db"
    FORGOTTEN.clear()
    assert main(["worker", "--once", "--progress", "0", "--outbox", url,
                 "--channels", "tests.outbox.test_cli:dead_push_channels",
                 "--on-invalid-device", "tests.outbox.test_cli:forget_device"]) == 0
    assert list(FORGOTTEN) == [("u-1", Device("ios", DEAD_TOKEN))]
    assert store.counts() == [ChannelCount("apns", JobStatus.DEAD, 2)]
    capsys.readouterr()
    for bad, says in (("tests.outbox.test_cli:nowhere", "nowhere"),
                      ("tests.outbox.test_cli:DEAD_TOKEN", "not a function")):
        assert main(["worker", "--once", "--outbox", url, "--channels",
                     "tests.outbox.test_cli:dead_push_channels", "--on-invalid-device", bad]) == 2
        err = capsys.readouterr().err
        assert f"--on-invalid-device {bad!r}" in err and says in err


def test_channels_may_name_registered_entry_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SQLiteOutbox(tmp_path / "o.db")
    store.add([NewJob("m1", "memory", email_jobs(1)[0].message)], now_utc())
    url = f"sqlite:///{tmp_path}/o.db"
    # "memory" is registered under ticketnotify.channels in this package's own metadata.
    assert main(["worker", "--once", "--progress", "0", "--outbox", url,
                 "--channels", "memory"]) == 0
    assert store.counts() == [ChannelCount("memory", JobStatus.DELIVERED, 1)]
    capsys.readouterr()
    assert main(["worker", "--once", "--outbox", url, "--channels", "carrier-pigeon"]) == 2
    assert "no channel named 'carrier-pigeon'" in capsys.readouterr().err
    assert main(["worker", "--once", "--outbox", url, "--channels", "files"]) == 2
    assert "FilesChannel cannot configure itself" in capsys.readouterr().err
