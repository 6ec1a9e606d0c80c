"""The management commands on the test project's database: worker, outbox tools, code purge."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test.utils import override_settings

from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.clock import utc_now
from ticketnotify.contrib.django import DjangoEmailChannel, publish_on_commit
from ticketnotify.errors import InvalidAddressError
from ticketnotify.events import AccountUser, Device, TicketUpdate, UpdateKind
from ticketnotify.events import Ticket as TicketRef

from .hostapp.models import PushDevice, Ticket
from .hostapp.views import update_for

pytestmark = pytest.mark.django_db(transaction=True)


def status(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    call_command("ticketnotify_outbox", "status", "--json")
    loaded: dict[str, object] = json.loads(capsys.readouterr().out)
    return loaded


def test_worker_mails_through_email_backend_with_ticketnotifys_headers(
        capsys: pytest.CaptureFixture[str]) -> None:
    ticket = Ticket.objects.create(key="T-1", number="4711", subject="Printer",
                                   guest_email="sam@example.com")
    with transaction.atomic():
        publish_on_commit(update_for(ticket, "e-1"))
    assert status(capsys)["counts"] == [{"channel": "email", "status": "pending", "count": 1}]

    call_command("ticketnotify_worker", "--once", "--progress", "0")
    [sent] = mail.outbox
    message = sent.message()
    assert message["To"] == "sam@example.com"
    assert message["From"] == "Example Support <help@example.se>"  # DEFAULT_FROM_EMAIL
    assert message["Message-ID"].endswith("@example.se>")
    assert message["In-Reply-To"] == message["References"] == "<ticket.T-1@example.se>"
    assert message["Auto-Submitted"] == "auto-generated" and message["Thread-Index"]
    assert message["Content-Language"] == "en"
    assert "http://testserver/guest/tickets/T-1?token=" in sent.body
    assert sent.alternatives and sent.alternatives[0][1] == "text/html"
    assert status(capsys)["counts"] == [{"channel": "email", "status": "delivered", "count": 1}]


def test_outbox_retry_and_purge(capsys: pytest.CaptureFixture[str], settings: object) -> None:
    ticket = Ticket.objects.create(key="T-1", number="4711", subject="Printer",
                                   guest_email="sam@example.com")
    refusing = MemoryChannel()
    refusing.fail_with["sam@example.com"] = InvalidAddressError("550 no such user")
    config = {**settings.TICKETNOTIFY, "CHANNELS": {"email": refusing}}  # type: ignore[attr-defined]
    with override_settings(TICKETNOTIFY=config):
        publish_on_commit(update_for(ticket, "e-1"))
        call_command("ticketnotify_worker", "--once", "--progress", "0")
        report = status(capsys)
        assert report["counts"] == [{"channel": "email", "status": "dead", "count": 1}]
        assert "550 no such user" in str(report["recent_dead_letters"])
        call_command("ticketnotify_outbox", "retry")
        assert "1 dead job(s) pending again" in capsys.readouterr().out
        call_command("ticketnotify_outbox", "purge", "--older-than", "0s")
        assert "0 finished job(s) purged" in capsys.readouterr().out  # pending jobs stay
    with pytest.raises(CommandError, match="older-than"):
        call_command("ticketnotify_outbox", "purge", "--older-than", "soon")


def test_on_invalid_device_uses_the_orm_from_the_worker(settings: object) -> None:
    PushDevice.objects.create(user_id="u-1", token="dead-token")
    PushDevice.objects.create(user_id="u-1", token="live-token")
    apns = MemoryChannel()
    apns.fail_with["dead-token"] = InvalidAddressError("Unregistered", code="Unregistered")
    config = {**settings.TICKETNOTIFY,  # type: ignore[attr-defined]
              "CHANNELS": {"email": DjangoEmailChannel, "apns": apns}}
    update = TicketUpdate(
        event_id="e-1", kind=UpdateKind.AGENT_REPLY, occurred_at=utc_now(),
        ticket=TicketRef(id="T-9", number="4799", subject="App"),
        recipient=AccountUser(user_id="u-1", email="kim@example.com", devices=(
            Device("ios", "dead-token"), Device("ios", "live-token"))))
    with override_settings(TICKETNOTIFY=config):
        publish_on_commit(update)
        call_command("ticketnotify_worker", "--once", "--progress", "0")
    assert [d.token for d in PushDevice.objects.all()] == ["live-token"]
    assert [m.token for m in apns.sent] == ["live-token"]  # type: ignore[attr-defined]
    assert [m.to for m in mail.outbox] == [["kim@example.com"]]


def test_purge_codes(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("ticketnotify_purge_codes", stdout=None)
    assert "purged" in capsys.readouterr().out
