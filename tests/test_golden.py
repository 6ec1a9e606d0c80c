"""Notification-only mode (the default brand from ``Links``) is unchanged byte for byte."""

from __future__ import annotations

import pytest

from tests import golden


@pytest.mark.parametrize("name", sorted(golden.CASES))
def test_default_mode_renders_the_golden_eml(name: str) -> None:
    expected = (golden.HERE / f"{name}.eml").read_bytes()
    assert golden.render(golden.CASES[name]) == expected
