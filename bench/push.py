"""Pushes per second through APNsChannel and FCMChannel to the loopback stand-ins.

The stand-in runs in a child process pinned to the other core; the adapter runs on one
core. ``*_per_s`` is wall-clock throughput (bounded by whichever side is slower, and by
other load on the machine); ``*_per_cpu_s`` divides by this process's CPU time, i.e. what
one fully busy core could push. Each figure is the best of several runs, as ``timeit``
reports, because other processes on the machine only ever make a run slower.

APNs: one HTTP/2 connection, up to ``concurrency`` streams in flight; the baseline is the
same connection used one push at a time. FCM: pyfcm over ``requests`` (HTTP/1.1), a thread
per in-flight push; the baseline is one at a time.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

TOPIC = "com.example.helpdesk"
PROJECT = "bench-project"


def _pin(core: int) -> None:
    """Keep this process on one core when the machine has two or more."""
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[core]})


_CHILD = """
import asyncio, os, sys
if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[1]})
from ticketnotify.loopback.apns import APNsLoopback
from ticketnotify.loopback.fcm import FCMLoopback

async def main():
    kind, topic, project = sys.argv[1:4]
    server = APNsLoopback(topic=topic) if kind == "apns" else FCMLoopback(project_id=project)
    await server.start()
    print(server.port, server.certificate.ca_file, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop()

asyncio.run(main())
"""


class _Server:
    """A stand-in in a child process (other core); ``(port, ca_file)`` once started."""

    def __init__(self, kind: str) -> None:
        self.args = [sys.executable, "-c", _CHILD, kind, TOPIC, PROJECT]
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> tuple[int, str]:
        self.process = subprocess.Popen(self.args, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        port, ca_file = self.process.stdout.readline().split()
        return int(port), ca_file

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


def _message(i: int, platform: str) -> Any:
    from ticketnotify.messages import PushMessage

    return PushMessage(
        delivery_id=f"d-{i}", ticket_id="4711", locale="sv_SE", platform=platform,
        token="ab" * 32, user_id="user-7", title="Nytt svar i ärende #4711",
        body="Support har svarat på ditt ärende. Öppna appen för att läsa svaret.",
        deep_link="https://help.example.com/t/4711", thread_id="ticket-4711",
        collapse_id="ticket-4711", data={"kind": "agent_reply"},
    )


async def _rate(send: Callable[[Any], Awaitable[Any]], messages: list[Any],
                concurrent: bool) -> tuple[float, float]:
    """(pushes per wall-clock second, pushes per CPU-second of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    if concurrent:
        await asyncio.gather(*(send(m) for m in messages))
    else:
        for m in messages:
            await send(m)
    n = len(messages)
    return n / (time.perf_counter() - wall), n / max(time.process_time() - cpu, 1e-9)


async def _best(send: Callable[[Any], Awaitable[Any]], make: Callable[[int], Any], n: int,
                concurrent: bool, repeats: int) -> tuple[float, float]:
    """Best of ``repeats`` runs (as timeit does), to discount other load on the machine."""
    runs = [await _rate(send, [make(i) for i in range(n)], concurrent) for _ in range(repeats)]
    return max(r[0] for r in runs), max(r[1] for r in runs)


async def _apns(port: int, ca_file: str, n: int, n_seq: int,
                repeats: int) -> list[tuple[float, float]]:
    from ticketnotify.channels.push.apns import APNsChannel, APNsConfig

    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    context = ssl.create_default_context(cafile=ca_file)
    context.set_alpn_protocols(["h2"])
    config = APNsConfig(key=key, key_id="KEY1234567", team_id="TEAM123456", topic=TOPIC,
                        host="127.0.0.1", port=port, ssl_context=context)
    async with APNsChannel(config) as channel:
        await _rate(channel.send, [_message(i, "ios") for i in range(200)], True)  # warm up
        ios = functools.partial(_message, platform="ios")
        sequential = await _best(channel.send, ios, n_seq, False, repeats)
        concurrent = await _best(channel.send, ios, n, True, repeats)
    return [concurrent, sequential]


async def _fcm(port: int, ca_file: str, n: int, n_seq: int,
               repeats: int) -> list[tuple[float, float]]:
    from google.oauth2 import service_account

    from ticketnotify.channels.push.fcm import FCM_SCOPE, FCMChannel, FCMConfig

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    base = f"https://127.0.0.1:{port}"
    credentials = service_account.Credentials.from_service_account_info({
        "project_id": PROJECT, "private_key": key, "client_email": "bench@example.com",
        "token_uri": f"{base}/token"}, scopes=[FCM_SCOPE])  # type: ignore[no-untyped-call]
    config = FCMConfig(credentials=credentials, endpoint_base=f"{base}/v1/projects",
                       verify=ca_file, concurrency=16)
    async with FCMChannel(config) as channel:
        await _rate(channel.send, [_message(i, "android") for i in range(50)], True)  # warm up
        android = functools.partial(_message, platform="android")
        sequential = await _best(channel.send, android, n_seq, False, repeats)
        concurrent = await _best(channel.send, android, n, True, repeats)
    return [concurrent, sequential]


def _figure(name: str, value: float, unit: str, baseline: float) -> dict[str, Any]:
    return {"name": name, "value": round(value, 1), "unit": unit,
            "baseline": round(baseline, 1), "ratio": round(value / baseline, 2)}


def run(quick: bool) -> list[dict[str, Any]]:
    """APNs and FCM pushes per second (wall clock and per client CPU-second), with baselines."""
    _pin(0)
    n_apns, n_apns_seq, n_fcm, n_fcm_seq, repeats = (
        (700, 100, 150, 40, 2) if quick else (6000, 600, 1500, 300, 3))
    with _Server("apns") as (port, ca_file):
        apns, apns_seq = asyncio.run(_apns(port, ca_file, n_apns, n_apns_seq, repeats))
    with _Server("fcm") as (port, ca_file):
        fcm, fcm_seq = asyncio.run(_fcm(port, ca_file, n_fcm, n_fcm_seq, repeats))
    return [
        _figure("apns_pushes_per_s", apns[0], "pushes/s", apns_seq[0]),
        _figure("apns_pushes_per_cpu_s", apns[1], "pushes/CPU-s", apns_seq[1]),
        _figure("fcm_pushes_per_s", fcm[0], "pushes/s", fcm_seq[0]),
        _figure("fcm_pushes_per_cpu_s", fcm[1], "pushes/CPU-s", fcm_seq[1]),
    ]


if __name__ == "__main__":
    for figure in run("--quick" in sys.argv):
        print(json.dumps(figure))
