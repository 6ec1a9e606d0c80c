"""Email over SMTP: a pooled, pipelining channel with threading headers and optional DKIM.

``ticketnotify.channels.smtp:SMTPChannel`` is the ``email`` entry point; hosts import
``SMTPChannel`` and ``SMTPConfig`` from here (or from ``ticketnotify``).
"""

from .channel import SMTPChannel
from .config import Security, SMTPConfig

__all__ = ["SMTPChannel", "SMTPConfig", "Security"]
