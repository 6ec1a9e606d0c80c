"""Fault matrix for push: 5xx storms, GOAWAY storms and hang-ups end as retries, quietly.

Each test sends 300 pushes at once and retries every ``TransientDeliveryError`` at once (as
the worker would after its backoff), up to the worker's default 8 attempts, and records how
many attempts each push used. Every push must end delivered or transient, nothing may log
at ERROR (with or without a traceback), and the attempts a fault costs are bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from ticketnotify.channels.base import Channel
from ticketnotify.channels.push.apns import APNsChannel
from ticketnotify.channels.push.fcm import FCMChannel, FCMConfig
from ticketnotify.errors import TransientDeliveryError
from ticketnotify.loopback.apns import APNsLoopback
from ticketnotify.loopback.fcm import FCMLoopback
from ticketnotify.messages import PushMessage, Receipt

from .test_apns import KEY_ID, TEAM_ID, TOPIC, config_for, make_key
from .test_apns import push as apns_push
from .test_fcm import PROJECT, credentials_for, make_service_key
from .test_fcm import push as fcm_push

PUSHES = 300
MAX_ATTEMPTS = 8  # the worker's default RetryPolicy.max_attempts

pytestmark = pytest.mark.slow


@dataclass
class Outcome:
    result: Receipt | BaseException
    attempts: int


async def send_with_retries(channel: Channel[PushMessage], message: PushMessage) -> Outcome:
    """Send until delivered, retrying transient errors at once, at most MAX_ATTEMPTS times."""
    last: BaseException | None = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return Outcome(await channel.send(message), attempt)
        except TransientDeliveryError as exc:
            last = exc
        except Exception as exc:  # anything else is a defect: the worker would log it
            return Outcome(exc, attempt)
    assert last is not None
    return Outcome(last, MAX_ATTEMPTS)


async def storm_of_sends(channel: Channel[PushMessage],
                         messages: list[PushMessage]) -> list[Outcome]:
    return list(await asyncio.gather(*(send_with_retries(channel, m) for m in messages)))


def assert_quiet_and_settled(outcomes: list[Outcome], caplog: pytest.LogCaptureFixture) -> None:
    odd = [o.result for o in outcomes
           if not isinstance(o.result, Receipt | TransientDeliveryError)]
    assert odd == []
    loud = [f"{r.name}: {r.getMessage()}" for r in caplog.records
            if r.levelno >= logging.ERROR or r.exc_info]
    assert loud == []


@pytest.fixture(scope="module")
def apns_key() -> tuple[str, bytes]:
    return make_key()


@pytest.fixture
async def apns_server(apns_key: tuple[str, bytes]) -> AsyncIterator[APNsLoopback]:
    async with APNsLoopback(topic=TOPIC, verify_key=apns_key[1], key_id=KEY_ID,
                            team_id=TEAM_ID) as server:
        yield server


@pytest.fixture
async def apns(apns_server: APNsLoopback,
               apns_key: tuple[str, bytes]) -> AsyncIterator[APNsChannel]:
    async with APNsChannel(config_for(apns_server, apns_key[0])) as channel:
        yield channel


def apns_messages() -> list[PushMessage]:
    return [apns_push(token=f"{i:064x}", delivery_id=f"d-{i}") for i in range(PUSHES)]


async def test_apns_500_storm_costs_one_attempt_per_500_and_nothing_else(
        apns: APNsChannel, apns_server: APNsLoopback, caplog: pytest.LogCaptureFixture) -> None:
    apns_server.storm(400)
    outcomes = await storm_of_sends(apns, apns_messages())
    assert_quiet_and_settled(outcomes, caplog)
    assert all(isinstance(o.result, Receipt) for o in outcomes)
    assert sum(o.attempts for o in outcomes) == PUSHES + 400
    assert apns_server.connections_accepted == 1


async def test_apns_goaway_storm_retries_unprocessed_streams_inside_the_send(
        apns: APNsChannel, apns_server: APNsLoopback, caplog: pytest.LogCaptureFixture) -> None:
    apns_server.goaway_every(40)
    outcomes = await storm_of_sends(apns, apns_messages())
    assert_quiet_and_settled(outcomes, caplog)
    assert all(isinstance(o.result, Receipt) for o in outcomes)
    assert apns_server.goaways_sent >= PUSHES // 40
    # Streams above GOAWAY's last-stream-id were never processed: they are sent again on a
    # fresh connection within the same send. Only a stream cut off twice costs an attempt.
    assert max(o.attempts for o in outcomes) <= 2
    assert sum(o.attempts for o in outcomes) <= PUSHES * 1.2
    # The server processed each push once: GOAWAY'd streams were not duplicated.
    assert len(apns_server.requests) == PUSHES


async def test_apns_hang_up_storm_is_transient_and_bounded(
        apns: APNsChannel, apns_server: APNsLoopback, caplog: pytest.LogCaptureFixture) -> None:
    apns_server.hang_up_every(60)
    outcomes = await storm_of_sends(apns, apns_messages())
    assert_quiet_and_settled(outcomes, caplog)
    assert apns_server.hang_ups >= 1
    delivered = [o for o in outcomes if isinstance(o.result, Receipt)]
    assert len(delivered) == PUSHES
    # A request written before the hang-up is ambiguous and costs an attempt; one queued
    # behind a dead connection was never written and costs none.
    assert max(o.attempts for o in outcomes) <= 5


async def test_apns_connection_lost_while_idle_is_replaced_without_an_attempt(
        apns: APNsChannel, apns_server: APNsLoopback, caplog: pytest.LogCaptureFixture) -> None:
    await apns.send(apns_push())
    for transport in list(apns_server._transports):  # the server drops the idle connection
        transport.abort()
    async with asyncio.timeout(5):  # until the client has noticed (condition, not a pause)
        while apns._pool is not None and apns._pool.connections:
            await asyncio.sleep(0.01)
    outcome = await send_with_retries(apns, apns_push())
    assert isinstance(outcome.result, Receipt) and outcome.attempts == 1
    assert apns_server.connections_accepted == 2
    assert_quiet_and_settled([outcome], caplog)


@pytest.fixture(scope="module")
def fcm_key() -> tuple[str, bytes]:
    return make_service_key()


@pytest.fixture
async def fcm_server(fcm_key: tuple[str, bytes]) -> AsyncIterator[FCMLoopback]:
    async with FCMLoopback(project_id=PROJECT, verify_key=fcm_key[1]) as server:
        yield server


@pytest.fixture
async def fcm(fcm_server: FCMLoopback, fcm_key: tuple[str, bytes]) -> AsyncIterator[FCMChannel]:
    config = FCMConfig(credentials=credentials_for(fcm_server, fcm_key[0]),
                       endpoint_base=fcm_server.endpoint_base,
                       verify=fcm_server.certificate.ca_file, concurrency=8)
    async with FCMChannel(config) as channel:
        yield channel


def fcm_messages() -> list[PushMessage]:
    return [fcm_push(token=f"fcm-{i:04d}-" + "x" * 140, delivery_id=f"d-{i}")
            for i in range(PUSHES)]


async def test_fcm_500_storm_costs_one_attempt_per_500_and_nothing_else(
        fcm: FCMChannel, fcm_server: FCMLoopback, caplog: pytest.LogCaptureFixture) -> None:
    fcm_server.storm(400)
    outcomes = await storm_of_sends(fcm, fcm_messages())
    assert_quiet_and_settled(outcomes, caplog)
    assert all(isinstance(o.result, Receipt) for o in outcomes)
    assert sum(o.attempts for o in outcomes) == PUSHES + 400
    assert len(fcm_server.sends()) == PUSHES + 400  # no retry hidden inside a send


async def test_fcm_hang_up_storm_is_transient_and_bounded(
        fcm: FCMChannel, fcm_server: FCMLoopback, caplog: pytest.LogCaptureFixture) -> None:
    fcm_server.hang_up_every(30)
    outcomes = await storm_of_sends(fcm, fcm_messages())
    assert_quiet_and_settled(outcomes, caplog)
    assert fcm_server.hang_ups >= 1
    assert all(isinstance(o.result, Receipt) for o in outcomes)
    assert max(o.attempts for o in outcomes) <= 3
