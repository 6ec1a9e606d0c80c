"""A host app around the guest pages, on a real pipeline: SQLite outbox, worker, loopback SMTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ticketnotify.clock import utc_now
from ticketnotify.dev.guest_site import GuestSite
from ticketnotify.loopback.smtp import LoopbackSMTPServer

from .hosts import code_in, host_app, link_in, tickets

KEYS = [b"k" * 32]
SECRET = b"s" * 32
BASE = "http://testserver"


class MovableClock:
    """Real time plus an offset the test moves (links are issued on real time)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.offset


@dataclass
class Host:
    site: GuestSite
    smtp: LoopbackSMTPServer
    client: httpx.AsyncClient
    clock: MovableClock

    async def link_for(self, ticket_id: str, event_id: str = "evt-1") -> str:
        """Publish an update and return the guest link from the delivered email."""
        before = len(self.smtp.messages)
        await self.site.notify(ticket_id, event_id)
        [mail] = (await self.smtp.wait_for(before + 1, timeout=20))[before:]
        return link_in(mail)

    async def code_email(self, count: int) -> str:
        """The code in the ``count``-th email."""
        mail = (await self.smtp.wait_for(count, timeout=20))[count - 1]
        return code_in(mail)


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[Host]:
    clock = MovableClock()
    async with LoopbackSMTPServer(eml_dir=tmp_path / "mail") as smtp:
        site = GuestSite(tmp_path / "site", base_url=BASE, smtp_host="127.0.0.1", smtp_port=smtp.port,
                         keys=KEYS, code_secret=SECRET, clock=clock)
        tickets(site)
        transport = httpx.ASGITransport(app=host_app(site))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield Host(site, smtp, client, clock)
        await site.aclose()


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, html
    return found.group(1)


