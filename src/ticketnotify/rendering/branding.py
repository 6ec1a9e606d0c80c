"""What a ``Brand`` puts into a template: slot values (escaped per message) and its look.

Names, logo and footer lines are slot values like any other, so they are escaped when a
message is filled. Colours go into the CSS, which premailer inlines once per variant, so
they are compiled in: the ``look`` is part of the skeleton's cache key, and ``Brand``
accepts only ``#rgb``/``#rrggbb`` for them.
"""

from __future__ import annotations

from ..brands import Brand
from .compiled import SlotValue

# The shipped layout's own colours: a mail without a brand looks exactly as before.
DEFAULT_LOOK: tuple[tuple[str, str], ...] = (
    ("accent_color", "#1d4ed8"), ("background_color", "#f3f4f6"))


def brand_values(brand: Brand | None) -> dict[str, SlotValue]:
    """Slot values for the layout and footers: team, logo, footer lines, reply mode."""
    if brand is None:
        brand = _PLAIN
    return {
        "team": brand.team,
        "logo_url": brand.logo_url or "",
        "brand_footer": "\n".join(brand.footer_lines),
        "reply_by_email": brand.reply_by_email,
    }


def brand_look(brand: Brand | None) -> tuple[tuple[str, str], ...]:
    """The compiled-in colours of ``brand`` (the default look for ``None``)."""
    if brand is None:
        return DEFAULT_LOOK
    return (("accent_color", brand.accent_color), ("background_color", brand.background_color))


_PLAIN = Brand()
