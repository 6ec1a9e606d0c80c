"""``ticketnotify guest``: the key, link and check actions, run through the real parser."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import pytest

from ticketnotify.errors import ConfigurationError
from ticketnotify.guest import GuestLinks
from ticketnotify.guest.cli import register

KEY = "cli-test-key-" + "x" * 32


def run(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketnotify")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def test_new_key_is_long_enough_to_sign_with(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["guest", "new-key"]) == 0
    key = capsys.readouterr().out.strip()
    assert len(key) >= 43
    GuestLinks([key])  # accepted as a signing key


def test_link_then_check(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETNOTIFY_GUEST_KEYS", f"{KEY}, older-key-{'y' * 32}")
    assert run(["guest", "link", "T-42", "anna@example.se",
                "--url-pattern", "https://help.example.se/g/{ticket_id}?token={token}"]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://help.example.se/g/T-42?token=")
    assert run(["guest", "check", url, "--email", "Anna@example.se", "--ticket-id", "T-42"]) == 0
    assert "valid: ticket T-42" in capsys.readouterr().out
    assert run(["guest", "check", url, "--email", "bob@example.se"]) == 1
    assert "AddressMismatchError" in capsys.readouterr().err
    monkeypatch.setenv("TICKETNOTIFY_GUEST_KEYS", f"new-key-{'z' * 32}")  # old key retired
    assert run(["guest", "check", url]) == 1
    assert "TamperedLinkError" in capsys.readouterr().err


def test_missing_keys_say_how_to_make_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKETNOTIFY_GUEST_KEYS", raising=False)
    with pytest.raises(ConfigurationError, match="guest new-key"):
        run(["guest", "link", "T-1", "a@example.se"])


def test_a_link_needs_a_url_pattern_not_a_placeholder(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETNOTIFY_GUEST_KEYS", KEY)
    monkeypatch.delenv("TICKETNOTIFY_GUEST_URL_PATTERN", raising=False)
    with pytest.raises(ConfigurationError, match="--url-pattern"):
        run(["guest", "link", "T-1", "a@example.se"])
    monkeypatch.setenv("TICKETNOTIFY_GUEST_URL_PATTERN", "https://help.example.se/g?t={token}")
    assert run(["guest", "link", "T-1", "a@example.se"]) == 0
    assert capsys.readouterr().out.startswith("https://help.example.se/g?t=")
