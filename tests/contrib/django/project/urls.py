from django.urls import include, path

from tests.contrib.django.hostapp import views

urlpatterns = [
    path("guest/", include("ticketnotify.contrib.django.urls")),
    path("tickets/<str:ticket_id>", views.ticket, name="ticket"),
    path("tickets/<str:ticket_id>/reply", views.reply, name="reply"),
]
