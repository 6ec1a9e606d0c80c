"""The MIME builder's line-cached quoted-printable equals encoding the whole body at once."""

from __future__ import annotations

import binascii

from hypothesis import given
from hypothesis import strategies as st

from ticketnotify.channels.mime import builder


def _whole(text: str) -> bytes:
    """What the builder did before caching lines: one b2a_qp over the whole body."""
    lf = text.replace("\r\n", "\n").replace("\r", "\n")
    if not lf.endswith("\n"):
        lf += "\n"
    return binascii.b2a_qp(lf.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


_line = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


@given(lines=st.lists(_line, max_size=8), end=st.sampled_from(["", "\n", "\r\n", "\r"]))
def test_cached_lines_encode_exactly_as_the_whole_body(lines: list[str], end: str) -> None:
    text = "\n".join(lines) + end
    assert builder._body(text) == _whole(text)
    assert builder._body(text) == _whole(text)  # the second time from the cache


def test_a_shell_line_is_encoded_once_and_the_cache_stays_bounded() -> None:
    shell = '<td style="padding:0 24px;color:#111827">Öppna ärendet för att läsa svaret.</td>'
    builder._body(f"{shell}\nHej Anna!\n")
    cached = builder._QP_LINES[shell]
    builder._body(f"{shell}\nHej Bo!\n")
    assert builder._QP_LINES[shell] is cached
    for i in range(builder._QP_LINES_MAX + 10):
        builder._body(f"line {i}\n")
    assert len(builder._QP_LINES) <= builder._QP_LINES_MAX
