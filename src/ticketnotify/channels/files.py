"""Development channel: writes each message to a folder (.eml for email, .json for push)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import ClassVar

from typing_extensions import override

from ..errors import (
    InvalidAddressError,
    InvalidInputError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ..messages import Message, PushMessage, Receipt
from .base import Channel


class FilesChannel(Channel[Message]):
    """Lets a developer open what would have been sent, with no server at all.

    Args:
        folder: Where ``<delivery_id>.eml`` and ``<delivery_id>.<platform>.json`` files go;
            created on first send.
        sender: The From address written into emails.
        sender_name: The From display name.
    """

    name: ClassVar[str] = "files"

    def __init__(self, folder: str | Path, *, sender: str = "support@example.com",
                 sender_name: str = "Support") -> None:
        self.folder = Path(folder)
        self.sender = sender
        self.sender_name = sender_name

    @override
    async def deliver(self, message: Message) -> Receipt:
        try:
            path = await asyncio.to_thread(self._write, message)
        except InvalidInputError as exc:  # the MIME builder refused a field
            if exc.field == "to_address":
                raise InvalidAddressError(f"cannot mail {exc}", code="bad-address") from exc
            raise PermanentDeliveryError(f"cannot build the email: {exc}",
                                         code="bad-message") from exc
        except OSError as exc:  # a full disk or a folder gone read-only may pass
            raise TransientDeliveryError(f"cannot write to {self.folder} ({exc}); will retry",
                                         code="write") from exc
        return Receipt(channel=self.name, delivery_id=message.delivery_id, provider_id=str(path))

    def _write(self, message: Message) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        if isinstance(message, PushMessage):
            path = self.folder / f"{message.delivery_id}.{message.platform}.json"
            path.write_text(json.dumps(message.to_dict(), ensure_ascii=False, indent=2), "utf-8")
            return path
        from .mime.builder import build_mime

        domain = self.sender.rpartition("@")[2]
        mime = build_mime(message, sender=self.sender, sender_name=self.sender_name, domain=domain)
        path = self.folder / f"{message.delivery_id}.eml"
        path.write_bytes(bytes(mime))
        return path
