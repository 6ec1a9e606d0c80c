"""Issue 15 acceptance, for every shipped locale × kind × plural sample (0, 1, 2, 5, 11, 22, 101).

No text from another language, the plural form CLDR's rule picks, dates and numbers in the
message's language. Written over ``Renderer().locales``, so each catalog translators add
(de, fr, ar …) is covered the day it lands.
"""

from __future__ import annotations

import gettext
import re
from functools import cache

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.numbers import format_decimal

from ticketnotify.events import UpdateKind
from ticketnotify.i18n import po_path, read_catalog
from ticketnotify.rendering import Renderer
from ticketnotify.rendering.values import format_count, format_when

from .conftest import LOCALES_DIR, WHEN, english_phrases
from .test_languages import news

SAMPLES = (0, 1, 2, 5, 11, 22, 101)
RENDERER = Renderer()
LOCALES = sorted(RENDERER.locales)
ENGLISH = english_phrases()
HEADLINE = ("New reply in your ticket", "%(count)s new replies in your ticket")


@cache
def catalog(locale: str) -> Catalog:
    return read_catalog(po_path(LOCALES_DIR, locale), locale)


def cldr_form(locale: str, n: int) -> int:
    """The gettext plural index Babel's CLDR rule gives ``n`` (independent of the catalog)."""
    expression = str(get_plural(locale).plural_expr)
    return int(gettext.c2py(expression)(n))


def expected_headline(locale: str, n: int) -> str:
    count = format_count(n, Locale.parse(RENDERER.formatting_locale(locale)))
    entry = catalog(locale).get(HEADLINE[0])
    if locale.split("_")[0] == "en" or entry is None or not all(entry.string):
        text = HEADLINE[0] if n == 1 else HEADLINE[1]
    else:
        text = entry.string[cldr_form(locale, n)]
    return text % {"count": count}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", list(UpdateKind))
def test_one_language_and_the_right_plural_for_every_sample(locale: str, kind: UpdateKind) -> None:
    fmt = RENDERER.formatting_locale(locale)
    for n in SAMPLES[1:]:  # new_replies starts at 1 (0 is refused at publish); 0 is in the rule test
        update = news(kind, locale, replies=n, subject="Xyz", name="Qvw")
        mail = RENDERER.render_update_email(update, ticket_url="https://x.example/t",
                                            app_url="app://t", guest=False, include_excerpt=False)
        push = RENDERER.render_update_push(update, include_excerpt=False)
        parts = [mail.subject, mail.preheader, mail.html, mail.text, push.title, push.body]
        if not locale.startswith("en"):
            left = [p for p in ENGLISH if any(p in part for part in parts)]
            assert not left, f"{locale}/{kind.value}/n={n}: English in the message: {left}"
        assert format_when(WHEN, "Asia/Riyadh", fmt) in mail.text  # the date in its language
        if kind is UpdateKind.AGENT_REPLY:
            headline = re.search(r"<h1[^>]*>(.*?)</h1>", mail.html, re.S)
            assert headline and headline.group(1).strip() == expected_headline(locale, n), n


@pytest.mark.parametrize("locale", [x for x in LOCALES if not x.startswith("en")])
def test_catalog_plural_rule_agrees_with_cldr_for_every_sample(locale: str) -> None:
    header = catalog(locale).plural_expr
    for n in (*SAMPLES, 3, 12, 21, 102, 111, 1001):
        assert int(gettext.c2py(header)(n)) == cldr_form(locale, n), (locale, n)


@pytest.mark.parametrize("locale", LOCALES)
def test_numbers_are_grouped_in_the_message_language(locale: str) -> None:
    mail = RENDERER.render_update_email(news(UpdateKind.AGENT_REPLY, locale, replies=1234),
                                        ticket_url="u", app_url=None, guest=False,
                                        include_excerpt=False)
    assert format_decimal(1234, locale=RENDERER.formatting_locale(locale)) in mail.text
