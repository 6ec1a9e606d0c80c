"""The Django test project (tests/contrib/django/project) for every test under this folder."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.contrib.django.project.settings")
django.setup()  # before collection imports the host app's models

from .fixtures import empty_store_tables  # noqa: E402, F401
