"""Build the MIME form of a rendered email: pure, so SMTP, files and QA previews share it."""

from __future__ import annotations

import base64
import email.policy
import hashlib
import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage as MIMEMessage
from email.utils import format_datetime

from ..errors import InvalidInputError
from ..messages import EmailMessage

# 7bit transfer encodings: survives relays without 8BITMIME and keeps DKIM bodies stable.
POLICY = email.policy.SMTP.clone(cte_type="7bit", max_line_length=78)

# Anything that could end a header line or confuse a parser is turned into a space.
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
# A Message-ID left part we can use verbatim: RFC 5322 dot-atom made of conservative atext.
_ID_SAFE = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


def header_text(value: str) -> str:
    """Neutralise line breaks, control characters and RFC 2047 look-alikes in header text.

    Whitespace runs become one space: the folder otherwise splits encoded words at tabs,
    and readers drop whitespace between encoded words.

    A literal ``=?utf-8?q?=0D=0A?=`` in a display name is decoded by Python's own header
    folder into a raw CRLF (found by the hypothesis test), so "=?" and "?=" get an invisible
    word joiner: they then stay text instead of being read as an encoded word.
    """
    return " ".join(_UNSAFE.sub(" ", value).split()).replace("=?", "=\u2060?").replace("?=", "?\u2060=")


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


def _address(field: str, addr_spec: str, display_name: str = "") -> Address:
    """An Address whose parts were checked: the registry quotes and encodes the name."""
    addr_spec = addr_spec.strip()
    if not addr_spec or _UNSAFE.search(addr_spec) or " " in addr_spec or addr_spec.count("@") != 1:
        raise InvalidInputError(field, f"{addr_spec!r} is not one plain email address")
    try:
        return Address(display_name=header_text(display_name).strip(), addr_spec=addr_spec)
    except (ValueError, IndexError) as exc:
        raise InvalidInputError(field, f"{addr_spec!r} is not an email address ({exc})") from exc


def build_mime(
    message: EmailMessage,
    *,
    sender: str,
    sender_name: str = "",
    reply_to: str | None = None,
    domain: str,
    now: datetime | None = None,
) -> MIMEMessage:
    """Turn a rendered email into a threaded, auto-generated multipart/alternative message.

    ``domain`` is the right-hand side of Message-ID and the thread root id (normally the
    sender's domain); ``now`` fixes the Date header for previews and tests.
    """
    when = now if now is not None else datetime.now(UTC)
    if when.tzinfo is None:
        raise InvalidInputError("now", "must be timezone-aware")
    root = thread_root_id(message.ticket_id, domain)
    msg = MIMEMessage(policy=POLICY)
    msg["From"] = _address("sender", sender, sender_name)
    msg["To"] = _address("to_address", message.to_address, message.to_name)
    if reply_to:
        msg["Reply-To"] = _address("reply_to", reply_to)
    msg["Subject"] = header_text(message.subject)
    msg["Date"] = format_datetime(when.astimezone(UTC))
    msg["Message-ID"] = message_id(message.delivery_id, domain)
    msg["In-Reply-To"] = root
    msg["References"] = root
    msg["Thread-Topic"] = header_text(message.ticket_subject)
    msg["Thread-Index"] = thread_index(message.ticket_id, message.delivery_id, domain)
    # RFC 3834: marks the mail as machine-made so auto-responders stay quiet; the X- header
    # is Exchange's own switch for out-of-office and read receipts.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    # Quoted-printable keeps previews readable; its "=" escapes mean "=_" never occurs in a
    # body, so a boundary starting with "=_" is safe and can be derived from the delivery.
    msg.set_content(message.text, charset="utf-8", cte="quoted-printable")
    if message.html:
        msg.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
        for part in msg.iter_parts():
            del part["MIME-Version"]
        digest = hashlib.sha256(message.delivery_id.encode("utf-8")).hexdigest()[:24]
        msg.set_boundary(f"=_tn_{digest}")
    msg["Content-Language"] = header_text(message.locale.replace("_", "-"))
    return msg


def mime_bytes(msg: MIMEMessage) -> bytes:
    """Serialise with CRLF line ends, the form that goes on the wire and into .eml files.

    The header block is checked after serialisation too: every line must be a header we
    set or a folded continuation, so no input can smuggle a header past us.
    """
    raw = msg.as_bytes(policy=POLICY)
    head = raw.split(b"\r\n\r\n", 1)[0]
    names: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and names:
            continue
        name, sep, _ = line.partition(b":")
        names.append(name.lower() if sep else line)
    if names != [name.lower().encode("ascii") for name in msg.keys()]:
        raise InvalidInputError("headers", "a header value broke out of its line; refusing to send")
    return raw
