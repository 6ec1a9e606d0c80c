"""Plain-text isolation of values whose direction may differ from the message's.

HTML isolates every value with ``<bdi dir="auto">`` (invisible and harmless). Plain text
has only the Unicode isolates U+2068 FIRST STRONG ISOLATE / U+2069 POP DIRECTIONAL ISOLATE,
and they are invisible characters a reader copies along with a ticket number, so they wrap
a value only when its direction can differ from the message's: a value with right-to-left
letters in a left-to-right message, a value with left-to-right letters in a right-to-left
one, or a value carrying explicit direction controls (which must not leak into the text).
"""

from __future__ import annotations

import regex

FSI = "\u2068"
PDI = "\u2069"
# Unicode bidi classes from ``regex`` (no tables of our own), plus the direction controls.
_CONTROLS = "\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069"
_AGAINST_LTR = regex.compile(rf"[\p{{bc=R}}\p{{bc=AL}}{_CONTROLS}]")
_AGAINST_RTL = regex.compile(rf"[\p{{bc=L}}{_CONTROLS}]")


def needs_isolation(value: str, rtl: bool) -> bool:
    """Whether ``value`` may run in another direction than a ``rtl`` (or ltr) message.

    Args:
        value: the text of one value (a name, subject, ticket number ...).
        rtl: the message's direction is right to left.

    Returns:
        ``True`` when the value holds a strong letter of the other direction or a
        direction control; digits and punctuation alone never need isolating.
    """
    if value.isascii():
        return rtl and any(c.isalpha() for c in value)
    return (_AGAINST_RTL if rtl else _AGAINST_LTR).search(value) is not None


def isolate_text(value: str, rtl: bool) -> str:
    """``value`` wrapped in FSI … PDI if its direction may differ, else unchanged."""
    return f"{FSI}{value}{PDI}" if value and needs_isolation(value, rtl) else value
