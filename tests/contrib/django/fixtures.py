"""Fixtures the Django tests share (also the browser test of the Django pages)."""

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def empty_store_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Django's flush empties model tables only; the outbox and code tables are no models."""
    yield
    if request.node.get_closest_marker("django_db") is None:
        return
    from django.db import connections

    from ticketnotify.contrib.django.settings import reset

    reset()
    blocker = request.getfixturevalue("django_db_blocker")
    with blocker.unblock(), connections["default"].cursor() as cursor:
        for table in ("ticketnotify_outbox", "guest_codes", "guest_sends"):
            cursor.execute(f"DELETE FROM {table}")
