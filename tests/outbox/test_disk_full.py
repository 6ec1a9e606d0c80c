"""A full disk: publishing refuses cleanly, and freeing a little space lets everything resume.

The test mounts a 2 MB tmpfs of its own (root, as on this machine and in CI) and unmounts it
afterwards. Before checkpoints were deliberate, the write-ahead log kept the only free space
after a disk-full and delivery stalled until ~40 MB of log (issue 11.3).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ticketnotify.errors import OutboxUnavailableError
from ticketnotify.guest import CodeStoreUnavailableError, SQLiteCodeStore
from ticketnotify.guest.stores.base import StoredCode
from ticketnotify.outbox.base import JobStatus, Outcome, OutcomeKind
from ticketnotify.outbox.sqlite import SQLiteOutbox

from .test_contract import job

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
BODY = "Ärende 7: " + "x" * 2000  # about the size of a stored delivery's facts


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False, timeout=30)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a 2 MB tmpfs to fill (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, timeout=30)


def fill(disk: Path, piece: int = 100_000) -> list[Path]:
    """Ballast files until the disk refuses another byte; returns them, biggest first."""
    ballast: list[Path] = []
    for size in (piece, 4096, 512, 1):
        while True:
            path = disk / f"ballast-{len(ballast)}"
            try:
                with open(path, "wb") as f:
                    f.write(b"\0" * size)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError:
                path.unlink(missing_ok=True)
                break
            ballast.append(path)
    return ballast


def deliver_all(outbox: SQLiteOutbox, now: datetime, rounds: int = 100) -> tuple[int, int]:
    """What a worker does: claim, deliver, record, until nothing is due; (delivered, errors)."""
    delivered = errors = 0
    for _ in range(rounds):
        try:
            jobs = outbox.claim(now, 10, 60, "w")
            if not jobs:
                return delivered, errors
            results = outbox.record([Outcome(j.id, OutcomeKind.DELIVERED, now, "250 ok")
                                     for j in jobs], worker_id="w")
            delivered += sum(results)
        except OutboxUnavailableError:
            errors += 1
            now += timedelta(seconds=61)  # the lease of what was claimed runs out
    raise AssertionError(f"still not drained after {rounds} rounds ({errors} store errors)")


def fill_while_pending(disk: Path) -> tuple[SQLiteOutbox, list[Path]]:
    """The issue's scenario: 45 jobs pending behind a failing channel, then the disk full.

    A worker keeps claiming them and recording retries, as it does while the mail server
    is down.
    """
    outbox = SQLiteOutbox(disk / "ticketnotify.sqlite3")
    for n in range(45):  # one publish each, as a helpdesk does
        outbox.add([job(f"early-{n}", body=BODY)], T0)
    assert deliver_all(outbox, T0) == (45, 0)
    for n in range(45):
        outbox.add([job(f"late-{n}", body=BODY)], T0)
        outbox.record([Outcome(j.id, OutcomeKind.RETRY, T0, "421 try later")
                       for j in outbox.claim(T0, 10, 60, "w")], worker_id="w")
    return outbox, fill(disk)


@pytest.mark.slow
def test_a_full_disk_refuses_cleanly_and_100_kb_freed_lets_publishing_resume(
    small_disk: Path,
) -> None:
    outbox, ballast = fill_while_pending(small_disk)
    with pytest.raises(OutboxUnavailableError, match="nothing was stored"):
        outbox.add([job("refused", body=BODY), job("refused-push", "apns")], T0)
    assert outbox.get("refused") is None, "the refused publish stored nothing"
    ballast[0].unlink()  # 100 KB
    outbox.add([job("after", body=BODY)], T0)
    assert outbox.get("after") is not None
    outbox.close()


@pytest.mark.slow
def test_a_full_disk_is_a_code_store_outage(small_disk: Path) -> None:
    codes = SQLiteCodeStore(small_disk / "ticketnotify.sqlite3")
    fill(small_disk)
    with pytest.raises(CodeStoreUnavailableError, match="nothing was stored"):
        for n in range(1000):
            codes.put_code(StoredCode(f"T-{n}", "a", "h" * 64, T0, T0 + timedelta(minutes=10), 5))
    codes.close()


@pytest.mark.slow
def test_delivery_resumes_after_freeing_100_kb(small_disk: Path) -> None:
    outbox, ballast = fill_while_pending(small_disk)
    ballast[0].unlink()  # 100 KB
    outbox.add([job("after", body=BODY)], T0)
    delivered, errors = deliver_all(outbox, T0)
    assert delivered == 46
    assert errors <= 1, f"{errors} store errors before delivery resumed"
    assert {c.status for c in outbox.counts()} == {JobStatus.DELIVERED}
    outbox.close()
