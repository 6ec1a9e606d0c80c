"""In-memory code store: for tests and single-process hosts; everything is lost on restart."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from .base import Attempt, CodeStore, RateLimit, StoredCode, longest, next_allowed


class MemoryCodeStore(CodeStore):
    """Codes and send records in a dict: for tests and single-process hosts (lost on restart)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[tuple[str, str], StoredCode] = {}
        self._sends: dict[str, list[datetime]] = {}

    def reserve_send(
        self, limits: Mapping[str, Sequence[RateLimit]], now: datetime
    ) -> datetime | None:
        with self._lock:
            retry: datetime | None = None
            for key, key_limits in limits.items():
                horizon = now - longest(key_limits)
                kept = [t for t in self._sends.get(key, []) if t > horizon]
                self._sends[key] = kept
                at = next_allowed(kept, key_limits, now)
                if at is not None and (retry is None or at > retry):
                    retry = at
            if retry is not None:
                return retry
            for key in limits:
                self._sends[key].append(now)
            return None

    def release_send(self, keys: Sequence[str], sent_at: datetime) -> None:
        with self._lock:
            for key in keys:
                sent = self._sends.get(key, [])
                if sent_at in sent:
                    sent.remove(sent_at)

    def put_code(self, code: StoredCode) -> None:
        with self._lock:
            self._codes[(code.ticket_id, code.address_key)] = code

    def take_attempt(self, ticket_id: str, address_key: str) -> Attempt | None:
        with self._lock:
            code = self._codes.get((ticket_id, address_key))
            if code is None:
                return None
            if code.attempts_left <= 0:
                return Attempt(code, allowed=False)
            code = replace(code, attempts_left=code.attempts_left - 1)
            self._codes[(ticket_id, address_key)] = code
            return Attempt(code, allowed=True)

    def discard_code(self, ticket_id: str, address_key: str, code_hash: str) -> bool:
        with self._lock:
            code = self._codes.get((ticket_id, address_key))
            if code is None or code.code_hash != code_hash:
                return False
            del self._codes[(ticket_id, address_key)]
            return True

    def purge(self, now: datetime, keep_sends_for: timedelta) -> int:
        horizon = now - keep_sends_for
        removed = 0
        with self._lock:
            for key, code in list(self._codes.items()):
                if code.expires_at <= now:
                    del self._codes[key]
                    removed += 1
            for address, sent in list(self._sends.items()):
                kept = [t for t in sent if t > horizon]
                removed += len(sent) - len(kept)
                if kept:
                    self._sends[address] = kept
                else:
                    del self._sends[address]
        return removed
