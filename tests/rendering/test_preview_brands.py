"""The preview gallery shows each example as its brand: sender, links, footer, reply mode."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from ticketnotify.errors import InvalidInputError
from ticketnotify.examples import default_examples_dir, load_examples
from ticketnotify.preview import PreviewOptions, render_previews
from ticketnotify.rendering import Renderer


def test_brand_examples_render_as_their_brand(tmp_path: Path, renderer: Renderer) -> None:
    updates = load_examples(default_examples_dir() / "brands.json")
    render_previews(updates, tmp_path, renderer=renderer)
    billing = next(tmp_path.glob("*T-8812*"))
    for locale in ("en", "sv"):
        raw = (billing / locale / "agent_reply.eml").read_bytes()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["From"].addresses[0].addr_spec == "billing@example.com"
        text = (billing / locale / "agent_reply.txt").read_text("utf-8")
        assert "https://billing.example.com/guest/T-8812?t=" in text and "billing-1" in text
        assert "Example Billing AB\nBox 123" in text
        assert msg["Reply-To"] is None
    desk = next(tmp_path.glob("*D-311*"))
    msg = email.message_from_bytes((desk / "en" / "resolved.eml").read_bytes(),
                                   policy=email.policy.default)
    assert str(msg["Reply-To"]) == "desk+D-311@example.com"
    assert str(msg["Subject"]).startswith("[#55120] ")
    assert "##- Please type your reply above this line -##" in (desk / "en" / "resolved.txt").read_text()


def test_an_example_naming_an_unknown_brand_is_refused(tmp_path: Path, renderer: Renderer) -> None:
    (update, _) = load_examples(default_examples_dir() / "brands.json")
    with pytest.raises(InvalidInputError, match="not one of the preview brands"):
        render_previews([update], tmp_path, renderer=renderer, options=PreviewOptions(brands=()))
