"""The step between a claimed job and a send: read the job's facts and render its message.

A v2 job holds facts (``ticketnotify.facts``) and is rendered here, at delivery, with the
same ``Renderer`` and brands the ``Notifier`` checked it against at publish. A v1 job (made
before Outbox v2) holds its rendered message and is sent as stored.

A rendering that fails in the recipient's locale (a catalog deployed broken, a template
error) is rendered in the default locale instead and logged; only if the default locale
fails too is the attempt a transient error: then every message of that kind is failing, the
deployment is what is wrong, and a fixed deployment will render the job, so it waits with
backoff rather than being dead-lettered for a fault that is not its own.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

from ..brands import DEFAULT_BRAND, Brand
from ..errors import ConfigurationError, TransientDeliveryError
from ..facts import DeliveryFacts, decode_facts, is_facts
from ..messages import EmailMessage, Message, PushMessage, message_from_dict
from ..outbox.base import Job
from . import RenderedEmail, RenderedPush, Renderer

__all__ = ["DeliveryRenderer", "delivery_renderer_of", "push_group_id"]

log = logging.getLogger("ticketnotify.worker.render")  # the worker logs it: keep its name

_PLAIN = Brand()


def push_group_id(ticket_key: str) -> str:
    """Per-ticket id for push threading and collapsing; APNs caps collapse ids at 64 bytes."""
    candidate = f"ticket-{ticket_key}"
    if len(candidate.encode()) <= 64:
        return candidate
    return "ticket-" + hashlib.sha256(ticket_key.encode()).hexdigest()[:40]


class DeliveryRenderer:
    """Turns a claimed job into the message its channel sends.

    Build it from the notifier (``notifier.delivery_renderer``) so the worker renders with
    the same catalogs, templates and brands publish checked against.

    Args:
        renderer: The ``Renderer``; default ``Renderer.shared()`` (the shipped catalogs and
            templates).
        brands: The host's ``Brand``s by which jobs name theirs. The plain default brand
            (``Notifier(links=...)``) needs none.
    """

    def __init__(self, renderer: Renderer | None = None, brands: Iterable[Brand] = ()) -> None:
        self.renderer = renderer if renderer is not None else Renderer.shared()
        self.brands: dict[str, Brand] = {b.name: b for b in brands}

    def message(self, job: Job) -> Message:
        """The message to send for ``job``: rendered from its facts, or v1's as stored.

        Args:
            job: A claimed job.

        Returns:
            An ``EmailMessage`` or ``PushMessage``; its ``delivery_id`` is the job's
            idempotency key, so Message-ID and Thread-Index are the same on every retry.

        Raises:
            TransientDeliveryError: The job names a brand this renderer does not know, or
                neither the recipient's locale nor the default locale could render it
                (a deployment to fix; the job is retried).
            FactsError, ValueError, TypeError: The stored job cannot be read (never will).
        """
        if not is_facts(job.message):
            return message_from_dict(job.message)
        facts = decode_facts(job.message)
        brand = self._brand(facts)
        rendered, written_in = self._render(job, facts, brand)
        if isinstance(rendered, RenderedPush):
            group = push_group_id(facts.ticket_key)
            data = {"ticket_id": facts.ticket_key, "kind": facts.kind, "event_id": facts.event_id}
            if facts.ticket_number != facts.ticket_key:
                data["ticket_number"] = facts.ticket_number
            return PushMessage(
                delivery_id=job.idempotency_key, ticket_id=facts.ticket_key,
                locale=facts.locale, platform=facts.platform, token=facts.address,
                user_id=facts.user_id, title=rendered.title, body=rendered.body,
                deep_link=facts.ticket_url, thread_id=group, collapse_id=group, data=data)
        subject = f"{facts.subject_tag} {rendered.subject}" if facts.subject_tag else rendered.subject
        return EmailMessage(
            delivery_id=job.idempotency_key, ticket_id=facts.ticket_key,
            ticket_subject=facts.subject, to_address=facts.address,
            locale=self.renderer.formatting_locale(written_in),  # Content-Language: the text's
            to_name=facts.to_name, subject=subject, html=rendered.html, text=rendered.text,
            preheader=rendered.preheader, sender=brand.sender or "",
            sender_name=brand.sender_name, envelope_sender=brand.envelope_sender or "",
            reply_to=facts.reply_to)

    def _brand(self, facts: DeliveryFacts) -> Brand:
        brand = self.brands.get(facts.brand)
        if brand is not None:
            return brand
        if facts.brand == DEFAULT_BRAND:
            return _PLAIN  # Notifier(links=...): links are in the facts, the look is plain
        raise TransientDeliveryError(
            f"this worker knows no brand {facts.brand!r} ({', '.join(sorted(self.brands)) or 'none'}"
            "): build it with Worker(..., renderer=notifier.delivery_renderer)")

    def _render(
        self, job: Job, facts: DeliveryFacts, brand: Brand
    ) -> tuple[RenderedEmail | RenderedPush, str]:
        """The rendering and the locale it was written in (the default one after a fallback)."""
        try:
            return self.renderer.render_facts(facts, brand), facts.locale
        except Exception as exc:
            default = self.renderer.config.default_locale
            if self.renderer.negotiate(facts.locale) == self.renderer.negotiate(default):
                raise _unrenderable(facts, default, exc) from exc
            log.warning(
                "job %s: rendering in locale %s failed (%s: %s); sending it in the default "
                "locale %s", job.id, facts.locale, type(exc).__name__, exc, default,
                extra={"job_id": job.id, "locale": facts.locale, "fallback_locale": default,
                       "error": f"{type(exc).__name__}: {exc}"})
            try:
                return self.renderer.render_facts(facts, brand, locale=default), default
            except Exception as again:
                raise _unrenderable(facts, default, again) from again


def delivery_renderer_of(found: object) -> DeliveryRenderer:
    """What a host names to render with (``ticketnotify worker --renderer module:attr``).

    Args:
        found: a ``Notifier`` (its renderer and brands), a ``DeliveryRenderer``, a
            ``Renderer`` (the plain default brand only), or a function returning one.

    Returns:
        The ``DeliveryRenderer``.

    Raises:
        ConfigurationError: it is none of these; the message says what to name.
    """
    if callable(found) and not isinstance(found, DeliveryRenderer | Renderer):
        found = found()
    made = getattr(found, "delivery_renderer", found)
    if isinstance(made, Renderer):
        made = DeliveryRenderer(made)
    if not isinstance(made, DeliveryRenderer):
        raise ConfigurationError(
            f"expected a Notifier, DeliveryRenderer or Renderer (or a function returning one), "
            f"not {type(found).__name__}: name your Notifier, e.g. myapp.notify:notifier")
    return made


def _unrenderable(facts: DeliveryFacts, default: str, exc: Exception) -> TransientDeliveryError:
    return TransientDeliveryError(
        f"cannot render {facts.medium} {facts.kind!r} in {facts.locale!r} nor in the default "
        f"locale {default!r} ({type(exc).__name__}: {exc}): fix the deployed templates or "
        "catalogs; the job is retried")
