"""django-helpdesk → ticketnotify: requester mails from ticketnotify, guests verify by code.

Wiring (settings and urls in README.md): the helpdesk's public form and staff follow-ups
publish ticketnotify updates; the helpdesk's own mails to the submitter are switched off.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join
from helpdesk.models import FollowUp, Ticket
from helpdesk.signals import new_ticket_done, update_ticket_done

from ticketnotify.clock import utc_now
from ticketnotify.contrib.django import GuestTicket, guest_grant_required, guest_ticket, publish_on_commit
from ticketnotify.contrib.django.settings import default_locale, default_time_zone
from ticketnotify.events import Guest, TicketUpdate, UpdateKind
from ticketnotify.events import Ticket as TicketRef

KIND_OF_STATUS = {Ticket.RESOLVED_STATUS: UpdateKind.RESOLVED, Ticket.CLOSED_STATUS: UpdateKind.CLOSED,
                  Ticket.REOPENED_STATUS: UpdateKind.REOPENED,
                  Ticket.DUPLICATE_STATUS: UpdateKind.CLOSED}


def update(ticket: Ticket, event_id: str, kind: UpdateKind, **extra: Any) -> TicketUpdate:
    # key: the id (stable); number: "queue-slug-42", which changes when the ticket moves queue.
    return TicketUpdate(
        event_id=event_id, kind=kind, occurred_at=utc_now(),
        ticket=TicketRef(id=str(ticket.id), number=ticket.ticket_for_url, subject=ticket.title),
        recipient=Guest(email=ticket.submitter_email, locale=default_locale(),
                        time_zone=default_time_zone()), **extra)


def on_new_ticket(sender: Any, ticket: Ticket, **kwargs: Any) -> None:
    if ticket.submitter_email:
        publish_on_commit(update(ticket, f"helpdesk-{ticket.id}-received", UpdateKind.RECEIVED))


def on_update(sender: Any, followup: FollowUp, **kwargs: Any) -> None:
    ticket = followup.ticket
    by_staff = followup.user is not None and followup.user.is_staff
    if not followup.public or not ticket.submitter_email or not by_staff:
        return  # internal notes and the requester's own follow-ups notify nobody
    event = f"helpdesk-followup-{followup.id}"
    if followup.new_status in KIND_OF_STATUS:
        publish_on_commit(update(ticket, event, KIND_OF_STATUS[followup.new_status],
                                 excerpt=followup.comment or None))
    elif followup.new_status is not None:
        status = dict(Ticket.STATUS_CHOICES).get(followup.new_status, "")
        publish_on_commit(update(ticket, event, UpdateKind.STATUS_CHANGED, status=str(status)))
    elif followup.comment:
        publish_on_commit(update(ticket, event, UpdateKind.AGENT_REPLY, excerpt=followup.comment))


def without_submitter_mail(send: Any) -> Any:
    """Ticket.send with the "submitter" role dropped: ticketnotify mails the requester now."""
    def send_to_others(self: Ticket, roles: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return send(self, {r: v for r, v in roles.items() if r != "submitter"}, *args, **kwargs)
    send_to_others.ticketnotify = True  # type: ignore[attr-defined]
    return send_to_others


def connect() -> None:
    new_ticket_done.connect(on_new_ticket, dispatch_uid="ticketnotify-new")
    update_ticket_done.connect(on_update, dispatch_uid="ticketnotify-update")
    if not getattr(Ticket.send, "ticketnotify", False):  # the helpdesk has no setting for it
        Ticket.send = without_submitter_mail(Ticket.send)  # type: ignore[method-assign]


def lookup(ticket_id: str) -> GuestTicket | None:
    """TICKETNOTIFY["GUEST_TICKET"]."""
    ticket = Ticket.objects.filter(id=int(ticket_id) if ticket_id.isdigit() else -1).first()
    return guest_ticket(ticket.ticket_for_url, ticket.submitter_email) if ticket else None


@guest_grant_required
def ticket_page(request: HttpRequest, ticket_id: str) -> HttpResponse:
    """TICKETNOTIFY["TICKET_URL"]: the verified guest's view of the conversation."""
    ticket = Ticket.objects.get(id=int(request.guest_grant.ticket_id))  # type: ignore[attr-defined]
    replies = ticket.followup_set.filter(public=True).order_by("date")
    return HttpResponse(format_html(
        "<!doctype html><title>{}</title><h1>{}</h1><ol>{}</ol>", ticket.ticket_for_url, ticket.title,
        format_html_join("", "<li>{}</li>", ((f.comment or f.title,) for f in replies))))
