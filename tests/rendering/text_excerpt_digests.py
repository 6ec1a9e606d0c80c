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
    "agent_reply/en/account": "e8d7e4f3fc0e6a64114ce03f4ec338ffee56d7b10778d21b21e2d78d72788391",
    "agent_reply/en/guest": "3ea53f5c3ec4dc2411aaa8455464c4cd615194728310a1e663d83d07743eae21",
    "agent_reply/sv/account": "b094283e06533b14a05fb02af0993ebf97401bd1349d730f2c3d536ab1d98282",
    "agent_reply/sv/guest": "2eaf4db6b981e22fdd8348da2d8a7dc6f1a052c82fc2b3add44829fddd403fff",
    "awaiting_reply/en/account": "2814a1356360dd0baedbc9ee4b4f02918b9b622cf7a07b08404634d673682f1f",
    "awaiting_reply/en/guest": "45c0ede12c402cb3f9057a288a638e68add5d70cfb9488fb07e76184a96e63cb",
    "awaiting_reply/sv/account": "9f5e6bd719da77d9f900d6d7abe8e18a1fe38ac638a81aeec699783bf4eeca92",
    "awaiting_reply/sv/guest": "5e00696c62da41206b9975cfdca9d320ed35289ba9fb253887f973119867dd00",
    "closed/en/account": "1610c7c6f9c661ede3c59a35c7c3c41e80746d932d4516783f1e77655242be3b",
    "closed/en/guest": "a3ec5f94148b8ed1693b4f76398a336a68f703b9a7b7fd29ac12778d1692950c",
    "closed/sv/account": "8a924471598bbaa17b6a6a3bd5f28e9ac2a57614722a210e0b7e56b245e49fb0",
    "closed/sv/guest": "90a4fcc6e6acb6b133d73842a7cb7a3c5ed404809b2a2fa9153f520267bfca13",
    "closed_inactive/en/account": "2f2db84dbbee8c49999c2ed399b17eea8d9c662f6e8c194d611cde5030cd22a2",
    "closed_inactive/en/guest": "dd8a65f12906a8ee9d9c9c42772c19622000041acd6811dcae61a8676b50b77a",
    "closed_inactive/sv/account": "b5c010522902c24156fd5c0ad4a7784eaf5db43754ace82ced5cd0cad7c8bd9c",
    "closed_inactive/sv/guest": "99260127f892604fe35c3815be6537651a4911cac66031cdb40172ac5f5b7207",
    "info_requested/en/account": "93d3239b980ae492cf03a534282dd8421f49e807f451c1b7cb9ab0c11869a5ef",
    "info_requested/en/guest": "41690e2a45f1503e1d5f5b414d884b3579eeb8dedfe5caba84ff3025049ca91d",
    "info_requested/sv/account": "a3599ccffa9c86d2dc196ca2df8bf80aabdca702e6e23218f5e18beb2e62ad37",
    "info_requested/sv/guest": "414c55e3d07c78f422036c01feffc0548628d80b81fb183f952082bf8fedd72f",
    "merged/en/account": "ce60037bc95203cb3fe09354e70d0e7d0fbd4eecfa84105870ae01cbefa52916",
    "merged/en/guest": "13822d0c372c248af5d07b552328fbc50163ed4f12696735ad973a23819d7e53",
    "merged/sv/account": "9c0a8aad103fa542cf5565d1573cabaa466698384003c3117d6a8c0de622b485",
    "merged/sv/guest": "3b3300e1e189782a0c76c9e7004c37103af08b1f0779397d713e60bd8b6e948c",
    "received/en/account": "0e91f22165a799baac1167b8c123cf6375544c0f388bc1299200cb7c31ca1075",
    "received/en/guest": "be7d62d390c80cfea47c74427b3a525eaa37b0ddaee112605b76bb1d3188ff8a",
    "received/sv/account": "89a72f75552816db3071b3ef1b35b1e54e76436d31229b216ef1a65c7a7af70a",
    "received/sv/guest": "8510daa814f46d39ea4319e9dc988adcae78f97559d7c0e18af729142d02527a",
    "reopened/en/account": "e7825431be95f90671b99221c6b6e74e4b6666f8db92d4715c0e03e4a7e2a1bd",
    "reopened/en/guest": "a1f776fa366640d3b0f6450dab21b3d904f288fb6feabeace171bbf2ca4960d9",
    "reopened/sv/account": "d534b064534074892b489c444b7c2758075a397163f300431adb9e0269b4f5e1",
    "reopened/sv/guest": "3c405d834cec46d3d629b870e805dedb440c00e5019f4f544ed9fe57f950bfc5",
    "resolved/en/account": "9644b3b144c5d603ea8f81b6cd11a3b0c9bbb3d8d7d7a053f26ffadf059a7034",
    "resolved/en/guest": "b8d0878c137b85c2e34b1410534ca403f141e4108e5dab0fde51a976c060a294",
    "resolved/sv/account": "f4578c38758841a407a9505680161de57cdf089206c338025127add1724f0c6c",
    "resolved/sv/guest": "cdc07044bf204f717c9ba64fbb6bd71332a061d976693f788bdb30f4e8593217",
    "status_changed/en/account": "64ce9504ade848290770334e6015bf39dbe5a77244f77a435caac9c6443facd5",
    "status_changed/en/guest": "34151abdb1f132e2fe2b9325b157d1f14f14d766fbc896c537ffe55a9fd0c1d1",
    "status_changed/sv/account": "e3ef8d1b1eb317a98fb4ed98ac79073de65fb23113e8882a825bb66546c30607",
    "status_changed/sv/guest": "888a4ada3df3270e6342a3115418f60f6155068c8da32cfbc0b15c5a596a6452",
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
