"""``ticketnotify`` command line: each subcommand lives in the module that owns its subject."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .errors import TicketNotifyError

# Each module exposes ``register(subparsers)``; imported only when the CLI runs.
COMMANDS: tuple[str, ...] = (
    "ticketnotify.demo",
    "ticketnotify.preview",
    "ticketnotify.catalogs",
    "ticketnotify.worker.cli",
    "ticketnotify.outbox.cli",
    "ticketnotify.guest.cli",
    "ticketnotify.dev.server",
)


def build_parser() -> argparse.ArgumentParser:
    """One parser with every subcommand registered by its owning module."""
    parser = argparse.ArgumentParser(
        prog="ticketnotify",
        description="Localized ticket-update notifications: demo, previews, catalogs, worker.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMANDS:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand; library errors become one clear line and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except TicketNotifyError as exc:
        print(f"ticketnotify: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    raise SystemExit(main())
