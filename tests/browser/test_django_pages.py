"""The Django guest pages in a real browser, from mails delivered by the worker through EMAIL_BACKEND (SMTP).

The test project (tests/contrib/django/project) runs on Django's live server; its mail goes
through Django's SMTP backend to a loopback SMTP server, where the test reads the link and
the code as a guest would.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import django
import httpx
import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.contrib.django.project.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from ticketnotify.contrib.django import get_codes, publish_on_commit  # noqa: E402
from ticketnotify.guest import NoCodeError  # noqa: E402
from ticketnotify.loopback.smtp import LoopbackSMTPServer  # noqa: E402

from ..contrib.asgi.hosts import code_in, link_in  # noqa: E402
from ..contrib.django.fixtures import empty_store_tables  # noqa: E402, F401
from ..contrib.django.hostapp.models import Ticket  # noqa: E402
from ..contrib.django.hostapp.views import update_for  # noqa: E402
from .conftest import Shots  # noqa: E402
from .flow import walk_guest_flow  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def tickets_and_first_mail() -> None:
    """Host code: two guest tickets, and the reply that mails the first one (then the worker)."""
    first = Ticket.objects.create(key="T-1", number="4711", subject="Printer jams",
                                  guest_email="sam@example.com")
    Ticket.objects.create(key="T-2", number="4712", subject="Other", guest_email="sam@example.com")
    with transaction.atomic():
        publish_on_commit(update_for(first, "reply-1"))
    call_command("ticketnotify_worker", "--once", "--progress", "0")


async def test_guest_flow_on_the_django_pages(tmp_path: Path, browser: Any, shots: Shots,
                                              live_server: Any) -> None:
    base = live_server.url
    async with LoopbackSMTPServer(eml_dir=tmp_path / "mail") as smtp:
        site = {**settings.TICKETNOTIFY,
                "GUEST_URL": base + "/guest/tickets/{ticket_id}?token={token}"}
        with override_settings(TICKETNOTIFY=site, EMAIL_HOST="127.0.0.1", EMAIL_PORT=smtp.port,
                               EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                               EMAIL_USE_TLS=False, EMAIL_TIMEOUT=10):
            await asyncio.to_thread(tickets_and_first_mail)
            [update_mail] = await smtp.wait_for(1, timeout=30)
            link = link_in(update_mail)
            assert link.startswith(base + "/guest/tickets/T-1?token=")

            # A link scanner fetches the link, several times: nothing is sent or stored.
            async with httpx.AsyncClient() as scanner:
                for _ in range(3):
                    assert (await scanner.get(link)).status_code == 200
            token = link.rpartition("token=")[2]
            with pytest.raises(NoCodeError):
                await asyncio.to_thread(get_codes().verify_code, token, "000000",
                                        email="sam@example.com")
            assert len(smtp.messages) == 1

            await walk_guest_flow(browser, shots, smtp, link, base, "4711", code_in)
