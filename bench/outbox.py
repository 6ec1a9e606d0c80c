"""Outbox figures: publish rate into SQLite, publish → worker → smtp-sink, worker memory.

Run alone with ``python bench/outbox.py [--quick]``; ``bench/run.py`` imports ``run``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from ticketnotify.channels.base import Channel
from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.events import AccountUser, Device, Platform, Ticket, TicketUpdate, UpdateKind
from ticketnotify.messages import Message, Receipt
from ticketnotify.notifier import Links, Notifier
from ticketnotify.outbox.base import NewJob
from ticketnotify.outbox.sqlite import SQLiteOutbox
from ticketnotify.rendering import Renderer
from ticketnotify.worker import Worker

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
_RENDERER: list[Renderer] = []
LINKS = Links(web_ticket_url="https://help.example.com/tickets/{ticket_id}",
              app_ticket_url="examplehelp://tickets/{ticket_id}")


def notifier(store: SQLiteOutbox) -> Notifier:
    """A Notifier sharing one Renderer, so template compilation is paid once per run."""
    if not _RENDERER:
        _RENDERER.append(Renderer())
    return Notifier(store, renderer=_RENDERER[0], links=LINKS, guest_links=None)


def updates(count: int, *, devices: bool) -> list[TicketUpdate]:
    """Account users' agent replies: email plus (optionally) one iOS push each."""
    user = AccountUser(
        user_id="u-1", email="anna@example.se", locale="sv_SE", time_zone="Europe/Stockholm",
        devices=(Device(Platform.IOS, "a" * 64),) if devices else (), name="Anna",
    )
    now = datetime.now(UTC)
    return [
        TicketUpdate(event_id=f"evt-{i}", ticket=Ticket(str(10_000 + i), "Skrivaren brinner"),
                     kind=UpdateKind.AGENT_REPLY, recipient=user, occurred_at=now,
                     excerpt="Vi har bytt tonern.")
        for i in range(count)
    ]


def rss_mb() -> float:
    """Resident set size from /proc (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def publish_rate(store: SQLiteOutbox, count: int) -> float:
    """Events per second through Notifier.publish: render, then one transaction per event."""
    publisher = notifier(store)
    events = updates(count, devices=True)
    publisher.publish(events[0])  # warm the template cache
    started = time.perf_counter()
    for update in events[1:]:
        publisher.publish(update)
    return (count - 1) / (time.perf_counter() - started)


def bench_publish(folder: Path, count: int) -> list[dict[str, Any]]:
    """Notifier.publish into SQLite at both durability levels, and the raw store add."""
    figures = [
        {"name": "publish_events_per_s",
         "value": round(publish_rate(SQLiteOutbox(folder / "normal.db"), count), 1),
         "unit": "events/s (render + SQLite, default durability=normal, 2 jobs each)"},
        {"name": "publish_events_per_s_durability_full",
         "value": round(publish_rate(
             SQLiteOutbox(folder / "full.db", durability="full"), count), 1),
         "unit": "events/s (render + SQLite durability=full, 2 jobs each)"},
    ]
    batched = notifier(SQLiteOutbox(folder / "batched.db"))
    events = updates(count, devices=True)
    batched.publish_many(events[:100])  # warm the template cache
    started = time.perf_counter()
    for start in range(100, count, 100):
        batched.publish_many(events[start:start + 100])
    figures.append({"name": "publish_many_events_per_s",
                    "value": round((count - 100) / (time.perf_counter() - started), 1),
                    "unit": "events/s (render + SQLite, publish_many of 100 per transaction)"})
    rendered = [notifier(SQLiteOutbox(folder / "render.db"))._jobs(u)[0]
                for u in updates(200, devices=True)]
    rounds = max(1, count // 200)
    for durability in ("full", "normal"):
        raw = SQLiteOutbox(folder / f"raw-{durability}.db", durability=durability)
        now = datetime.now(UTC)
        started = time.perf_counter()
        for round_ in range(rounds):
            for jobs in rendered:
                raw.add([NewJob(f"{round_}-{j.idempotency_key}", j.channel, j.message)
                         for j in jobs], now)
        elapsed = time.perf_counter() - started
        figures.append({"name": f"publish_store_add_per_s_{durability}",
                        "value": round(rounds * 200 / elapsed, 1),
                        "unit": f"events/s (SQLiteOutbox.add only, durability={durability}, "
                                "2 rendered jobs each)"})
        raw.close()
    return figures


@contextmanager
def smtp_sink() -> Iterator[int]:
    """Postfix's smtp-sink on a free loopback port; it accepts and discards every message."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [SMTP_SINK, f"127.0.0.1:{port}", "256"]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "nobody"]
    sink = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:  # a benchmark may poll: it asserts nothing
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield port
    finally:
        sink.terminate()
        sink.wait()


async def _drain(store: SQLiteOutbox, channel: Channel) -> None:
    worker = Worker(store, {"email": channel}, batch_size=200, concurrency=50)
    await worker.drain()
    await worker.aclose()


def bench_e2e(folder: Path, count: int) -> list[dict[str, Any]]:
    """publish → SQLite → worker → SMTPChannel → smtp-sink, all in one process."""
    store = SQLiteOutbox(folder / "e2e.db")
    publisher = notifier(store)
    events = updates(count, devices=False)
    with smtp_sink() as port:
        channel = SMTPChannel(SMTPConfig(host="127.0.0.1", port=port, sender="notify@example.com",
                                         security="none", pool_size=8))
        started = time.perf_counter()
        for update in events:
            publisher.publish(update)
        published = time.perf_counter()
        asyncio.run(_drain(store, channel))
        finished = time.perf_counter()
    delivered = sum(c.count for c in store.counts() if c.status.value == "delivered")
    store.close()
    return [
        {"name": "e2e_emails_per_s_sqlite", "value": round(delivered / (finished - started), 1),
         "unit": "emails/s (publish + deliver to smtp-sink)"},
        {"name": "e2e_worker_emails_per_s_sqlite",
         "value": round(delivered / (finished - published), 1),
         "unit": "emails/s (worker only: SQLite → SMTPChannel → smtp-sink)"},
    ]


class NullChannel(Channel[Message]):
    """Accepts and forgets, so the memory figure measures the worker and the store only."""

    name: ClassVar[str] = "null"

    def __init__(self) -> None:
        self.sent = 0
        self.peak_rss = 0.0

    async def deliver(self, message: Message) -> Receipt:
        self.sent += 1
        if self.sent % 1000 == 0:
            self.peak_rss = max(self.peak_rss, rss_mb())
        return Receipt(channel=self.name, delivery_id=message.delivery_id)


def bench_memory(folder: Path, count: int, quick: bool) -> list[dict[str, Any]]:
    """RSS growth while one worker drains ``count`` jobs from SQLite."""
    store = SQLiteOutbox(folder / "memory.db")
    now = datetime.now(UTC)
    # A real rendered email (about 6 KB of JSON), stored under many keys.
    (template,) = notifier(SQLiteOutbox(folder / "template.db"))._jobs(
        updates(1, devices=False)[0])[0]
    for start in range(0, count, 1000):
        store.add([NewJob(f"m{i}", "email", {**template.message, "delivery_id": f"m{i}"})
                   for i in range(start, min(count, start + 1000))], now)
    channel = NullChannel()
    gc.collect()
    before = rss_mb()
    asyncio.run(_drain(store, channel))
    peak = max(channel.peak_rss, rss_mb())
    store.close()
    label = f"{count:,} jobs" + (", --quick" if quick else "")
    return [{"name": "memory_worker_growth_mb", "value": round(peak - before, 1),
             "unit": f"MB RSS growth draining {label} (goal < 50)"}]


def run(quick: bool) -> list[dict[str, Any]]:
    """All outbox figures; --quick uses fewer events and jobs (named in the units)."""
    folder = Path(tempfile.mkdtemp(prefix="ticketnotify-bench-"))
    try:
        figures = bench_publish(folder, 300 if quick else 5000)
        figures += bench_e2e(folder, 200 if quick else 3000)
        figures += bench_memory(folder, 2000 if quick else 100_000, quick)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


if __name__ == "__main__":
    for figure in run("--quick" in sys.argv[1:]):
        print(json.dumps(figure, ensure_ascii=False))
