"""Build the MIME form of a rendered email: pure, so SMTP, files and QA previews share it."""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import hashlib
import re
from datetime import UTC, datetime
from email.message import EmailMessage as MIMEMessage
from email.utils import format_datetime
from typing import NotRequired, TypedDict

from typing_extensions import Unpack

from ...errors import InvalidInputError
from ...messages import EmailMessage
from .headers import header_text, mailbox, unstructured

__all__ = [
    "POLICY", "build_mime", "build_mime_bytes", "header_text", "message_id", "mime_bytes",
    "thread_index", "thread_root_id",
]

# CRLF, 7-bit, and never refold what build_mime_bytes folded (the stdlib folder is unsafe).
POLICY = email.policy.SMTP.clone(cte_type="7bit", max_line_length=78, refold_source="none")
_LANGUAGE = re.compile(r"[A-Za-z0-9]{1,8}(?:-[A-Za-z0-9]{1,8})*")

# A Message-ID left part we can use verbatim: RFC 5322 dot-atom made of conservative atext.
_ID_SAFE = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


def _id_part(value: str, *, limit: int = 64) -> str:
    """Use ``value`` in a msg-id when it is plain atext, else a digest of it (still stable)."""
    if len(value) <= limit and _ID_SAFE.fullmatch(value):
        return value
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


def _check_domain(domain: str) -> str:
    if len(domain) > 253 or not _DOMAIN.fullmatch(domain):
        raise InvalidInputError("domain", f"{domain!r} is not a host name usable in a Message-ID")
    return domain


def message_id(delivery_id: str, domain: str) -> str:
    """Message-ID of one delivery: the same on every retry, so a resend is recognisable."""
    return f"<{_id_part(delivery_id)}@{_check_domain(domain)}>"


def thread_root_id(ticket_id: str, domain: str) -> str:
    """The per-ticket root id every update replies to; it is never sent itself (RT style)."""
    return f"<ticket.{_id_part(ticket_id)}@{_check_domain(domain)}>"


def thread_index(ticket_id: str, delivery_id: str, domain: str) -> str:
    """Outlook Thread-Index: a 22-byte ticket header plus a 5-byte block per delivery.

    Outlook groups a conversation by the 22-byte header (6 bytes of FILETIME, 16 of GUID),
    so both are derived from the ticket; no clock is read, so the value is deterministic.
    """
    root = hashlib.sha256(f"{domain}\x1f{ticket_id}".encode()).digest()
    child = hashlib.sha256(f"{domain}\x1f{ticket_id}\x1f{delivery_id}".encode()).digest()
    header = b"\x01" + root[:5] + root[5:21]
    return base64.b64encode(header + child[:5]).decode("ascii")


# Encoded lines by their text. Quoted-printable encodes each line on its own (soft breaks and
# trailing-space escapes never reach past a line end), so a body is the concatenation of its
# lines' encodings, and the lines of a template's shell (most of an HTML part: ~70% of a
# Swedish update mail's bytes) are encoded once per process instead of once per message.
# Bounded: when full it starts over, so lines of one message's own values cannot pile up.
_QP_LINES: dict[str, bytes] = {}
_QP_LINES_MAX = 4096
_QP_LINE_CACHED_CHARS = 1000  # longer lines are rare and rarely shared


def _qp_line(line: str) -> bytes:
    encoded = _QP_LINES.get(line)
    if encoded is None:
        encoded = binascii.b2a_qp(line.encode("utf-8") + b"\n", istext=True).replace(
            b"\n", b"\r\n")
        if len(line) <= _QP_LINE_CACHED_CHARS:
            if len(_QP_LINES) >= _QP_LINES_MAX:
                _QP_LINES.clear()
            _QP_LINES[line] = encoded
    return encoded


def _body(text: str) -> bytes:
    """Quoted-printable with CRLF line ends; its "=" escapes keep "=_" out of every body."""
    lf = text.replace("\r\n", "\n").replace("\r", "\n")
    if lf.endswith("\n"):
        lf = lf[:-1]
    return b"".join([_qp_line(line) for line in lf.split("\n")])


def _part(subtype: str, text: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii") + _body(text)


def build_mime_bytes(
    message: EmailMessage,
    *,
    sender: str,
    sender_name: str = "",
    reply_to: str | None = None,
    domain: str,
    now: datetime | None = None,
) -> bytes:
    """The exact wire bytes (CRLF, 7-bit) of the threaded, auto-generated message.

    ``sender``, ``sender_name`` and ``reply_to`` are the channel's defaults: the message's
    own ``sender``, ``sender_name`` and ``reply_to`` (its brand's) win when set.
    ``domain`` is the right-hand side of Message-ID and the thread root id (normally the
    sender's domain); ``now`` fixes the Date header for previews and tests. Same inputs,
    same bytes: the multipart boundary is derived from the delivery id. The thread root,
    References and Thread-Index come from ``message.ticket_id``, the ticket's stable key,
    so a ticket whose number changes stays one conversation.
    """
    when = now if now is not None else datetime.now(UTC)
    if when.tzinfo is None:
        raise InvalidInputError("now", "must be timezone-aware")
    sender = message.sender or sender
    sender_name = sender_name if message.sender_name is None else message.sender_name
    reply_to = message.reply_to or reply_to
    root = thread_root_id(message.ticket_id, domain)
    head = [
        mailbox("From", "sender", sender, sender_name),
        mailbox("To", "to_address", message.to_address, message.to_name),
    ]
    if reply_to:
        head.append(mailbox("Reply-To", "reply_to", reply_to))
    head += [
        unstructured("Subject", message.subject),
        f"Date: {format_datetime(when.astimezone(UTC))}",
        f"Message-ID: {message_id(message.delivery_id, domain)}",
        f"In-Reply-To: {root}",
        f"References: {root}",
        # Outlook's conversation topic is the subject without prefixes; ours never changes
        # within a ticket, and unlike the ticket's own subject it is never filer-typed text
        # sent to an unverified guest mailbox.
        unstructured("Thread-Topic", message.subject),
        f"Thread-Index: {thread_index(message.ticket_id, message.delivery_id, domain)}",
        # RFC 3834: machine-made mail, so auto-responders stay quiet; the X- header is
        # Exchange's own switch for out-of-office replies and read receipts.
        "Auto-Submitted: auto-generated",
        "X-Auto-Response-Suppress: All",
        "MIME-Version: 1.0",
    ]
    for line in head:  # defence in depth: only our own folds may break a header line
        if not line.isascii() or "\r" in line.replace("\r\n ", "") or "\n" in line.replace("\r\n ", ""):
            raise InvalidInputError("headers", f"{line[:40]!r}... would break out of its line")
    language = message.locale.partition("@")[0].replace("_", "-")  # sv_SE@euro → sv-SE
    lang_header = [f"Content-Language: {language}"] if _LANGUAGE.fullmatch(language) else []
    if not message.html:
        head += [
            'Content-Type: text/plain; charset="utf-8"',
            "Content-Transfer-Encoding: quoted-printable", *lang_header,
        ]
        return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + _body(message.text)
    boundary = "=_tn_" + hashlib.sha256(message.delivery_id.encode("utf-8")).hexdigest()[:24]
    head += [f'Content-Type: multipart/alternative; boundary="{boundary}"', *lang_header]
    # RFC 2046: the CRLF before "--boundary" belongs to the delimiter, not to the part.
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    return b"".join([
        ("\r\n".join(head) + "\r\n\r\n").encode("ascii"),
        delimiter[2:], _part("plain", message.text),  # text first: the least preferred part
        delimiter, _part("html", message.html),
        f"\r\n--{boundary}--\r\n".encode("ascii"),
    ])


class _MimeOptions(TypedDict):
    """``build_mime_bytes``'s keyword arguments, which ``build_mime`` passes on as given."""

    sender: str
    sender_name: NotRequired[str]
    reply_to: NotRequired[str | None]
    domain: str
    now: NotRequired[datetime | None]


def build_mime(message: EmailMessage, **options: Unpack[_MimeOptions]) -> MIMEMessage:
    """The same message as an ``email.message.EmailMessage`` (parsed from the wire bytes).

    It takes the keyword arguments of ``build_mime_bytes`` (``sender``, ``domain``; optional
    ``sender_name``, ``reply_to``, ``now``), with the same defaults and errors.
    """
    raw = build_mime_bytes(message, **options)
    parsed = email.message_from_bytes(raw, policy=POLICY)
    assert isinstance(parsed, MIMEMessage)
    return parsed


def mime_bytes(msg: MIMEMessage) -> bytes:
    """Serialise an EmailMessage for the wire or an .eml file (CRLF, headers as built)."""
    return msg.as_bytes(policy=POLICY)
