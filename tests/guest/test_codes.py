"""Verification codes: sent on request only, expire, five tries, used once, rate-limited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from ticketnotify.channels.memory import MemoryChannel
from ticketnotify.channels.smtp.channel import SMTPChannel
from ticketnotify.channels.smtp.config import SMTPConfig
from ticketnotify.errors import ConfigurationError, InvalidInputError, TransientDeliveryError
from ticketnotify.guest import (
    AccessGrants,
    AddressMismatchError,
    CodeDeliveryError,
    CodeExpiredError,
    EmailCodeSender,
    ExpiredGrantError,
    GuestLinks,
    InvalidGrantError,
    MalformedCodeError,
    MemoryCodeStore,
    NoCodeError,
    RateLimit,
    RateLimitedError,
    TamperedLinkError,
    TooManyAttemptsError,
    VerificationCodes,
    WrongCodeError,
    WrongTicketGrantError,
)
from ticketnotify.loopback.smtp import LoopbackSMTPServer
from ticketnotify.messages import EmailMessage
from ticketnotify.rendering import Renderer

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
KEYS = ["link-key-" + "k" * 32]
SECRET = b"code-secret-" + b"s" * 32
ANNA = "anna@example.se"


class Clock:
    """Moved by hand: every time rule is tested without sleeping."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Inbox:
    """A CodeSender standing in for the guest's mailbox: keeps what each address received."""

    sent: list[dict[str, object]] = field(default_factory=list)
    fail: Exception | None = None

    async def __call__(self, *, email: str, locale: str, time_zone: str, code: str,
                       minutes: int, ticket_id: str) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append({"email": email, "locale": locale, "time_zone": time_zone,
                          "code": code, "minutes": minutes, "ticket_id": ticket_id})

    def last_code(self) -> str:
        return str(self.sent[-1]["code"])


@dataclass
class Setup:
    clock: Clock
    links: GuestLinks
    store: MemoryCodeStore
    inbox: Inbox
    codes: VerificationCodes

    def token(self, ticket_id: str = "T-1", email: str = ANNA) -> str:
        return self.links.issue(ticket_id, email, now=self.clock())


@pytest.fixture
def setup() -> Setup:
    clock, links, store, inbox = Clock(), GuestLinks(KEYS), MemoryCodeStore(), Inbox()
    codes = VerificationCodes(links, store, inbox, SECRET, clock=clock)
    return Setup(clock, links, store, inbox, codes)


async def test_a_sent_code_grants_access_to_that_ticket_only(setup: Setup) -> None:
    token = setup.token()
    sent = await setup.codes.asend_code(token, email=ANNA, locale="sv-SE",
                                       time_zone="Europe/Stockholm")
    assert sent.ticket_id == "T-1" and sent.minutes == 10
    assert sent.expires_at == T0 + timedelta(minutes=10)
    [mail] = setup.inbox.sent
    assert mail["email"] == ANNA and mail["locale"] == "sv_SE" and mail["ticket_id"] == "T-1"
    code = setup.inbox.last_code()
    assert len(code) == 6 and code.isdigit()
    grant = setup.codes.verify_code(token, code, email=ANNA)
    assert grant.ticket_id == "T-1"
    assert setup.codes.check_grant(grant.value, "T-1") == grant
    with pytest.raises(WrongTicketGrantError):
        setup.codes.check_grant(grant.value, "T-2")


async def test_a_code_works_once(setup: Setup) -> None:
    token = setup.token()
    await setup.codes.asend_code(token, email=ANNA)
    code = setup.inbox.last_code()
    setup.codes.verify_code(token, code, email=ANNA)
    with pytest.raises(NoCodeError):
        setup.codes.verify_code(token, code, email=ANNA)


async def test_a_code_expires_after_its_lifetime(setup: Setup) -> None:
    token = setup.token()
    await setup.codes.asend_code(token, email=ANNA)
    setup.clock.advance(minutes=9, seconds=59)
    code = setup.inbox.last_code()
    setup.clock.advance(seconds=1)
    with pytest.raises(CodeExpiredError) as refused:
        setup.codes.verify_code(token, code, email=ANNA)
    assert refused.value.expired_at == T0 + timedelta(minutes=10)
    with pytest.raises(NoCodeError):  # an expired code is gone, not merely refused
        setup.codes.verify_code(token, code, email=ANNA)


async def test_a_code_works_until_just_before_expiry(setup: Setup) -> None:
    token = setup.token()
    await setup.codes.asend_code(token, email=ANNA)
    setup.clock.advance(minutes=9, seconds=59)
    assert setup.codes.verify_code(token, setup.inbox.last_code(), email=ANNA).ticket_id == "T-1"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_five_wrong_tries_use_up_the_code(setup: Setup) -> None:
    token = setup.token()
    await setup.codes.asend_code(token, email=ANNA)
    code = setup.inbox.last_code()
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongCodeError) as refused:
            setup.codes.verify_code(token, wrong(code), email=ANNA)
        assert refused.value.attempts_left == left
    with pytest.raises(TooManyAttemptsError):
        setup.codes.verify_code(token, wrong(code), email=ANNA)
    with pytest.raises(TooManyAttemptsError):  # even the right code is too late now
        setup.codes.verify_code(token, code, email=ANNA)


async def test_the_right_code_on_the_fifth_try_still_works(setup: Setup) -> None:
    token = setup.token()
    await setup.codes.asend_code(token, email=ANNA)
    code = setup.inbox.last_code()
    for _ in range(4):
        with pytest.raises(WrongCodeError):
            setup.codes.verify_code(token, wrong(code), email=ANNA)
    assert setup.codes.verify_code(token, f" {code[:3]}-{code[3:]} ", email=ANNA)


async def test_a_typo_that_is_not_six_digits_uses_no_attempt(setup: Setup) -> None:
    token = setup.token()
    await setup.codes.asend_code(token, email=ANNA)
    code = setup.inbox.last_code()
    for typo in ("12345", "1234567", "12a456", "", "١٢٣٤٥٦"):
        with pytest.raises(MalformedCodeError):
            setup.codes.verify_code(token, typo, email=ANNA)
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongCodeError) as refused:
            setup.codes.verify_code(token, wrong(code), email=ANNA)
        assert refused.value.attempts_left == left
    with pytest.raises(InvalidInputError):  # MalformedCodeError is an input error
        setup.codes.verify_code(token, "abc", email=ANNA)


async def test_a_new_code_supersedes_the_old_one(setup: Setup) -> None:
    token = setup.token()
    await setup.codes.asend_code(token, email=ANNA)
    first = setup.inbox.last_code()
    await setup.codes.asend_code(token, email=ANNA)
    second = setup.inbox.last_code()
    if first != second:  # one in a million they coincide; then only the second rule is testable
        with pytest.raises(WrongCodeError):
            setup.codes.verify_code(token, first, email=ANNA)
    assert setup.codes.verify_code(token, second, email=ANNA).ticket_id == "T-1"


async def test_verifying_without_a_sent_code_is_refused(setup: Setup) -> None:
    with pytest.raises(NoCodeError):
        setup.codes.verify_code(setup.token(), "123456", email=ANNA)


async def test_a_code_for_one_ticket_does_not_verify_another(setup: Setup) -> None:
    await setup.codes.asend_code(setup.token("T-1"), email=ANNA)
    with pytest.raises(NoCodeError):
        setup.codes.verify_code(setup.token("T-2"), setup.inbox.last_code(), email=ANNA)


async def test_sends_are_limited_per_address_with_the_time_of_the_next_send(setup: Setup) -> None:
    token = setup.token()
    for _ in range(3):
        await setup.codes.asend_code(token, email=ANNA)
        setup.clock.advance(minutes=1)
    with pytest.raises(RateLimitedError) as refused:
        await setup.codes.asend_code(setup.token("T-9"), email=ANNA)  # other ticket, same address
    assert refused.value.retry_at == T0 + timedelta(minutes=15)
    assert "09:45:00" in str(refused.value)
    assert len(setup.inbox.sent) == 3
    setup.clock.now = refused.value.retry_at - timedelta(microseconds=1)
    with pytest.raises(RateLimitedError):
        await setup.codes.asend_code(token, email=ANNA)
    setup.clock.now = refused.value.retry_at
    await setup.codes.asend_code(token, email=ANNA)
    assert len(setup.inbox.sent) == 4


async def test_sends_are_limited_per_ticket_across_addresses(setup: Setup) -> None:
    for email in ("a@example.se", "b@example.se", "c@example.se"):
        await setup.codes.asend_code(setup.token("T-1", email), email=email)
    with pytest.raises(RateLimitedError):
        await setup.codes.asend_code(setup.token("T-1", "d@example.se"), email="d@example.se")
    await setup.codes.asend_code(setup.token("T-2", "d@example.se"), email="d@example.se")
    assert [m["email"] for m in setup.inbox.sent][-1] == "d@example.se"


async def test_at_most_ten_sends_a_day(setup: Setup) -> None:
    token = setup.token()
    for _ in range(10):
        await setup.codes.asend_code(token, email=ANNA)
        setup.clock.advance(minutes=15)
    with pytest.raises(RateLimitedError) as refused:
        await setup.codes.asend_code(token, email=ANNA)
    assert refused.value.retry_at == T0 + timedelta(days=1)
    setup.clock.now = T0 + timedelta(days=1)
    await setup.codes.asend_code(setup.links.issue("T-1", ANNA, now=T0), email=ANNA)
    assert len(setup.inbox.sent) == 11


async def test_a_rate_limited_request_keeps_the_pending_code(setup: Setup) -> None:
    codes = VerificationCodes(setup.links, setup.store, setup.inbox, SECRET, clock=setup.clock,
                              address_limits=[RateLimit(1, timedelta(hours=1))])
    token = setup.token()
    await codes.asend_code(token, email=ANNA)
    with pytest.raises(RateLimitedError):
        await codes.asend_code(token, email=ANNA)
    assert codes.verify_code(token, setup.inbox.last_code(), email=ANNA)


async def test_opening_the_link_burns_nothing_and_sends_nothing(setup: Setup) -> None:
    token = setup.token()
    await setup.codes.asend_code(token, email=ANNA)
    code = setup.inbox.last_code()
    for _ in range(50):  # a mail scanner, a preview pane, the guest reloading
        assert setup.codes.open(token, email=ANNA).ticket_id == "T-1"
        setup.links.open(token)
    assert len(setup.inbox.sent) == 1
    await setup.codes.asend_code(token, email=ANNA)  # two more sends still fit the limit
    await setup.codes.asend_code(token, email=ANNA)
    assert len(setup.inbox.sent) == 3
    assert code  # the first code was superseded by sends, never by opening


async def test_no_code_is_sent_to_an_address_the_token_was_not_issued_for(setup: Setup) -> None:
    token = setup.token(email=ANNA)
    with pytest.raises(AddressMismatchError):
        await setup.codes.asend_code(token, email="mallory@example.net")
    with pytest.raises(TamperedLinkError):
        await setup.codes.asend_code(token[:-2] + ("AA" if token[-2:] != "AA" else "BA"),
                                    email=ANNA)
    assert setup.inbox.sent == []


async def test_a_failed_delivery_stores_no_code(setup: Setup) -> None:
    token = setup.token()
    setup.inbox.fail = TransientDeliveryError("mail server down")
    with pytest.raises(CodeDeliveryError):
        await setup.codes.asend_code(token, email=ANNA)
    with pytest.raises(NoCodeError):
        setup.codes.verify_code(token, "123456", email=ANNA)


async def test_codes_are_stored_only_as_keyed_hashes(setup: Setup) -> None:
    token = setup.token()
    await setup.codes.asend_code(token, email=ANNA)
    code = setup.inbox.last_code()
    dump = repr(vars(setup.store))
    assert code not in dump and ANNA not in dump and "anna" not in dump


async def test_a_grant_renews_but_never_past_its_cap(setup: Setup) -> None:
    grants = AccessGrants(KEYS, ttl=timedelta(minutes=30), max_lifetime=timedelta(hours=1))
    codes = VerificationCodes(setup.links, setup.store, setup.inbox, SECRET,
                              clock=setup.clock, grants=grants)
    token = setup.token()
    await codes.asend_code(token, email=ANNA)
    grant = codes.verify_code(token, setup.inbox.last_code(), email=ANNA)
    assert grant.expires_at == T0 + timedelta(minutes=30)
    setup.clock.advance(minutes=25)
    renewed = codes.renew(grant.value, "T-1")
    assert renewed.expires_at == T0 + timedelta(minutes=55)
    setup.clock.advance(minutes=25)
    capped = codes.renew(renewed.value, "T-1")
    assert capped.expires_at == T0 + timedelta(hours=1)
    setup.clock.advance(minutes=10)
    with pytest.raises(ExpiredGrantError):
        codes.check_grant(capped.value, "T-1")
    with pytest.raises(ExpiredGrantError):
        codes.renew(capped.value, "T-1")
    with pytest.raises(ExpiredGrantError):
        codes.check_grant(grant.value, "T-1")


async def test_a_link_is_not_a_grant_and_a_changed_grant_is_refused(setup: Setup) -> None:
    token = setup.token()
    with pytest.raises(InvalidGrantError, match="guest-link"):
        setup.codes.check_grant(token, "T-1")
    await setup.codes.asend_code(token, email=ANNA)
    grant = setup.codes.verify_code(token, setup.inbox.last_code(), email=ANNA)
    flipped = grant.value[:5] + ("A" if grant.value[5] != "A" else "B") + grant.value[6:]
    with pytest.raises(InvalidGrantError):
        setup.codes.check_grant(flipped, "T-1")


def test_bad_settings_are_configuration_errors(setup: Setup) -> None:
    args = (setup.links, setup.store, setup.inbox)
    for secret in (b"short", "short", 12345):  # a long enough str is accepted (UTF-8 bytes)
        with pytest.raises(ConfigurationError, match="secret"):
            VerificationCodes(*args, secret)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_attempts"):
        VerificationCodes(*args, SECRET, max_attempts=0)
    with pytest.raises(ConfigurationError, match="code_ttl"):
        VerificationCodes(*args, SECRET, code_ttl=timedelta(0))
    with pytest.raises(ConfigurationError, match="count"):
        RateLimit(0, timedelta(minutes=1))
    with pytest.raises(ConfigurationError, match="grant max_lifetime"):
        AccessGrants(KEYS, ttl=timedelta(hours=2), max_lifetime=timedelta(hours=1))


async def test_a_bad_locale_is_refused_before_anything_is_spent(setup: Setup) -> None:
    token = setup.token()
    with pytest.raises(InvalidInputError):
        await setup.codes.asend_code(token, email=ANNA, locale="xx-nonsense-!!")
    with pytest.raises(InvalidInputError):
        await setup.codes.asend_code(token, email=ANNA, time_zone="Mars/Olympus")
    for _ in range(3):
        await setup.codes.asend_code(token, email=ANNA)
    assert len(setup.inbox.sent) == 3


async def test_the_email_sender_renders_the_code_email_and_sends_it_now(setup: Setup) -> None:
    channel = MemoryChannel()
    codes = VerificationCodes(setup.links, setup.store, EmailCodeSender(Renderer(), channel),
                              SECRET, clock=setup.clock)
    token = setup.token()
    await codes.asend_code(token, email=ANNA, locale="sv", time_zone="Europe/Stockholm")
    [message] = channel.sent
    assert isinstance(message, EmailMessage)
    assert message.to_address == ANNA and message.locale == "sv"
    # Threaded on its own: never in the ticket's update conversation (see test_code_delivery).
    assert message.ticket_id == message.delivery_id and message.ticket_id.startswith("guest-code-")
    assert message.ticket_subject == message.subject
    assert "T-1" in message.subject
    code = next(word for word in message.text.split() if len(word) == 6 and word.isdigit())
    assert code in message.html
    assert "10" in message.text
    assert codes.verify_code(token, code, email=ANNA).ticket_id == "T-1"
    await codes.asend_code(token, email=ANNA, locale="en")
    english = channel.sent[1]
    assert isinstance(english, EmailMessage) and english.subject != message.subject


async def test_the_code_reaches_a_real_smtp_server_and_verifies(setup: Setup) -> None:
    async with LoopbackSMTPServer() as server:
        config = SMTPConfig(host="127.0.0.1", port=server.port, sender="help@example.se",
                            security="none", timeout=10)
        async with EmailCodeSender(Renderer(), SMTPChannel(config)) as sender:
            codes = VerificationCodes(setup.links, setup.store, sender, SECRET,
                                      clock=setup.clock)
            token = setup.token()
            await codes.asend_code(token, email=ANNA, locale="sv_SE",
                                  time_zone="Europe/Stockholm")
            [received] = await server.wait_for(1, timeout=10)
    assert received.rcpt_tos == (ANNA,)
    mail = received.message
    assert "T-1" in str(mail["Subject"])
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    code = next(word for word in text.split() if len(word) == 6 and word.isdigit())
    assert "10 minuter" in text
    assert codes.verify_code(token, code, email=ANNA).ticket_id == "T-1"
