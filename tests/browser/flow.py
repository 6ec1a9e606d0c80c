"""The guest flow a person clicks through, the same on every framework's pages."""

from __future__ import annotations

from typing import Any

from ticketnotify.loopback.smtp import LoopbackSMTPServer


async def walk_guest_flow(browser: Any, shots: Any, smtp: LoopbackSMTPServer, link: str,
                          base: str, number: str, code_in: Any) -> None:
    """Open ``link``, ask for a code, type a wrong one, then the right one; land on T-1.

    ``number`` is the ticket number the pages show; ticket T-2 must stay closed. One mail
    (the update) is in ``smtp`` when it starts; the code mail is the second.
    """
    page = await browser.new_page()
    await page.goto(link)
    await page.get_by_role("heading", name=f"Support ticket {number}").wait_for()
    await shots.take(page, "link-page")
    assert len(smtp.messages) == 1  # opening the link in the browser sent nothing either

    await page.get_by_role("button", name="Email me a code").click()
    await page.get_by_text("We emailed you a code. It works for 10 minutes.").wait_for()
    code = code_in((await smtp.wait_for(2, timeout=30))[1])
    await shots.take(page, "code-form")

    wrong = "000000" if code != "000000" else "111111"
    await page.get_by_label("Code (six digits)").fill(wrong)
    await page.get_by_role("button", name="Open my ticket").click()
    await page.get_by_role("alert").filter(
        has_text="Wrong code. You have 4 tries left.").wait_for()
    await shots.take(page, "wrong-code")

    await page.get_by_label("Code (six digits)").fill(code)
    await page.get_by_role("button", name="Open my ticket").click()
    await page.wait_for_url(f"{base}/tickets/T-1")
    assert await page.get_by_role("heading").inner_text() == f"Conversation of ticket {number}"
    await shots.take(page, "ticket")

    answer = await page.goto(f"{base}/tickets/T-2")
    assert answer is not None and answer.status == 403
    await page.get_by_text("open the link in the latest email").wait_for()
    assert "Conversation" not in await page.content()
    await shots.take(page, "second-ticket-closed")
