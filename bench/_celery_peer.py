"""The Celery peer: a task that renders a Django template, inlines CSS with premailer, sends.

Imported by ``celery -A _celery_peer worker`` (a real worker subprocess) and by
bench/peers.py, which enqueues ``send_update`` tasks. Configuration comes from the
environment bench/peers.py sets: ``BENCH_BROKER`` (Redis URL), ``BENCH_SMTP_PORT`` (the
sink), ``BENCH_TEMPLATES`` (the folder _scenario.write_templates filled).
"""

from __future__ import annotations

import os

import django
from celery import Celery
from django.conf import settings

if not settings.configured:
    settings.configure(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1", EMAIL_PORT=int(os.environ.get("BENCH_SMTP_PORT", "25")),
        EMAIL_USE_TLS=False, EMAIL_USE_SSL=False, DEFAULT_CHARSET="utf-8",
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                    "DIRS": [os.environ.get("BENCH_TEMPLATES", ".")]}],
        USE_TZ=True,
    )
    django.setup()

app = Celery("ticketnotify_bench_peer", broker=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/0"))
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False,
                broker_connection_retry_on_startup=True, worker_prefetch_multiplier=4)


@app.task(name="send_update")  # type: ignore[untyped-decorator]
def send_update(to: str, subject: str, context: dict[str, str]) -> None:
    """Render, inline, send: one SMTP connection per email, as Django's send_mail does."""
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string
    from premailer import transform

    html = transform(render_to_string("django_peer.html", context))
    text = render_to_string("django_peer.txt", context)
    message = EmailMultiAlternatives(subject, text, "Support <support@helpdesk.example>", [to])
    message.attach_alternative(html, "text/html")
    message.send()
