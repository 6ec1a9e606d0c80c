"""Development channel: writes each message to a folder (.eml for email, .json for push)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import ClassVar

from ..messages import EmailMessage, Message, PushMessage, Receipt
from .base import Channel


class FilesChannel(Channel):
    """Lets a developer open what would have been sent, with no server at all."""

    name: ClassVar[str] = "files"
    carries: ClassVar[str] = "any"

    def __init__(self, folder: str | Path, *, sender: str = "support@example.com",
                 sender_name: str = "Support") -> None:
        self.folder = Path(folder)
        self.sender = sender
        self.sender_name = sender_name

    async def send(self, message: Message) -> Receipt:
        path = await asyncio.to_thread(self._write, message)
        return Receipt(channel=self.name, delivery_id=message.delivery_id, provider_id=str(path))

    def _write(self, message: Message) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        if isinstance(message, PushMessage):
            path = self.folder / f"{message.delivery_id}.{message.platform}.json"
            path.write_text(json.dumps(message.to_dict(), ensure_ascii=False, indent=2), "utf-8")
            return path
        assert isinstance(message, EmailMessage)
        from .mime.builder import build_mime

        domain = self.sender.rpartition("@")[2]
        mime = build_mime(message, sender=self.sender, sender_name=self.sender_name, domain=domain)
        path = self.folder / f"{message.delivery_id}.eml"
        path.write_bytes(bytes(mime))
        return path
