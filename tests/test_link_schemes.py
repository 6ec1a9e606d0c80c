"""Link patterns: web and guest links are absolute http(s); app links never run script."""

from __future__ import annotations

import pytest

from ticketnotify.brands import Brand, Links
from ticketnotify.errors import ConfigurationError
from ticketnotify.guest.links import GuestLinks

KEY = "k" * 32
WEB = "https://help.example.com/tickets/{ticket_id}"
NOT_WEB = ["help.example.com/{ticket_id}", "/tickets/{ticket_id}", "javascript:alert({ticket_id})",
           "ftp://example.com/{ticket_id}", " https://help.example.com/{ticket_id}",
           "https:///{ticket_id}"]
NOT_APP = ["javascript:alert({ticket_id})", "JavaScript:x/{ticket_id}", "data:text/html,{ticket_id}",
           "vbscript:x{ticket_id}", "file:///etc/{ticket_id}", "tickets/{ticket_id}"]


@pytest.mark.parametrize("bad", NOT_WEB)
def test_links_web_url_must_be_absolute_http(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="web_ticket_url"):
        Links(web_ticket_url=bad)


@pytest.mark.parametrize("bad", NOT_WEB)
def test_brand_web_and_guest_urls_must_be_absolute_http(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="web_ticket_url"):
        Brand(name="b", web_ticket_url=bad)
    with pytest.raises(ConfigurationError, match="guest_ticket_url"):
        Brand(name="b", web_ticket_url=WEB, guest_ticket_url=bad + "?token={token}")


@pytest.mark.parametrize("bad", NOT_WEB)
def test_guest_links_url_pattern_must_be_absolute_http(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="url_pattern"):
        GuestLinks([KEY], bad + "?token={token}")


@pytest.mark.parametrize("bad", NOT_APP)
def test_app_url_refuses_script_and_file_schemes(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="app_ticket_url"):
        Links(web_ticket_url=WEB, app_ticket_url=bad)
    with pytest.raises(ConfigurationError, match="app_ticket_url"):
        Brand(name="b", web_ticket_url=WEB, app_ticket_url=bad)


@pytest.mark.parametrize("good", ["examplehelp://tickets/{ticket_id}", WEB,
                                  "com.example.help:/t/{ticket_number}"])
def test_app_url_may_use_a_custom_scheme(good: str) -> None:
    assert Links(web_ticket_url="http://localhost:8000/t/{ticket_id}", app_ticket_url=good)
