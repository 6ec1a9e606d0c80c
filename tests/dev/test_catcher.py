"""``ticketnotify dev``: keeps what arrives across restarts, lists it newest first, guest flow wired."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import smtplib
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ticketnotify.dev.server import DEMO_TICKET, DevServer

pytestmark = pytest.mark.slow  # real servers, a worker, subprocesses


def _mail(port: int, subject: str, html: str = "<p>hi <script>alert(1)</script></p>") -> None:
    message = (f"Subject: {subject}\r\nTo: dev@example.com\r\nMIME-Version: 1.0\r\n"
               "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"
               "Content-Type: text/plain\r\n\r\nsee http://example.test/x\r\n--b\r\n"
               f"Content-Type: text/html\r\n\r\n{html}\r\n--b--\r\n")
    with smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=10) as client:
        client.sendmail("host@example.com", ["dev@example.com"], message.encode())


async def test_a_restart_keeps_every_message_and_lists_newest_first(tmp_path: Path) -> None:
    async with DevServer(tmp_path, push=False) as dev:
        await asyncio.to_thread(_mail, dev.stack.smtp.port, "from the first run")
        await dev.stack.smtp.wait_for(2)  # the demo ticket's email, then ours
    async with DevServer(tmp_path, push=False) as dev:
        await asyncio.to_thread(_mail, dev.stack.smtp.port, "from the second run")
        await dev.stack.smtp.wait_for(1)  # no second demo email: keys.json says not first run
        async with httpx.AsyncClient(base_url=dev.web_url) as client:
            index = (await client.get("/")).text
            names = re.findall(r'href="/mail/(\d+\.eml)"', index)
            assert names == ["00003.eml", "00002.eml", "00001.eml"]
            assert index.index("from the second run") < index.index("from the first run")
            detail = await client.get("/mail/00002.eml")
            assert 'sandbox=""' in detail.text and "&lt;script&gt;" in detail.text
            assert "<script>" not in detail.text
            assert '<a href="http://example.test/x">' in detail.text
            raw = await client.get("/mail/00002.eml/raw")
            assert b"from the first run" in raw.content
            assert (await client.get("/mail/..%2Fkeys.json")).status_code == 404
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 3


async def test_pushes_are_kept_as_files_and_listed(tmp_path: Path) -> None:
    from ticketnotify.events import AccountUser, Device, Ticket, TicketUpdate, UpdateKind
    from ticketnotify.notifier import Links, Notifier
    from ticketnotify.outbox.memory import MemoryOutbox
    from ticketnotify.worker import Worker

    async with DevServer(tmp_path) as dev:
        outbox = MemoryOutbox()
        notifier = Notifier(outbox, links=Links(web_ticket_url="https://h.example/t/{ticket_id}",
                                                app_ticket_url="h://t/{ticket_id}"), guest_links=None)
        user = AccountUser(user_id="u1", email="anna@example.se",
                           devices=(Device("ios", "a" * 64), Device("android", "fcm-token-1")))
        from ticketnotify.clock import utc_now

        await notifier.apublish(TicketUpdate(event_id="e1", ticket=Ticket("42", "Help"),
                                             kind=UpdateKind.AGENT_REPLY, recipient=user,
                                             occurred_at=utc_now()))
        worker = Worker(outbox, dev.stack.channels(), renderer=notifier.delivery_renderer)
        await worker.drain()
        await worker.aclose()
        async with httpx.AsyncClient(base_url=dev.web_url) as client:
            index = (await client.get("/")).text
            pushes = re.findall(r'href="/push/(\d+-(?:apns|fcm)\.json)"', index)
            assert sorted(p.split("-")[1] for p in pushes) == ["apns.json", "fcm.json"]
            detail = (await client.get(f"/push/{pushes[0]}")).text
            assert "&#34;body&#34;" in detail or "&quot;body&quot;" in detail
    assert len(list((tmp_path / "push").glob("*.json"))) == 2


async def test_the_demo_guest_flow_opens_the_demo_ticket(tmp_path: Path) -> None:
    async with DevServer(tmp_path, push=False) as dev:
        [received] = await dev.stack.smtp.wait_for(1)
        async with httpx.AsyncClient(base_url=dev.web_url) as client:
            detail = (await client.get("/mail/00001.eml")).text
            link = re.search(r'<a href="(http://[^"]+/guest/tickets/[^"]+)"', detail)
            assert link, detail
            page = await client.get(link.group(1).replace("&amp;", "&"))
            assert f"Support ticket {DEMO_TICKET}" in page.text
            token = re.search(r'name="token" value="([^"]+)"', page.text)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token and csrf
            form = {"token": token.group(1), "csrf": csrf.group(1)}
            sent = await client.post(f"/guest/tickets/{DEMO_TICKET}/code", data=form)
            assert sent.status_code == 200
            code_mail = (await dev.stack.smtp.wait_for(2))[1]
            code = re.search(r"\b(\d{6})\b", code_mail.message.get_body(("plain",)).get_content())
            assert code
            done = await client.post(f"/guest/tickets/{DEMO_TICKET}/verify",
                                     data={**form, "code": code.group(1)})
            assert done.status_code == 303
            ticket = await client.get(done.headers["location"])
            assert ticket.status_code == 200 and "My deposit does not show" in ticket.text
            assert (await client.get("/tickets/DEMO-2")).status_code == 403
        assert received.rcpt_tos == ("guest@example.com",)


def test_the_command_starts_on_free_ports_prints_them_and_stops_on_sigint(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ticketnotify.cli", "dev", "--dir", str(tmp_path), "--no-push"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:  # blocks until the command has printed its addresses
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        printed = "".join(lines)
        web = re.search(r"web page: (http://127\.0\.0\.1:\d+/)", printed)
        smtp = re.search(r"SMTP \(no TLS, no auth\): 127\.0\.0\.1:(\d+)", printed)
        assert web and smtp, printed + process.stderr.read() if process.stderr else ""
        assert httpx.get(web.group(1), timeout=10).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    from ticketnotify.errors import ConfigurationError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match="--web-port"):
            async with DevServer(tmp_path / "a", push=False, web_port=port):
                pass
        with pytest.raises(ConfigurationError, match="--smtp-port"):
            async with DevServer(tmp_path / "b", push=False, smtp_port=port):
                pass
