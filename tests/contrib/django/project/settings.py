"""A real Django project for the contrib.django tests: SQLite file database, sessions, CSRF."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

HERE = Path(tempfile.mkdtemp(prefix="tn-django-"))
SECRET_KEY = "test-secret-key-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "Europe/Stockholm"
LANGUAGE_CODE = "en"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.messages",
    "django.contrib.humanize",
    "ticketnotify.contrib.django",
    "tests.contrib.django.hostapp",
    # The recipe (examples/django_helpdesk) against the PyPI release of django-helpdesk.
    "rest_framework",
    "helpdesk",
    "examples.django_helpdesk",
]
SITE_ID = 1
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.contrib.django.project.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [],
              "APP_DIRS": True, "OPTIONS": {"context_processors": [
                  "django.template.context_processors.request",
                  "django.contrib.auth.context_processors.auth",
                  "django.contrib.messages.context_processors.messages"]}}]
DATABASES = {
    # A file, also under test: the outbox in Django's database is read by workers in
    # other processes, which an in-memory database cannot be.
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(HERE / "site.sqlite3"),
                "TEST": {"NAME": str(HERE / "test-site.sqlite3")}},
    "pg": {"ENGINE": "django.db.backends.postgresql", "NAME": f"tn_django_{os.getpid()}",
           "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432"},
    "memory": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = "Example Support <help@example.se>"
SESSION_COOKIE_SECURE = False
STATIC_URL = "/static/"

TICKETNOTIFY = {
    "OUTBOX": "django",
    "GUEST_LINK_KEYS": ["k" * 32],
    "GUEST_URL": "http://testserver/guest/tickets/{ticket_id}?token={token}",
    "CODE_SECRET": "s" * 32,
    "LINKS": {"web_ticket_url": "http://testserver/account/tickets/{ticket_id}"},
    "GUEST_TICKET": "tests.contrib.django.hostapp.views.guest_ticket",
    "TICKET_URL": "ticket",
    "ON_INVALID_DEVICE": "tests.contrib.django.hostapp.views.forget_device",
}

# django-helpdesk 2.6.1 defaults to teams from pinax-teams, which it does not install;
# without this its migration 0028 references a missing app (noted in the recipe's README).
HELPDESK_TEAMS_MODE_ENABLED = False
