"""One specification of the outbox, run against the memory, SQLite and PostgreSQL stores."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketnotify.outbox.base import (
    ChannelCount,
    JobStatus,
    NewJob,
    Outbox,
    Outcome,
    OutcomeKind,
)

from ..stores import StoreFactory

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def job(key: str, channel: str = "email", **message: object) -> NewJob:
    return NewJob(idempotency_key=key, channel=channel,
                  message={"kind": "email", "delivery_id": key, "subject": "Ärende 7", **message})


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_add_stores_jobs_pending_and_due_now(outbox: Outbox) -> None:
    assert outbox.add([job("a"), job("b", "apns")], T0) == 2
    stored = outbox.get("a")
    assert stored is not None
    assert stored.status is JobStatus.PENDING
    assert stored.channel == "email"
    assert stored.message == {"kind": "email", "delivery_id": "a", "subject": "Ärende 7"}
    assert (stored.attempts, stored.last_error, stored.lease_until) == (0, None, None)
    assert stored.next_attempt_at == T0
    assert stored.created_at == T0
    assert outbox.get("missing") is None


def test_publishing_the_same_keys_again_stores_nothing_new(outbox: Outbox) -> None:
    assert outbox.add([job("a"), job("b")], T0) == 2
    assert outbox.add([job("b", subject="changed"), job("c"), job("c")], later(5)) == 1
    assert outbox.get("b").message["subject"] == "Ärende 7"  # type: ignore[union-attr]
    assert sum(c.count for c in outbox.counts()) == 3


def test_add_of_nothing_is_a_no_op(outbox: Outbox) -> None:
    assert outbox.add([], T0) == 0
    assert outbox.counts() == []


def test_claim_leases_due_jobs_oldest_first_up_to_the_limit(outbox: Outbox) -> None:
    outbox.add([job("late")], later(10))
    outbox.add([job("early")], T0)
    outbox.add([job("future")], later(100))
    claimed = outbox.claim(later(20), limit=5, lease_seconds=60, worker_id="w1")
    assert [j.idempotency_key for j in claimed] == ["early", "late"]
    assert all(j.lease_until == later(80) for j in claimed)
    assert outbox.claim(later(20), limit=5, lease_seconds=60, worker_id="w2") == []
    assert [j.idempotency_key for j in outbox.claim(later(79), 5, 60, "w2")] == []
    assert [j.idempotency_key for j in outbox.claim(later(100), 1, 60, "w2")] == ["early"]


def test_an_expired_lease_is_claimed_again(outbox: Outbox) -> None:
    outbox.add([job("a")], T0)
    assert len(outbox.claim(T0, 10, lease_seconds=30, worker_id="crashed")) == 1
    assert outbox.claim(later(29), 10, 30, "w2") == []
    again = outbox.claim(later(30), 10, 30, "w2")
    assert [j.idempotency_key for j in again] == ["a"]
    assert again[0].attempts == 0  # a lease lost to a crash is not an attempt


def test_mark_delivered_ends_the_job(outbox: Outbox) -> None:
    outbox.add([job("a")], T0)
    (claimed,) = outbox.claim(T0, 10, 60, "w")
    outbox.mark_delivered(claimed.id, later(1), "250 queued as X")
    done = outbox.get("a")
    assert done is not None
    assert (done.status, done.attempts, done.lease_until) == (JobStatus.DELIVERED, 1, None)
    assert outbox.claim(later(1000), 10, 60, "w") == []


def test_mark_retry_counts_the_attempt_and_waits_until_the_next_time(outbox: Outbox) -> None:
    outbox.add([job("a")], T0)
    (claimed,) = outbox.claim(T0, 10, 60, "w")
    outbox.mark_retry(claimed.id, later(300), "421 try again")
    waiting = outbox.get("a")
    assert waiting is not None
    assert (waiting.status, waiting.attempts, waiting.last_error) == (
        JobStatus.PENDING, 1, "421 try again")
    assert waiting.next_attempt_at == later(300)
    assert outbox.claim(later(299), 10, 60, "w") == []
    (again,) = outbox.claim(later(300), 10, 60, "w")
    assert again.attempts == 1


def test_mark_dead_keeps_the_reason_and_retry_dead_revives(outbox: Outbox) -> None:
    outbox.add([job("a"), job("p", "apns")], T0)
    for claimed in outbox.claim(T0, 10, 60, "w"):
        outbox.mark_dead(claimed.id, later(1), f"550 no such user {claimed.channel}")
    dead = outbox.get("a")
    assert dead is not None
    assert (dead.status, dead.last_error) == (JobStatus.DEAD, "550 no such user email")
    assert outbox.claim(later(10), 10, 60, "w") == []
    assert outbox.retry_dead(later(20), channel="apns") == 1
    assert outbox.get("a").status is JobStatus.DEAD  # type: ignore[union-attr]
    revived = outbox.get("p")
    assert revived is not None
    assert (revived.status, revived.attempts, revived.next_attempt_at) == (
        JobStatus.PENDING, 0, later(20))
    assert outbox.retry_dead(later(20)) == 1
    assert {j.idempotency_key for j in outbox.claim(later(20), 10, 60, "w")} == {"a", "p"}


def test_release_returns_jobs_unattempted(outbox: Outbox) -> None:
    outbox.add([job("a"), job("b")], T0)
    claimed = outbox.claim(T0, 10, 600, "stopping")
    outbox.release([j.id for j in claimed])
    outbox.release([])
    again = outbox.claim(T0, 10, 600, "other")
    assert sorted(j.idempotency_key for j in again) == ["a", "b"]
    assert all(j.attempts == 0 for j in again)


def test_a_worker_whose_lease_expired_cannot_overwrite_the_next_workers_outcome(
    open_store: StoreFactory,
) -> None:
    """Review finding 2: A's late answer after B re-claimed and delivered changes nothing."""
    a, b = open_store(), open_store()
    a.add([job("k1")], T0)
    (by_a,) = a.claim(T0, 10, lease_seconds=1, worker_id="A")
    (by_b,) = b.claim(later(2), 10, lease_seconds=1, worker_id="B")  # A's lease ran out
    assert by_b.id == by_a.id
    # While B holds the lease, A can neither finish, reschedule nor release the job.
    assert a.mark_retry(by_a.id, later(60), "421 from A's late answer", worker_id="A") is False
    assert a.release([by_a.id], worker_id="A") == 0
    assert b.mark_delivered(by_b.id, later(3), "250 ok", worker_id="B") is True
    assert a.mark_dead(by_a.id, later(4), "550 from A's late answer", worker_id="A") is False
    assert a.mark_retry(by_a.id, later(60), "421 from A's late answer", worker_id="A") is False
    assert a.mark_delivered(by_a.id, later(4), "250 late", worker_id="A") is False
    assert a.release([by_a.id], worker_id="A") == 0
    done = a.get("k1")
    assert done is not None
    assert (done.status, done.attempts, done.last_error) == (JobStatus.DELIVERED, 1, None)
    assert a.retry_dead(later(5)) == 0  # nothing dead, so nothing is ever sent again
    assert a.claim(later(1000), 10, 60, "C") == []


def test_fenced_outcomes_apply_only_for_the_lease_holder(outbox: Outbox) -> None:
    outbox.add([job("a"), job("b"), job("c")], T0)
    first = {j.idempotency_key: j.id for j in outbox.claim(T0, 10, 60, "w1")}
    assert outbox.mark_delivered(first["a"], later(1), worker_id="w2") is False
    assert outbox.mark_delivered(first["a"], later(1), worker_id="w1") is True
    assert outbox.mark_retry(first["b"], later(30), "451", worker_id="w1") is True
    # Retrying dropped the lease: the same worker cannot record a second outcome for it.
    assert outbox.mark_dead(first["b"], later(2), "550", worker_id="w1") is False
    assert outbox.release([first["b"], first["c"]], worker_id="w1") == 1
    assert outbox.mark_dead(first["c"], later(2), "550", worker_id="w1") is False
    waiting = outbox.get("b")
    assert waiting is not None
    assert (waiting.status, waiting.attempts, waiting.last_error) == (JobStatus.PENDING, 1, "451")
    assert outbox.get("c").attempts == 0  # type: ignore[union-attr]
    # Without a worker id the old unfenced behaviour stays, for hosts' own repair tools.
    assert outbox.mark_dead(first["c"], later(3), "given up by hand") is True
    assert outbox.mark_delivered(first["c"], later(4)) is True
    assert outbox.get("c").status is JobStatus.DELIVERED  # type: ignore[union-attr]
    assert outbox.mark_dead(10_000, later(4), "no such job") is False


def test_record_applies_a_batch_of_outcomes_as_the_mark_calls_would(outbox: Outbox) -> None:
    outbox.add([job("sent"), job("later"), job("bounced")], T0)
    ids = {j.idempotency_key: j.id for j in outbox.claim(T0, 10, 60, "w1")}
    assert outbox.record([
        Outcome(ids["sent"], OutcomeKind.DELIVERED, later(1), "250 2.0.0 queued as 7F3"),
        Outcome(ids["later"], OutcomeKind.RETRY, later(90), "451 try later"),
        Outcome(ids["bounced"], OutcomeKind.DEAD, later(2), "550 no such user"),
    ], worker_id="w1") == [True, True, True]
    sent, retry, dead = (outbox.get(k) for k in ("sent", "later", "bounced"))
    assert sent is not None and retry is not None and dead is not None
    assert (sent.status, sent.attempts, sent.last_error, sent.lease_until) == (
        JobStatus.DELIVERED, 1, None, None)
    assert (retry.status, retry.attempts, retry.last_error, retry.next_attempt_at,
            retry.lease_until) == (JobStatus.PENDING, 1, "451 try later", later(90), None)
    assert (dead.status, dead.attempts, dead.last_error) == (
        JobStatus.DEAD, 1, "550 no such user")
    assert outbox.claim(later(60), 10, 60, "w2") == []  # the retry is due only at 90 s
    assert [j.idempotency_key for j in outbox.claim(later(90), 10, 60, "w2")] == ["later"]
    assert outbox.record([], worker_id="w2") == []


def test_each_recorded_outcome_is_fenced_on_its_own(open_store: StoreFactory) -> None:
    a, b = open_store(), open_store()
    a.add([job("mine"), job("taken"), job("twice")], T0)
    ids = {j.idempotency_key: j.id for j in a.claim(T0, 10, lease_seconds=1, worker_id="A")}
    a.release([ids["taken"]], worker_id="A")
    (by_b,) = b.claim(T0, 10, lease_seconds=60, worker_id="B")
    assert by_b.id == ids["taken"]
    # One refused outcome in a batch leaves the others applied: results say which is which.
    assert a.record([
        Outcome(ids["mine"], OutcomeKind.DELIVERED, later(1), "250 ok"),
        Outcome(ids["taken"], OutcomeKind.DELIVERED, later(1), "250 to A, who lost it"),
        Outcome(ids["twice"], OutcomeKind.RETRY, later(30), "451"),
        Outcome(ids["twice"], OutcomeKind.DEAD, later(1), "550 second outcome"),
        Outcome(10_000, OutcomeKind.DELIVERED, later(1), "no such job"),
    ], worker_id="A") == [True, False, True, False, False]
    taken, twice = a.get("taken"), a.get("twice")
    assert taken is not None and twice is not None
    assert (taken.status, taken.attempts, taken.last_error) == (JobStatus.PENDING, 0, None)
    assert (twice.status, twice.attempts, twice.last_error) == (JobStatus.PENDING, 1, "451")
    assert b.record([Outcome(by_b.id, OutcomeKind.DELIVERED, later(2), "250 ok")],
                    worker_id="B") == [True]
    # Without a worker id the outcomes apply unfenced, in order, for hosts' own tools.
    assert a.record([Outcome(ids["twice"], OutcomeKind.DEAD, later(3), "given up by hand"),
                     Outcome(ids["twice"], OutcomeKind.DELIVERED, later(4), "250 by hand")],
                    worker_id=None) == [True, True]
    done = a.get("twice")
    assert done is not None and (done.status, done.attempts) == (JobStatus.DELIVERED, 3)


def test_counts_and_oldest_pending_describe_the_backlog(outbox: Outbox) -> None:
    assert outbox.oldest_pending() is None
    outbox.add([job("e1"), job("p1", "apns")], T0)
    outbox.add([job("e2"), job("p2", "fcm")], later(60))
    for claimed in outbox.claim(T0, 10, 60, "w"):
        if claimed.idempotency_key == "e1":
            outbox.mark_delivered(claimed.id, later(1))
        elif claimed.idempotency_key == "p1":
            outbox.mark_dead(claimed.id, later(1), "gone")
    assert outbox.counts() == [
        ChannelCount("apns", JobStatus.DEAD, 1),
        ChannelCount("email", JobStatus.DELIVERED, 1),
        ChannelCount("email", JobStatus.PENDING, 1),
        ChannelCount("fcm", JobStatus.PENDING, 1),
    ]
    assert outbox.oldest_pending() == later(60)


def test_purge_deletes_only_finished_jobs_older_than_the_cutoff(outbox: Outbox) -> None:
    outbox.add([job("old-done"), job("old-dead"), job("old-pending")], T0)
    outbox.add([job("new-done")], later(3600))
    for claimed in outbox.claim(later(3600), 10, 60, "w"):
        if claimed.idempotency_key == "old-dead":
            outbox.mark_dead(claimed.id, later(3600), "bounced")
        elif claimed.idempotency_key != "old-pending":
            outbox.mark_delivered(claimed.id, later(3600))
    assert outbox.purge(later(1800)) == 2
    assert outbox.get("old-done") is None and outbox.get("old-dead") is None
    assert outbox.get("old-pending") is not None and outbox.get("new-done") is not None
    # A purged key may be published again: the event is long finished.
    assert outbox.add([job("old-done")], later(7200)) == 1


def test_a_second_handle_on_the_same_store_sees_the_same_jobs(open_store: StoreFactory) -> None:
    first, second = open_store(), open_store()
    first.add([job("a")], T0)
    assert second.add([job("a")], T0) == 0
    (claimed,) = second.claim(T0, 10, 60, "w2")
    assert first.claim(T0, 10, 60, "w1") == []
    second.mark_delivered(claimed.id, T0)
    assert first.get("a").status is JobStatus.DELIVERED  # type: ignore[union-attr]


def test_concurrent_claims_never_hand_out_a_job_twice(open_store: StoreFactory) -> None:
    open_store().add([job(f"k{i}") for i in range(300)], T0)
    stores = [open_store() for _ in range(4)]
    start = threading.Barrier(len(stores))
    got: list[list[int]] = [[] for _ in stores]

    def claim_all(n: int) -> None:
        start.wait(timeout=10)
        while batch := stores[n].claim(T0, 7, 600, f"w{n}"):
            got[n].extend(j.id for j in batch)

    threads = [threading.Thread(target=claim_all, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ids = [i for ids in got for i in ids]
    assert len(ids) == 300
    assert len(set(ids)) == 300


keys = st.lists(st.sampled_from([f"key-{i}" for i in range(12)]), max_size=8)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(keys, max_size=6))
def test_every_key_is_stored_once_however_often_it_is_published(
    outbox: Outbox, batches: list[list[str]]
) -> None:
    run = uuid.uuid4().hex  # one store serves every example; keep their keys apart
    seen: set[str] = set()
    for batch in batches:
        new = {k for k in batch if k not in seen}
        assert outbox.add([job(f"{run}-{k}") for k in batch], T0) == len(new)
        seen |= new
    for k in seen:
        stored = outbox.get(f"{run}-{k}")
        assert stored is not None and stored.status is JobStatus.PENDING
