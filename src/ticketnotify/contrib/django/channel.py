"""Email through Django's ``EMAIL_BACKEND``: one mail configuration for the site and its notices.

A site on django-anymail, SES or any other backend keeps it: ``DjangoEmailChannel`` builds
the same message the SMTP channel would (threading headers, Auto-Submitted, Message-ID
from the delivery, Content-Language) and hands it to the backend as an
``EmailMultiAlternatives``. The backend's errors become the three delivery outcomes.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
from email.utils import parseaddr
from typing import Any, ClassVar

from django.conf import settings as django_settings
from django.core.mail import EmailMultiAlternatives, get_connection
from typing_extensions import override

from ...channels.base import Channel
from ...channels.mime.builder import build_mime, message_id
from ...channels.smtp.replies import build_error, connection_error, reply_error, timeout_error
from ...clock import Clock, utc_now
from ...errors import (
    ConfigurationError,
    DeliveryError,
    InvalidAddressError,
    InvalidInputError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ...messages import EmailMessage, Receipt
from ...validation import check_email

# Headers Django writes from the EmailMessage's own fields; every other header we built
# (Message-ID, In-Reply-To, References, Thread-Topic, Thread-Index, Auto-Submitted,
# X-Auto-Response-Suppress, Content-Language, List-Unsubscribe ...) goes in ``headers=``.
_DJANGO_WRITES = frozenset({"from", "to", "cc", "subject", "reply-to", "mime-version",
                            "content-type", "content-transfer-encoding"})


class DjangoEmailChannel(Channel[EmailMessage]):
    """Send each ``EmailMessage`` through Django's mail backend, in a worker thread.

    Args:
        sender: the From address when the message's brand names none (default: the
            address in ``DEFAULT_FROM_EMAIL``).
        sender_name: its display name (default: the name in ``DEFAULT_FROM_EMAIL``).
        reply_to: Reply-To when the brand sets none.
        message_id_domain: right-hand side of Message-IDs and the thread root (default:
            the sender's domain). Keep it fixed: changing it splits every ticket's thread.
        backend: a backend dotted path (default ``EMAIL_BACKEND``).
        clock: the Date header's source.

    Raises:
        ConfigurationError: ``sender`` is no address.
    """

    name: ClassVar[str] = "email"

    def __init__(self, *, sender: str | None = None, sender_name: str | None = None,
                 reply_to: str | None = None, message_id_domain: str | None = None,
                 backend: str | None = None, clock: Clock = utc_now) -> None:
        default_name, default_address = parseaddr(django_settings.DEFAULT_FROM_EMAIL)
        try:
            self.sender = check_email("sender", sender or default_address)
        except InvalidInputError as exc:
            raise ConfigurationError(
                f"DjangoEmailChannel needs a sender address (TICKETNOTIFY['SENDER'] or "
                f"DEFAULT_FROM_EMAIL): {exc}") from exc
        self.sender_name = default_name if sender_name is None else sender_name
        self.reply_to = reply_to
        self.domain = message_id_domain or self.sender.rsplit("@", 1)[1]
        self.backend = backend
        self.clock = clock

    @classmethod
    def from_settings(cls) -> DjangoEmailChannel:
        """The channel as the ``TICKETNOTIFY`` setting describes it.

        It reads ``SENDER``, ``SENDER_NAME``, ``REPLY_TO`` and ``MESSAGE_ID_DOMAIN``, falling
        back to ``DEFAULT_FROM_EMAIL``.

        Raises:
            SettingError: the sender is no address (names ``SENDER``).
        """
        from .settings import SettingError, config

        cfg = config()
        try:
            return cls(sender=cfg.get("SENDER"), sender_name=cfg.get("SENDER_NAME"),
                       reply_to=cfg.get("REPLY_TO"), message_id_domain=cfg.get("MESSAGE_ID_DOMAIN"))
        except ConfigurationError as exc:
            raise SettingError("SENDER", str(exc)) from exc

    def build(self, message: EmailMessage) -> EmailMultiAlternatives:
        """The Django message: our headers in ``headers=``, text body, HTML alternative.

        Raises:
            InvalidInputError: an address or header cannot be written (``.field``).
        """
        mime = build_mime(message, sender=self.sender, sender_name=self.sender_name or "",
                          reply_to=self.reply_to, domain=self.domain, now=self.clock())
        headers = {k: str(v) for k, v in mime.items() if k.lower() not in _DJANGO_WRITES}
        email = EmailMultiAlternatives(
            subject=str(mime["Subject"]), body=message.text, from_email=str(mime["From"]),
            to=[str(mime["To"])], headers=headers,
            reply_to=[str(mime["Reply-To"])] if mime["Reply-To"] else None)
        if message.html:
            email.attach_alternative(message.html, "text/html")
        return email

    @override
    async def deliver(self, message: EmailMessage) -> Receipt:
        """Deliver one email; ``provider_id`` is its Message-ID (see ``Channel.send`` for errors)."""
        try:
            email = self.build(message)
        except InvalidInputError as exc:
            raise build_error(exc) from exc
        detail = await asyncio.to_thread(self._send, email, message.to_address)
        return Receipt(channel=self.name, delivery_id=message.delivery_id,
                       provider_id=message_id(message.delivery_id, self.domain), detail=detail)

    def _send(self, email: EmailMultiAlternatives, recipient: str) -> str:
        """Blocking: the backend's send, its errors mapped (runs in a worker thread)."""
        where = f"mail backend {self.backend or django_settings.EMAIL_BACKEND}"
        try:
            with get_connection(self.backend, fail_silently=False) as backend:
                sent = backend.send_messages([email])
        except Exception as exc:
            raise backend_error(exc, where=where, recipient=recipient) from exc
        if not sent:
            raise TransientDeliveryError(f"{where} reported nothing sent; will retry",
                                         code="not-sent")
        status = getattr(email, "anymail_status", None)  # django-anymail's per-message result
        return f"{where}: {status}" if status is not None else f"{where}: sent"


def backend_error(exc: BaseException, *, where: str, recipient: str = "") -> DeliveryError:
    """A mail backend's exception as retry / give up / dead address.

    smtplib's errors are classified by the SMTP stage and reply, like the SMTP channel's;
    django-anymail's by type and the provider's HTTP status; anything else is held and
    retried (an unknown failure must not lose mail).
    """
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (550, b"refused"))
        return reply_error("RCPT", code, _text(text), where=where, recipient=recipient)
    for kind, stage in ((smtplib.SMTPSenderRefused, "MAIL"), (smtplib.SMTPDataError, "DATA"),
                        (smtplib.SMTPAuthenticationError, "AUTH"),
                        (smtplib.SMTPHeloError, "EHLO"), (smtplib.SMTPConnectError, "CONNECT"),
                        (smtplib.SMTPResponseException, "SMTP")):
        if isinstance(exc, kind):
            assert isinstance(exc, smtplib.SMTPResponseException)
            return reply_error(stage, exc.smtp_code, _text(exc.smtp_error), where=where,
                               recipient=recipient)
    if isinstance(exc, socket.timeout | TimeoutError):
        return timeout_error("SEND", where=where, seconds=float(
            getattr(django_settings, "EMAIL_TIMEOUT", None) or 0))
    if isinstance(exc, smtplib.SMTPException | OSError):
        return connection_error("SEND", exc, where=where)
    anymail = _anymail_error(exc, where)
    if anymail is not None:
        return anymail
    return TransientDeliveryError(f"{where} raised {type(exc).__name__}: {exc}; will retry",
                                  code="backend")


def _anymail_error(exc: BaseException, where: str) -> DeliveryError | None:
    """django-anymail's errors, if it is installed (it is optional)."""
    try:
        from anymail import exceptions as ax  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    detail = f"{where}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    if isinstance(exc, ax.AnymailRecipientsRefused | ax.AnymailInvalidAddress):
        return InvalidAddressError(detail, code="rejected")
    if isinstance(exc, ax.AnymailAPIError):
        status: Any = getattr(exc, "status_code", None)
        if status is None or status == 429 or status >= 500:
            return TransientDeliveryError(f"{detail}; will retry", code=str(status or "api"))
        return PermanentDeliveryError(detail, code=str(status))
    if isinstance(exc, ax.AnymailError):  # unsupported feature, bad settings: fix, then retry dead
        return PermanentDeliveryError(detail, code="anymail")
    return None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
