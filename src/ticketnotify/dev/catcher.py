"""What the loopback peers received, as files in one folder, read back newest first.

Mail is ``mail/NNNNN.eml`` (written by the loopback SMTP server), pushes are
``push/NNNNN-apns.json`` / ``push/NNNNN-fcm.json``. Files are the record: a restarted
catcher lists everything earlier runs kept, and never overwrites a file.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from ..clock import utc_now
from ..loopback.https import ReceivedRequest

_NAME = re.compile(r"^(\d{5,})(?:-(apns|fcm))?\.(eml|json)$")
_LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True, slots=True)
class CaughtItem:
    """One received email or push, as listed on the page."""

    name: str  # the file name, e.g. "00003.eml"
    kind: str  # "mail", "apns" or "fcm"
    received_at: datetime
    to: str
    summary: str  # subject or push title


def write_new(folder: Path, suffix: str, data: bytes) -> Path:
    """Write ``data`` as the next ``NNNNN<suffix>`` after the highest number there; never overwrite."""
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    number = max(numbers, default=0) + 1
    while True:
        path = folder / f"{number:05d}{suffix}"
        try:
            with path.open("xb") as fh:
                fh.write(data)
        except FileExistsError:
            number += 1
            continue
        return path


class PushRecorder(list[ReceivedRequest]):
    """A stand-in's ``requests`` list that also writes each push to ``push/`` as it arrives.

    Token fetches (FCM's OAuth endpoint) are kept in memory only; sends become files.
    """

    def __init__(self, folder: Path, service: str) -> None:
        super().__init__()
        self.folder = folder
        self.service = service

    def append(self, request: ReceivedRequest) -> None:
        """Keep the request and, if it is a push, its file."""
        super().append(request)
        if request.path.startswith("/3/device/") or request.path.endswith("/messages:send"):
            try:
                body: Any = request.json()
            except ValueError:
                body = request.body.decode("utf-8", "replace")
            record = {"service": self.service, "method": request.method, "path": request.path,
                      "headers": request.headers, "body": body,
                      "received_at": utc_now().isoformat()}
            write_new(self.folder, f"-{self.service}.json",
                      json.dumps(record, ensure_ascii=False, indent=2).encode())


class Catcher:
    """Reads the folder: what is listed on the page and shown in detail."""

    def __init__(self, folder: Path) -> None:
        self.mail_dir = folder / "mail"
        self.push_dir = folder / "push"

    def items(self) -> list[CaughtItem]:
        """Every kept email and push, newest first."""
        found = [self._mail_item(p) for p in self._files(self.mail_dir, ".eml")]
        found += [self._push_item(p) for p in self._files(self.push_dir, ".json")]
        return sorted(found, key=lambda item: (item.received_at, item.name), reverse=True)

    def mail(self, name: str) -> EmailMessage | None:
        """The parsed email ``name`` (only a file name this catcher wrote), or None."""
        path = self._path(self.mail_dir, name, ".eml")
        if path is None:
            return None
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def raw_mail(self, name: str) -> bytes | None:
        """The exact bytes of ``name``, or None."""
        path = self._path(self.mail_dir, name, ".eml")
        return path.read_bytes() if path else None

    def push(self, name: str) -> dict[str, Any] | None:
        """The recorded push ``name`` (service, path, headers, body), or None."""
        path = self._path(self.push_dir, name, ".json")
        if path is None:
            return None
        record: dict[str, Any] = json.loads(path.read_text("utf-8"))
        return record

    @staticmethod
    def _files(folder: Path, suffix: str) -> Iterable[Path]:
        if not folder.is_dir():
            return []
        return [p for p in folder.iterdir() if p.suffix == suffix and _NAME.match(p.name)]

    @staticmethod
    def _path(folder: Path, name: str, suffix: str) -> Path | None:
        if not _NAME.match(name) or not name.endswith(suffix):
            return None  # only our own file names: no path tricks from the URL
        path = folder / name
        return path if path.is_file() else None

    def _mail_item(self, path: Path) -> CaughtItem:
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        return CaughtItem(path.name, "mail", _mtime(path), str(parsed.get("To", "")),
                          str(parsed.get("Subject", "")))

    def _push_item(self, path: Path) -> CaughtItem:
        record = json.loads(path.read_text("utf-8"))
        body = record.get("body") if isinstance(record.get("body"), dict) else {}
        if record.get("service") == "apns":
            alert = body.get("aps", {}).get("alert", {})
            title = alert.get("title", "") if isinstance(alert, dict) else str(alert)
            to = record.get("path", "").rpartition("/")[2][:16] + "…"
        else:
            message = body.get("message", {})
            title = message.get("notification", {}).get("title", "") or message.get(
                "data", {}).get("title", "")
            to = str(message.get("token", ""))[:16] + "…"
        return CaughtItem(path.name, str(record.get("service", "push")), _mtime(path), to, title)


def links_in(text: str) -> list[str]:
    """The links in an email's text part, in order, without duplicates."""
    return list(dict.fromkeys(link.rstrip(".,)") for link in _LINK.findall(text)))


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)
