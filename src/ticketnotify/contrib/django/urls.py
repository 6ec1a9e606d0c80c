"""The guest pages' URLs: ``path("guest/", include("ticketnotify.contrib.django.urls"))``.

Guest emails must link to the link page, e.g. ``TICKETNOTIFY["GUEST_URL"] =
"https://help.example.com/guest/tickets/{ticket_id}?token={token}"`` for that include.
"""

from django.urls import path

from . import views

app_name = "ticketnotify"
urlpatterns = [
    path("tickets/<str:ticket_id>", views.link_page, name="guest-link"),
    path("tickets/<str:ticket_id>/code", views.send_code, name="guest-code"),
    path("tickets/<str:ticket_id>/verify", views.verify_code, name="guest-verify"),
]
