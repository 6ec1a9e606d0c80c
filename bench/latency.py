"""Latency and idle cost of a running worker: publish → received at the sink, at a fixed load.

A ``ticketnotify worker`` process (the CLI, default settings apart from where to send) runs
against the outbox while this process publishes the Swedish example email at a fixed
offered load (200 events/s for 10 s; ``--quick``: 1 s) from four publisher threads. Each
message's latency is from just before its ``publish`` call to the modification time of its
file in smtp-sink's dump folder (kernel coarse clock: 1–4 ms resolution). The baseline is the same run with
the worker started with ``--idle 0.05`` (the poll interval the issue compares with).

Figures: ``latency_p99_ms_sqlite``, ``latency_p99_ms_pg`` (p50/p95 alongside),
``worker_idle_cpu_percent`` (the same worker once the load is over and everything is
delivered: CPU seconds / wall seconds × 100), ``pg_workers_2_vs_1`` (jobs/s with two
worker processes ÷ one, the same jobs published in one transaction, rounds interleaved).
PostgreSQL is 127.0.0.1:5432 (user postgres, database postgres); every run uses schemas
of its own and drops them. Without PostgreSQL the PG figures are skipped with a note.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from _scenario import LINKS, SENDER, address, update
from _sink import DumpSink

from ticketnotify import Notifier, Renderer
from ticketnotify.outbox.from_url import outbox_from_url

PG = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
# The console script next to this interpreter (a venv), else the one on PATH.
TICKETNOTIFY = str(Path(sys.executable).with_name("ticketnotify")) if Path(
    sys.executable).with_name("ticketnotify").exists() else shutil.which("ticketnotify") or "ticketnotify"
RENDERER = Renderer()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc; clock-tick resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def cpu_percent(pid: int, seconds: float) -> float:
    """CPU time of process ``pid`` over the next ``seconds``, in % of wall time."""
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)  # the idle period being measured
    return (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before) * 100


@contextmanager
def worker(url: str, sink: DumpSink, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``ticketnotify worker`` on ``url``, sending to ``sink``; SIGTERM and wait at the end."""
    # A file, not a pipe: a pipe nobody reads while the worker runs could fill up and stall it.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [TICKETNOTIFY, "worker", "--outbox", url, "--smtp-host", "127.0.0.1",
             "--smtp-port", str(sink.port), "--smtp-security", "none", "--sender", SENDER,
             "--progress", "0", *extra],
            stdout=subprocess.DEVNULL, stderr=log)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.returncode not in (0, -15):
                log.seek(0)
                print(f"# worker exited {proc.returncode}: {log.read()[-800:].decode(errors='replace')}",
                      file=sys.stderr)


@contextmanager
def pg_schema() -> Iterator[str]:
    """Conninfo of a fresh schema on the local PostgreSQL, dropped afterwards."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_conninfo(PG, options=f"-csearch_path={schema}", application_name=schema)
    finally:
        with psycopg.connect(PG, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          f"WHERE application_name = '{schema}'")
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def pg_available() -> str | None:
    """Why PostgreSQL cannot be used here, or None."""
    try:
        import psycopg

        psycopg.connect(PG, connect_timeout=3).close()
    except Exception as exc:  # driver missing or server down: the note says which
        return f"PostgreSQL figures skipped: {PG} unreachable ({exc!r:.200})"
    return None


PUBLISHERS = 4  # threads, each with its own outbox connection, like a web app's request workers


def publish_at_rate(url: str, tag: str, count: int, rate: float) -> tuple[dict[str, float], float]:
    """Publish ``count`` events, event n at ``n / rate`` s; return recipient → publish time, rate.

    Event n goes to publisher thread ``n % PUBLISHERS``, so one slow commit does not delay
    the events after it (one thread alone cannot offer 200 events/s to PostgreSQL here).
    """
    outboxes = [outbox_from_url(url) for _ in range(PUBLISHERS)]
    published: dict[str, float] = {}
    start = time.time() + 0.05

    def publisher(k: int) -> None:
        notifier = Notifier(outboxes[k], renderer=RENDERER, links=LINKS, guest_links=None)
        for n in range(k, count, PUBLISHERS):
            pause = start + n / rate - time.time()
            if pause > 0:
                time.sleep(pause)  # the offered load's schedule, not synchronisation
            published[address(tag, n)] = time.time()
            notifier.publish(update(tag, n))

    try:
        with ThreadPoolExecutor(PUBLISHERS) as pool:
            list(pool.map(publisher, range(PUBLISHERS)))
    finally:
        for outbox in outboxes:
            outbox.close()
    return published, (count - 1) / (max(published.values()) - min(published.values()))


def under_load(url: str, sink: DumpSink, tag: str, rate: float, seconds: float,
               idle_seconds: float, *extra: str) -> dict[str, float]:
    """Latencies (ms) at ``rate`` events/s, then the idle worker's CPU percentage."""
    outbox = outbox_from_url(url)  # the publisher creates the outbox; the worker opens it
    Notifier(outbox, renderer=RENDERER, links=LINKS, guest_links=None).publish(update(f"{tag}-warm", 0))
    outbox.close()
    sink.reset()
    with worker(url, sink, *extra) as proc:
        sink.wait_for(1, 60)  # the worker is up and has delivered the warm-up message
        sink.reset()
        count = int(rate * seconds)
        published, offered = publish_at_rate(url, tag, count, rate)
        sink.wait_for(count, 120)
        received = sink.received()
        deadline = time.time() + 30
        while not published.keys() <= received.keys():  # a file counted, not yet all written
            if time.time() > deadline:
                missing = sorted(published.keys() - received.keys())[:3]
                raise TimeoutError(f"smtp-sink has no complete mail for {missing}")
            time.sleep(0.01)
            received = sink.received()
        ms = [(received[a] - t) * 1000 for a, t in published.items()]
        idle_cpu = cpu_percent(proc.pid, idle_seconds) if idle_seconds else 0.0
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99),
            "offered": offered, "idle_cpu": idle_cpu, "count": count}


def latency_figures(store: str, urls: Iterator[str], sink: DumpSink, rate: float,
                    seconds: float, idle_seconds: float) -> list[dict[str, Any]]:
    """The default worker, then the ``--idle 0.05`` one; idle CPU is measured for SQLite only."""
    if store != "sqlite":
        idle_seconds = 0.0
    default = under_load(next(urls), sink, f"{store}-default", rate, seconds, idle_seconds)
    fast = under_load(next(urls), sink, f"{store}-fast", rate, seconds, idle_seconds,
                      "--idle", "0.05")
    figures: list[dict[str, Any]] = [{
        "name": f"latency_p99_ms_{store}", "value": round(default["p99"], 1),
        "baseline": round(fast["p99"], 1), "ratio": round(default["p99"] / fast["p99"], 2),
        "unit": f"ms publish → received at smtp-sink, p99, {rate:.0f} events/s offered "
                f"for {seconds:g}s, `ticketnotify worker` defaults; baseline: --idle 0.05",
        "p50": round(default["p50"], 1), "p95": round(default["p95"], 1),
        "baseline_p50": round(fast["p50"], 1), "baseline_p95": round(fast["p95"], 1),
        "offered_events_per_s": round(default["offered"], 1),
    }]
    if store == "sqlite":
        figures.append({
            "name": "worker_idle_cpu_percent", "value": round(default["idle_cpu"], 2),
            "baseline": round(fast["idle_cpu"], 2),
            "ratio": round(default["idle_cpu"] / fast["idle_cpu"], 2) if fast["idle_cpu"] else None,
            "unit": f"% of one core, idle `ticketnotify worker` (SQLite) over {idle_seconds:g}s "
                    "after the load; baseline: --idle 0.05",
        })
    return figures


def scale_out(sink: DumpSink, count: int, processes: int) -> float:
    """Jobs/s of ``processes`` PostgreSQL workers draining ``count`` jobs published at once."""
    with pg_schema() as url:
        outbox = outbox_from_url(url)
        notifier = Notifier(outbox, renderer=RENDERER, links=LINKS, guest_links=None)
        events = [update(f"scale{processes}", n) for n in range(count)]
        sink.reset()
        with _workers(url, sink, processes):
            started = time.time()
            notifier.publish_many(events)
            jobs_per_s = count / (sink.wait_for(count, 300) - started)
        outbox.close()
    sink.reset()
    return jobs_per_s


@contextmanager
def _workers(url: str, sink: DumpSink, processes: int) -> Iterator[None]:
    """``processes`` workers polling every 0.05 s, each connected before we return."""
    import psycopg

    with ExitStack() as stack:
        for _ in range(processes):
            stack.enter_context(worker(url, sink, "--idle", "0.05"))
        schema = dict(p.split("=", 1) for p in url.split() if "=" in p)["application_name"]
        deadline = time.monotonic() + 60
        with psycopg.connect(PG, autocommit=True) as admin:
            while True:  # every worker opened its outbox (so it has started its loop)
                row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                    (schema,)).fetchone()
                if row and row[0] >= processes + 1 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        yield


def run(quick: bool) -> list[dict[str, Any]]:
    """latency_p99_ms_sqlite, worker_idle_cpu_percent, latency_p99_ms_pg, pg_workers_2_vs_1."""
    rate, seconds, idle = (200.0, 1.0, 0.5) if quick else (200.0, 10.0, 5.0)
    folder = Path(tempfile.mkdtemp(prefix="ticketnotify-latency-"))
    figures: list[dict[str, Any]] = []
    try:
        with DumpSink() as sink:
            files = (f"sqlite:///{folder}/{name}.db" for name in ("default", "fast"))
            figures += latency_figures("sqlite", files, sink, rate, seconds, idle)
            why_not = pg_available()
            if why_not is not None:
                print(f"# {why_not}", file=sys.stderr)
                return figures
            with pg_schema() as url:
                figures += latency_figures("pg", iter([url, url]), sink, rate, seconds, idle)
            count, rounds = (300, 1) if quick else (3000, 3)
            one: list[float] = []
            two: list[float] = []
            for _round in range(rounds):
                one.append(scale_out(sink, count, 1))
                two.append(scale_out(sink, count, 2))
            a, b = statistics.median(two), statistics.median(one)
            figures.append({
                "name": "pg_workers_2_vs_1", "value": round(a, 1), "baseline": round(b, 1),
                "ratio": round(a / b, 2),
                "unit": f"jobs/s with 2 `ticketnotify worker --idle 0.05` processes (baseline: 1), "
                        f"{count} jobs published in one transaction, median of {rounds} "
                        "interleaved rounds",
            })
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


if __name__ == "__main__":
    for figure in run("--quick" in sys.argv[1:]):
        print(json.dumps(figure, ensure_ascii=False))
