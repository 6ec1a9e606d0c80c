"""Stateful property: SQLite and PostgreSQL behave exactly like the in-memory reference store."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ticketnotify.outbox.base import Job, NewJob, Outbox, Outcome, OutcomeKind
from ticketnotify.outbox.memory import MemoryOutbox
from ticketnotify.outbox.postgres import PostgresOutbox
from ticketnotify.outbox.sqlite import SQLiteOutbox

from ..stores import wipe_pg

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
KEYS = [f"k{i}" for i in range(8)]
CHANNELS = ["email", "apns"]
WORKERS = ["w1", "w2"]


def view(job: Job | None) -> tuple[object, ...] | None:
    """What must agree between stores (ids may differ: sequences are not part of the contract)."""
    if job is None:
        return None
    return (job.channel, job.message, job.status, job.attempts, job.next_attempt_at,
            job.lease_until, job.last_error, job.created_at)


def machine(open_store: Callable[[], Outbox]) -> type[RuleBasedStateMachine]:
    class SameAsMemory(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.model = MemoryOutbox()
            self.store = open_store()
            self.now = T0

        def teardown(self) -> None:
            self.store.close()

        def ids(self, key: str) -> tuple[int, int] | None:
            m, s = self.model.get(key), self.store.get(key)
            return None if m is None or s is None else (m.id, s.id)

        @rule(batch=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(CHANNELS)),
                             max_size=4))
        def add(self, batch: list[tuple[str, str]]) -> None:
            jobs = [NewJob(k, c, {"kind": "email", "delivery_id": k}) for k, c in batch]
            assert self.store.add(jobs, self.now) == self.model.add(jobs, self.now)

        @rule(limit=st.integers(1, 4), lease=st.sampled_from([10, 60]),
              worker=st.sampled_from(WORKERS))
        def claim(self, limit: int, lease: int, worker: str) -> None:
            got = self.store.claim(self.now, limit, lease, worker)
            want = self.model.claim(self.now, limit, lease, worker)
            assert [j.idempotency_key for j in got] == [j.idempotency_key for j in want]

        @rule(key=st.sampled_from(KEYS), outcome=st.sampled_from(["delivered", "retry", "dead"]),
              delay=st.integers(0, 120), worker=st.sampled_from([None, *WORKERS]))
        def record(self, key: str, outcome: str, delay: int, worker: str | None) -> None:
            pair = self.ids(key)
            if pair is None:
                return
            applied = []
            for store, job_id in ((self.model, pair[0]), (self.store, pair[1])):
                if outcome == "delivered":
                    applied.append(store.mark_delivered(job_id, self.now, worker_id=worker))
                elif outcome == "retry":
                    applied.append(store.mark_retry(
                        job_id, self.now + timedelta(seconds=delay), "451 later", worker_id=worker))
                else:
                    applied.append(store.mark_dead(job_id, self.now, "550 gone", worker_id=worker))
            assert applied[0] == applied[1]

        @rule(batch=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(OutcomeKind),
                                       st.integers(0, 120)), max_size=5),
              worker=st.sampled_from([None, *WORKERS]))
        def record_batch(self, batch: list[tuple[str, OutcomeKind, int]],
                         worker: str | None) -> None:
            """One ``record`` call behaves as the reference store's one-by-one default."""
            pairs = [(p, kind, delay) for key, kind, delay in batch
                     if (p := self.ids(key)) is not None]
            results = [
                store.record([Outcome(p[side], kind, self.now + timedelta(seconds=delay),
                                      f"{kind} outcome") for p, kind, delay in pairs],
                             worker_id=worker)
                for side, store in enumerate((self.model, self.store))
            ]
            assert results[0] == results[1]

        @rule(keys=st.lists(st.sampled_from(KEYS), max_size=3),
              worker=st.sampled_from([None, *WORKERS]))
        def release(self, keys: list[str], worker: str | None) -> None:
            pairs = [p for p in map(self.ids, keys) if p is not None]
            want = self.model.release([p[0] for p in pairs], worker_id=worker)
            assert self.store.release([p[1] for p in pairs], worker_id=worker) == want

        @rule(channel=st.sampled_from([None, *CHANNELS]))
        def retry_dead(self, channel: str | None) -> None:
            assert self.store.retry_dead(self.now, channel) == self.model.retry_dead(
                self.now, channel)

        @rule(age=st.integers(0, 300))
        def purge(self, age: int) -> None:
            cutoff = self.now - timedelta(seconds=age)
            assert self.store.purge(cutoff) == self.model.purge(cutoff)

        @rule(seconds=st.sampled_from([1, 10, 15, 61, 200]))
        def tick(self, seconds: int) -> None:
            self.now += timedelta(seconds=seconds)

        @invariant()
        def same_jobs(self) -> None:
            for key in KEYS:
                assert view(self.store.get(key)) == view(self.model.get(key)), key
            assert self.store.counts() == self.model.counts()
            assert self.store.oldest_pending() == self.model.oldest_pending()

    return SameAsMemory


SETTINGS = settings(max_examples=20, stateful_step_count=25, deadline=None)


def test_sqlite_behaves_like_the_reference_store() -> None:
    folder = Path(tempfile.mkdtemp(prefix="outbox-model-"))
    counter = iter(range(1_000_000))
    run_state_machine_as_test(
        machine(lambda: SQLiteOutbox(folder / f"{next(counter)}.db")), settings=SETTINGS)


def test_postgres_behaves_like_the_reference_store(pg_conninfo: str) -> None:
    def fresh() -> Outbox:
        wipe_pg(pg_conninfo)
        return PostgresOutbox(pg_conninfo)

    run_state_machine_as_test(machine(fresh), settings=SETTINGS)
