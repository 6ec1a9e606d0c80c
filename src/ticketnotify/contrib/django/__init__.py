"""ticketnotify for Django: settings, transactions, migrations, commands, email backend, guest pages.

    INSTALLED_APPS += ["ticketnotify.contrib.django"]
    TICKETNOTIFY = {...}                                   # docs/django.md
    publish_on_commit(update)                              # where a reply is saved
    path("guest/", include("ticketnotify.contrib.django.urls"))
    python manage.py ticketnotify_worker

Needs the ``django`` extra (Django >= 4.2). See docs/django.md.
"""

from ..pages.ticket import GuestTicket
from .channel import DjangoEmailChannel
from .decorators import guest_grant_required
from .publishing import publish_in_transaction, publish_on_commit
from .settings import SettingError, get_codes, get_notifier, reset
from .views import guest_ticket

__all__ = ["DjangoEmailChannel", "GuestTicket", "SettingError", "get_codes", "get_notifier",
           "guest_grant_required", "guest_ticket", "publish_in_transaction", "publish_on_commit",
           "reset"]
