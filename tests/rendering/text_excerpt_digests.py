"""Digests of every message a plain-text excerpt update renders to (the snapshot behind
``test_excerpts.py::test_text_excerpts_render_byte_for_byte_as_before``).

Written by the code before excerpt formats existed. Run ``python -m tests.rendering.text_excerpt_digests``
to print the current digests; replace ``DIGESTS`` only for an intended template or copy change.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from ticketnotify.events import AccountUser, Guest, Ticket, TicketUpdate, UpdateKind
from ticketnotify.rendering import Renderer

EXCERPT = (
    "Hej Anna,\n\nvi har <b>återställt</b> insättningen & skickat ett kvitto. "
    "Länk: https://example.se/?a=1&b=2\n  - punkt ett\n  - punkt två\n" + "Lång rad. " * 80
)


def fixed_updates() -> list[tuple[str, TicketUpdate, bool]]:
    """(name, update, guest) for every kind, in Swedish and English, account and guest."""
    when = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)
    out = []
    for kind in UpdateKind:
        for locale in ("sv", "en"):
            for guest in (False, True):
                recipient: AccountUser | Guest = (
                    Guest("sam@example.com", locale, "Europe/London", "Sam") if guest
                    else AccountUser("u-1", "anna@example.se", locale, "Europe/Stockholm", name="Anna")
                )
                update = TicketUpdate(
                    event_id="evt-1", ticket=Ticket("12345", "Insättning syns inte"), kind=kind,
                    recipient=recipient, occurred_at=when, excerpt=EXCERPT, status="Väntar",
                    new_replies=2, merged_into="12399" if kind is UpdateKind.MERGED else None,
                )
                out.append((f"{kind.value}/{locale}/{'guest' if guest else 'account'}", update, guest))
    return out


# Written by the code at 40cff26 (before excerpt formats), 2026-11-30.
DIGESTS = {
    "agent_reply/en/account": "08143d7dcfd7f902abd7c30941a221ddcaed1a474725f6d6d7e5972b9cf9fac1",
    "agent_reply/en/guest": "250bc6644abf793067a21b9c7be0d97149f7f15fdad8a476c46c94c866aeeb67",
    "agent_reply/sv/account": "a4f571f618cdad7666146b7fb707b572fa99cd42e1816a2c4ef1d26b371ad46b",
    "agent_reply/sv/guest": "e0fb4e3ef0a0e7f69a23671fc98aadcd61d3f4dd65e0789fd926171358e68fa7",
    "awaiting_reply/en/account": "1d8cdf354be93ebf69892f2d64b9a4d776f1b2276c5c9adc1b876f17644a3b8d",
    "awaiting_reply/en/guest": "ed7888dd962b62bc9a78f053c0fe51cde9657d2a6bf1d50212906477ea9c67f9",
    "awaiting_reply/sv/account": "08e4e2c77b960c99f6b0a4552470d766d07b7e6e2fa063b5fb7f432749d8a694",
    "awaiting_reply/sv/guest": "0b9d6627b3972532342a5175cec40517f1a36ba841023f99024447a80edca5f4",
    "closed/en/account": "4c82c80ffb3ae0064d222bda7782eeb69c3f12bc7b05f351d767466bc834ce7a",
    "closed/en/guest": "de5562e126a86ba6e30f29f3bcc8ff17f9bd3b4ebdc6613523b9e346891e9b1a",
    "closed/sv/account": "d23e38b359234f2f88da1b733048053c19179d8355fe5a0ff3edf6d911868337",
    "closed/sv/guest": "dae688c5f2addf3659e04ef0d65f3034c59b3dee617d6729a01f64a32da8d0ea",
    "closed_inactive/en/account": "5a5e04ec5844b391331d0982e17d9bb64ee1e0248b80ab36d44ff79649fbcaf6",
    "closed_inactive/en/guest": "cb02af5f22086e1cd0e4590f53215acde5a3fa8683f150f4826cdc4a60d26299",
    "closed_inactive/sv/account": "6c0557c754b7a29d26037dc4003c449df7ccd4cd9c49d3b32f2bbc698ef2ccdf",
    "closed_inactive/sv/guest": "f249ea8b66cc7302b933363404ba16431e27286b8c8ed5854d5e23e4a6002908",
    "info_requested/en/account": "fa305bf7bfc7ed02f59331bef37309671866bef4a28d429a4660d692f2d5f814",
    "info_requested/en/guest": "6b5630219b44dd6a2a55cae9f00f58c889222f2bfaa5ad6216f15b8844836593",
    "info_requested/sv/account": "534c805962ee98370c5a14383ee92ca5e010893692ad5bdc8e2133deb4214880",
    "info_requested/sv/guest": "3a0f826194da8dd02e25775ee0d21becb44a079095b6d259288e5252e68a215d",
    "merged/en/account": "5880a8ba680fb9f4743a3b0be95617aa00e91510adad26feffb1319fe8a5270c",
    "merged/en/guest": "947f8858a274fafb2c7d64e5ba1abcb07cc7e5b40c26882a0cf2cc65cb4498f8",
    "merged/sv/account": "d8be2db41cfea943a03b3b4dd519d363f9210cefbd5f8e5ab277cf83fe5739f2",
    "merged/sv/guest": "9e259b8373a788fc081a4fb91824071a0e89066aec1477f074c6e98cb648ea73",
    "received/en/account": "7637d0f0e52228f370f01ea81023a5de7fc4e99d944359d1decaca63071ce18b",
    "received/en/guest": "df7e3cfbb3de94c35a022b46121203e19863ac2c80f81747936e65590cf8b45b",
    "received/sv/account": "937dfbf9cf7a9ebb74a21c35dad6e9d194fbce26d2e0f6d0693f1540e83e2e6b",
    "received/sv/guest": "6df98e226fcec2571cea466d04dcc7a6a5595a2396a5aebc2236a2e514148d79",
    "reopened/en/account": "9a569bdcfb95899476a99ec87c8ea46987b815d461e25f559d3fa9876ebac706",
    "reopened/en/guest": "a4c4df0ea7a6378d45459a40e3d1a18bfc0d3041dc12b215533685aa3f41d1bf",
    "reopened/sv/account": "f7da5e88629fd5b51be41b61ab89f888be8004276b7f7210d600be86b41c80e0",
    "reopened/sv/guest": "db82ab9acacc65ed514f5e7a768726dbbc1ed08109d2eb1b703c50d6265ecba3",
    "resolved/en/account": "97b43459fbaee31c6ed73ac49b530b7ca62a081e3fb8b151727aaaab4402075f",
    "resolved/en/guest": "8c29fbbf595fd70b62221c38babfde4184f8ec6472ba4665efb411a7bab6223d",
    "resolved/sv/account": "611c434f8cdeb1be4b1e051d4b933500cca0696650a087441e5ede35ff5dcbf4",
    "resolved/sv/guest": "294394b227ee88faf66c0eae01146e52e014144c96b2b0dc47f976261c7e534b",
    "status_changed/en/account": "c2a712770062b0f46dec2603d9620d9412a07bbede49eb9bd8df8be699568928",
    "status_changed/en/guest": "10294366542f27f026448f1d422229ad3d0338dc03c1574eca805cfcc546e21a",
    "status_changed/sv/account": "826622b88438217f2b492c242657796c0d7656378535b08fcba8d9af54e9972a",
    "status_changed/sv/guest": "4162093486071170eb54a4edf9886fe80447c0526b83e9749ecab1c610ef8e22",
}


def digests(renderer: Renderer) -> dict[str, str]:
    """sha256 of subject, preheader, html and text of each email and title + body of each push."""
    found: dict[str, str] = {}
    for name, update, guest in fixed_updates():
        email = renderer.render_update_email(
            update, ticket_url="https://help.example.se/t/12345?x=1&y=2", app_url="app://t/12345",
            guest=guest, include_excerpt=True,
        )
        push = renderer.render_update_push(update, include_excerpt=True)
        parts = [email.subject, email.preheader, email.html, email.text, push.title, push.body]
        found[name] = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    return found


if __name__ == "__main__":
    print(json.dumps(digests(Renderer()), indent=1, sort_keys=True))
