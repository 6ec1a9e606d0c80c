"""What is wrong with one catalog entry: shared by ``catalog check`` and the renderer.

``catalog check`` reports every problem; the renderer leaves a broken entry out at run time
(the reader gets that one string in the fallback language) so one typo never stops a
notification.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from babel.messages.catalog import Message

_PERCENT = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([sdifr%])")
_BRACES = re.compile(r"(?<!\{)\{(\w*)(?:[!:][^{}]*)?\}(?!\})")
_TAG = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9]*)([^>]*)>")


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with one catalog entry, printed as ``file:line: message``."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


def placeholders(text: str) -> Counter[str]:
    """``%(name)s``, ``%s`` and ``{name}`` placeholders, counted."""
    found: Counter[str] = Counter()
    for name, conv in _PERCENT.findall(text):
        if conv != "%":
            found[f"%({name}){conv}" if name else f"%{conv}"] += 1
    for name in _BRACES.findall(text):
        found["{" + name + "}"] += 1
    return found


def markup(text: str) -> Counter[str]:
    """Tags with their attributes, counted; a translator may move them, not change them."""
    found: Counter[str] = Counter()
    for slash, name, attrs in _TAG.findall(text):
        attributes = " ".join(attrs.split())
        found[f"<{slash}{name.lower()}{' ' + attributes if attributes else ''}>"] += 1
    return found



def entry_ids(message: Message) -> tuple[str, ...]:
    return (message.id,) if isinstance(message.id, str) else tuple(message.id)


def entry_strings(message: Message) -> tuple[str, ...]:
    if isinstance(message.string, str):
        return (message.string,)
    return tuple(s or "" for s in (message.string or ()))


def check_entry(path: str, message: Message) -> Iterator[Problem]:
    """Untranslated, fuzzy, placeholder and markup problems of one entry."""
    ids = entry_ids(message)
    strings = entry_strings(message)
    shown = repr(ids[0] if len(ids[0]) <= 60 else ids[0][:57] + "...")
    line = message.lineno or 0
    if not strings or any(not s for s in strings):
        yield Problem(path, line, f"untranslated: msgid {shown} has no msgstr")
        return
    if message.fuzzy:
        yield Problem(
            path, line, f"fuzzy: msgid {shown} is marked fuzzy; review it and remove the flag"
        )
    for index, text in enumerate(strings):
        source = ids[0] if index == 0 or len(ids) == 1 else ids[1]
        want, got = placeholders(source), placeholders(text)
        plural_form = len(ids) > 1
        # A singular form may leave out the count ("Nytt svar" for "%(count)s new replies").
        allowed = placeholders(ids[0]) | placeholders(ids[-1])
        bad = (not plural_form and want != got) or (plural_form and not set(got) <= set(allowed))
        if bad:
            yield Problem(
                path, line,
                f"placeholders differ in msgid {shown}: msgid has {_list(want)}, "
                f"msgstr{f'[{index}]' if plural_form else ''} has {_list(got)}",
            )
        if not bad and (problem := format_problem_text(text, ids)) is not None:
            yield Problem(path, line, f"format: msgid {shown}: {problem}")
        if markup(source) != markup(text):
            yield Problem(
                path, line,
                f"markup differs in msgid {shown}: msgid has {_list(markup(source))}, "
                f"msgstr{f'[{index}]' if plural_form else ''} has {_list(markup(text))}",
            )


def _list(items: Counter[str]) -> str:
    return ", ".join(sorted(items.elements())) or "none"




_NAMED = re.compile(r"%%|%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]")


def format_problem_text(text: str, ids: tuple[str, ...]) -> str | None:
    """Why ``text`` cannot be ``%``-filled as the templates do: a lone ``%`` (``100 %``
    even formats silently as ``%a``), or a name its msgid lacks."""
    if "%" in _NAMED.sub("", text):
        return "a lone % in the msgstr; write a literal % as %%"
    names = set(re.findall(r"%\((\w+)\)", " ".join(ids))) | {"num"}
    try:
        text % {name: 1 for name in names}  # 1 fills %s and %d alike
    except (KeyError, ValueError, TypeError) as exc:
        return f"msgstr cannot be filled ({exc}); write a literal % as %%"
    return None


def source_strings(message: Message) -> tuple[str, ...]:
    """The msgid each msgstr form translates (singular for form 0, else the plural)."""
    ids = entry_ids(message)
    return tuple(ids[0] if i == 0 or len(ids) == 1 else ids[1]
                 for i in range(len(entry_strings(message))))


def runtime_problem(message: Message) -> str | None:
    """Why the renderer must not use this entry (``None``: it is safe to use).

    Untranslated forms (an empty ``msgstr[n]``), placeholder or markup differences, and a
    ``%`` the template's formatting cannot apply all make an entry unusable.
    """
    strings = entry_strings(message)
    if len(strings) > 1 and not all(strings):
        # Babel compiles an empty msgstr[n] as the English msgid, picked by *this* catalog's
        # plural rule ("1 new replies" in ar): leave it out so English rules apply.
        return "untranslated plural form"
    if not strings or not all(strings):
        return None  # an empty singular is never compiled: gettext falls back by itself
    for problem in check_entry("", message):
        if not problem.message.startswith(("fuzzy", "untranslated")):
            return problem.message
    return None
