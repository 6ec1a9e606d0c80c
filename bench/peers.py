"""ticketnotify end to end beside its peers: the same Swedish email to the same smtp-sink.

Four systems, measured in interleaved rounds (A B C D, A B C D, ...) in one run, each
sending N emails to one Postfix smtp-sink on loopback; a system's figure is the median of
its rounds, in emails/s from its first action to the last message the sink received:

- ticketnotify: ``Notifier.publish`` of N events into a SQLite outbox, then a ``Worker``
  (default settings) with ``SMTPChannel`` (default pool of 4 connections), in this process;
- fastapi-mail: ``FastMail.send_message`` with the Jinja2 templates (html + text), four
  sends at a time (a connection each, as fastapi-mail opens one per call);
- Celery: N ``send_update.delay`` calls into Redis; a real ``celery worker`` (prefork, 4
  processes) renders the Django template, runs premailer, sends with Django's SMTP backend;
- the limit: the same MIME bytes ticketnotify puts on the wire, built before the clock
  starts, over four persistent aiosmtplib connections.

Needs the ``bench`` extra (``pip install -e '.[bench]'``) and redis-server for the peers;
without them only a note is printed and no peer figure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosmtplib
from _scenario import LINKS, SENDER, address, context, rendered, subject, update, write_templates
from _sink import DumpSink, free_port, postfix_version

from ticketnotify import Notifier, Renderer, Worker
from ticketnotify.channels.smtp import Security, SMTPChannel, SMTPConfig
from ticketnotify.outbox import MemoryOutbox
from ticketnotify.outbox.from_url import outbox_from_url

HERE = Path(__file__).resolve().parent
POOL = SMTPConfig("127.0.0.1", 25, sender=SENDER).pool_size  # ticketnotify's default pool
TIMEOUT = 300.0


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def missing_peers() -> str | None:
    """Why the peers cannot run here, or None."""
    absent = [d for d in ("fastapi-mail", "celery", "redis", "django") if version(d) == "missing"]
    if absent:
        return (f"peer figures skipped: {', '.join(absent)} not installed; "
                "run: pip install -e '.[bench]'")
    if shutil.which("redis-server") is None:
        return "peer figures skipped: redis-server not found (apt-get install redis-server)"
    return None


@contextmanager
def redis_server() -> Iterator[str]:
    """Our own throwaway redis-server on a free loopback port (no persistence)."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 10
        while True:  # readiness of an external server
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait()


class TicketNotify:
    """publish N → SQLite outbox → Worker → SMTPChannel → sink, in this process."""

    name = "ticketnotify"

    def __init__(self, sink: DumpSink, folder: Path) -> None:
        self.sink, self.folder, self.round = sink, folder, 0
        self.renderer = Renderer()
        warm = Notifier(MemoryOutbox(), renderer=self.renderer, links=LINKS, guest_links=None)
        warm.publish(update("warm", 0))  # compile the template variant before any clock

    def measure(self, count: int) -> float:
        self.round += 1
        outbox = outbox_from_url(f"sqlite:///{self.folder}/round{self.round}.db")
        notifier = Notifier(outbox, renderer=self.renderer, links=LINKS, guest_links=None)
        events = [update(f"tn{self.round}", n) for n in range(count)]
        channel = SMTPChannel(SMTPConfig("127.0.0.1", self.sink.port, sender=SENDER,
                                         security=Security.NONE))
        worker = Worker(outbox, {"email": channel})
        started = time.time()
        for event in events:
            notifier.publish(event)

        async def deliver() -> None:
            await worker.drain()
            await worker.aclose()

        asyncio.run(deliver())
        outbox.close()
        return count / (self.sink.wait_for(count, TIMEOUT) - started)


class Limit:
    """The same MIME bytes, built beforehand, over POOL persistent aiosmtplib connections."""

    name = "limit"

    def __init__(self, sink: DumpSink) -> None:
        self.sink = sink
        self.channel = SMTPChannel(SMTPConfig("127.0.0.1", sink.port, sender=SENDER,
                                              security=Security.NONE))

    def measure(self, count: int) -> float:
        base = rendered()
        wire = [(address("limit", n), self.channel.render(dataclasses.replace(
            base, to_address=address("limit", n), subject=subject(n), delivery_id=f"limit-{n}")))
            for n in range(count)]
        return asyncio.run(self._send(wire))

    async def _send(self, wire: list[tuple[str, bytes]]) -> float:
        clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=self.sink.port, start_tls=False,
                                   local_hostname="bench.test") for _ in range(POOL)]
        queue = iter(wire)

        async def sender(client: aiosmtplib.SMTP) -> None:
            for to, data in queue:
                await client.sendmail(SENDER, [to], data)

        started = time.time()  # connecting is inside the clock, as it is for ticketnotify's pool
        await asyncio.gather(*(c.connect() for c in clients))
        await asyncio.gather(*(sender(c) for c in clients))
        await asyncio.gather(*(c.quit() for c in clients))
        return len(wire) / (self.sink.wait_for(len(wire), TIMEOUT) - started)


class FastAPIMail:
    """fastapi-mail's FastMail.send_message with Jinja2 templates, POOL sends at a time."""

    name = "fastapi_mail"

    def __init__(self, sink: DumpSink, templates: Path) -> None:
        from fastapi_mail import ConnectionConfig, FastMail
        from pydantic import SecretStr

        self.sink = sink
        self.mail = FastMail(ConnectionConfig(
            MAIL_USERNAME="", MAIL_PASSWORD=SecretStr(""), MAIL_PORT=sink.port, MAIL_SERVER="127.0.0.1",
            MAIL_STARTTLS=False, MAIL_SSL_TLS=False, USE_CREDENTIALS=False, VALIDATE_CERTS=False,
            MAIL_FROM=SENDER, MAIL_FROM_NAME="Support", TEMPLATE_FOLDER=templates,
        ))

    def measure(self, count: int) -> float:
        return asyncio.run(self._send(count))

    async def _send(self, count: int) -> float:
        from fastapi_mail import MessageSchema, MessageType
        from pydantic import NameEmail

        queue = iter(range(count))

        async def sender() -> None:
            for n in queue:
                message = MessageSchema(subject=subject(n), recipients=[NameEmail("", address("fastapi", n))],
                                        template_body=context(n), subtype=MessageType.html)
                await self.mail.send_message(message, html_template="peer.html",
                                             plain_template="peer.txt")

        started = time.time()
        await asyncio.gather(*(sender() for _ in range(POOL)))
        return count / (self.sink.wait_for(count, TIMEOUT) - started)


class CeleryPeer:
    """N tasks into Redis; a real celery worker renders (Django + premailer) and sends."""

    name = "celery"

    def __init__(self, sink: DumpSink, templates: Path, broker: str) -> None:
        self.sink = sink
        env = {**os.environ, "BENCH_BROKER": broker, "BENCH_SMTP_PORT": str(sink.port),
               "BENCH_TEMPLATES": str(templates), "PYTHONPATH": str(HERE)}
        os.environ.update({k: env[k] for k in ("BENCH_BROKER", "BENCH_SMTP_PORT", "BENCH_TEMPLATES")})
        import _celery_peer

        _celery_peer.app.conf.broker_url = broker  # also when imported before, by another run
        self.task = _celery_peer.send_update
        # A file, not a pipe: a pipe nobody reads could fill up and stall the worker.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "_celery_peer", "worker", "--pool", "prefork",
             f"--concurrency={POOL}", "--loglevel=WARNING", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        self.task.delay(address("celery-warm", 0), subject(0), context(0))
        try:
            sink.wait_for(1, 120)  # the worker is up and its first task went through
        except RuntimeError:
            self.close()
            self.log.seek(0)
            raise RuntimeError(f"celery worker: {self.log.read()[-2000:].decode(errors='replace')}") from None
        sink.reset()

    def measure(self, count: int) -> float:
        started = time.time()
        for n in range(count):
            self.task.delay(address("celery", n), subject(n), context(n))
        return count / (self.sink.wait_for(count, TIMEOUT) - started)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def interleaved(systems: list[Any], count: int, rounds: int) -> dict[str, dict[str, float]]:
    """Median emails/s and mean bytes per message of each system over interleaved rounds."""
    rates: dict[str, list[float]] = {s.name: [] for s in systems}
    sizes: dict[str, float] = {}
    for _round in range(rounds):
        for system in systems:
            system.sink.reset()
            rates[system.name].append(system.measure(count))
            files = list(system.sink.folder.iterdir())
            sizes[system.name] = sum(f.stat().st_size for f in files) / len(files)
            system.sink.reset()
    return {name: {"rate": statistics.median(r), "bytes": sizes[name]} for name, r in rates.items()}


def figures(results: dict[str, dict[str, float]], count: int, rounds: int) -> list[dict[str, Any]]:
    own = results["ticketnotify"]["rate"]
    setup = {
        "ticketnotify": f"ticketnotify {version('ticketnotify')}, SQLite outbox, Worker defaults, "
                        f"SMTPChannel pool {POOL}",
        "fastapi_mail": f"fastapi-mail {version('fastapi-mail')}, Jinja2 {version('jinja2')}, "
                        f"aiosmtplib {version('aiosmtplib')}, {POOL} sends at a time",
        "celery": f"celery {version('celery')} prefork x{POOL}, redis-py {version('redis')}, "
                  f"Django {version('django')} template + SMTP backend, premailer {version('premailer')}",
        "limit": f"pre-built MIME bytes, aiosmtplib {version('aiosmtplib')}, {POOL} persistent connections",
    }
    common = {"unit": "emails/s (ticketnotify publish → smtp-sink; baseline: the peer)",
              "emails_per_round": count, "rounds": rounds, "sink": f"Postfix smtp-sink {postfix_version()}"}
    out = []
    for peer in ("fastapi_mail", "celery", "limit"):
        if peer not in results:
            continue
        theirs = results[peer]["rate"]
        out.append({"name": f"e2e_vs_{peer}", "value": round(own, 1), "baseline": round(theirs, 1),
                    "ratio": round(own / theirs, 2), **common,
                    "setup": {"value": setup["ticketnotify"], "baseline": setup[peer]},
                    "bytes_per_email": {"value": round(results["ticketnotify"]["bytes"]),
                                        "baseline": round(results[peer]["bytes"])}})
    return out


def run(quick: bool) -> list[dict[str, Any]]:
    """e2e_vs_fastapi_mail, e2e_vs_celery, e2e_vs_limit (or a note when peers are missing)."""
    count, rounds = (40, 3) if quick else (600, 5)
    why_not = missing_peers()
    folder = Path(tempfile.mkdtemp(prefix="ticketnotify-peers-"))
    try:
        with DumpSink() as sink:
            systems: list[Any] = [TicketNotify(sink, folder), Limit(sink)]
            if why_not is not None:
                print(f"# {why_not}", file=sys.stderr)
                return figures(interleaved(systems, count, rounds), count, rounds)
            templates = write_templates(folder)
            with redis_server() as broker:
                celery = CeleryPeer(sink, templates, broker)
                try:
                    systems[1:1] = [FastAPIMail(sink, templates), celery]
                    results = interleaved(systems, count, rounds)
                finally:
                    celery.close()
            return figures(results, count, rounds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    for figure in run("--quick" in sys.argv[1:]):
        print(json.dumps(figure, ensure_ascii=False))
