"""What a host writes: its ticket view behind the guest grant, a reply view that publishes."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.html import escape

from ticketnotify.clock import utc_now
from ticketnotify.contrib.django import GuestTicket, guest_grant_required, publish_on_commit
from ticketnotify.contrib.django import guest_ticket as make
from ticketnotify.events import Device, Guest, TicketUpdate, UpdateKind
from ticketnotify.events import Ticket as TicketRef

from .models import PushDevice, Ticket


def guest_ticket(ticket_id: str) -> GuestTicket | None:
    ticket = Ticket.objects.filter(key=ticket_id).first()
    return ticket and make(ticket.number, ticket.guest_email, ticket.guest_locale)


def update_for(ticket: Ticket, event_id: str, kind: UpdateKind = UpdateKind.AGENT_REPLY) -> TicketUpdate:
    return TicketUpdate(
        event_id=event_id, kind=kind,
        occurred_at=utc_now(), ticket=TicketRef(id=ticket.key, number=ticket.number, subject=ticket.subject),
        recipient=Guest(email=ticket.guest_email, locale=ticket.guest_locale,
                        time_zone="Europe/Stockholm"))


@guest_grant_required
def ticket(request: HttpRequest, ticket_id: str) -> HttpResponse:
    found = Ticket.objects.get(key=request.guest_grant.ticket_id)  # type: ignore[attr-defined]
    return HttpResponse(f"<!doctype html><title>Ticket</title><h1>Conversation of ticket "
                        f"{escape(found.number)}</h1><p>{escape(found.subject)}</p>")


@transaction.atomic
def reply(request: HttpRequest, ticket_id: str) -> HttpResponse:
    """An agent's reply: the one line that notifies is publish_on_commit."""
    found = Ticket.objects.select_for_update().get(key=ticket_id)
    found.replies += 1
    found.save()
    publish_on_commit(update_for(found, f"reply-{found.key}-{found.replies}"))
    return HttpResponse("saved")


def forget_device(user_id: str, device: Device) -> None:
    """ON_INVALID_DEVICE: the ORM from the worker's callback thread."""
    PushDevice.objects.filter(user_id=user_id, token=device.token).delete()
