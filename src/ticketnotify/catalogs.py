"""``ticketnotify catalog check``: what a translator must fix before a catalog ships.

One line per problem, ``file:line: problem``, and a non-zero exit when there is any:
untranslated or fuzzy entries, placeholders (``%(ticket)s``, ``{ticket}``) or markup that
differ between msgid and msgstr, catalogs that are stale against the templates, and a
``Plural-Forms`` header that does not compile or disagrees with the language's plural rules.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir

from .catalog_entries import Problem, check_entry, markup, placeholders
from .catalog_entries import entry_ids as _ids
from .catalog_entries import entry_strings as _strings
from .errors import CatalogError, ConfigurationError
from .i18n import (
    DOMAIN,
    LANGUAGE_FALLBACK,
    catalog_chain,
    default_locales_dir,
    expected_nplurals,
    expected_plural_forms,
    parse_locale,
    po_path,
    read_catalog,
    translations_from_po,
)

__all__ = ["Problem", "check_catalogs", "check_entry", "check_host_catalogs", "markup",
           "placeholders", "run_check"]

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_LANGUAGE = "en"  # msgids are English
_JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true", "silent": "false"}
# Mirrors babel.cfg at the repository root, so a wheel can check without the repo.
METHOD_MAP = [
    ("templates/**.html", "jinja2"),
    ("templates/**.txt", "jinja2"),
    ("**.py", "python"),
]
OPTIONS_MAP: dict[str, dict[str, Any]] = {
    "templates/**.html": _JINJA_OPTIONS,
    "templates/**.txt": _JINJA_OPTIONS,
}

def extract_template_messages(package_dir: Path = PACKAGE_DIR) -> Catalog:
    """What the templates and Python sources ask to translate right now."""
    catalog = Catalog(domain=DOMAIN)
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        str(package_dir), METHOD_MAP, OPTIONS_MAP
    ):
        catalog.add(message, None, [], context=context)
    return catalog


def _key(message: Message) -> tuple[str, str | None]:
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    return msgid, message.context


def check_stale(
    path: str, catalog: Catalog, current: Catalog, *, template: bool
) -> Iterator[Problem]:
    """Entries the templates need but the catalog lacks, and entries nobody uses any more."""
    have = {_key(m): m for m in catalog if m.id}
    need = {_key(m): m for m in current if m.id}
    fix = "re-extract messages.pot" if template else "run `pybabel update` (docs/translating.md)"
    for key in sorted(set(need) - set(have), key=lambda k: (k[0], k[1] or "")):
        yield Problem(
            path, 0, f"stale: msgid {key[0]!r} is used by the templates but missing; {fix}"
        )
    for key in sorted(set(have) - set(need), key=lambda k: (k[0], k[1] or "")):
        yield Problem(path, have[key].lineno or 0,
                      f"stale: msgid {key[0]!r} is no longer used by the templates; {fix}")
    for key in sorted(set(have) & set(need), key=lambda k: (k[0], k[1] or "")):
        if _ids(have[key]) != _ids(need[key]):
            yield Problem(path, have[key].lineno or 0,
                          f"stale: plural of msgid {key[0]!r} changed in the templates; {fix}")


def check_catalogs(locales_dir: Path, package_dir: Path = PACKAGE_DIR) -> list[Problem]:
    """Every problem in ``messages.pot`` and each ``<locale>/LC_MESSAGES/ticketnotify.po``."""
    problems: list[Problem] = []
    current = extract_template_messages(package_dir)
    pot = locales_dir / "messages.pot"
    if pot.is_file():
        problems.extend(_guarded(pot, lambda c: check_stale(str(pot), c, current, template=True)))
    else:
        problems.append(
            Problem(str(pot), 0, "missing: extract it with `pybabel extract -F babel.cfg`")
        )
    po_files = sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    if not po_files:
        problems.append(Problem(str(locales_dir), 0, f"no <locale>/LC_MESSAGES/{DOMAIN}.po found"))
    for po in po_files:
        def entry_and_stale(catalog: Catalog, po: Path = po) -> Iterator[Problem]:
            for message in catalog:
                if message.id:
                    yield from check_entry(str(po), message)
            yield from check_stale(str(po), catalog, current, template=False)
            yield from check_plural_forms(po, catalog)
        problems.extend(_guarded(po, entry_and_stale))
    return problems


def check_plural_forms(po: Path, catalog: Catalog) -> Iterator[Problem]:
    """Compile the catalog as the renderer will, and compare nplurals with Babel's rules."""
    locale = po.parent.parent.name  # the folder name is what the renderer negotiates to
    line = _header_line(po, "Plural-Forms:")
    try:
        translations_from_po(po, locale, quiet=True)
    except CatalogError as exc:
        yield Problem(str(po), line, f"plural forms: {exc}")
        return
    expected = expected_nplurals(locale)
    if expected is not None and catalog.num_plurals != expected:
        yield Problem(
            str(po), line,
            f"plural forms: the header says nplurals={catalog.num_plurals} but {locale!r} has "
            f"{expected} plural forms; use \"Plural-Forms: {expected_plural_forms(locale)}\\n\"",
        )


def _header_line(po: Path, field: str) -> int:
    """Line of a header field, so an editor can jump there (0 when absent)."""
    try:
        with po.open(encoding="utf-8", errors="replace") as fh:
            for number, text in enumerate(fh, start=1):
                if text.lstrip().startswith(f'"{field}'):
                    return number
    except OSError:
        return 0
    return 0


def _guarded(path: Path, check: Any) -> Iterable[Problem]:
    try:
        return list(check(read_catalog(path)))
    except CatalogError as exc:
        return [Problem(str(path), exc.line or 0, f"unreadable: {exc}")]


def extract_host_templates(templates_dirs: Sequence[Path]) -> tuple[Catalog, list[Problem]]:
    """Strings the host's templates ask to translate.

    Args:
        templates_dirs: the host's template folders (``*.html`` and ``*.txt`` below them).

    Returns:
        A Babel ``Catalog`` whose messages carry ``locations`` (template file, line), and one
        ``Problem`` per folder holding a template that does not parse.
    """
    catalog = Catalog(domain=DOMAIN)
    problems: list[Problem] = []
    method_map = [("**.html", "jinja2"), ("**.txt", "jinja2")]
    options = {"**.html": _JINJA_OPTIONS, "**.txt": _JINJA_OPTIONS}
    for folder in templates_dirs:
        try:
            for filename, lineno, message, _comments, context in extract_from_dir(
                str(folder), method_map, options
            ):
                catalog.add(message, None, [(str(folder / filename), lineno)], context=context)
        except Exception as exc:  # a TemplateSyntaxError names its own line
            line = getattr(exc, "lineno", 0) or 0
            where = getattr(exc, "filename", None) or str(folder)
            problems.append(Problem(str(where), int(line), f"template does not parse: {exc}"))
    return catalog, problems


def _translated(message: Message) -> bool:
    strings = _strings(message)
    return bool(strings) and all(strings) and not message.fuzzy


def check_host_catalogs(
    host_dirs: Sequence[Path], templates_dirs: Sequence[Path] = (), shipped: Path | None = None
) -> list[Problem]:
    """Check a host's catalog folders as the renderer merges them over the shipped catalogs.

    What must be translated: every msgid of the shipped ``messages.pot``, every string of the
    host's templates, and every msgid a host catalog (or host ``messages.pot``) adds. Each
    locale (host or shipped) must translate all of them somewhere in its chain (host entry,
    else shipped entry); English locales are the source language and may leave host strings
    out. Host entries are checked for fuzzy flags, placeholders, markup and plural rules; a
    host entry left untranslated is fine when the shipped catalog translates it. With
    ``templates_dirs``, a host entry no template uses is reported as stale.

    Args:
        host_dirs: the host's ``locales`` folders, earlier ones winning.
        templates_dirs: the host's template folders (``--templates``).
        shipped: the shipped catalog folder (default: the one the renderer uses).

    Returns:
        The problems found, one per line of ``catalog check`` output; empty means it passes.
    """
    shipped = shipped or default_locales_dir()
    problems: list[Problem] = []
    parsed: dict[Path, Catalog | None] = {}

    def load(path: Path) -> Catalog | None:
        if path not in parsed:
            try:
                parsed[path] = read_catalog(path)
            except CatalogError as exc:
                problems.append(Problem(str(path), exc.line or 0, f"unreadable: {exc}"))
                parsed[path] = None
        return parsed[path]

    needed: dict[tuple[str, str | None], tuple[tuple[str, ...], str, int]] = {}
    host_templates, template_problems = extract_host_templates(templates_dirs)
    problems.extend(template_problems)
    for pot in (shipped / "messages.pot", *(d / "messages.pot" for d in host_dirs)):
        catalog = load(pot) if pot.is_file() else None
        for m in catalog or ():
            if m.id:
                needed.setdefault(_key(m), (_ids(m), str(pot), m.lineno or 0))
    for m in host_templates:
        if m.id:
            path, line = m.locations[0] if m.locations else ("", 0)
            needed.setdefault(_key(m), (_ids(m), str(path), int(line or 0)))
    host_pos = [po for d in host_dirs for po in sorted(d.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))]
    for po in host_pos:
        catalog = load(po)
        if catalog is None:
            continue
        for m in catalog:
            if not m.id:
                continue
            if not templates_dirs:  # without the templates, an added msgid counts as used
                needed.setdefault(_key(m), (_ids(m), str(po), m.lineno or 0))
            want = needed.get(_key(m))
            shown = repr(_key(m)[0])
            if want is None:
                problems.append(Problem(str(po), m.lineno or 0,
                    f"stale: msgid {shown} is used by no shipped or host template; "
                    "fix its spelling or remove it"))
            elif want[0] != _ids(m):
                problems.append(Problem(str(po), m.lineno or 0,
                    f"stale: plural of msgid {shown} differs from {want[1]}"))
            elif m.fuzzy or _translated(m):
                problems.extend(check_entry(str(po), m))
        problems.extend(check_plural_forms(po, catalog))
    all_dirs = (*host_dirs, shipped)
    locales = {po.parent.parent.name for d in all_dirs
               for po in d.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    for locale in sorted(locales):
        if locale.split("_")[0] == SOURCE_LANGUAGE:
            continue  # a missing English entry shows its msgid, which is English
        chain = [c for p in catalog_chain(all_dirs, locale) if (c := load(p)) is not None]
        done = {_key(m) for c in chain for m in c if m.id and _translated(m)}
        own = next((po for po in catalog_chain(host_dirs, locale)), None)
        own_catalog = load(own) if own is not None else None
        target = own or po_path(host_dirs[0], locale) if host_dirs else None
        for key in sorted(set(needed) - done, key=lambda k: (k[0], k[1] or "")):
            _ids_, origin, origin_line = needed[key]
            entry = own_catalog.get(*key) if own_catalog is not None else None
            where = (str(own), entry.lineno or 0) if entry is not None and own else (
                origin, origin_line)
            fix = f"translate it in {target}" if target else "add a host catalog for it"
            problems.append(Problem(where[0], where[1],
                f"untranslated: msgid {key[0]!r} has no {locale!r} translation in any "
                f"catalog (readers see English); {fix}"))
    return sorted(set(problems))


def _locale_of(problem: Problem) -> str:
    """The locale folder a problem's file sits in (``messages.pot`` and templates: ``-``)."""
    parts = Path(problem.path).parts
    if len(parts) >= 3 and parts[-2] == "LC_MESSAGES":
        return parts[-3]
    missing = _MISSING_IN.search(problem.message)  # reported at the template's line
    return missing.group(1) if missing else "-"


_MISSING_IN = re.compile(r"has no '([\w]+)' translation")


def summarize(problems: Sequence[Problem]) -> dict[str, int]:
    """Problems per locale (``"-"`` for the template and host templates), sorted by locale."""
    counts: dict[str, int] = {}
    for problem in problems:
        counts[_locale_of(problem)] = counts.get(_locale_of(problem), 0) + 1
    return dict(sorted(counts.items()))


def catalog_locale(asked: str, folders: Sequence[Path]) -> str:
    """The catalog ``asked`` is read from at run time (``sv_SE`` → ``sv``, ``nn`` → ``nb``).

    Raises:
        ConfigurationError: no folder has a catalog for ``asked`` (its region, its language
            or the language it falls back to); the message lists the available locales.
    """
    available = sorted({po.parent.parent.name for d in folders
                        for po in d.glob(f"*/LC_MESSAGES/{DOMAIN}.po")})
    try:
        parsed = parse_locale(asked)
    except ValueError:
        parsed = None
    if parsed is not None:
        language = parsed.language
        for candidate in (str(parsed), language, LANGUAGE_FALLBACK.get(language, language)):
            if candidate in available:
                return candidate
    raise ConfigurationError(
        f"--locale {asked!r}: no catalog for it; available locales: {', '.join(available)}")


def run_check(args: argparse.Namespace) -> int:
    """CLI entry: print problems and a per-locale summary, exit 1 when there is any.

    ``--locale`` negotiates like run time (``sv_SE`` checks ``sv``); a locale with no
    catalog raises ``ConfigurationError`` (the CLI exits 2 listing the available ones).
    """
    host = [Path(d) for d in args.locales or ()]
    templates = [Path(d) for d in args.templates or ()]
    for folder in (*host, *templates):
        if not folder.is_dir():
            raise ConfigurationError(f"{folder} does not exist or is not a directory")
    if host or templates:
        problems = check_host_catalogs(host, templates)
        where = ", ".join(str(d) for d in (*host, *templates))
    else:
        problems = check_catalogs(default_locales_dir())
        where = str(default_locales_dir())
    if args.locale:
        wanted = {catalog_locale(name, [*host, default_locales_dir()]) for name in args.locale}
        problems = [p for p in problems if _locale_of(p) in wanted]
    summary = summarize(problems)
    if args.format == "json":
        print(json.dumps({
            "ok": not problems, "checked": where, "summary": summary,
            "problems": [{"path": p.path, "line": p.line, "locale": _locale_of(p),
                          "message": p.message} for p in problems],
        }, ensure_ascii=False, indent=2))
        return 1 if problems else 0
    for problem in problems:
        print(problem)
    for locale, count in summary.items():
        print(f"catalog check: {locale}: {count} problem(s)", file=sys.stderr)
    if problems:
        print(f"catalog check: {len(problems)} problem(s) in {where}", file=sys.stderr)
        return 1
    print(f"catalog check: ok ({where})", file=sys.stderr)
    return 0


def add_host_folders(parser: argparse.ArgumentParser, *, templates_help: str) -> None:
    """``--locales DIR`` and ``--templates DIR``: the host's own catalogs and templates.

    Both repeatable, read as ``RenderConfig.locales_dirs`` and ``templates_dirs``
    (``catalog check`` and ``preview``); ``templates_help`` says what the command does
    with the templates.
    """
    parser.add_argument("--locales", metavar="DIR", action="append",
                        help="your own catalog folder, merged over the shipped catalogs "
                             "(repeatable; earlier wins; default: the shipped catalogs alone)")
    parser.add_argument("--templates", metavar="DIR", action="append", help=templates_help)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``catalog check`` to the ``ticketnotify`` command line."""
    catalog = subparsers.add_parser("catalog", help="check the translation catalogs")
    actions = catalog.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="fail on untranslated/fuzzy entries, placeholder or markup mismatches, stale catalogs",
    )
    add_host_folders(check, templates_help="your own template folder: its strings must be "
                                           "translated in every locale")
    check.add_argument(
        "--locale", metavar="LOCALE", action="append",
        help="report only the catalog this locale reads at run time, e.g. de, pt_BR or "
        "sv_SE (checks sv); no catalog for it: exit 2 (repeatable)",
    )
    check.add_argument(
        "--format", choices=("text", "json"), default="text",
        help="json: one object with ok, summary (problems per locale) and problems, for CI",
    )
    check.set_defaults(func=run_check)
