"""Sample events as JSON, for the demo and QA previews; errors name the bad field."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import InvalidInputError
from .events import AccountUser, Device, Guest, Preferences, Recipient, Ticket, TicketUpdate


def default_examples_dir() -> Path:
    """Shipped examples: inside the wheel, else the repository's ``examples/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "example_data", here.parents[1] / "examples"):
        if candidate.is_dir():
            return candidate
    return here.parents[1] / "examples"


def load_examples(path: str | Path | None = None) -> list[TicketUpdate]:
    """Read one JSON file, or every ``*.json`` in a folder, into validated updates."""
    target = Path(path) if path is not None else default_examples_dir()
    files = sorted(target.glob("*.json")) if target.is_dir() else [target]
    if not files:
        raise InvalidInputError("examples", f"no *.json files in {target}")
    updates: list[TicketUpdate] = []
    for file in files:
        try:
            data = json.loads(file.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInputError(str(file), f"cannot read examples: {exc}") from exc
        updates.extend(parse_examples(data, source=file.name))
    return updates


def parse_examples(data: Any, *, source: str = "examples") -> list[TicketUpdate]:
    """Turn ``{"recipients": {...}, "events": [...]}`` into updates."""
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise InvalidInputError(source, 'expected {"recipients": {...}, "events": [...]}')
    recipients = {name: _recipient(f"{source}: recipients.{name}", spec)
                  for name, spec in dict(data.get("recipients", {})).items()}
    updates = []
    for i, event in enumerate(data["events"]):
        where = f"{source}: events[{i}]"
        try:
            ref = event["recipient"]
            recipient = recipients[ref] if isinstance(ref, str) else _recipient(where, ref)
            updates.append(TicketUpdate(
                event_id=event["event_id"],
                ticket=Ticket(**event["ticket"]),
                kind=event["kind"],
                recipient=recipient,
                occurred_at=datetime.fromisoformat(event["occurred_at"]),
                excerpt=event.get("excerpt"),
                status=event.get("status"),
                new_replies=event.get("new_replies", 1),
                merged_into=event.get("merged_into"),
                brand=event.get("brand"),
                excerpt_format=event.get("excerpt_format", "text"),
                author_name=event.get("author_name"),
                attachments=event.get("attachments", 0),
            ))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}.{exc.field}", exc.problem) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(where, f"malformed event: {exc!r}") from exc
    return updates


def _recipient(where: str, spec: Any) -> Recipient:
    try:
        kind = spec.get("type")
        common = {k: spec[k] for k in ("email", "locale", "time_zone", "name") if k in spec}
        if kind == "guest":
            return Guest(**common, cc=tuple(spec.get("cc", ())))
        if kind == "account":
            return AccountUser(
                user_id=spec["user_id"], **common,
                devices=tuple(Device(**d) for d in spec.get("devices", [])),
                preferences=Preferences(**spec.get("preferences", {})),
            )
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}.{exc.field}", exc.problem) from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidInputError(where, f"malformed recipient: {exc!r}") from exc
    raise InvalidInputError(f"{where}.type", f"{kind!r} is not 'account' or 'guest'")
