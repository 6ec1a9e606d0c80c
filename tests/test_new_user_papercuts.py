"""Paper cuts a new user met: a str code secret, the sender_name hint, `| head` on the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ticketnotify.channels.smtp.config import SMTPConfig
from ticketnotify.errors import ConfigurationError
from ticketnotify.guest import GuestLinks, MemoryCodeStore, VerificationCodes


async def _no_send(**_: object) -> None:
    return None


def test_code_secret_may_be_a_str_as_the_docs_show() -> None:
    links = GuestLinks(["k" * 32])
    text = "s" * 43  # what secrets.token_urlsafe(32) returns
    from_str = VerificationCodes(links, MemoryCodeStore(), _no_send, text)
    from_bytes = VerificationCodes(links, MemoryCodeStore(), _no_send, text.encode())
    assert from_str._secret == from_bytes._secret  # noqa: SLF001 - the key the hashes use


def test_short_str_secret_is_still_refused() -> None:
    with pytest.raises(ConfigurationError, match="secret"):
        VerificationCodes(GuestLinks(["k" * 32]), MemoryCodeStore(), _no_send, "short")


def test_multi_line_sender_name_says_a_display_name_is_one_line() -> None:
    with pytest.raises(ConfigurationError, match="sender_name.*one line") as info:
        SMTPConfig(host="localhost", sender="n@example.com", sender_name="X\r\nBcc: a@b.c")
    assert "plain address" not in str(info.value)


@pytest.mark.slow
def test_a_closed_pipe_ends_the_cli_quietly() -> None:
    code = ("import sys, ticketnotify.cli as c; sys.argv=['ticketnotify', 'catalog', 'check', "
            "'--format', 'json']; raise SystemExit(c.main())")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader (`| head -3`) went away before the output was written
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err
