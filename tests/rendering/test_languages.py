"""Issue 15.1-15.3: direction from the locale, isolation, broken entries, one language a message."""

from __future__ import annotations

import logging
import re
import shutil
from email.message import EmailMessage as MimeMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketnotify.catalogs import check_host_catalogs
from ticketnotify.events import AccountUser, Device, Guest, Ticket, TicketUpdate, UpdateKind
from ticketnotify.guest.links import GuestLinks
from ticketnotify.i18n import default_locales_dir
from ticketnotify.loopback.stack import LoopbackStack
from ticketnotify.notifier import Links, Notifier
from ticketnotify.outbox import MemoryOutbox
from ticketnotify.rendering import RenderConfig, Renderer
from ticketnotify.worker import Worker

from .conftest import WHEN

ARABIC_NAME = "ليلى العبدالله"
ARABIC_SUBJECT = "مشكلة في تسجيل الدخول"
RENDERER_EN = Renderer()
LINKS = Links(web_ticket_url="https://help.example.com/tickets/{ticket_id}",
              app_ticket_url="examplehelp://tickets/{ticket_id}")

HEADER = '''msgid ""
msgstr ""
"Language: {lang}\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"Plural-Forms: {plural}\\n"

'''
DE_PLURAL = "nplurals=2; plural=(n != 1);"
AR_PLURAL = ("nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 "
             ": n%100>=11 ? 4 : 5);")
INFO_SUBJECT = ("Our support team needs more information from you to continue with your "
                "ticket “%(subject)s”. Please open the ticket and reply there.")


def write_po(root: Path, lang: str, plural: str, entries: str) -> Path:
    """A full catalog folder: the shipped catalogs, with ``lang`` replaced by ``entries`` only.

    Used with ``include_shipped_locales=False``, so the test's few entries are all that
    language has (as for a translator's first draft) and everything else falls back.
    """
    shutil.copytree(default_locales_dir(), root, dirs_exist_ok=True,
                    ignore=lambda folder, names: [lang] if Path(folder) == default_locales_dir()
                    else [])
    po = root / lang / "LC_MESSAGES" / "ticketnotify.po"
    po.parent.mkdir(parents=True)
    po.write_text(HEADER.format(lang=lang, plural=plural) + entries, "utf-8")
    return root


def only(folder: Path) -> RenderConfig:
    """Render with ``folder`` instead of the shipped catalogs."""
    return RenderConfig(locales_dirs=[folder], include_shipped_locales=False)


def news(kind: UpdateKind, locale: str, *, name: str = "Anna", subject: str = "Login fails",
         replies: int = 1, guest: bool = False, ticket: str = "12345") -> TicketUpdate:
    recipient: AccountUser | Guest
    if guest:
        recipient = Guest(email="sam@example.com", locale=locale, time_zone="Asia/Riyadh",
                          name=name)
    else:
        recipient = AccountUser(user_id="u-1", email="anna@example.se", locale=locale,
                                time_zone="Asia/Riyadh", devices=(Device("ios", "a" * 64),),
                                name=name)
    return TicketUpdate(event_id="e-1", ticket=Ticket(ticket, subject), kind=kind,
                        recipient=recipient, occurred_at=WHEN, new_replies=replies,
                        excerpt="Hello there")


def email_of(renderer: Renderer, update: TicketUpdate, guest: bool = False) -> tuple[str, str]:
    mail = renderer.render_update_email(update, ticket_url="https://x.example/t", app_url=None,
                                        guest=guest, include_excerpt=True)
    return mail.html, mail.text


# --- 15.1 direction and isolation ---------------------------------------------------------

def test_an_rtl_locale_sets_the_document_direction_and_mirrors_the_inlined_layout() -> None:
    renderer = Renderer(RenderConfig(pseudo_locales=True))
    html, _ = email_of(renderer, news(UpdateKind.AGENT_REPLY, "xx-rtl", name=ARABIC_NAME))
    assert re.search(r'<html lang="en-XB" dir="rtl">', html)  # was dir="ltr" for every locale
    quote = re.search(r'<div class="quote"[^>]*>', html)
    assert quote and "border-right:4px" in quote.group() and "border-left" not in quote.group()
    actions = re.search(r'<p class="actions"[^>]*>', html)
    assert actions and "text-align:right" in actions.group()


def test_an_ltr_locale_keeps_the_left_to_right_layout() -> None:
    html, _ = email_of(Renderer(), news(UpdateKind.AGENT_REPLY, "sv"))
    assert '<html lang="sv" dir="ltr">' in html
    quote = re.search(r'<div class="quote"[^>]*>', html)
    assert quote and "border-left:4px" in quote.group()


def test_babel_knows_which_languages_run_right_to_left() -> None:
    from ticketnotify.i18n import text_direction
    assert [text_direction(x) for x in ("ar", "he_IL", "fa", "ur", "sv", "en", "xx-rtl")] == [
        "rtl", "rtl", "rtl", "rtl", "ltr", "ltr", "rtl"]


def test_greeting_name_and_subject_cell_are_isolated_in_html() -> None:
    html, _ = email_of(Renderer(), news(UpdateKind.AGENT_REPLY, "en", name=ARABIC_NAME,
                                        subject=ARABIC_SUBJECT))
    assert f'Hi <bdi dir="auto">{ARABIC_NAME}</bdi>,' in html
    assert re.search(rf'Subject:</td><td[^>]*><bdi dir="auto">{ARABIC_SUBJECT}</bdi></td>', html)
    assert re.search(r'<bdi dir="auto">12345</bdi>', html)  # the number cell too


def test_plain_text_isolates_only_values_of_the_other_direction() -> None:
    _, text = email_of(Renderer(), news(UpdateKind.INFO_REQUESTED, "en", name=ARABIC_NAME,
                                        subject="Login fails"))
    assert f"Hi \u2068{ARABIC_NAME}\u2069," in text  # an RTL name in an LTR message
    assert "Ticket number: 12345\n" in text  # a copied number carries nothing invisible
    assert "“Login fails”" in text and "Subject: Login fails\n" in text
    renderer = Renderer(RenderConfig(pseudo_locales=True))
    _, rtl_text = email_of(renderer, news(UpdateKind.INFO_REQUESTED, "xx-rtl", name="Anna",
                                          subject=ARABIC_SUBJECT, ticket="T-77"))
    assert "\u2068Anna\u2069" in rtl_text and "\u2068T-77\u2069" in rtl_text  # LTR in RTL
    assert f"\u2068{ARABIC_SUBJECT}" not in rtl_text  # same direction: left alone


# --- 15.2 a broken entry never stops a notification ----------------------------------------

BROKEN_DE = f'''msgid "View ticket"
msgstr "Ticket ansehen"

msgid "Hi %(name)s,"
msgstr "Hallo %(name)s,"

msgid ""
"{INFO_SUBJECT[:74]}"
"{INFO_SUBJECT[74:]}"
msgstr ""
"Unser Support-Team braucht weitere Informationen zu Ihrem Ticket „%(subjekt)s“. "
"Bitte öffnen Sie das Ticket und antworten Sie dort."
'''


async def test_broken_german_entry_falls_back_for_that_string_and_publish_delivers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = write_po(tmp_path, "de", DE_PLURAL, BROKEN_DE)
    renderer = Renderer(only(folder))
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, renderer=renderer, links=LINKS,
                        guest_links=GuestLinks([b"k" * 32], "https://h.example/g/{ticket_id}?t={token}"))
    notifier.publish(news(UpdateKind.INFO_REQUESTED, "de_DE"))
    second = news(UpdateKind.INFO_REQUESTED, "de_DE", name="Bo")
    notifier.publish(TicketUpdate(event_id="e-2", ticket=second.ticket, kind=second.kind,
                                  recipient=second.recipient, occurred_at=WHEN))
    with caplog.at_level(logging.WARNING, logger="ticketnotify.i18n"):
        async with LoopbackStack() as stack:  # the worker renders: raised CatalogError before
            await Worker(outbox, stack.channels(), renderer=notifier.delivery_renderer).drain()
            mails = await stack.smtp.wait_for(2)
    texts = [_plain(m.message) for m in mails]
    info = next(t for t in texts if "more information" in t)
    assert "continue with your ticket “Login fails”. Please open the ticket" in info
    assert "Hallo Anna," in info and "Ticket ansehen" in info  # the rest stays German
    warnings = [r for r in caplog.records if "subjekt" in r.getMessage()]
    assert len(warnings) == 1  # logged once, however many messages use the entry
    problems = [str(p) for p in check_host_catalogs([folder])]
    assert any("placeholders differ" in p and "more information from you to conti" in p
               and "de/LC_MESSAGES/ticketnotify.po" in p for p in problems)


def _plain(mail: MimeMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_changed_markup_falls_back_too(tmp_path: Path) -> None:
    folder = write_po(tmp_path, "de", DE_PLURAL, '''msgid ""
"On the web, sign in and choose <strong>My tickets</strong> in the help menu."
msgstr "Melden Sie sich im Web an und wählen Sie <b>Meine Tickets</b>."
''')
    html, _ = email_of(Renderer(only(folder)),
                       news(UpdateKind.AGENT_REPLY, "de"))
    assert "<b>Meine Tickets</b>" not in html and "<strong>My tickets</strong>" in html


def test_a_stray_percent_falls_back_and_catalog_check_names_it(tmp_path: Path) -> None:
    folder = write_po(tmp_path, "de", DE_PLURAL, '''msgid "View ticket"
msgstr "Ticket zu 100 % ansehen"
''')
    _, text = email_of(Renderer(only(folder)),
                       news(UpdateKind.AGENT_REPLY, "de"))
    assert "View ticket" in text and "100 %" not in text
    problems = [str(p) for p in check_host_catalogs([folder])]
    assert any("format: msgid 'View ticket'" in p and "%%" in p for p in problems)


# --- 15.3 one language per message -----------------------------------------------------------

def test_a_locale_without_catalog_gets_english_numbers_and_dates() -> None:
    renderer = Renderer()
    html, text = email_of(renderer, news(UpdateKind.AGENT_REPLY, "is_IS", replies=1234))
    assert "1,234 new replies" in text and "1.234" not in text  # was English text, Icelandic number
    _, text = email_of(renderer, news(UpdateKind.AGENT_REPLY, "fa_IR"))
    assert "November 25, 2026" in text  # was an Arabic-script date in an English mail
    assert not re.search(r"[\u0600-\u06ff]", text)


def test_untranslated_plural_in_ar_follows_english_rules(tmp_path: Path) -> None:
    folder = write_po(tmp_path, "ar", AR_PLURAL, '''msgid "View ticket"
msgstr "عرض التذكرة"

msgid "Our support team has replied in your ticket “%(subject)s”."
msgid_plural "Our support team has sent %(count)s new replies in your ticket “%(subject)s”."
msgstr[0] ""
msgstr[1] ""
msgstr[2] ""
msgstr[3] ""
msgstr[4] ""
msgstr[5] ""
''')
    renderer = Renderer(only(folder))
    for n, want in [(1, "has replied in your ticket"), (2, "has sent 2 new replies"),
                    (11, "has sent 11 new replies"), (101, "has sent 101 new replies")]:
        html, text = email_of(renderer, news(UpdateKind.AGENT_REPLY, "ar", replies=n))
        assert want in text, (n, text)  # was "has sent 1 new replies" for n=1
        assert "عرض التذكرة" in text and 'dir="rtl"' in html


def test_a_catalog_language_keeps_its_own_formats() -> None:
    _, text = email_of(Renderer(), news(UpdateKind.AGENT_REPLY, "sv_SE", replies=1234))
    assert "1\u00a0234" in text and "november 2026" in text


_LETTERS = st.sampled_from(["a", "Z", "å", "ж", "東", "1", "-", " ", "ل", "ש", "😀", "\u200f"])


@settings(max_examples=200, deadline=None)
@given(name=st.lists(_LETTERS, min_size=1, max_size=12).map("".join).filter(str.strip))
def test_a_name_is_isolated_in_text_exactly_when_it_can_run_against_the_message(name: str) -> None:
    name = " ".join(name.split())
    _, text = email_of(RENDERER_EN, news(UpdateKind.RESOLVED, "en", name=name))
    against = any(c in name for c in "لש\u200f")
    assert (f"Hi \u2068{name}\u2069," in text) is against
    assert (f"Hi {name}," in text) is not against
