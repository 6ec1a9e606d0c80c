"""Fault matrix, store side (issue 11.12): real peers, bounded in time.

- PostgreSQL connections killed mid-drain: every job is delivered, none stays leased.
- SIGKILL during ``publish_many``: each batch's jobs are all stored or none, on SQLite and
  PostgreSQL.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.errors import OutboxUnavailableError
from ticketnotify.events import AccountUser, Device, Ticket, TicketUpdate, UpdateKind
from ticketnotify.messages import Message, Receipt
from ticketnotify.outbox.base import JobStatus, Outbox
from ticketnotify.outbox.from_url import outbox_from_url
from ticketnotify.outbox.postgres import PostgresOutbox
from ticketnotify.routing import plan
from ticketnotify.worker import Worker

from ..conftest import FakeClock
from ..stores import kill_connections, wipe_pg
from .sink import email_jobs

pytestmark = pytest.mark.slow


class KillingChannel(MemoryChannel):
    """Delivers, and every ``every``-th send cuts the store's connections (``kills`` times)."""

    def __init__(self, conninfo: str, every: int, kills: int) -> None:
        super().__init__()
        self.conninfo, self.every, self.kills_left = conninfo, every, kills

    async def send(self, message: Message) -> Receipt:
        receipt = await super().send(message)
        if self.kills_left and len(self.sent) % self.every == 0:
            self.kills_left -= 1
            kill_connections(self.conninfo)
        return receipt


async def test_connections_killed_mid_drain_lose_no_job_and_leave_none_leased(
    pg_outbox: PostgresOutbox, pg_conninfo: str, clock: FakeClock
) -> None:
    jobs = email_jobs(400)
    pg_outbox.add(jobs, clock())
    channel = KillingChannel(pg_conninfo, every=37, kills=6)
    worker = Worker(pg_outbox, {"email": channel}, clock=clock, lease_seconds=60,
                    batch_size=50, record_every=10)
    outages = 0
    for _ in range(300):  # bounded: a stuck drain fails the test instead of hanging
        try:
            claimed = await worker.run_once()
        except OutboxUnavailableError:
            outages += 1
            continue
        if claimed:
            continue
        if {c.status for c in pg_outbox.counts()} == {JobStatus.DELIVERED}:
            break
        clock.advance(61)  # outcomes lost with a connection: their leases run out
    await worker.aclose()
    assert channel.kills_left == 0 and worker.stats.store_errors + outages >= 1
    keys = [j.idempotency_key for j in jobs]
    stored = [pg_outbox.get(k) for k in keys]
    assert all(j is not None and j.status is JobStatus.DELIVERED for j in stored)
    assert all(j is not None and j.lease_until is None for j in stored), "none stuck leased"
    assert {m.delivery_id for m in channel.sent} == set(keys), "every job was sent"


EVENTS_PER_BATCH, BATCHES = 40, 12
WHEN = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def batch(run: int, number: int) -> list[TicketUpdate]:
    """The updates of one ``publish_many``: the child and the test build the same ones."""
    user = AccountUser(user_id="u-1", email="anna@example.se", locale="sv_SE",
                       time_zone="Europe/Stockholm", devices=(Device("ios", "a" * 64),))
    return [TicketUpdate(event_id=f"kill-{run}-{number}-{i}",
                         ticket=Ticket(str(10_000 + i), "Skrivaren brinner"),
                         kind=UpdateKind.AGENT_REPLY, recipient=user, occurred_at=WHEN,
                         excerpt="Vi har bytt tonern.")
            for i in range(EVENTS_PER_BATCH)]


CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[3])
    from ticketnotify.notifier import Links, Notifier
    from ticketnotify.outbox.from_url import outbox_from_url
    from tests.outbox.test_fault_matrix import BATCHES, batch
    notifier = Notifier(outbox_from_url(sys.argv[1]), guest_links=None,
                        links=Links(web_ticket_url='https://help.example.com/t/{ticket_id}'))
    run = int(sys.argv[2])
    batches = [batch(run, n) for n in range(BATCHES)]
    notifier.publish_many(batch(-1, 0))  # templates compiled, connection open
    print("ready", flush=True)
    for number, updates in enumerate(batches):
        notifier.publish_many(updates)
        print(number, flush=True)
""")


def publish_and_kill(url: str, run: int, rng: random.Random) -> int:
    """Start a publisher, SIGKILL it after a random number of batches; return that number."""
    root = str(Path(__file__).resolve().parents[2])
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(run), root],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "ready"
        strike = rng.randrange(BATCHES)
        for _ in range(strike):
            child.stdout.readline()
        child.send_signal(signal.SIGKILL)  # somewhere inside the next publish_many
    finally:
        child.kill()
        child.wait(timeout=30)
    return strike


def stored_per_batch(store: Outbox, run: int) -> list[tuple[int, int]]:
    """(stored, planned) job counts of each batch of one run."""
    counts = []
    for number in range(BATCHES):
        keys = [d.idempotency_key for u in batch(run, number) for d in plan(u)]
        counts.append((sum(store.get(k) is not None for k in keys), len(keys)))
    return counts


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sigkill_during_publish_many_stores_each_batch_whole_or_not_at_all(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "postgres":
        url = request.getfixturevalue("pg_conninfo")
        wipe_pg(url)
    else:
        url = f"sqlite:///{tmp_path / 'ticketnotify.sqlite3'}"
    rng = random.Random(1130)
    for run in range(4):
        strike = publish_and_kill(url, run, rng)
        store = outbox_from_url(url, create=False)
        counts = stored_per_batch(store, run)
        store.close()
        assert all(stored in (0, planned) for stored, planned in counts), counts
        assert all(stored for stored, _ in counts[:strike]), "batches reported done are stored"
        assert not any(stored for stored, _ in counts[strike + 1:]), "later batches never began"
