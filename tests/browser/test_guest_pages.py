"""The guest flow in a real browser, from emails delivered through the real pipeline (issue 14.5)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from ticketnotify.dev.guest_site import GuestSite
from ticketnotify.dev.server import DEMO_TICKET, DevServer
from ticketnotify.guest import NoCodeError
from ticketnotify.loopback.smtp import LoopbackSMTPServer

from ..contrib.asgi.hosts import code_in, host_app, link_in, tickets
from .conftest import Shots, listening_socket, serve
from .flow import walk_guest_flow

pytestmark = pytest.mark.slow

KEYS = [b"b" * 32]
SECRET = b"c" * 32


async def test_guest_flow_on_the_asgi_pages(tmp_path: Path, browser: Any, shots: Shots) -> None:
    sock = listening_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with LoopbackSMTPServer(eml_dir=tmp_path / "mail") as smtp:
        site = GuestSite(tmp_path / "site", base_url=base, smtp_host="127.0.0.1", smtp_port=smtp.port,
                         keys=KEYS, code_secret=SECRET)
        tickets(site)
        try:
            async with contextlib.aclosing(serve(host_app(site), sock)) as serving:
                await anext(serving)
                await site.notify("T-1", "evt-t1")  # Notifier → outbox → Worker → SMTP
                [update_mail] = await smtp.wait_for(1, timeout=30)
                link = link_in(update_mail)

                # A link scanner fetches the link, several times: nothing is sent or stored.
                async with httpx.AsyncClient() as scanner:
                    for _ in range(3):
                        assert (await scanner.get(link)).status_code == 200
                token = link.rpartition("token=")[2]
                with pytest.raises(NoCodeError):
                    await site.codes.averify_code(token, "000000", email="sam@example.com")
                assert len(smtp.messages) == 1

                await walk_guest_flow(browser, shots, smtp, link, base, "T-1", code_in)
        finally:
            await site.aclose()


async def test_dev_page_lists_the_mail_and_its_guest_link_opens_the_demo_ticket(
        tmp_path: Path, browser: Any, shots: Shots) -> None:
    async with DevServer(tmp_path / "dev", push=False) as dev:
        await dev.stack.smtp.wait_for(1, timeout=30)  # the demo ticket's first email
        page = await browser.new_page()
        await page.goto(dev.web_url + "/")
        await page.get_by_role("heading", name="ticketnotify dev: caught mail and push").wait_for()
        await shots.take(page, "dev-index")

        await page.get_by_role("button", name="Send the guest an update").click()
        await page.wait_for_url(dev.web_url + "/")
        rows = page.get_by_role("link", name=re.compile(r"^\d{5}\.eml$"))
        assert await rows.all_inner_texts() == ["00002.eml", "00001.eml"]  # newest first

        await rows.first.click()
        frame = page.frame_locator("iframe[title='HTML part']")
        await frame.locator("body").wait_for()
        await shots.take(page, "dev-mail")
        await page.get_by_role("link", name="/guest/tickets/DEMO-1?token=").click()
        await page.get_by_role("heading", name=f"Support ticket {DEMO_TICKET}").wait_for()
        await page.get_by_role("button", name="Email me a code").click()
        code = code_in((await dev.stack.smtp.wait_for(3, timeout=30))[2])
        await page.get_by_label("Code (six digits)").fill(code)
        await page.get_by_role("button", name="Open my ticket").click()
        await page.wait_for_url(f"{dev.web_url}/tickets/{DEMO_TICKET}")
        await page.get_by_text("My deposit does not show").wait_for()
        await shots.take(page, "dev-demo-ticket")

        await page.goto(dev.web_url + "/")
        assert await rows.count() == 3  # the code email is listed too
        await shots.take(page, "dev-index-after")
