"""Shared fixtures: sample updates and a controllable clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from ticketnotify.events import AccountUser, Device, Guest, Ticket, TicketUpdate, UpdateKind

# Store fixtures (memory, SQLite, the real PostgreSQL) for the outbox and worker tests.
pytest_plugins = ["tests.stores"]

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand, so time-based rules are tested without sleeping."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def account() -> AccountUser:
    return AccountUser(
        user_id="u-1", email="anna@example.se", locale="sv_SE", time_zone="Europe/Stockholm",
        devices=(Device("ios", "a" * 64), Device("android", "fcm-token-1")), name="Anna",
    )


@pytest.fixture
def guest() -> Guest:
    return Guest(email="sam@example.com", locale="en", time_zone="Europe/London", name="Sam")


@pytest.fixture
def make_update() -> Callable[..., TicketUpdate]:
    def make(recipient: AccountUser | Guest, *, event_id: str = "evt-1", ticket_id: str = "12345",
             kind: UpdateKind = UpdateKind.AGENT_REPLY, excerpt: str | None = "We fixed it.") -> TicketUpdate:
        return TicketUpdate(event_id=event_id, ticket=Ticket(ticket_id, "Insättning syns inte"),
                            kind=kind, recipient=recipient, occurred_at=T0, excerpt=excerpt)
    return make
