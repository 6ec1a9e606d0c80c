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
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from premailer import Premailer

from ..errors import InvalidInputError

_SLOT = re.compile(r"\[\[tn:([a-z][a-z0-9_]*(?:\.bidi)?)\]\]")
# A slot whose value is wrapped in U+2068/U+2069 when its direction may differ from the text.
BIDI_SUFFIX = ".bidi"
_SPACES = re.compile(r"\s+")

SlotValue = str | int | bool | None
V = TypeVar("V")


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


def bidi_marker(value: object) -> str | None:
    """The ``.bidi`` form of a slot marker (``None`` if ``value`` is not one)."""
    match = _SLOT.fullmatch(str(value))
    if match is None or match.group(1).endswith(BIDI_SUFFIX):
        return None
    return f"[[tn:{match.group(1)}{BIDI_SUFFIX}]]"


def variant_of(
    values: Mapping[str, SlotValue], plural: Callable[[int], object]
) -> tuple[object, ...]:
    """Everything about ``values`` that can change a template's output apart from the values."""
    key: list[object] = list(values)
    for name, value in values.items():
        kind = type(value)
        if kind is str:
            key.append(value != "")
        elif value is None or kind is bool:
            key.append(value)
        elif kind is int:
            key.append(("n", plural(value)))  # type: ignore[arg-type]
        else:
            raise InvalidInputError(
                name, f"template values must be str, int, bool or None, got {kind.__name__}"
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
    """One compiled part (subject, preheader, html, text, push title or body).

    ``parts`` holds the literal text with an empty string at every slot position, so filling
    is a list copy, a few assignments and one ``join``.
    """

    parts: tuple[str, ...]
    positions: tuple[tuple[int, str], ...]

    @property
    def slots(self) -> frozenset[str]:
        """Names of the values this part prints."""
        return frozenset(name for _, name in self.positions)

    @classmethod
    def build(cls, rendered: str, *, one_line: bool = False) -> Skeleton:
        """Split rendered-with-markers text into literal parts and slot positions."""
        if one_line:
            rendered = _SPACES.sub(" ", rendered).strip()
        pieces = _SLOT.split(rendered)
        positions = tuple((i, pieces[i]) for i in range(1, len(pieces), 2))
        for i, _ in positions:
            pieces[i] = ""
        return cls(tuple(pieces), positions)

    def fill(self, values: Mapping[str, str]) -> str:
        """Substitute per-message values (escape them first for HTML parts)."""
        out = list(self.parts)
        for i, name in self.positions:
            out[i] = values[name]
        return "".join(out)


class SkeletonCache(Generic[V]):
    """Compiled skeletons keyed on (rendering configuration, template, locale, variant).

    The configuration (``RenderConfig``: host catalog and template folders, default locale)
    is part of every key, so two configurations never share a compiled template even if a
    cache were handed from one renderer to another; the key says which copy it was built from.

    Args:
        config: the rendering configuration every entry was compiled under.
    """

    def __init__(self, config: Hashable) -> None:
        self.config = config
        self._entries: dict[tuple[Hashable, ...], V] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[Hashable, ...]) -> V | None:
        """The compiled entry for ``key`` under this configuration, if any."""
        return self._entries.get((self.config, *key))

    def put(self, key: tuple[Hashable, ...], value: V) -> V:
        """Store ``value`` (first writer wins, so every caller sees one skeleton) and return it."""
        with self._lock:
            return self._entries.setdefault((self.config, *key), value)

    def __iter__(self) -> Iterator[tuple[Hashable, ...]]:
        """Every stored key, configuration first (for tests and diagnostics)."""
        return iter(list(self._entries))


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
