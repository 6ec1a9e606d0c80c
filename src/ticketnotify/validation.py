"""Input validators every boundary uses: text, e-mail addresses, locales, time zones, instants.

Each check takes the name of the field it guards and raises ``InvalidInputError`` (with
``.field`` set to that name) for a bad value, so the host learns which field to fix.

E-mail addresses have one canonical form, made once here (``canonical_email``) and used for
delivery (envelope and ``To:``), idempotency, guest-link binding and rate-limit keys:

- the domain goes through UTS 46 and IDNA 2008 (the ``idna`` package, not the stdlib's
  IDNA 2003 codec, which maps ``straße.de`` to the *different* domain ``strasse.de``), so
  full-width letters, upper case, NFC/NFD spellings and ideographic full stops all give the
  one ASCII form DNS resolves (``xn--strae-oqa.de``); a trailing root dot is dropped;
- the local part is NFKC-normalised, which is safe exactly when the result is ASCII:
  ticketnotify does not send SMTPUTF8, so the ASCII reading (``ａｎｎａ`` → ``anna``) is the
  only one any server receives. A local part that stays non-ASCII is refused;
- the key (``CanonicalEmail.key``) also lower-cases the local part: nearly every mail
  system treats ``Anna@`` and ``anna@`` as one mailbox, so they share one rate-limit bucket
  and one link binding, while delivery keeps the case the host gave.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import idna
from babel import Locale

from .errors import InvalidInputError, UnknownLocaleError

HEADER_UNSAFE = re.compile(r"[\r\n\x00\u2028\u2029\x85\x0b\x0c]")
SURROGATE = re.compile(r"[\ud800-\udfff]")  # not encodable as UTF-8: no store or wire takes it
EARLIEST, LATEST = 1970, 9000  # years; outside them time-zone arithmetic overflows
MAX_ADDRESS_CHARS = 254  # RFC 5321 path limit less the angle brackets
MAX_LOCAL_PART_CHARS = 64  # RFC 5321 section 4.5.3.1.1
_RAW_ADDRESS_CHARS = 1024  # what the host typed may be longer than its canonical form (NFD, full-width)
# RFC 5322 dot-atom: atext runs separated by single dots (no quoted local parts).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")


def check_text(field_name: str, value: object, *, required: bool = True, max_len: int = 10_000) -> str:
    """Refuse non-strings, empties, line breaks and lone surrogates: any may reach a header.

    Args:
        field_name: Name of the field, reported in the error (``"ticket.subject"``).
        value: What the host passed.
        required: Whether an empty or all-whitespace string is refused.
        max_len: Most characters (code points) allowed.

    Returns:
        ``value`` unchanged.

    Raises:
        InvalidInputError: ``value`` is not a string, is empty while required, holds a line
            break or control character (CR, LF, NUL, U+2028 ...) or a lone surrogate, or is
            longer than ``max_len``; ``.field`` is ``field_name``.
    """
    if not isinstance(value, str):
        raise InvalidInputError(field_name, f"must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise InvalidInputError(field_name, "must not be empty")
    if HEADER_UNSAFE.search(value):
        raise InvalidInputError(field_name, "must not contain line breaks or control characters")
    if SURROGATE.search(value):
        raise InvalidInputError(field_name, "contains a lone surrogate (not valid Unicode text)")
    if len(value) > max_len:
        raise InvalidInputError(field_name, f"is longer than {max_len} characters")
    return value


@dataclass(frozen=True, slots=True)
class CanonicalEmail:
    """One e-mail address in its canonical form (see the module docstring).

    Attributes:
        address: ``local@domain`` in ASCII with the domain as IDNA 2008 A-labels, lower
            case (``anna@xn--strae-oqa.de``): what goes into ``RCPT TO``, ``To:`` and the
            outbox. The local part keeps the host's case.
    """

    address: str

    @property
    def key(self) -> str:
        """The one string two spellings of a mailbox share: ``address`` lower-cased.

        Rate-limit buckets, guest-link binding and idempotency keys use it.
        """
        return self.address.lower()

    @property
    def local_part(self) -> str:
        """Everything before the ``@``."""
        return self.address.rpartition("@")[0]

    @property
    def domain(self) -> str:
        """The domain as A-labels (``xn--strae-oqa.de``)."""
        return self.address.rpartition("@")[2]

    @property
    def display(self) -> str:
        """The address with its domain as Unicode U-labels (``anna@straße.de``), for people."""
        return f"{self.local_part}@{idna.decode(self.domain)}"


def canonical_email(field_name: str, value: object) -> CanonicalEmail:
    """Validate one plain address and bring it to its canonical form.

    Surrounding whitespace is trimmed; display names (``"Anna <anna@x.se>"``), quoted local
    parts, IP-literal domains and non-ASCII local parts are refused.

    Args:
        field_name: Name of the field, reported in the error (``"recipient.email"``).
        value: The address as the host or a guest typed it (``"Anna@ＳＴＲＡＳＳＥ.de"``).

    Returns:
        A ``CanonicalEmail``: ``.address`` to deliver to, ``.key`` to compare and count by.

    Raises:
        InvalidInputError: ``value`` is not a string, holds a line break or control
            character, or cannot be normalised to one deliverable ASCII address; the
            message says which part is wrong. ``.field`` is ``field_name``.
    """
    if not isinstance(value, str):
        raise InvalidInputError(field_name, f"must be a string, got {type(value).__name__}")
    text = check_text(field_name, value, max_len=_RAW_ADDRESS_CHARS).strip()
    found = _canonical(text)
    if isinstance(found, str):
        raise InvalidInputError(field_name, f"{text!r} {found}")
    return found


def check_email(field_name: str, value: object) -> str:
    """The canonical delivery form of one plain address (``canonical_email(...).address``).

    Args:
        field_name: Name of the field, reported in the error.
        value: The address as given.

    Returns:
        The ASCII address with an A-label domain (``anna@xn--strae-oqa.de``).

    Raises:
        InvalidInputError: as ``canonical_email``; ``.field`` is ``field_name``.
    """
    return canonical_email(field_name, value).address


def email_key(field_name: str, value: object) -> str:
    """The key two spellings of one mailbox share (``canonical_email(...).key``).

    Args:
        field_name: Name of the field, reported in the error.
        value: The address as given.

    Returns:
        The canonical address lower-cased (``anna@xn--strae-oqa.de``).

    Raises:
        InvalidInputError: as ``canonical_email``; ``.field`` is ``field_name``.
    """
    return canonical_email(field_name, value).key


@lru_cache(maxsize=4096)
def _canonical(text: str) -> CanonicalEmail | str:
    """The canonical form of a trimmed address, or the problem (cached: senders repeat)."""
    folded = unicodedata.normalize("NFKC", text)  # also turns a full-width ＠ into @
    local, at, domain = folded.rpartition("@")
    if not at or not local or not domain:
        return "is not an email address (expected local-part@domain)"
    if not local.isascii():
        return ("has a non-ASCII local part, which needs SMTPUTF8 end to end and cannot be "
                "delivered: ask for an address in ASCII")
    if not _DOT_ATOM.fullmatch(local):
        return ("is not one plain email address (the part before @ may hold letters, digits "
                "and !#$%&'*+/=?^_`{|}~- between single dots; no spaces, quotes or <>)")
    if len(local) > MAX_LOCAL_PART_CHARS:
        return f"has a local part longer than {MAX_LOCAL_PART_CHARS} characters"
    try:
        ascii_domain = idna.encode(domain, uts46=True, std3_rules=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        return f"has a domain that is not a valid internationalized domain name ({exc})"
    ascii_domain = ascii_domain.removesuffix(".")  # the root dot: same domain
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(labels):
        # Dotless domains (root@localhost, which Django accepts) are refused on purpose: the
        # mail would go to the relay's own host or nowhere, and a guest link bound to such an
        # address opens for nobody outside it (docs/brands.md, "Addresses").
        return ("has no dotted domain after the @ (like example.com): the dotted-domain rule "
                "refuses local-only addresses such as root@localhost; use a real mailbox")
    if labels[-1].isdigit():
        return "has an IP address or a numeric top-level domain, which is not a mail domain"
    address = f"{local}@{ascii_domain}"
    if len(address) > MAX_ADDRESS_CHARS:
        return f"is longer than {MAX_ADDRESS_CHARS} characters in its ASCII (IDNA) form"
    return CanonicalEmail(address)


def check_locale(field_name: str, value: object) -> str:
    """Accept what Babel can parse (``sv``, ``sv_SE``, ``en-GB``) in ``sv_SE`` form.

    Args:
        field_name: Name of the field, reported in the error.
        value: A locale identifier, with ``-`` or ``_``.

    Returns:
        The normalised identifier (``"sv-se"`` → ``"sv_SE"``; Norwegian ``"no_NO"`` →
        ``"nb_NO"``); the QA pseudo-locales ``xx-long``/``xx-rtl`` as
        ``"xx_long"``/``"xx_rtl"``.

    Raises:
        UnknownLocaleError: Babel knows no such locale (a subclass of
            ``InvalidInputError``; ``.field`` is ``field_name``).
        InvalidInputError: ``value`` is not a non-empty single-line string of at most 35
            characters.
    """
    text = check_text(field_name, value, max_len=35)
    from .i18n import babel_spelling, pseudo_locale  # xx-long / xx-rtl: docs/i18n.md

    pseudo = pseudo_locale(text)
    if pseudo is not None:
        return pseudo
    try:
        parsed = Locale.parse(babel_spelling(text))  # no_NO → nb_NO: Babel lacks no_NO
    except Exception as exc:  # babel.core.UnknownLocaleError does not subclass ValueError
        raise UnknownLocaleError(field_name, f"{text!r} is not a locale ({exc})") from exc
    return str(parsed)


def check_timezone(field_name: str, value: object) -> str:
    """Refuse time-zone names the zoneinfo database does not know.

    Args:
        field_name: Name of the field, reported in the error.
        value: An IANA zone name (``"Europe/Stockholm"``, ``"UTC"``).

    Returns:
        ``value`` unchanged.

    Raises:
        InvalidInputError: not a string of at most 64 characters, or no such zone;
            ``.field`` is ``field_name``.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = check_text(field_name, value, max_len=64)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(field_name, f"{text!r} is not a time zone") from exc
    return text


def check_aware(field_name: str, value: object) -> datetime:
    """Refuse naive datetimes: a notification's time is shown in the reader's zone.

    Args:
        field_name: Name of the field, reported in the error.
        value: A timezone-aware ``datetime``.

    Returns:
        ``value`` unchanged.

    Raises:
        InvalidInputError: not a ``datetime``, naive, or its year outside 1970–9000;
            ``.field`` is ``field_name``.
    """
    if not isinstance(value, datetime):
        raise InvalidInputError(field_name, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(field_name, "must be timezone-aware (naive datetime given)")
    if not EARLIEST <= value.year <= LATEST:
        raise InvalidInputError(field_name, f"year {value.year} is outside {EARLIEST}–{LATEST}")
    return value


def check_unicode(field_name: str, value: object) -> str:
    """Accept any string that is valid Unicode text (multi-line too), of any length.

    Args:
        field_name: Name of the field, reported in the error.
        value: Free text such as a reply excerpt.

    Returns:
        ``value`` unchanged.

    Raises:
        InvalidInputError: not a string, or holds a lone surrogate (UTF-8 cannot encode
            it, so no store or wire takes it); ``.field`` is ``field_name``.
    """
    if not isinstance(value, str):
        raise InvalidInputError(field_name, f"must be a string, got {type(value).__name__}")
    if SURROGATE.search(value):
        raise InvalidInputError(field_name, "contains a lone surrogate (not valid Unicode text)")
    return value
