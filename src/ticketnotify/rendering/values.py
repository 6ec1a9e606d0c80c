"""Per-message values as the reader expects them: dates in their zone and language, counts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_decimal

from .. import graphemes
from ..i18n import parse_locale
from .bidi import isolate_text
from .compiled import BIDI_SUFFIX, Skeleton, SlotValue

EMAIL_EXCERPT_CHARS = 600
PUSH_EXCERPT_CHARS = 140


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """Zone objects are immutable; look each name up once."""
    return ZoneInfo(name)


@lru_cache(maxsize=64)
def _datetime_pattern(locale: Locale) -> str:
    return str(get_datetime_format("long", locale=locale)).replace("'", "")


def format_when(moment: datetime, time_zone: str, locale: str) -> str:
    """'24 november 2026 23:30 CET' / 'November 24, 2026, 11:30 PM CET' in the reader's zone."""
    local = moment.astimezone(zone(time_zone))
    return _format_local(
        local.year, local.month, local.day, local.hour, local.minute,
        local.tzname() or time_zone, locale,
    )


# Memoised on what the reader sees (a day, a minute, a zone name): the domain is small and
# repeats constantly, and Babel's formatter is the costliest step of a render.
@lru_cache(maxsize=8192)
def _format_local(
    year: int, month: int, day: int, hour: int, minute: int, zone_name: str, locale_id: str
) -> str:
    locale = Locale.parse(locale_id)
    text_date = format_date(date(year, month, day), "long", locale=locale)
    text_time = format_time(time(hour, minute), "short", locale=locale) + " " + zone_name
    return _datetime_pattern(locale).replace("{0}", text_time).replace("{1}", text_date)


def format_count(n: int, locale: Locale) -> str:
    """Counts under 1000 look the same everywhere; larger ones get the locale's grouping."""
    return str(n) if -1000 < n < 1000 else format_decimal(n, locale=locale)


def shorten(text: str, limit: int) -> str:
    """Cut an excerpt to at most ``limit`` characters at a word boundary, marking the cut with '…'.

    Cuts fall between grapheme clusters (``regex``'s ``\\X``), so no emoji sequence, flag
    or accented letter is split; a first cluster longer than ``limit`` is kept whole.
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    parts: list[str] = []
    used = 0
    space_at: int | None = None  # clusters kept before the last space in the second half
    for cluster in graphemes.clusters(text[: limit + 1]):
        if used + len(cluster) > limit:
            break
        if cluster.isspace() and used >= limit // 2:
            space_at = len(parts)
        parts.append(cluster)
        used += len(cluster)
    if not parts:  # the first character alone is longer than the limit: keep it whole
        parts = graphemes.clusters(text)[:1]
    elif space_at is not None:
        parts = parts[:space_at]
    while parts and (parts[-1].isspace() or parts[-1] in _TRAILING):
        parts.pop()
    return "".join(parts) + graphemes.ELLIPSIS


_TRAILING = frozenset(" ,.;:")


def fill_values(values: Mapping[str, SlotValue], locale: Locale) -> dict[str, str]:
    """Per-message strings for the slots: counts formatted for the locale, strings as given."""
    out: dict[str, str] = {}
    for name, value in values.items():
        kind = type(value)
        if kind is str:
            out[name] = value  # type: ignore[assignment]
        elif kind is int:
            out[name] = format_count(value, locale)  # type: ignore[arg-type]
    return out


def with_bidi(filled: dict[str, str], bidi: frozenset[str], rtl: bool) -> dict[str, str]:
    """``filled`` plus the ``.bidi`` form of each value in ``bidi`` (for plain-text parts):
    wrapped in U+2068/U+2069 only if its direction may differ from the message's."""
    if not bidi:
        return filled
    out = dict(filled)
    for name in bidi:
        value = filled.get(name)
        if value is not None:  # an ASCII value never needs isolating in an LTR message
            out[name + BIDI_SUFFIX] = (
                value if not rtl and value.isascii() else isolate_text(value, rtl))
    return out


def bidi_names(*parts: Skeleton) -> frozenset[str]:
    """Values printed in a ``.bidi`` slot of any part (their names without the suffix)."""
    return frozenset(name[: -len(BIDI_SUFFIX)] for part in parts for name in part.slots
                     if name.endswith(BIDI_SUFFIX))


@lru_cache(maxsize=256)
def babel_locale(locale: str) -> Locale:
    """The Babel ``Locale`` of an identifier (cached; pseudo-locales format as English)."""
    return parse_locale(locale)
