"""INSTALLED_APPS += ["examples.django_helpdesk"] (after "helpdesk" and "ticketnotify.contrib.django")."""

from django.apps import AppConfig


class HelpdeskTicketnotifyConfig(AppConfig):
    name = "examples.django_helpdesk"
    label = "helpdesk_ticketnotify"

    def ready(self) -> None:
        from . import glue

        glue.connect()
