"""Routing policy: a pure function from an update to the deliveries it needs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .events import AccountUser, Device, Guest, Platform, Ticket, TicketUpdate, UpdateKind

EMAIL = "email"
APNS = "apns"
FCM = "fcm"
PUSH_CHANNEL = {Platform.IOS: APNS, Platform.ANDROID: FCM}


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    """One message to render and store: which channel, which address, which device.

    Attributes:
        channel: ``"email"``, ``"apns"`` or ``"fcm"``.
        address: the email address or push token it goes to.
        idempotency_key: stable per (event, recipient, channel, address).
        device: the push target, ``None`` for email.
        guest_link: the mail carries a signed guest link bound to ``address``.
        cc: ``address`` is one of a guest's CC'd addresses (no display name in ``To``).
    """

    channel: str
    address: str
    idempotency_key: str
    device: Device | None = None
    guest_link: bool = False
    cc: bool = False

    @property
    def is_push(self) -> bool:
        """Push deliveries render the push templates, email ones the email templates."""
        return self.device is not None


def idempotency_key(event_id: str, recipient_key: str, channel: str, address: str) -> str:
    """Stable key for (event × recipient × channel × address): a repeated publish is a no-op."""
    raw = "\x1f".join((event_id, recipient_key, channel, address)).encode()
    return hashlib.sha256(raw).hexdigest()[:40]


def recipient_key(update: TicketUpdate) -> str:
    """Who the delivery is for, as the idempotency key sees it."""
    r = update.recipient
    return f"user:{r.user_id}" if isinstance(r, AccountUser) else f"guest:{r.email.lower()}"


def link_ticket(update: TicketUpdate) -> Ticket:
    """The ticket a delivery's links open: the surviving one after a merge, else this one.

    Threading (subject, Message-ID root, push group) stays with ``update.ticket.id``: the
    merge notice ends the old ticket's thread, its button leads to where the talk goes on.
    ``merged_into`` on any other kind is ignored. A string ``merged_into`` names a ticket
    whose key and number are that string; it has no ``link_params`` of its own.

    Returns:
        The ``Ticket`` whose key, number and ``link_params`` fill the link patterns.
    """
    target = update.merged_into if update.kind is UpdateKind.MERGED else None
    if isinstance(target, Ticket):
        return target
    if target:
        return Ticket(id=target, subject=update.ticket.subject, number=target)
    return update.ticket


def link_ticket_id(update: TicketUpdate) -> str:
    """The key of ``link_ticket(update)`` (what guest links are signed for)."""
    return link_ticket(update).id


def merged_into_number(update: TicketUpdate) -> str | None:
    """Kind ``merged``: the surviving ticket's number as the copy shows it, else ``None``."""
    if update.kind is not UpdateKind.MERGED or not update.merged_into:
        return None
    target = update.merged_into
    return target.number if isinstance(target, Ticket) else target


def plan(update: TicketUpdate) -> list[PlannedDelivery]:
    """Account user: a push per device (unless off) plus email (unless off).

    A guest always gets one email with a signed link: it is their only way back. Each of
    the guest's CC'd addresses gets a mail of its own with a link bound to that address
    (a copy of the same address, in any spelling, is sent once). An account
    user who wants push but has no device to push to gets the email even with email off,
    so the update is not lost; one who switched both off gets nothing, as they asked.

    ``received`` is the one exception: an account user with email on gets the receipt by
    email only. They filed the ticket seconds ago in the app or on the web and saw it
    confirmed there; a push on top says nothing new, while the email is the record to keep.
    With email off, the receipt follows the usual rule (push, or email when no device).
    """
    who = recipient_key(update)
    r = update.recipient
    if isinstance(r, Guest):
        mails = [_email(update, who, r.email, guest_link=True)]
        sent_to = {r.email.lower()}
        for address in r.cc:
            if address.lower() not in sent_to:
                sent_to.add(address.lower())
                mails.append(_email(update, who, address, guest_link=True, cc=True))
        return mails
    if update.kind is UpdateKind.RECEIVED and r.preferences.email:
        return [_email(update, who, r.email, guest_link=False)]
    planned: list[PlannedDelivery] = []
    if r.preferences.push:
        seen: set[tuple[Platform, str]] = set()
        for device in r.devices:
            if (device.platform, device.token) in seen:
                continue
            seen.add((device.platform, device.token))
            channel = PUSH_CHANNEL[device.platform]
            planned.append(PlannedDelivery(
                channel=channel, address=device.token, device=device,
                idempotency_key=idempotency_key(update.event_id, who, channel, device.token),
            ))
    if r.preferences.email or (r.preferences.push and not planned):
        planned.append(_email(update, who, r.email, guest_link=False))
    return planned


def _email(update: TicketUpdate, who: str, address: str, *, guest_link: bool,
           cc: bool = False) -> PlannedDelivery:
    return PlannedDelivery(
        channel=EMAIL, address=address, guest_link=guest_link, cc=cc,
        idempotency_key=idempotency_key(update.event_id, who, EMAIL, address.lower()),
    )
