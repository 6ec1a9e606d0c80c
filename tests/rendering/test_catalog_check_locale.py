"""`catalog check --locale` negotiates like run time and refuses locales with no catalog."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ticketnotify.cli import main

from .conftest import LOCALES_DIR

SV_PO = Path("sv") / "LC_MESSAGES" / "ticketnotify.po"


@pytest.fixture
def broken_sv(tmp_path: Path) -> Path:
    target = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, target)
    po = target / SV_PO
    text = po.read_text("utf-8")
    old = 'msgstr "Ditt supportärende %(ticket)s har uppdaterats"'
    assert old in text
    po.write_text(text.replace(old, old.replace("%(ticket)s", "%(ticket)"), 1), "utf-8")
    return target


@pytest.mark.parametrize("asked", ["sv", "sv_SE", "sv-SE"])
def test_region_tag_checks_the_language_catalog(broken_sv: Path, asked: str) -> None:
    assert main(["catalog", "check", "--locales", str(broken_sv), "--locale", asked]) == 1


def test_region_tag_of_a_clean_catalog_is_ok() -> None:
    assert main(["catalog", "check", "--locale", "sv_SE"]) == 0


@pytest.mark.parametrize("asked", ["klingon", "se", "is_IS"])
def test_a_locale_with_no_catalog_is_an_error_listing_the_available_ones(
    asked: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["catalog", "check", "--locale", asked]) == 2
    err = capsys.readouterr().err
    assert repr(asked) in err and "sv" in err and "pt_BR" in err
