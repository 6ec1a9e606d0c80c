"""``ticketnotify worker``: channels from flags, factories and entry points; hooks; refusals."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from ticketnotify.channels.base import Channel
from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.cli import main
from ticketnotify.errors import InvalidAddressError
from ticketnotify.events import Device
from ticketnotify.messages import PushMessage
from ticketnotify.outbox.base import ChannelCount, JobStatus, NewJob
from ticketnotify.outbox.sqlite import SQLiteOutbox

from ..outbox.sink import email_jobs, now_utc
from ..outbox.test_cli import seeded


def test_a_worker_without_channels_says_how_to_configure_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TICKETNOTIFY_SMTP_SENDER", "TICKETNOTIFY_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    SQLiteOutbox(tmp_path / "o.db").close()  # the publisher made it; the worker never does
    assert main(["worker", "--once", "--outbox", f"sqlite:///{tmp_path}/o.db"]) == 2
    assert "no channels configured" in capsys.readouterr().err


SENT_BY_FACTORY: list[MemoryChannel] = []


def memory_channels() -> dict[str, Channel]:
    """A host's channel factory, as named by ``--channels tests.worker.test_cli:memory_channels``."""
    SENT_BY_FACTORY.append(MemoryChannel())
    return {"email": SENT_BY_FACTORY[-1], "apns": SENT_BY_FACTORY[-1]}


def test_worker_once_delivers_through_the_hosts_channel_factory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = seeded(tmp_path / "o.db")
    url = f"sqlite:///{tmp_path}/o.db"
    factory = "tests.worker.test_cli:memory_channels"
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
    """The host's hook, as named by ``--on-invalid-device tests.worker.test_cli:forget_device``."""
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
                 "--channels", "tests.worker.test_cli:dead_push_channels",
                 "--on-invalid-device", "tests.worker.test_cli:forget_device"]) == 0
    assert list(FORGOTTEN) == [("u-1", Device("ios", DEAD_TOKEN))]
    assert store.counts() == [ChannelCount("apns", JobStatus.DEAD, 2)]
    capsys.readouterr()
    for bad, says in (("tests.worker.test_cli:nowhere", "nowhere"),
                      ("tests.worker.test_cli:DEAD_TOKEN", "not a function")):
        assert main(["worker", "--once", "--outbox", url, "--channels",
                     "tests.worker.test_cli:dead_push_channels", "--on-invalid-device", bad]) == 2
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


@pytest.mark.slow
async def test_worker_once_returns_on_an_outbox_holding_a_poison_job(tmp_path: Path) -> None:
    """Issue 11.1: ``--once`` used to claim and release a bad job ~1,700 times a second."""
    store = SQLiteOutbox(tmp_path / "o.db")
    good = NewJob("good", "memory", email_jobs(1)[0].message)
    store.add([NewJob("bad", "memory", ["x"]), good], now_utc())  # type: ignore[arg-type]
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ticketnotify.worker.cli", "worker", "--once", "--progress", "0",
        "--outbox", f"sqlite:///{tmp_path}/o.db", "--channels", "memory",
        stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(worker.communicate(), 120)  # a hang guard
    finally:
        if worker.returncode is None:
            worker.kill()
    assert worker.returncode == 0, err
    bad = store.get("bad")
    assert bad is not None and bad.status is JobStatus.DEAD and bad.attempts == 1
    assert "unreadable message: AttributeError" in (bad.last_error or "")
    assert store.counts() == [ChannelCount("memory", JobStatus.DEAD, 1),
                              ChannelCount("memory", JobStatus.DELIVERED, 1)]


HOST_MODULE = '''
from ticketnotify.brands import Brand
from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.notifier import Notifier
from ticketnotify.outbox.sqlite import SQLiteOutbox

SENT = MemoryChannel()
BILLING = Brand(name="billing", web_ticket_url="https://billing.example.com/t/{ticket_id}",
                sender="billing@example.net", sender_name="Billing Team")
notifier = Notifier(SQLiteOutbox(OUTBOX), brands=[BILLING], guest_links=None)


def channels():
    return {"email": SENT}
'''


def test_the_worker_renders_with_the_notifier_named_by_renderer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from ticketnotify.events import AccountUser, Ticket, TicketUpdate

    path = tmp_path / "o.db"
    (tmp_path / "hostnotify.py").write_text(f"OUTBOX = {str(path)!r}\n" + HOST_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import hostnotify  # type: ignore[import-not-found]

    hostnotify.notifier.publish(TicketUpdate(
        event_id="e-1", ticket=Ticket("K-1", "Invoice twice"), kind="agent_reply",
        recipient=AccountUser(user_id="u-1", email="anna@example.com"),
        occurred_at=datetime.now(UTC)))
    assert main(["worker", "--once", "--progress", "0", "--outbox", f"sqlite:///{path}",
                 "--channels", "hostnotify:channels", "--renderer", "hostnotify"]) == 0
    (mail,) = hostnotify.SENT.sent
    assert mail.sender == "billing@example.net" and mail.sender_name == "Billing Team"
    assert "https://billing.example.com/t/K-1" in mail.text


def test_renderer_naming_something_else_says_what_to_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "hostchannels.py").write_text(
        "from ticketnotify.channels.memory import MemoryChannel\n"
        "def channels():\n    return {'email': MemoryChannel()}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    SQLiteOutbox(tmp_path / "o.db").close()
    assert main(["worker", "--once", "--outbox", f"sqlite:///{tmp_path}/o.db", "--channels",
                 "hostchannels:channels", "--renderer", "os:sep"]) == 2
    assert "name your Notifier" in capsys.readouterr().err
