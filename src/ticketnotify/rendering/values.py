"""Per-message values as the reader expects them: dates in their zone and language, counts."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_decimal

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
    """Cut an excerpt at a word boundary so it fits a preview, marking the cut with '…'."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = text[:limit]
    if any(c.isspace() for c in head[limit // 2 :]):
        head = head.rsplit(None, 1)[0]
    else:  # one long word: do not split an emoji sequence or a letter from its accent
        end = limit
        while end > 0 and (_joins(text[end]) or text[end - 1] == "\u200d"):
            end -= 1
        if end == 0:  # the first character alone is longer than the limit: keep it whole
            end = limit
            while end < len(text) and (_joins(text[end]) or text[end - 1] == "\u200d"):
                end += 1
        head = text[:end]
    return head.rstrip(" ,.;:") + "…"


def _joins(char: str) -> bool:
    """True for code points that belong to the character before them."""
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc", "Sk")
        or char in "\u200d\ufe0f\ufe0e"
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= char <= "\U000e007f"  # tag sequences (flags)
    )
