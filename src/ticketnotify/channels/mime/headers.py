"""Header encoding written out by hand: exact, injection-proof and ~50x faster than the stdlib.

The stdlib's header folder was both the SMTP channel's bottleneck (~3 ms a message) and
unsafe: it decoded a literal ``=?utf-8?q?=0D=0A?=`` display name into a raw CRLF (found by
the hypothesis test). Here every value is either plain printable ASCII folded at spaces, or
RFC 2047 base64 encoded words that carry their spaces inside, so text round-trips exactly.
"""

from __future__ import annotations

import base64
import re

from ...errors import InvalidInputError
from ...validation import check_email

LIMIT = 78  # RFC 5322 recommended line length
_WORD_BYTES = 39  # 52 base64 chars: "=?utf-8?b?" + 52 + "?=" = 64, fits after "Thread-Topic: "
# Anything that could end a header line or confuse a parser becomes a space.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
# RFC 5322 atext plus space: a display name made only of these needs no quoting.
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")


def header_text(value: str) -> str:
    """Neutralise line breaks and control characters; collapse whitespace runs to one space."""
    return " ".join(_UNSAFE.sub(" ", value).split())


def _plain(value: str) -> bool:
    """Printable ASCII that no reader could mistake for an encoded word."""
    return value.isascii() and value.isprintable() and "=?" not in value and "?=" not in value


def encoded_words(value: str) -> list[str]:
    """RFC 2047 ``B`` words of at most 39 UTF-8 bytes each, never splitting a character."""
    data = value.encode("utf-8")
    words: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # inside a multi-byte character
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return words


def fold(name: str, tokens: list[str]) -> str:
    """``Name: t1 t2 ...`` with a CRLF+space before any token that would pass 78 columns."""
    line = f"{name}:"
    lines: list[str] = []
    for token in tokens:
        if len(line) + 1 + len(token) > LIMIT and line != f"{name}:":
            lines.append(line)
            line = ""
        line = f"{line} {token}"
    lines.append(line)
    return "\r\n".join(lines)


def unstructured(name: str, value: str) -> str:
    """A text header (Subject, Thread-Topic): plain words when safe, else encoded words."""
    text = header_text(value)
    if not text:
        return f"{name}: "
    words = text.split(" ")
    if _plain(text) and max(map(len, words)) <= LIMIT - len(name) - 2:
        return fold(name, words)
    return fold(name, encoded_words(text))  # also splits words too long to fold


def _phrase(display_name: str) -> list[str]:
    """Display-name tokens: atoms as is, other ASCII quoted, the rest encoded (RFC 2047 §5)."""
    name = header_text(display_name)
    if not name:
        return []
    if _ATOMS.fullmatch(name) and _plain(name) and max(map(len, name.split(" "))) <= 60:
        return name.split(" ")
    if _plain(name) and len(name) <= 60:
        return ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return encoded_words(name)


def ascii_address(address: str) -> str:
    """The canonical ASCII form (IDNA 2008 A-label domain) of ``address``, for ``RCPT TO``.

    A value that is no address is returned as is: the header builder's ``check_address``
    refuses it before any command is sent.
    """
    try:
        return check_email("address", address)
    except InvalidInputError:
        return address


def check_address(field: str, address: str) -> str:
    """One plain ASCII ``local@domain`` (IDN domains as A-labels); nothing else is safe in a header.

    The one address check of ``ticketnotify.validation`` (``canonical_email``), so the
    ``To:`` header and the envelope carry the same canonical form.
    """
    return check_email(field, address)


def mailbox(name: str, field: str, address: str, display_name: str = "") -> str:
    """``From``/``To``/``Reply-To`` with an optional display name."""
    return fold(name, [*_phrase(display_name), f"<{check_address(field, address)}>"])
