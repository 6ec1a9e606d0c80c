"""Postfix's smtp-sink on loopback, writing each message to a file so the benchmark can count.

``smtp-sink -d TEMPLATE`` stores every received message as one file (in a tmpfs when
``/dev/shm`` exists). The number of files is the number of messages the sink accepted,
and each file's modification time is when its DATA ended: the "received at the sink"
instant for throughput and latency. Timestamps come from the kernel's coarse clock
(one tick, 1–4 ms), which bounds the precision of every latency figure.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
_RCPT = re.compile(rb"^X-Rcpt-Args: <([^>]*)>", re.MULTILINE)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postfix_version() -> str:
    """``postconf mail_version``, or "unknown"."""
    try:
        out = subprocess.run(["postconf", "-h", "mail_version"], capture_output=True, text=True,
                             timeout=10, check=False).stdout.strip()
    except OSError:
        return "unknown"
    return out or "unknown"


class DumpSink:
    """smtp-sink on a free loopback port that keeps one file per accepted message.

    Use as a context manager; ``port`` is where to send. ``reset()`` forgets what was
    received so the next round counts from zero.
    """

    def __init__(self, backlog: int = 256) -> None:
        if not Path(SMTP_SINK).exists():
            raise RuntimeError(f"smtp-sink not found at {SMTP_SINK}: install postfix (scripts/test does)")
        base = "/dev/shm" if Path("/dev/shm").is_dir() else None
        self.folder = Path(tempfile.mkdtemp(prefix="ticketnotify-sink-", dir=base))
        self.folder.chmod(0o777)  # smtp-sink drops to nobody when started as root
        self.port = free_port()
        command = [SMTP_SINK, "-d", f"{self.folder}/m.", f"127.0.0.1:{self.port}", str(backlog)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "nobody"]
        self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:  # readiness of an external server: a benchmark may poll, it asserts nothing
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                    if conn.recv(64).startswith(b"220"):
                        break
            except OSError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self.close()
                    raise RuntimeError("smtp-sink did not start") from None
                time.sleep(0.02)

    def __enter__(self) -> DumpSink:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop smtp-sink and delete its files."""
        if self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def count(self) -> int:
        """Messages accepted since the last ``reset``."""
        return len(os.listdir(self.folder))

    def reset(self) -> None:
        """Forget every received message."""
        for name in os.listdir(self.folder):
            (self.folder / name).unlink(missing_ok=True)

    def wait_for(self, count: int, timeout: float) -> float:
        """Wait until ``count`` messages arrived; return when the last one did (epoch seconds).

        Raises:
            RuntimeError: fewer than ``count`` arrived within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while (have := self.count()) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"smtp-sink received {have} of {count} messages in {timeout:.0f}s")
            time.sleep(0.05)  # cheap poll; the figure uses file times, not this loop's
        return self.last_received()

    def last_received(self) -> float:
        """Modification time of the newest message file, in epoch seconds."""
        with os.scandir(self.folder) as entries:
            return max(entry.stat().st_mtime_ns for entry in entries) / 1e9

    def received(self) -> dict[str, float]:
        """Envelope recipient → when its message arrived (epoch seconds)."""
        times: dict[str, float] = {}
        with os.scandir(self.folder) as entries:
            for entry in entries:
                with open(entry.path, "rb") as f:
                    match = _RCPT.search(f.read(1024))
                if match:
                    times[match.group(1).decode()] = entry.stat().st_mtime_ns / 1e9
        return times

    def sample(self) -> bytes:
        """One received message, for checking that every system sent the same email."""
        with os.scandir(self.folder) as entries:
            for entry in entries:
                return Path(entry.path).read_bytes()
        return b""
