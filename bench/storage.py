"""Outbox v2 figures: bytes a job stores, publish against the commit floor, worker CPU per email.

* ``store_bytes_per_job``: bytes of the stored ``message`` column of one Swedish account
  email (baseline: the same email stored rendered, as the v1 release did).
* ``publish_vs_commit_floor``: ``Notifier.publish`` of one event per transaction, divided
  by a bare one-row INSERT + COMMIT on a file of the same durability (goal ≥ 0.5).
* ``worker_cpu_vs_channel``: this process's CPU time per email while a ``Worker`` drains
  SQLite into smtp-sink, divided by the CPU time per email of the bare ``SMTPChannel``
  sending the same messages, pre-rendered, at the same concurrency (goal ≤ 1.5).

Run alone with ``python bench/storage.py [--quick]``; ``bench/run.py`` imports ``run``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outbox import smtp_sink  # bench/outbox.py: smtp-sink on a free loopback port

from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.events import AccountUser, Ticket, TicketUpdate, UpdateKind
from ticketnotify.messages import EmailMessage
from ticketnotify.notifier import Links, Notifier
from ticketnotify.outbox.sqlite import SQLiteOutbox
from ticketnotify.rendering import Renderer
from ticketnotify.worker import Worker

LINKS = Links(web_ticket_url="https://help.example.com/tickets/{ticket_id}",
              app_ticket_url="examplehelp://tickets/{ticket_id}")
ANNA = AccountUser(user_id="u-1", email="anna@example.se", locale="sv_SE",
                   time_zone="Europe/Stockholm", name="Anna")
RENDERER = Renderer()


def _updates(count: int, prefix: str = "e") -> list[TicketUpdate]:
    now = datetime.now(UTC)
    return [TicketUpdate(event_id=f"{prefix}-{i}", ticket=Ticket(str(10_000 + i), "Skrivaren brinner"),
                         kind=UpdateKind.AGENT_REPLY, recipient=ANNA, occurred_at=now,
                         excerpt="Vi har bytt tonern, och skrivaren fungerar nu igen.")
            for i in range(count)]


def _notifier(store: SQLiteOutbox) -> Notifier:
    return Notifier(store, renderer=RENDERER, links=LINKS, guest_links=None)


def bench_bytes(folder: Path) -> dict[str, Any]:
    """The stored job of one Swedish account email, against the same email rendered."""
    store = SQLiteOutbox(folder / "bytes.db")
    notifier = _notifier(store)
    notifier.publish(_updates(1)[0])
    with sqlite3.connect(folder / "bytes.db") as conn:
        ((size,),) = conn.execute("SELECT length(CAST(message AS BLOB)) FROM ticketnotify_outbox")
    (job,) = store.claim(datetime.now(UTC), 1, 60.0, "bench")
    rendered = json.dumps(notifier.delivery_renderer.message(job).to_dict(),
                          separators=(",", ":"), ensure_ascii=False).encode()
    store.close()
    return {"name": "store_bytes_per_job", "value": size, "unit": "bytes (account email, "
            "Swedish: the job's stored message column; goal ≤ 1,200)",
            "baseline": len(rendered), "ratio": round(size / len(rendered), 3)}


def _commits_seconds(conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> float:
    started = time.perf_counter()
    for row in rows:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(sql, row)
        conn.execute("COMMIT")
    return time.perf_counter() - started


def bench_publish_floor(folder: Path, count: int, chunk: int = 50) -> list[dict[str, Any]]:
    """publish (one account email, one event per transaction) ÷ the bare commit floor.

    The floor is one small row INSERT + COMMIT into a one-column table of the same file,
    through a plain ``sqlite3`` connection at the same durability. Beside it, the same
    plain connection inserts the very row ``publish`` stores into the outbox table itself
    (its unique key and due index included, random keys like publish's): what the schema
    costs before any Python of ours. The three interleave in chunks of ``chunk``, so a
    machine that gets busier or quieter meanwhile weighs on all of them alike.
    """
    figures = []
    for durability in ("normal", "full"):
        path = folder / f"publish-{durability}.db"
        store = SQLiteOutbox(path, durability=durability)
        notifier = _notifier(store)
        notifier.publish(_updates(1, prefix=f"{durability}-warm")[0])  # opens, checks once
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute(f"PRAGMA synchronous={durability.upper()}")
        conn.execute("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        ((channel, message),) = conn.execute(
            "SELECT channel, message FROM ticketnotify_outbox LIMIT 1").fetchall()
        events = _updates(count, prefix=durability)
        spent = {"publish": 0.0, "floor": 0.0, "row": 0.0}
        for start in range(0, count, chunk):
            started = time.perf_counter()
            for update in events[start:start + chunk]:
                notifier.publish(update)
            spent["publish"] += time.perf_counter() - started
            spent["floor"] += _commits_seconds(
                conn, "INSERT INTO bench_floor (v) VALUES (?)",
                [(f"{start}-{i}",) for i in range(chunk)])
            spent["row"] += _commits_seconds(
                conn, "INSERT INTO ticketnotify_outbox (idempotency_key, channel, message,"
                " next_attempt_at, created_at) VALUES (?, ?, ?, 0, 0)",
                [(hashlib.sha256(f"{durability}-{start}-{i}".encode()).hexdigest()[:40],
                  channel, message) for i in range(chunk)])
        conn.close()
        store.close()
        done = len(range(0, count, chunk)) * chunk
        rate = {k: (count if k == "publish" else done) / v for k, v in spent.items()}
        suffix = "" if durability == "normal" else "_durability_full"
        figures.append({
            "name": f"publish_vs_commit_floor{suffix}",
            "value": round(rate["publish"] / rate["floor"], 3),
            "unit": f"ratio (publish of one account email per transaction ÷ bare one-row "
                    f"INSERT+COMMIT in the same file, synchronous={durability}; goal ≥ 0.5)",
            "publish_per_s": round(rate["publish"], 1), "floor_per_s": round(rate["floor"], 1),
            "outbox_row_per_s": round(rate["row"], 1)})
    return figures


async def _worker_cpu(store: SQLiteOutbox, port: int) -> float:
    channel = SMTPChannel(SMTPConfig(host="127.0.0.1", port=port, sender="notify@example.com",
                                     security="none", pool_size=8))
    worker = Worker(store, {"email": channel}, batch_size=200, concurrency=50,
                    renderer=RENDERER)
    started = time.process_time()
    await worker.drain()
    cpu = time.process_time() - started
    await worker.aclose()
    return cpu


async def _channel_cpu(messages: list[EmailMessage], port: int) -> float:
    channel = SMTPChannel(SMTPConfig(host="127.0.0.1", port=port, sender="notify@example.com",
                                     security="none", pool_size=8))
    slots = asyncio.Semaphore(50)

    async def one(message: EmailMessage) -> None:
        async with slots:
            await channel.send(message)

    started = time.process_time()
    await asyncio.gather(*(one(m) for m in messages))
    cpu = time.process_time() - started
    await channel.aclose()
    return cpu


def bench_worker_cpu(folder: Path, count: int) -> dict[str, Any]:
    """Worker CPU per email (claim, render, send, record) ÷ the bare channel's CPU per email."""
    store = SQLiteOutbox(folder / "worker.db")
    notifier = _notifier(store)
    notifier.publish_many(_updates(count, prefix="w"))
    # The same messages, pre-rendered, for the bare channel (outside the timing).
    scratch = SQLiteOutbox(folder / "scratch.db")
    _notifier(scratch).publish_many(_updates(count, prefix="c"))
    messages = [m for j in scratch.claim(datetime.now(UTC), count, 600.0, "bench")
                if isinstance(m := notifier.delivery_renderer.message(j), EmailMessage)]
    scratch.close()
    with smtp_sink() as port:
        channel_cpu = asyncio.run(_channel_cpu(messages, port))
        worker_cpu = asyncio.run(_worker_cpu(store, port))
    delivered = sum(c.count for c in store.counts() if c.status.value == "delivered")
    store.close()
    assert delivered == count, f"only {delivered} of {count} delivered"
    per_worker, per_channel = worker_cpu / count * 1e6, channel_cpu / count * 1e6
    return {"name": "worker_cpu_vs_channel", "value": round(per_worker / per_channel, 2),
            "unit": "ratio (worker CPU per email, SQLite → render → SMTPChannel → smtp-sink, "
                    "÷ the bare SMTPChannel's CPU per pre-rendered email; goal ≤ 1.5)",
            "worker_us_per_email": round(per_worker, 1),
            "channel_us_per_email": round(per_channel, 1)}


def run(quick: bool) -> list[dict[str, Any]]:
    """All storage figures; --quick uses fewer events."""
    folder = Path(tempfile.mkdtemp(prefix="ticketnotify-bench-storage-"))
    try:
        figures = [bench_bytes(folder)]
        figures += bench_publish_floor(folder, 400 if quick else 4000)
        figures.append(bench_worker_cpu(folder, 500 if quick else 5000))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


if __name__ == "__main__":
    for figure in run("--quick" in sys.argv[1:]):
        print(json.dumps(figure, ensure_ascii=False))
