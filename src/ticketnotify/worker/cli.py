"""``ticketnotify worker``: run a delivery worker from the command line until stopped."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..channels.base import ENTRY_POINT_GROUP, Channel, load_channel_class
from ..cli import standalone_main
from ..errors import ConfigurationError
from ..outbox.base import Outbox
from ..outbox.from_url import DEFAULT_URL, outbox_from_url
from ..rendering.deliveries import delivery_renderer_of
from .dead_devices import InvalidDeviceCallback
from .logs import configure_logging
from .loop import Worker
from .metrics import WorkerMetrics
from .retry import RetryPolicy
from .signals import stop_on_signals
from .stats import WorkerStats


def register(subparsers: Any) -> None:
    """Add ``worker`` to the ``ticketnotify`` command line."""
    worker = subparsers.add_parser(
        "worker", help="deliver outbox jobs until stopped (SIGTERM/Ctrl-C finish in-flight sends)",
        description="Claim due jobs, send them, record outcomes; prints progress to stderr. "
                    "Email uses SMTP settings from the flags or TICKETNOTIFY_SMTP_* variables.",
    )
    worker.add_argument(
        "--outbox", default=os.environ.get("TICKETNOTIFY_OUTBOX", DEFAULT_URL),
        help="sqlite:///file.db or postgresql://user@host/db (env TICKETNOTIFY_OUTBOX; "
             f"default {DEFAULT_URL})",
    )
    worker.add_argument("--smtp-host", help="SMTP server (env TICKETNOTIFY_SMTP_HOST)")
    worker.add_argument("--smtp-port", type=int, help="SMTP port (env TICKETNOTIFY_SMTP_PORT)")
    worker.add_argument("--smtp-security", help="starttls-required, starttls-opportunistic, "
                        "implicit-tls or none (env TICKETNOTIFY_SMTP_SECURITY)")
    worker.add_argument("--sender", help="From address (env TICKETNOTIFY_SMTP_SENDER)")
    worker.add_argument("--channels", metavar="MODULE:FUNCTION|NAME", action="append",
                        help="your factory returning {channel name: Channel} (push adapters), "
                             "or the name of an adapter registered under the entry-point "
                             f"group {ENTRY_POINT_GROUP} (built with its from_env() or no "
                             "arguments); may be repeated")
    worker.add_argument("--on-invalid-device", metavar="MODULE:FUNCTION",
                        help="called as function(user_id, Device) once per dead push token, "
                             "so you can forget the device; a plain function runs in a "
                             "thread, an async one on the worker's loop")
    worker.add_argument("--renderer", metavar="MODULE:ATTRIBUTE",
                        help="your Notifier (or a function returning it): jobs are rendered "
                             "when sent, with its catalogs, templates and brands; default: "
                             "the shipped ones and the plain default brand only")
    worker.add_argument("--batch", type=int, default=100, help="jobs claimed at once")
    worker.add_argument("--concurrency", type=int, default=50, help="sends in flight at once")
    worker.add_argument("--lease", type=float, default=120.0,
                        help="seconds a claimed job stays ours; a crashed worker's jobs "
                             "are claimed again after this")
    worker.add_argument("--max-attempts", type=int, default=8, help="tries before dead-lettering")
    worker.add_argument("--idle", type=float, default=1.0,
                        help="seconds between polls once idle (new jobs wake the worker "
                             "sooner: any publish on PostgreSQL, one in this process on "
                             "SQLite; other SQLite publishers are polled for adaptively)")
    worker.add_argument("--grace", type=float, default=30.0,
                        help="seconds in-flight sends get to finish on SIGTERM")
    worker.add_argument("--progress", type=float, default=5.0,
                        help="seconds between progress lines (0: none)")
    worker.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    worker.add_argument("--metrics-port", type=int, metavar="PORT",
                        help="serve Prometheus metrics over HTTP on this port (e.g. 9464; "
                             "needs the metrics extra)")
    worker.add_argument("--metrics-addr", default="127.0.0.1", metavar="ADDR",
                        help="address the metrics server listens on (default 127.0.0.1)")
    worker.add_argument("--metrics-refresh", type=float, default=15.0, metavar="SECONDS",
                        help="seconds between refreshes of the outbox gauges (job counts, "
                             "oldest due age)")
    worker.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="json: one JSON object per log record, with job_id, event_id, "
                             "channel, outcome and error_class fields")
    worker.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="lowest level logged (DEBUG logs every delivery)")
    worker.set_defaults(func=run_worker_command)


def build_channels(args: argparse.Namespace) -> dict[str, Channel]:
    """Email from SMTP flags/environment, plus whatever the host's factory returns."""
    channels: dict[str, Channel] = {}
    env = dict(os.environ)
    for flag, name in (("smtp_host", "HOST"), ("smtp_port", "PORT"),
                       ("smtp_security", "SECURITY"), ("sender", "SENDER")):
        value = getattr(args, flag)
        if value is not None:
            env[f"TICKETNOTIFY_SMTP_{name}"] = str(value)
    if env.get("TICKETNOTIFY_SMTP_SENDER") or env.get("TICKETNOTIFY_SMTP_HOST"):
        from ..channels.smtp import SMTPChannel, SMTPConfig

        channels["email"] = SMTPChannel(SMTPConfig.from_env(environ=env))
    for spec in args.channels or ():
        channels.update(_channels_from(spec))
    if not channels:
        raise ConfigurationError(
            "no channels configured: set --sender/--smtp-host (or TICKETNOTIFY_SMTP_*) "
            "or pass --channels module:function (or an entry-point name)"
        )
    return channels


def _import_object(option: str, spec: str, default_attr: str) -> object:
    """``module:attribute`` as named on the command line, or a ConfigurationError saying why not."""
    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr or default_attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(f"{option} {spec!r}: {exc}") from exc


def _channels_from(spec: str) -> dict[str, Channel]:
    """One ``--channels`` value: a host factory (``module:function``) or an entry-point name."""
    if ":" not in spec:
        return {spec: _channel_from_entry_point(spec)}
    extra = _import_object("--channels", spec, "channels")
    made = extra() if callable(extra) else None
    if not isinstance(made, Mapping) or not all(isinstance(c, Channel) for c in made.values()):
        raise ConfigurationError(f"--channels {spec!r} must return {{name: Channel}}")
    return dict(made)


def _channel_from_entry_point(name: str) -> Channel:
    """Adapters configure themselves from the environment (``from_env()``) or need nothing."""
    cls = load_channel_class(name)
    build = getattr(cls, "from_env", cls)
    try:
        channel = build()
    except TypeError as exc:
        raise ConfigurationError(
            f"--channels {name!r}: {cls.__name__} cannot configure itself ({exc}); "
            "build it in your own factory and pass --channels module:function"
        ) from exc
    if not isinstance(channel, Channel):
        raise ConfigurationError(f"--channels {name!r}: {cls.__name__}.from_env() must return "
                                 f"a Channel, not {type(channel).__name__}")
    return channel


def invalid_device_callback(args: argparse.Namespace) -> InvalidDeviceCallback | None:
    """``--on-invalid-device module:function``: the host's hook for dead push tokens."""
    if not args.on_invalid_device:
        return None
    found = _import_object("--on-invalid-device", args.on_invalid_device, "on_invalid_device")
    if not callable(found):
        raise ConfigurationError(
            f"--on-invalid-device {args.on_invalid_device!r} names a {type(found).__name__}, "
            "not a function taking (user_id, Device)"
        )
    callback: InvalidDeviceCallback = found
    return callback


def progress_line(stats: WorkerStats, elapsed: float, delta: int, interval: float) -> str:
    """One line of worker progress: totals and the recent delivery rate (per second)."""
    return (
        f"[{elapsed:7.1f}s] delivered={stats.delivered} retried={stats.retried} "
        f"dead={stats.dead} released={stats.released} store_errors={stats.store_errors} "
        f"lost_leases={stats.lost_leases} "
        f"rate={delta / interval if interval else 0:.0f}/s"
    )


async def _report(worker: Worker, every: float, started: float) -> None:
    last = 0
    while True:
        await asyncio.sleep(every)  # a display cadence, not synchronisation
        print(progress_line(worker.stats, time.monotonic() - started,
                            worker.stats.delivered - last, every), file=sys.stderr, flush=True)
        last = worker.stats.delivered


async def run_worker(args: argparse.Namespace, outbox: Outbox) -> WorkerStats:
    """Run one worker until SIGTERM/SIGINT (or until nothing is due, with ``--once``).

    The last progress line is printed after every outcome has been recorded, so its
    totals are final.
    """
    metrics = None
    if args.metrics_port is not None:
        metrics = WorkerMetrics(refresh_seconds=args.metrics_refresh)
    worker = Worker(
        outbox, build_channels(args), on_invalid_device=invalid_device_callback(args),
        retry=RetryPolicy(max_attempts=args.max_attempts),
        batch_size=args.batch, concurrency=args.concurrency, lease_seconds=args.lease,
        shutdown_grace=args.grace, metrics=metrics,
        renderer=delivery_renderer_of(_import_object("--renderer", args.renderer, "notifier"))
        if getattr(args, "renderer", None) else None,
    )
    server = None if metrics is None else serve_metrics(metrics, args.metrics_addr,
                                                         args.metrics_port)
    started = time.monotonic()
    print(f"worker {worker.worker_id}: channels {', '.join(sorted(worker.channels))}",
          file=sys.stderr, flush=True)
    reporter = (asyncio.create_task(_report(worker, args.progress, started))
                if args.progress > 0 else None)
    try:
        if args.once:
            await worker.drain()
        else:
            stop = asyncio.Event()
            stop_on_signals(stop)
            await worker.run(stop, idle_interval=args.idle)
    finally:
        if reporter is not None:
            reporter.cancel()
        await worker.aclose()
        if server is not None:
            server.shutdown()
            server.server_close()
    elapsed = time.monotonic() - started
    print(progress_line(worker.stats, elapsed, worker.stats.delivered, elapsed) + " (stopped)",
          file=sys.stderr, flush=True)
    return worker.stats


def serve_metrics(metrics: WorkerMetrics, addr: str, port: int) -> Any:
    """Serve ``metrics.registry`` at ``http://addr:port/metrics`` from a daemon thread.

    Returns:
        The HTTP server; ``shutdown()`` and ``server_close()`` stop it.

    Raises:
        ConfigurationError: The address or port cannot be listened on.
    """
    from prometheus_client import start_http_server

    try:
        server, _thread = start_http_server(port, addr=addr, registry=metrics.registry)
    except OSError as exc:
        raise ConfigurationError(
            f"--metrics-addr {addr} --metrics-port {port}: cannot listen there ({exc}); "
            "pick a free port") from exc
    print(f"metrics: http://{addr}:{server.server_port}/metrics", file=sys.stderr, flush=True)
    return server


def run_worker_command(args: argparse.Namespace) -> int:
    """Entry point of ``ticketnotify worker``."""
    configure_logging(args.log_format, args.log_level)
    outbox = outbox_from_url(args.outbox, create=False)
    try:
        asyncio.run(run_worker(args, outbox))
    finally:
        outbox.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ticketnotify.worker.cli worker ...``: the worker without the other commands."""
    return standalone_main(register, argv)


if __name__ == "__main__":
    raise SystemExit(main())
