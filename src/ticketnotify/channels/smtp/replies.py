"""Turn SMTP replies, socket failures and unbuildable messages into retry / give-up outcomes."""

from __future__ import annotations

import re

from ...errors import (
    DeliveryError,
    DeliveryTimeoutError,
    InvalidAddressError,
    InvalidInputError,
    PermanentDeliveryError,
    TransientDeliveryError,
)

# Replies before any message is offered say nothing about the message: a refused login or
# greeting is the channel's configuration (a rotated password) or the server's state, and
# dead-lettering every queued email for it would lose them all. Hold the mail instead.
SESSION_STAGES = frozenset({"CONNECT", "EHLO", "HELO", "STARTTLS", "AUTH"})
SESSION_RETRY_AFTER = 600.0

# RFC 3463 enhanced status code at the start of the reply text, e.g. "5.1.1".
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


def build_error(exc: InvalidInputError) -> DeliveryError:
    """The outcome of an email that cannot be built (``build_mime``): never worth a retry.

    A bad ``to_address`` is the recipient's (``InvalidAddressError``, code ``bad-address``);
    any other field, e.g. a brand's sender, is the message's (``PermanentDeliveryError``,
    code ``bad-message``).
    """
    if exc.field == "to_address":
        return InvalidAddressError(f"cannot mail {exc}", code="bad-address")
    return PermanentDeliveryError(f"cannot build the email: {exc}", code="bad-message")


def enhanced_code(text: str) -> str | None:
    """The RFC 3463 status (``"5.1.1"``) a reply starts with, if any."""
    match = _ENHANCED.match(text)
    return ".".join(match.groups()) if match else None


def reply_error(
    stage: str, code: int, text: str, *, where: str, recipient: str = ""
) -> DeliveryError:
    """Classify one SMTP reply: 4xx retry, 5xx give up, a dead mailbox tells the host.

    ``stage`` is the command answered (CONNECT, EHLO, AUTH, MAIL, RCPT, DATA). A recipient
    refusal is "invalid address" for 550/551/553 unless an enhanced status code says the
    cause was not the address (5.7.x policy blocks say nothing about the mailbox).
    """
    text = " ".join(text.split())
    status = enhanced_code(text)
    detail = f"{where} answered {code} {text} to {stage}"
    tag = f"{code} {status}" if status else str(code)
    if stage == "RCPT" and code == 552:
        # RFC 5321 4.5.3.1.10: 552 at RCPT is "too many recipients"; treat it as 452.
        return TransientDeliveryError(
            f"{detail}; will retry (552 at RCPT means try later)", code=tag
        )
    if 400 <= code < 500:
        return TransientDeliveryError(f"{detail}; the server asks to try again later", code=tag)
    if 500 <= code < 600 and stage in SESSION_STAGES:
        return TransientDeliveryError(
            f"{detail}: the session was refused before any message was offered; check the "
            "SMTP settings (credentials, TLS); mail is held and retried", code=tag,
            retry_after=SESSION_RETRY_AFTER,
        )
    if 500 <= code < 600:
        address_status = status is not None and status.split(".")[1] == "1"
        if stage == "RCPT" and (address_status or (status is None and code in (550, 551, 553))):
            return InvalidAddressError(
                f"{detail}: the mailbox {recipient} is refused; stop mailing this address", code=tag
            )
        if stage == "DATA" and status in ("5.1.1", "5.1.2", "5.1.3"):
            # Some servers (Exchange among them) refuse a dead mailbox only after DATA.
            return InvalidAddressError(f"{detail}: the mailbox {recipient} is refused", code=tag)
        return PermanentDeliveryError(f"{detail}; retrying will not help", code=tag)
    return TransientDeliveryError(f"{detail}: unexpected reply, will retry", code=tag)


def timeout_error(stage: str, *, where: str, seconds: float) -> DeliveryTimeoutError:
    """No answer within the configured timeout: retry later."""
    return DeliveryTimeoutError(
        f"{where} did not answer {stage} within {seconds:g} s; will retry "
        "(raise SMTPConfig.timeout if the server is just slow)",
        code="timeout",
    )


def connection_error(stage: str, exc: BaseException, *, where: str) -> TransientDeliveryError:
    """The connection failed or dropped: the message may or may not be in; retry later."""
    return TransientDeliveryError(
        f"connection to {where} failed during {stage} ({exc or type(exc).__name__}); will retry",
        code="connection",
    )
