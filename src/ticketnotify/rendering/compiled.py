"""Pre-inlined message skeletons: Jinja2 and premailer run once per template × locale × variant.

A template is rendered with *slot markers* in place of every per-message value, the HTML goes
through premailer once, and the result is turned into a ``str.format`` skeleton. Sending one
message is then a ``format_map`` of escaped values into that skeleton: no template engine and
no CSS inliner on the hot path. The *variant* is everything that can change the template's
shape: each boolean and ``None``, whether each string is empty, and the catalog's plural form
for each integer. Templates must therefore only print values or test them for truth; they must
not filter, slice or compare them (the slot marker would be filtered instead of the value).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import escape
from premailer import Premailer

from ..errors import InvalidInputError

_SLOT = re.compile(r"\[\[tn:([a-z][a-z0-9_]*)\]\]")
_SPACES = re.compile(r"\s+")

SlotValue = str | int | bool | None


class SlotInt(int):
    """An int that prints as its slot marker: plural rules see a real count, output a slot."""

    slot: str

    def __new__(cls, value: int, slot: str) -> SlotInt:
        obj = super().__new__(cls, value)
        obj.slot = slot
        return obj

    def __str__(self) -> str:
        return f"[[tn:{self.slot}]]"

    __repr__ = __str__


def slot_marker(name: str) -> str:
    """The text a string value is replaced with while compiling."""
    return f"[[tn:{name}]]"


def variant_of(values: Mapping[str, SlotValue], plural: Callable[[int], int]) -> tuple[object, ...]:
    """Everything about ``values`` that can change a template's output apart from the values."""
    key: list[object] = []
    for name in sorted(values):
        value = values[name]
        if value is None or isinstance(value, bool):
            key.append(value)
        elif isinstance(value, int):
            key.append(("n", plural(value)))
        elif isinstance(value, str):
            key.append(bool(value))
        else:
            raise InvalidInputError(
                name, f"template values must be str, int, bool or None, got {type(value).__name__}"
            )
    return tuple(key)


def marker_context(values: Mapping[str, SlotValue]) -> dict[str, Any]:
    """The context a template is compiled with: markers for strings and counts."""
    ctx: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or isinstance(value, bool):
            ctx[name] = value
        elif isinstance(value, int):
            ctx[name] = SlotInt(value, name)  # any count of the same plural form
        else:
            ctx[name] = slot_marker(name) if value else ""
    return ctx


@dataclass(frozen=True, slots=True)
class Skeleton:
    """One compiled part (subject, preheader, html, text, push title or body)."""

    fmt: str
    slots: frozenset[str]
    escape_html: bool

    @classmethod
    def build(cls, rendered: str, *, escape_html: bool, one_line: bool = False) -> Skeleton:
        """Turn rendered-with-markers text into a ``format_map`` skeleton."""
        if one_line:
            rendered = _SPACES.sub(" ", rendered).strip()
        pieces = _SLOT.split(rendered)
        out: list[str] = []
        slots: set[str] = set()
        for i, piece in enumerate(pieces):
            if i % 2:
                slots.add(piece)
                out.append("{" + piece + "}")
            else:
                out.append(piece.replace("{", "{{").replace("}", "}}"))
        return cls("".join(out), frozenset(slots), escape_html)

    def fill(self, values: Mapping[str, str]) -> str:
        """Substitute the per-message values (already formatted, escaped here for HTML)."""
        if self.escape_html:
            return self.fmt.format_map({k: escape(values[k]) for k in self.slots})
        return self.fmt.format_map(values)


def inline_css(html: str) -> str:
    """Premailer with settings that keep media queries (and their ``!important``) working."""
    return str(
        Premailer(
            html,
            disable_validation=True,
            remove_classes=False,
            strip_important=False,
            cssutils_logging_level=logging.CRITICAL,
            allow_network=False,
        ).transform(pretty_print=False)
    )
