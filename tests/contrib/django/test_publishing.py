"""publish_on_commit / publish_in_transaction on Django's own SQLite file (and PostgreSQL, slow)."""

from __future__ import annotations

import pytest
from django.db import connections, transaction
from django.test.utils import override_settings

from ticketnotify.contrib.django import publish_in_transaction, publish_on_commit
from ticketnotify.contrib.django.schema import apply_code_schema, apply_outbox_schema
from ticketnotify.contrib.django.settings import get_outbox
from ticketnotify.errors import InvalidInputError

from .hostapp.models import Ticket
from .hostapp.views import update_for


class Boom(Exception):
    pass


def pending() -> int:
    return sum(c.count for c in get_outbox().counts())


def make_ticket(key: str = "T-1") -> Ticket:
    return Ticket.objects.create(key=key, number="4711", subject="Printer", guest_email="sam@example.com")


@pytest.mark.django_db(transaction=True)
def test_publish_on_commit_stores_after_the_commit_and_never_after_a_rollback() -> None:
    ticket = make_ticket()
    with transaction.atomic():
        publish_on_commit(update_for(ticket, "e-1"))
        assert pending() == 0  # not before the commit
    assert pending() == 1
    with pytest.raises(Boom), transaction.atomic():
        publish_on_commit(update_for(ticket, "e-2"))
        raise Boom
    assert pending() == 1


@pytest.mark.django_db(transaction=True)
def test_publish_in_transaction_commits_and_rolls_back_with_the_ticket_change() -> None:
    ticket = make_ticket()
    with pytest.raises(Boom), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(replies=1)
        result = publish_in_transaction(update_for(ticket, "e-1"))
        assert result.stored == 1
        raise Boom
    assert pending() == 0 and Ticket.objects.get().replies == 0
    with transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(replies=2)
        publish_in_transaction(update_for(ticket, "e-2"))
    assert pending() == 1 and Ticket.objects.get().replies == 2


@pytest.mark.django_db(transaction=True)
def test_a_failed_publish_leaves_the_hosts_transaction_usable() -> None:
    ticket = make_ticket()
    with transaction.atomic():
        with pytest.raises(InvalidInputError):
            publish_in_transaction("not an update")  # type: ignore[arg-type]
        Ticket.objects.filter(pk=ticket.pk).update(replies=3)
    assert Ticket.objects.get().replies == 3


@pytest.mark.django_db(transaction=True)
def test_publish_in_transaction_refuses_outside_an_atomic_block_and_on_another_database() -> None:
    ticket = make_ticket()
    with pytest.raises(InvalidInputError) as outside:
        publish_in_transaction(update_for(ticket, "e-1"))
    assert outside.value.field == "transaction" and "atomic" in str(outside.value)
    with pytest.raises(InvalidInputError) as other:
        publish_in_transaction(update_for(ticket, "e-1"), using="memory")
    assert other.value.field == "using" and "'default'" in str(other.value)
    with override_settings(TICKETNOTIFY={"OUTBOX": "sqlite:///elsewhere.db"}), \
            pytest.raises(InvalidInputError) as not_django:
        publish_in_transaction(update_for(ticket, "e-1"))
    assert "publish_on_commit" in str(not_django.value)
    assert pending() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases=["default", "pg"])
def test_publish_in_transaction_on_postgresql(settings: object) -> None:
    pg = connections["pg"]
    apply_outbox_schema(pg, version=1)  # what `migrate --database pg` runs when DATABASE="pg"
    apply_code_schema(pg)
    ticket = make_ticket()
    config = {**settings.TICKETNOTIFY, "DATABASE": "pg"}  # type: ignore[attr-defined]
    with override_settings(TICKETNOTIFY=config):
        with pytest.raises(Boom), transaction.atomic(using="pg"):
            publish_in_transaction(update_for(ticket, "e-1"), using="pg")
            raise Boom
        assert pending() == 0
        with transaction.atomic(using="pg"):
            assert publish_in_transaction(update_for(ticket, "e-2"), using="pg").stored == 1
        assert pending() == 1
        with pytest.raises(InvalidInputError) as wrong, transaction.atomic():
            publish_in_transaction(update_for(ticket, "e-3"))  # the SQLite "default"
        assert wrong.value.field == "using"


@pytest.mark.django_db(transaction=True)
def test_the_outbox_first_opens_inside_a_write_transaction_without_waiting_on_it() -> None:
    """The first publish of a process often comes after the ticket was written in the same
    transaction; opening the SQLite outbox then must not wait for that transaction's lock
    (before: BEGIN IMMEDIATE waited the busy timeout, 30 s, then OutboxUnavailableError)."""
    ticket = make_ticket()
    from ticketnotify.contrib.django.settings import reset

    reset()
    with transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(replies=1)  # this connection now writes
        assert publish_in_transaction(update_for(ticket, "e-1")).stored == 1
    assert pending() == 1
