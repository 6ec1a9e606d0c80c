from django.urls import include, path

from examples.django_helpdesk import glue
from tests.contrib.django.hostapp import views

urlpatterns = [
    path("helpdesk/", include("helpdesk.urls")),
    path("support/tickets/<str:ticket_id>", glue.ticket_page, name="helpdesk-guest-ticket"),
    path("guest/", include("ticketnotify.contrib.django.urls")),
    path("tickets/<str:ticket_id>", views.ticket, name="ticket"),
    path("tickets/<str:ticket_id>/reply", views.reply, name="reply"),
]
