"""Brands: two senders in one outbox, link patterns, look, footer, and no app when off."""

from __future__ import annotations

import re
from email.message import EmailMessage as MIMEMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketnotify.brands import Brand, Links
from ticketnotify.errors import ConfigurationError, InvalidInputError
from ticketnotify.events import AccountUser, Device, Guest, Preferences, Ticket, TicketUpdate
from ticketnotify.guest.links import GuestLinks
from ticketnotify.loopback.stack import LoopbackStack
from ticketnotify.messages import EmailMessage, PushMessage
from ticketnotify.notifier import Notifier
from ticketnotify.outbox import MemoryOutbox
from ticketnotify.worker import Worker

from .conftest import T0

KEY = b"brands-key-" + b"k" * 32
SUPPORT = Brand(
    name="support", web_ticket_url="https://help.example.com/tickets/{ticket_id}",
    app_ticket_url="examplehelp://tickets/{ticket_id}", sender="support@example.com",
    sender_name="Example Support", team="Example Support", footer_lines=("Example AB",))
BILLING = Brand(
    name="billing", web_ticket_url="https://billing.example.com/{brand}/{ticket_number}?s={secret}",
    guest_ticket_url="https://billing.example.com/guest/{ticket_number}?t={token}",
    sender="billing@example.net", sender_name="Billing Team", envelope_sender="bounces@example.net",
    team="Billing Team", accent_color="#b91c1c", logo_url="https://cdn.example.net/logo.png",
    footer_lines=("Example Billing Ltd", "Org. nr 556000-0000"))


def _text(mime: MIMEMessage) -> str:
    part = mime.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def _html(mime: MIMEMessage) -> str:
    part = mime.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def _update(event: str, brand: str | None, recipient: AccountUser | Guest, *,
            locale_ticket: str = "1") -> TicketUpdate:
    ticket = Ticket(id=f"K-{locale_ticket}", number=f"{brand or 'x'}-{locale_ticket}",
                    subject="Invoice twice", link_params={"secret": "s3 c/r"})
    return TicketUpdate(event_id=event, ticket=ticket, kind="agent_reply", recipient=recipient,
                        occurred_at=T0, brand=brand)


async def test_two_brands_in_one_outbox_each_mail_is_its_own() -> None:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, brands=[SUPPORT, BILLING], clock=lambda: T0,
                        guest_links=GuestLinks([KEY], "https://x.example.com/g/{ticket_id}?t={token}"))
    anna = AccountUser(user_id="u-1", email="anna@example.com")
    notifier.publish(_update("e-1", "support", anna))
    notifier.publish(_update("e-2", "billing", anna, locale_ticket="2"))
    async with LoopbackStack(push=False) as stack:
        # The worker renders with the notifier's brands: their senders, names and look.
        stats = await Worker(outbox, stack.channels(), renderer=notifier.delivery_renderer).drain()
        received = await stack.smtp.wait_for(2)
    assert stats.delivered == 2
    by_from = {r.message["From"].addresses[0].addr_spec: r for r in received}
    support, billing = by_from["support@example.com"], by_from["billing@example.net"]
    assert support.message["From"].addresses[0].display_name == "Example Support"
    assert billing.message["From"].addresses[0].display_name == "Billing Team"
    # Envelope: the config's sender unless the brand names its own.
    assert support.mail_from == "support@helpdesk.example"  # LoopbackStack's configured sender
    assert billing.mail_from == "bounces@example.net"
    s_text, b_text = _text(support.message), _text(billing.message)
    assert "https://help.example.com/tickets/K-1" in s_text
    assert "https://billing.example.com/billing/billing-2?s=s3%20c%2Fr" in b_text  # URL-encoded
    assert "Example AB" in s_text and "Example AB" not in b_text
    assert "Example Billing Ltd\nOrg. nr 556000-0000" in b_text
    assert "support ticket to Billing Team." in b_text
    assert "To answer Billing Team, open the ticket" in b_text  # the team named in the copy
    assert "so that Example Support sees the whole history" in s_text
    assert "our support team sees" not in b_text
    b_html, s_html = _html(billing.message), _html(support.message)
    assert "#b91c1c" in b_html and "#b91c1c" not in s_html
    assert '<img src="https://cdn.example.net/logo.png"' in b_html and "<img" not in s_html
    # The billing brand has no app link: no app link, no app paragraph.
    assert "examplehelp://" in s_text and "examplehelp://" not in b_text
    assert not re.search(r"\bapp\b", b_text) and re.search(r"\bapp\b", s_text)


@pytest.mark.parametrize("locale", ["en", "sv"])
def test_a_brand_without_an_app_link_shows_no_app_paragraph(locale: str) -> None:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, brands=[BILLING], guest_links=None, clock=lambda: T0)
    anna = AccountUser(user_id="u-1", email="anna@example.com", locale=locale)
    notifier.publish(_update("e-1", None, anna))
    (job,) = outbox.claim(T0, 10, 60.0, "t")
    mail = notifier.delivery_renderer.message(job)
    assert isinstance(mail, EmailMessage)
    app_words = {"en": [r"\bapp\b", "Get help"], "sv": [r"\bappen\b", "Få hjälp"]}[locale]
    for word in app_words:
        assert not re.search(word, mail.text) and not re.search(word, mail.html), word
    with_app = Notifier(MemoryOutbox(), brands=[SUPPORT], guest_links=None, clock=lambda: T0)
    with_app.publish(_update("e-1", None, anna))
    (job,) = with_app.outbox.claim(T0, 10, 60.0, "t")
    assert app_words[1] in with_app.delivery_renderer.message(job).text  # the check can fail


def test_guest_link_uses_the_brand_pattern_and_signs_the_key() -> None:
    links = GuestLinks([KEY], "https://x.example.com/g/{ticket_id}?t={token}")
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, brands=[BILLING], guest_links=links, clock=lambda: T0)
    notifier.publish(
        _update("e-1", "billing", Guest(email="sam@example.com")))
    (job,) = outbox.claim(T0, 10, 60.0, "t")
    mail = notifier.delivery_renderer.message(job)
    assert isinstance(mail, EmailMessage)
    url = next(w for w in mail.text.split() if w.startswith("https://billing.example.com/guest/"))
    assert url.startswith("https://billing.example.com/guest/billing-1?t=")
    assert links.open(url.split("?t=")[1], now=T0, ticket_id="K-1", email="sam@example.com")


def test_update_picks_its_brand_or_the_host_callable_decides() -> None:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, links=Links(web_ticket_url="https://help.example.com/{ticket_id}"),
                        brands=[BILLING], guest_links=None, clock=lambda: T0,
                        brand_for=lambda u: "billing" if u.ticket.number.startswith("b") else None)
    anna = AccountUser(user_id="u-1", email="anna@example.com")
    assert notifier.brand_of(_update("e-1", None, anna)).name == "default"
    by_queue = TicketUpdate(event_id="e-2", ticket=Ticket("K", "s", number="b-9"),
                            kind="agent_reply", recipient=anna, occurred_at=T0)
    assert notifier.brand_of(by_queue) is BILLING
    with pytest.raises(InvalidInputError, match="'nope' is not one of") as caught:
        notifier.publish(_update("e-3", "nope", anna))
    assert caught.value.field == "brand"
    assert outbox.counts() == []  # nothing stored


def test_a_pattern_value_the_ticket_lacks_refuses_the_publish() -> None:
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, brands=[BILLING], guest_links=None, clock=lambda: T0)
    update = TicketUpdate(event_id="e-1", ticket=Ticket("K", "s"), kind="agent_reply",
                          recipient=AccountUser(user_id="u", email="a@example.com"), occurred_at=T0)
    with pytest.raises(InvalidInputError, match=r"needs \{secret\}") as caught:
        notifier.publish(update)
    assert caught.value.field == "ticket.link_params"
    assert outbox.counts() == []


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"web_ticket_url": "https://x.example.com/"}, "neither"),
    ({"web_ticket_url": "https://x.example.com/{ticket_id.x}"}, "plain name"),
    ({"web_ticket_url": "https://x.example.com/{ticket_id}?{token}"}, "only for guest"),
    ({"guest_ticket_url": "https://x.example.com/{ticket_id}"}, "token"),
    ({"accent_color": "red;}body{x"}, "accent_color"),
    ({"logo_url": "http://x.example.com/l.png"}, "https://"),
    ({"sender": "root@localhost"}, "dotted-domain rule"),
    ({"footer_lines": "one string"}, "footer_lines"),
    ({"reply_to": "support+{ticket_id}@example.com"}, "reply-by-email"),
    ({"reply_mode": "reply-by-email"}, "subject_tag"),
    ({"reply_mode": "sometimes"}, "reply_mode"),
])
def test_brand_refuses_bad_configuration_naming_the_attribute(
        kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        Brand(name="b", **kwargs)  # type: ignore[arg-type]


def test_two_brands_of_one_name_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="two brands"):
        Notifier(MemoryOutbox(), brands=[BILLING, BILLING], guest_links=None)


@given(secret=st.text(min_size=1, max_size=40).filter(lambda s: s.isprintable() and s.strip() == s))
@settings(max_examples=60, deadline=None)
def test_link_values_are_url_encoded_and_decode_back(secret: str) -> None:
    from urllib.parse import parse_qs, urlsplit

    from ticketnotify.brands import fill_url, link_values

    ticket = Ticket(id="K/1?x", number="b 1", subject="s", link_params={"secret": secret})
    url = fill_url(BILLING.web_ticket_url or "", link_values(ticket, "billing"))
    parts = urlsplit(url)
    assert not any(c in url for c in ' "<>\n') and parts.netloc == "billing.example.com"
    assert parts.path == "/billing/b%201"
    assert parse_qs(parts.query, keep_blank_values=True) == {"s": [secret]}


def test_push_opens_the_brand_app_link_and_web_is_needed_only_without_one() -> None:
    app_only = Brand(name="app", app_ticket_url="billingapp://t/{ticket_number}")
    outbox = MemoryOutbox()
    notifier = Notifier(outbox, brands=[app_only], guest_links=None, clock=lambda: T0)
    anna = AccountUser(user_id="u-1", email="anna@example.com", devices=(Device("ios", "a" * 64),),
                       preferences=Preferences(email=False))
    notifier.publish(_update("e-1", None, anna))
    (job,) = outbox.claim(T0, 10, 60.0, "t")
    push = notifier.delivery_renderer.message(job)
    assert isinstance(push, PushMessage) and push.deep_link == "billingapp://t/x-1"
    no_web = Brand(name="guests-only")
    with pytest.raises(ConfigurationError, match="has none"):
        Notifier(MemoryOutbox(), brands=[no_web], guest_links=None).publish(
            _update("e-2", None, AccountUser(user_id="u-1", email="anna@example.com")))
