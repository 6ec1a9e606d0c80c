"""The Django app: add ``"ticketnotify.contrib.django"`` to ``INSTALLED_APPS``."""

from django.apps import AppConfig


class TicketNotifyConfig(AppConfig):
    """Migrations for the outbox and code tables, management commands, guest page templates."""

    name = "ticketnotify.contrib.django"
    label = "ticketnotify"
    verbose_name = "ticketnotify"
    default_auto_field = "django.db.models.BigAutoField"
