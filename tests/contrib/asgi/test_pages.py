"""The guest pages as a Starlette router, driven over httpx's ASGI transport against a real app."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketnotify.guest import NoCodeError

from .conftest import Host, hidden

pytestmark = pytest.mark.slow  # SMTP round trips through a worker


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


async def open_and_send(host: Host, link: str) -> tuple[str, str, str]:
    """GET the link page and press the button; returns (token, csrf, code page html)."""
    page = await host.client.get(path_of(link))
    assert page.status_code == 200
    token, csrf = hidden(page.text, "token"), hidden(page.text, "csrf")
    sent = await host.client.post(f"{urlsplit(link).path}/code", data={"token": token, "csrf": csrf})
    assert sent.status_code == 200, sent.text
    return token, csrf, sent.text


async def test_opening_the_link_shows_the_number_and_a_button_and_changes_nothing(host: Host) -> None:
    link = await host.link_for("T-1")
    for _ in range(5):  # a mail scanner fetches links, sometimes several times
        page = await host.client.get(path_of(link))
        assert page.status_code == 200
        assert "Support ticket T-1" in page.text
        assert '<button type="submit">Email me a code</button>' in page.text
        assert 'method="post"' in page.text
    assert len(host.smtp.messages) == 1  # only the update email: no code was sent
    token = hidden(page.text, "token")
    with pytest.raises(NoCodeError):  # nothing stored
        await host.site.codes.averify_code(token, "000000", email="sam@example.com")
    for _ in range(3):  # and nothing counted: the full send allowance is still there
        await open_and_send(host, link)


async def test_the_whole_flow_lands_on_the_ticket_and_opens_no_other(host: Host) -> None:
    link = await host.link_for("T-1")
    token, csrf, code_page = await open_and_send(host, link)
    assert "We emailed you a code. It works for 10 minutes." in code_page
    assert 'autocomplete="one-time-code"' in code_page and '<label for="code">' in code_page
    code = await host.code_email(2)
    verify = f"{urlsplit(link).path}/verify"
    wrong = "000000" if code != "000000" else "111111"
    answer = await host.client.post(verify, data={"token": token, "csrf": csrf, "code": wrong})
    assert answer.status_code == 403
    assert "Wrong code. You have 4 tries left." in answer.text
    assert 'aria-invalid="true"' in answer.text
    answer = await host.client.post(verify, data={"token": token, "csrf": csrf, "code": code})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/tickets/T-1"
    assert "httponly" in answer.headers["set-cookie"].lower()
    ticket = await host.client.get("/tickets/T-1")
    assert ticket.status_code == 200 and "Conversation of ticket T-1" in ticket.text
    other = await host.client.get("/tickets/T-2")
    assert other.status_code == 403
    assert "open the link in the latest email" in other.text
    again = await host.client.post(verify, data={"token": token, "csrf": csrf, "code": code})
    assert again.status_code == 403 and "Ask for a new code" in again.text  # single use


async def test_a_post_without_our_form_token_or_from_another_site_sends_nothing(host: Host) -> None:
    link = await host.link_for("T-1")
    page = await host.client.get(path_of(link))
    token, csrf = hidden(page.text, "token"), hidden(page.text, "csrf")
    send = f"{urlsplit(link).path}/code"
    assert (await host.client.post(send, data={"token": token})).status_code == 403
    assert (await host.client.post(send, data={"token": token, "csrf": csrf[:-1] + "0"})).status_code == 403
    foreign = await host.client.post(send, data={"token": token, "csrf": csrf},
                                     headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "This form has expired" in foreign.text
    host.client.cookies.clear()  # the forged form's cookie-less POST
    assert (await host.client.post(send, data={"token": token, "csrf": csrf})).status_code == 403
    assert len(host.smtp.messages) == 1


async def test_broken_links_say_what_to_do(host: Host) -> None:
    link = await host.link_for("T-1")
    parts = urlsplit(link)
    token = parts.query.removeprefix("token=")
    cut = await host.client.get(f"{parts.path}?token={token[:30]}")
    assert cut.status_code == 400 and "cut off" in cut.text
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    bad = await host.client.get(f"{parts.path}?token={tampered}")
    assert bad.status_code == 403 and "This link does not work" in bad.text
    other = await host.client.get(f"/guest/tickets/T-2?token={token}")  # T-1's token on T-2's route
    assert other.status_code == 403
    host.site.tickets["T-1"].guest = type(host.site.tickets["T-1"].guest)(email="new@example.com")
    moved = await host.client.get(path_of(link))  # the agent corrected the address
    assert moved.status_code == 403


async def test_expired_code_and_rate_limit_pages(host: Host) -> None:
    link = await host.link_for("T-1")
    token, csrf, _ = await open_and_send(host, link)
    host.clock.offset = timedelta(minutes=11)
    late = await host.client.post(f"{urlsplit(link).path}/verify",
                                  data={"token": token, "csrf": csrf, "code": "123456"})
    assert late.status_code == 403 and "This code no longer works" in late.text
    assert "Email me a new code" in late.text
    await open_and_send(host, link)
    await open_and_send(host, link)
    limited = await host.client.post(f"{urlsplit(link).path}/code", data={"token": token, "csrf": csrf})
    assert limited.status_code == 429
    assert "You can ask for another code at" in limited.text


async def test_a_swedish_guest_gets_swedish_pages(host: Host) -> None:
    link = await host.link_for("S-1")
    page = await host.client.get(path_of(link))
    assert '<html lang="sv">' in page.text
    assert "Supportärende S-1" in page.text and "Skicka koden till min e-post" in page.text
    token, csrf, code_page = await open_and_send(host, link)
    assert "Den gäller i 10 minuter." in code_page
    wrong = await host.client.post(f"{urlsplit(link).path}/verify",
                                   data={"token": token, "csrf": csrf, "code": "12345"})
    assert wrong.status_code == 400 and "En kod består av sex siffror" in wrong.text


async def test_fastapi_depends_checks_the_grant(host: Host) -> None:
    import httpx
    from fastapi import Depends, FastAPI
    from starlette.responses import PlainTextResponse

    from ticketnotify.guest import AccessGrant

    app = FastAPI()

    require = Depends(host.site.pages.require_guest_grant)

    async def ticket_view(grant: AccessGrant = require) -> PlainTextResponse:
        return PlainTextResponse(f"ticket {grant.ticket_id}")

    app.get("/tickets/{ticket_id}")(ticket_view)

    app.mount("/guest", host.site.pages.router)
    host.site.pages.install(app)
    link = await host.link_for("T-1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get(path_of(link))
        token, csrf = hidden(page.text, "token"), hidden(page.text, "csrf")
        assert (await client.get("/tickets/T-1")).status_code == 403
        sent = await client.post(f"{urlsplit(link).path}/code", data={"token": token, "csrf": csrf})
        assert sent.status_code == 200
        code = await host.code_email(2)
        done = await client.post(f"{urlsplit(link).path}/verify",
                                 data={"token": token, "csrf": csrf, "code": code})
        assert done.status_code == 303
        assert (await client.get("/tickets/T-1")).text == "ticket T-1"
        assert (await client.get("/tickets/T-2")).status_code == 403


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.text(max_size=80), token=st.text(max_size=200))
async def test_hostile_urls_never_become_a_server_error(host: Host, route: str, token: str) -> None:
    answer = await host.client.get(f"/guest/tickets/{quote(route, safe='')}",
                                   params={"token": token})
    assert answer.status_code in {400, 403, 404, 405}, answer.text


async def verified(host: Host, ticket_id: str = "T-1") -> None:
    link = await host.link_for(ticket_id)
    token, csrf, _ = await open_and_send(host, link)
    code = await host.code_email(2)  # the update email, then the code email
    done = await host.client.post(f"{urlsplit(link).path}/verify",
                                  data={"token": token, "csrf": csrf, "code": code})
    assert done.status_code == 303


async def test_an_active_guest_is_renewed_and_an_idle_one_must_verify_again(host: Host) -> None:
    await verified(host)
    host.clock.offset = timedelta(minutes=20)  # 10 of the grant's 30 minutes left
    renewed = await host.client.get("/tickets/T-1")
    assert renewed.status_code == 200 and "set-cookie" in renewed.headers
    host.clock.offset = timedelta(minutes=45)  # past the first value's end, inside the renewed one
    assert (await host.client.get("/tickets/T-1")).status_code == 200
    host.clock.offset = timedelta(hours=2)  # idle far longer than the ttl
    assert (await host.client.get("/tickets/T-1")).status_code == 403


async def test_a_synchronous_lookup_runs_off_the_loop(host: Host) -> None:
    import threading

    from ticketnotify.contrib.asgi import GuestPages, GuestTicket

    threads: list[str] = []

    def lookup(ticket_id: str) -> GuestTicket | None:  # e.g. a Django ORM query
        threads.append(threading.current_thread().name)
        return host.site.tickets["T-1"].for_pages if ticket_id == "T-1" else None

    pages = GuestPages(host.site.codes, lookup, ticket_url="/tickets/{ticket_id}", secure_cookies=False)
    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Mount

    app = Starlette(routes=[Mount("/guest", routes=pages.routes)])
    link = await host.link_for("T-1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get(path_of(link))
    assert page.status_code == 200 and "Support ticket T-1" in page.text
    assert threads and threading.main_thread().name not in threads
