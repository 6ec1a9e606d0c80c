"""Header encoding written out by hand: exact, injection-proof and ~50x faster than the stdlib.

The stdlib's header folder was both the SMTP channel's bottleneck (~3 ms a message) and
unsafe: it decoded a literal ``=?utf-8?q?=0D=0A?=`` display name into a raw CRLF (found by
the hypothesis test). Here every value is either plain printable ASCII folded at spaces, or
RFC 2047 base64 encoded words that carry their spaces inside, so text round-trips exactly.
"""

from __future__ import annotations

import base64
import re

from ... import graphemes
from ...errors import InvalidInputError
from ...validation import check_email

LIMIT = 78  # RFC 5322 recommended line length
_WORD_BYTES = 39  # 52 base64 chars: "=?utf-8?b?" + 52 + "?=" = 64, fits after "Thread-Topic: "
_PHRASE_BYTES = 45  # 60 base64 chars: a 72-character word fits after "From: " (78 columns)
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


def encoded_words(value: str, max_bytes: int = _WORD_BYTES) -> list[str]:
    """RFC 2047 ``B`` words for unstructured text (Subject, Thread-Topic).

    Each word carries at most ``max_bytes`` UTF-8 bytes and its spaces inside, so readers
    that drop the whitespace between encoded words (RFC 2047 §6.2, and the stdlib for
    unstructured headers) rebuild the text exactly. Words end after a space when one falls
    in the second half of the window, else between two grapheme clusters; only a single
    cluster longer than ``max_bytes`` is cut, between code points.
    """
    return [_b_word(piece) for piece in _pieces(value, max_bytes, keep_spaces=True)]


def phrase_words(value: str, max_bytes: int = _PHRASE_BYTES) -> list[str]:
    """RFC 2047 ``B`` words for a display name, split at its spaces whenever possible.

    The stdlib's phrase parser (``policy=default``) joins adjacent encoded words with one
    space, so a split lands on a space of the name and that space is left out: the name
    round-trips exactly. Only a space-free run longer than ``max_bytes`` (more than fits
    one 78-column line) is split between grapheme clusters, where such a parser shows an
    extra space but no broken character.
    """
    return [_b_word(piece) for piece in _pieces(value, max_bytes, keep_spaces=False)]


def _b_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode('utf-8')).decode('ascii')}?="


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _pieces(value: str, max_bytes: int, *, keep_spaces: bool) -> list[str]:
    """Cut ``value`` into pieces of at most ``max_bytes`` bytes at cluster boundaries."""
    pieces: list[str] = []
    current: list[str] = []  # clusters of the piece being built
    used = 0
    last_space = -1  # index in ``current`` just after the last space cluster
    for cluster in graphemes.clusters(value):
        size = _size(cluster)
        while used + size > max_bytes and current:
            if last_space > 0 and (not keep_spaces or last_space * 2 >= len(current)):
                head, rest = current[:last_space], current[last_space:]
            else:
                head, rest = current, []
            pieces.append("".join(head))
            current, used = rest, sum(map(_size, rest))
            last_space = -1
            if not keep_spaces:
                while pieces[-1].endswith(" "):
                    pieces[-1] = pieces[-1][:-1]
        if size > max_bytes:  # one cluster longer than a word: cut between code points
            pieces.extend(_code_point_pieces(cluster, max_bytes))
            continue
        if not keep_spaces and not current and cluster == " ":
            continue  # the split already stands for this space
        current.append(cluster)
        used += size
        if cluster == " ":
            last_space = len(current)
    if current:
        pieces.append("".join(current))
    return [p for p in pieces if p]


def _code_point_pieces(text: str, max_bytes: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for char in text:
        if current and _size(current + char) > max_bytes:
            pieces.append(current)
            current = ""
        current += char
    return [*pieces, current] if current else pieces


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
    return phrase_words(name)


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
