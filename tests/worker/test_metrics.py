"""Prometheus metrics and structured logs of the worker, read the way operators read them."""

from __future__ import annotations

import io
import json
import logging
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.errors import ConfigurationError, TransientDeliveryError
from ticketnotify.outbox import MemoryOutbox, NewJob
from ticketnotify.outbox.base import Job, JobStatus
from ticketnotify.outbox.sqlite import SQLiteOutbox
from ticketnotify.worker import Worker
from ticketnotify.worker.logs import JSONFormatter, job_fields
from ticketnotify.worker.metrics import WorkerMetrics

from ..conftest import FakeClock
from ..outbox.sink import email_jobs, now_utc

GUARD = 30.0  # seconds: a hang guard, never a claim about speed


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by (name, labels), through prometheus_client's parser."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


async def test_outcomes_by_channel_and_error_class_and_the_latency(clock: FakeClock) -> None:
    outbox, channel = MemoryOutbox(), MemoryChannel()
    jobs = email_jobs(3)
    outbox.add(jobs, clock())
    outbox.add([NewJob("nowhere", "sms", jobs[0].message)], clock())  # no such channel
    channel.fail_with = {"user2@example.com": TransientDeliveryError("451 later")}
    metrics = WorkerMetrics()
    worker = Worker(outbox, {"email": channel}, clock=clock, metrics=metrics)
    clock.advance(2.5)  # published 2.5 s before this worker delivers them
    await worker.drain()
    metrics.refresh(outbox, clock())
    found = samples(generate_latest(metrics.registry).decode())
    attempts = "ticketnotify_attempts_total"
    assert value(found, attempts, channel="email", outcome="delivered", error_class="") == 2
    assert value(found, attempts, channel="email", outcome="retry",
                 error_class="TransientDeliveryError") == 1
    assert value(found, attempts, channel="sms", outcome="dead",
                 error_class="PermanentDeliveryError") == 1
    latency = "ticketnotify_delivery_latency_seconds"
    assert value(found, f"{latency}_count", channel="email") == 2
    assert value(found, f"{latency}_sum", channel="email") == pytest.approx(5.0)
    assert value(found, f"{latency}_bucket", channel="email", le="2.5") == 2
    assert value(found, f"{latency}_bucket", channel="email", le="1.0") == 0
    jobs_gauge = "ticketnotify_outbox_jobs"
    assert value(found, jobs_gauge, channel="email", status="delivered") == 2
    assert value(found, jobs_gauge, channel="email", status="pending") == 1
    assert value(found, jobs_gauge, channel="sms", status="dead") == 1
    assert value(found, "ticketnotify_outbox_oldest_due_age_seconds") == 0  # retry is later
    assert value(found, "ticketnotify_store_errors_total") == 0
    assert value(found, "ticketnotify_lease_losses_total") == 0
    assert value(found, "ticketnotify_callback_retries_total") == 0
    # Once the retry is due and waits 40 s, the age says so; the emptied pair reads 0.
    (retry,) = [j for j in [outbox.get(k.idempotency_key) for k in jobs]
                if j is not None and j.status is JobStatus.PENDING]
    outbox.retry_dead(clock())  # the dead sms job is due again at once ...
    metrics.refresh(outbox, retry.next_attempt_at + timedelta(seconds=40))
    found = samples(generate_latest(metrics.registry).decode())
    assert value(found, "ticketnotify_outbox_oldest_due_age_seconds") == pytest.approx(
        40 + (retry.next_attempt_at - clock()).total_seconds())  # ... and waited longest
    assert value(found, jobs_gauge, channel="sms", status="dead") == 0


async def test_each_worker_has_its_own_registry(clock: FakeClock) -> None:
    outbox = MemoryOutbox()
    outbox.add(email_jobs(2), clock())
    first, second = WorkerMetrics(), WorkerMetrics()
    one = Worker(outbox, {"email": MemoryChannel()}, clock=clock, metrics=first, batch_size=1)
    Worker(outbox, {"email": MemoryChannel()}, clock=clock, metrics=second)
    await one.run_once()
    name = "ticketnotify_attempts_total"
    labels = {"channel": "email", "outcome": "delivered", "error_class": ""}
    assert value(samples(generate_latest(first.registry).decode()), name, **labels) == 1
    assert value(samples(generate_latest(second.registry).decode()), name, **labels) is None
    with pytest.raises(ConfigurationError, match="one Worker"):
        Worker(outbox, {"email": MemoryChannel()}, metrics=first)


def test_without_prometheus_client_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    with pytest.raises(ConfigurationError, match=r"ticketnotify\[metrics\]"):
        WorkerMetrics()


def test_json_log_records_carry_the_job_fields() -> None:
    job = Job(id=7, idempotency_key="k", channel="email", message={"event_id": "evt-9"},
              status=JobStatus.PENDING, attempts=0, next_attempt_at=now_utc(),
              lease_until=None, last_error=None, created_at=now_utc())
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JSONFormatter())
    logger = logging.getLogger("ticketnotify.test_json")
    logger.addHandler(handler)
    try:
        logger.warning("job %s failed", job.id,
                       extra=job_fields(job, outcome="retry", error_class="TimeoutError"))
    finally:
        logger.removeHandler(handler)
    record = json.loads(out.getvalue())
    assert record["message"] == "job 7 failed" and record["level"] == "WARNING"
    assert {k: record[k] for k in ("job_id", "event_id", "channel", "outcome", "error_class")} \
        == {"job_id": 7, "event_id": "evt-9", "channel": "email", "outcome": "retry",
            "error_class": "TimeoutError"}
    facts = replace(job, message={"v": 2, "e": "evt-10"})  # Outbox v2 facts: short keys
    assert job_fields(facts)["event_id"] == "evt-10"
    assert "event_id" not in job_fields(replace(job, message={"kind": "email"}))  # v1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return samples(response.read().decode())


@pytest.mark.slow
def test_the_worker_command_serves_metrics_and_logs_json(tmp_path: Path) -> None:
    store = SQLiteOutbox(tmp_path / "o.db")
    store.add(email_jobs(3), now_utc())
    store.add([NewJob("nowhere", "sms", email_jobs(1)[0].message)], now_utc())
    store.close()
    port = _free_port()
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ticketnotify.cli", "worker",
             "--outbox", f"sqlite:///{tmp_path}/o.db",
             "--channels", "tests.worker.test_cli:memory_channels",
             "--metrics-port", str(port), "--metrics-refresh", "0.2", "--progress", "0",
             "--log-format", "json", "--log-level", "DEBUG"],
            cwd=Path(__file__).parents[2], stderr=log_file)
        try:
            found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
            deadline = time.monotonic() + GUARD
            while value(found, "ticketnotify_outbox_jobs", channel="email",
                        status="delivered") != 3:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, f"metrics never showed 3 delivered: {found}"
                time.sleep(0.05)  # between scrapes, as Prometheus would
                try:
                    found = _scrape(port)
                except (urllib.error.URLError, ConnectionError):
                    continue  # not listening yet
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=GUARD)
    assert proc.returncode == 0, log_path.read_text()
    assert value(found, "ticketnotify_attempts_total", channel="email", outcome="delivered",
                 error_class="") == 3
    assert value(found, "ticketnotify_attempts_total", channel="sms", outcome="dead",
                 error_class="PermanentDeliveryError") == 1
    assert value(found, "ticketnotify_delivery_latency_seconds_count", channel="email") == 3
    records = [json.loads(line) for line in log_path.read_text().splitlines()
               if line.startswith("{")]
    delivered = [r for r in records if r.get("outcome") == "delivered"]
    assert sorted(r["job_id"] for r in delivered) == [1, 2, 3]
    assert all(r["channel"] == "email" and r["level"] == "DEBUG" for r in delivered)
    (dead,) = [r for r in records if r.get("outcome") == "dead"]
    assert dead["channel"] == "sms" and dead["error_class"] == "PermanentDeliveryError"
