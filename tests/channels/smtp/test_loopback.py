"""The loopback SMTP server the demo uses: keeps envelopes and bytes, writes .eml files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketnotify.channels.smtp.channel import SMTPChannel, SMTPConfig
from ticketnotify.loopback.smtp import LoopbackSMTPServer

from .servers import email_message


async def test_keeps_messages_and_writes_eml_files(tmp_path: Path) -> None:
    out = tmp_path / "mail"
    async with LoopbackSMTPServer(eml_dir=out) as server:
        assert server.port > 0
        cfg = SMTPConfig("127.0.0.1", server.port, sender="helpdesk@example.com",
                         local_hostname="client.test")
        async with SMTPChannel(cfg) as ch:
            raws = [ch.render(email_message(n)) for n in (1, 2)]
            for n in (1, 2):
                await ch.send(email_message(n))
        got = await server.wait_for(2)
    assert [m.rcpt_tos for m in got] == [("anna.oberg@example.org",)] * 2
    assert sorted(p.name for p in out.iterdir()) == ["00001.eml", "00002.eml"]
    assert got[0].eml_path is not None and got[0].eml_path.read_bytes() == got[0].data
    # what arrived is byte for byte what the channel built (Date fixed by the same second)
    assert [m.message["Message-ID"] for m in got] == ["<dlv-0001@example.com>", "<dlv-0002@example.com>"]
    assert got[1].data.split(b"\r\n\r\n", 1)[1] == raws[1].split(b"\r\n\r\n", 1)[1]


async def test_waiting_for_more_than_arrives_times_out() -> None:
    async with LoopbackSMTPServer() as server:
        with pytest.raises(TimeoutError):
            await server.wait_for(1, timeout=0.05)
