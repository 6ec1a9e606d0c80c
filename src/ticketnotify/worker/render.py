"""Where ``DeliveryRenderer`` used to live; it is ``ticketnotify.rendering.deliveries`` now.

The notifier hands a ``DeliveryRenderer`` to workers, and the notifier must not import from
the worker package (issue 10), so the class lives with the rendering it wraps.
"""

from ..rendering.deliveries import DeliveryRenderer, delivery_renderer_of, push_group_id

__all__ = ["DeliveryRenderer", "delivery_renderer_of", "push_group_id"]
