"""Publish ticket updates with Django's transactions: after the commit, or inside it.

``publish_on_commit(update)`` is the one line where a reply is saved: the notice is
stored once the ticket change has committed, and never for a change that rolled back.
``publish_in_transaction(update)`` stores it in the same transaction as the change
(exactly-once with the change, the outbox pattern), when the outbox is in Django's database.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from ...errors import InvalidInputError
from ...events import TicketUpdate
from ...notifier import PublishResult
from .settings import database_alias, get_notifier, outbox_on_django_db


def publish_on_commit(update: TicketUpdate, *, using: str | None = None) -> None:
    """Publish ``update`` when the current transaction on ``using`` commits (now, outside one).

    A rolled-back transaction publishes nothing. The publish runs after the commit, so an
    outbox outage at that moment raises ``OutboxUnavailableError`` from the code that
    committed (the ticket change is already saved); ``publish_in_transaction`` has no such
    gap.

    Args:
        update: the ``TicketUpdate``; checked now, so a bad one fails where it is made.
        using: the Django database alias whose transaction decides (default "default").

    Raises:
        InvalidInputError: ``update`` is no ``TicketUpdate`` (``.field`` ``"update"``).
    """
    if not isinstance(update, TicketUpdate):
        raise InvalidInputError("update", f"must be a TicketUpdate, got {type(update).__name__}")
    notifier = get_notifier()
    transaction.on_commit(lambda: notifier.publish(update), using=using)


def publish_in_transaction(update: TicketUpdate, *, using: str | None = None) -> PublishResult:
    """Store ``update``'s deliveries inside the current ``transaction.atomic()`` block, under a savepoint.

    The ticket change and its notifications commit or roll back together. If storing
    fails, the savepoint is rolled back and the error raised: the host's transaction is
    left as it was (catch the error to commit the change anyway).

    Args:
        update: the ``TicketUpdate``.
        using: the Django database alias (default "default"); it must be the database
            ``TICKETNOTIFY["DATABASE"]`` names, with ``OUTBOX`` ``"django"``.

    Returns:
        ``PublishResult(event_id, planned, stored)``.

    Raises:
        InvalidInputError: called outside an atomic block (``.field`` ``"transaction"``),
            on another database than the outbox's, or with a bad update (``.field``).
        OutboxUnavailableError: the store refused now; the savepoint was rolled back.
    """
    alias = using or DEFAULT_DB_ALIAS
    if not outbox_on_django_db():
        raise InvalidInputError(
            "using", "the outbox is not in Django's database (TICKETNOTIFY['OUTBOX'] is not "
            "'django'), so it cannot share this transaction: use publish_on_commit")
    if alias != database_alias():
        raise InvalidInputError(
            "using", f"the outbox tables are in database {database_alias()!r} "
            f"(TICKETNOTIFY['DATABASE']), not {alias!r}: a transaction there cannot hold them")
    connection = connections[alias]
    if not connection.in_atomic_block:
        raise InvalidInputError(
            "transaction", "publish_in_transaction needs an open transaction.atomic() block "
            f"on {alias!r}; outside one the jobs would commit on their own (use "
            "publish_on_commit there)")
    notifier = get_notifier()
    with transaction.atomic(using=alias):  # a savepoint Django knows about
        connection.ensure_connection()
        return notifier.publish(update, transaction=connection.connection)
