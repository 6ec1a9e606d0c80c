"""Delivery adapters: one module per channel, all on ``channels.base``."""

from .base import Channel, load_channel_class

__all__ = ["Channel", "load_channel_class"]
