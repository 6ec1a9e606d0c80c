"""The loopback SMTP server keeps every message as a file and never overwrites one (issue 14.4)."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest

from ticketnotify.loopback.smtp import LoopbackSMTPServer

pytestmark = pytest.mark.asyncio


def _send(port: int, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=10) as client:
        client.sendmail("a@example.com", ["b@example.com"],
                        f"Subject: {subject}\r\n\r\nbody of {subject}\r\n".encode())


async def _deliver(folder: Path, subject: str) -> None:
    import asyncio

    async with LoopbackSMTPServer(eml_dir=folder) as server:
        await asyncio.to_thread(_send, server.port, subject)
        await server.wait_for(1)


async def test_a_restarted_server_keeps_the_earlier_messages(tmp_path: Path) -> None:
    """Before: the second run numbered from 1 again and overwrote 00001.eml."""
    await _deliver(tmp_path, "first run")
    await _deliver(tmp_path, "second run")
    files = sorted(tmp_path.glob("*.eml"))
    assert [f.name for f in files] == ["00001.eml", "00002.eml"]
    assert b"first run" in files[0].read_bytes()
    assert b"second run" in files[1].read_bytes()


async def test_a_file_someone_else_put_there_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "00007.eml").write_bytes(b"not ours")
    (tmp_path / "notes.txt").write_text("ignored")
    await _deliver(tmp_path, "after seven")
    assert (tmp_path / "00007.eml").read_bytes() == b"not ours"
    assert b"after seven" in (tmp_path / "00008.eml").read_bytes()
