"""The host's own tables: tickets and account users' push devices."""

from django.db import models


class Ticket(models.Model):
    key = models.CharField(max_length=40, unique=True)
    number = models.CharField(max_length=20)
    subject = models.CharField(max_length=200)
    guest_email = models.EmailField()
    guest_locale = models.CharField(max_length=20, default="en")
    replies = models.IntegerField(default=0)


class PushDevice(models.Model):
    user_id = models.CharField(max_length=40)
    token = models.CharField(max_length=200)
