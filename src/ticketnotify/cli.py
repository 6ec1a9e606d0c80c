"""``ticketnotify`` command line: each subcommand lives in the module that owns its subject."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from .errors import TicketNotifyError

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

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
    except BrokenPipeError:
        return _closed_pipe()
    try:
        sys.stdout.flush()  # the reader may be gone (``| head``): fail here, not at exit
    except BrokenPipeError:
        return _closed_pipe()
    return result


def standalone_main(
    register: Register,
    argv: Sequence[str] | None,
    errors: tuple[type[TicketNotifyError], ...] = (TicketNotifyError,),
) -> int:
    """Run one module's commands without the others (``python -m ticketnotify.<module>``).

    Args:
        register: the module's ``register(subparsers)``.
        argv: the arguments (None: ``sys.argv[1:]``).
        errors: the library errors that become one ``ticketnotify: error:`` line.

    Returns:
        The command's exit status, or 2 after one of ``errors``.
    """
    parser = argparse.ArgumentParser(prog="ticketnotify")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except errors as exc:
        print(f"ticketnotify: error: {exc}", file=sys.stderr)
        return 2
    return result


def _closed_pipe() -> int:
    """The reader of stdout went away (``| head -3``): stop quietly, as Unix tools do.

    stdout is pointed at devnull so the interpreter's final flush raises nothing
    (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it


if __name__ == "__main__":
    raise SystemExit(main())
