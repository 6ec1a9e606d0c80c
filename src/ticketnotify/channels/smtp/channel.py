"""Email over SMTP (aiosmtplib): pooled connections, threaded headers, mapped errors."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import ClassVar

import aiosmtplib
from typing_extensions import override

from ...clock import Clock, utc_now
from ...errors import (
    ConfigurationError,
    DeliveryError,
    InvalidInputError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ...messages import EmailMessage, Receipt
from ..base import Channel
from ..mime.builder import build_mime_bytes, message_id
from ..mime.headers import ascii_address
from .config import Security, SMTPConfig
from .dkim import DKIMConfig, dkim_sign
from .pipelining import StageError, pipelined_send
from .pool import SMTPConnection, SMTPPool
from .replies import build_error, connection_error, reply_error, timeout_error

__all__ = ["DKIMConfig", "Security", "SMTPChannel", "SMTPConfig"]


class _Failed(Exception):
    """Internal: a transaction failed; carries the mapped error and whether it was stale."""

    def __init__(self, error: DeliveryError, *, stale: bool) -> None:
        self.error = error
        self.stale = stale


class SMTPChannel(Channel[EmailMessage]):
    """Send each ``EmailMessage`` once over a pooled, reused SMTP connection.

    Never retries a delivery itself (that is the worker's policy); the one exception is
    a reused connection that turns out to have been closed by the server while idle,
    which is replaced once before the message is sent.
    """

    name: ClassVar[str] = "email"

    def __init__(self, config: SMTPConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self._clock = clock or utc_now
        self._where = f"SMTP server {config.host}:{config.port}"
        self._local_hostname = config.local_hostname
        self._tls_context = config.tls_context
        self.pool = SMTPPool(
            self._connect,
            size=config.pool_size,
            max_messages=config.max_messages_per_connection,
            quit_timeout=min(config.timeout, 5.0),
        )

    def render(self, message: EmailMessage) -> bytes:
        """The exact bytes this channel would put on the wire for ``message`` (DKIM included).

        From is the message's own ``sender`` (its brand's) when set, else the configured
        one; likewise its display name and Reply-To. Message-IDs and the thread root keep
        the configured ``domain``, so a ticket's thread survives a change of brand.
        """
        cfg = self.config
        raw = build_mime_bytes(
            message, sender=cfg.sender, sender_name=cfg.sender_name, reply_to=cfg.reply_to,
            domain=cfg.domain, now=self._clock(),
        )
        return dkim_sign(raw, cfg.dkim) if cfg.dkim is not None else raw

    @override
    async def deliver(self, message: EmailMessage) -> Receipt:
        """Deliver one email; see ``Channel.send`` for the receipt and errors.

        The receipt's ``provider_id`` is the Message-ID; ``detail`` the server's reply to
        DATA. A connection lost after the message was written but before the server
        answered is a ``TransientDeliveryError``: the worker sends it again, so the
        recipient may get it twice, never zero times. The envelope sender (MAIL FROM) is
        the message's ``envelope_sender`` when its brand set one, else the configured sender.
        """
        try:
            raw = self.render(message)
        except InvalidInputError as exc:  # a bad brand sender is "sender": bad-message
            raise build_error(exc) from exc
        except ConfigurationError as exc:  # DKIM signing failed: hold the mail until fixed
            raise TransientDeliveryError(f"cannot sign the email: {exc}", code="dkim") from exc
        envelope = ascii_address(message.envelope_sender or self.config.sender)
        conn = await self._acquire()
        reusable = False
        try:
            try:
                reply = await self._transact(conn, raw, envelope, ascii_address(message.to_address))
            except _Failed as failed:
                if not failed.stale:
                    raise failed.error from failed.__cause__
                conn = await self._replace(conn)
                try:
                    reply = await self._transact(conn, raw, envelope, ascii_address(message.to_address))
                except _Failed as again:
                    raise again.error from again.__cause__
            reusable = True
        except _ReusableError as kept:
            reusable = True
            raise kept.error from kept.__cause__
        finally:
            if conn is not None:
                conn.sent += 1
            self.pool.release(conn, reusable=reusable)
        return Receipt(
            channel=self.name,
            delivery_id=message.delivery_id,
            provider_id=message_id(message.delivery_id, self.config.domain),
            detail=f"{reply.code} {reply.message}",
        )

    async def aclose(self) -> None:
        """QUIT idle connections; the channel reconnects lazily if used again."""
        await self.pool.aclose()

    async def _acquire(self) -> SMTPConnection:
        """A pool connection, with connect failures already mapped."""
        try:
            return await self.pool.acquire()
        except _Failed as failed:
            raise failed.error from failed.__cause__

    async def _replace(self, conn: SMTPConnection) -> SMTPConnection:
        try:
            return await self.pool.replace(conn)
        except _Failed as failed:
            # The slot stays taken by ``conn``; release() below retires the dead client.
            raise failed.error from failed.__cause__

    async def _transact(
        self, conn: SMTPConnection, raw: bytes, envelope: str, rcpt: str
    ) -> aiosmtplib.SMTPResponse:
        """MAIL, RCPT, DATA by hand, so each failure is classified by the stage it hit."""
        client = conn.client
        reused = conn.sent > 0
        stage = "MAIL"
        try:
            options = [f"SIZE={len(raw)}"] if client.supports_extension("size") else []
            if self.config.pipelining and client.supports_extension("pipelining"):
                try:
                    return await pipelined_send(
                        client, envelope, rcpt, raw,
                        mail_options=options, timeout=self.config.timeout,
                    )
                except StageError as failed:
                    stage = failed.stage
                    raise failed.cause from failed
            await client.mail(envelope, options=options)
            stage = "RCPT"
            await client.rcpt(rcpt)
            stage = "DATA"
            return await client.data(raw)
        except aiosmtplib.SMTPResponseException as exc:
            error = reply_error(stage, exc.code, exc.message, where=self._where, recipient=rcpt)
            stale = reused and stage == "MAIL" and exc.code == 421
            if client.is_connected and exc.code != 421:
                await self._reset(client, stage)
                if client.is_connected:
                    raise _ReusableError(error) from exc
            client.close()
            raise _Failed(error, stale=stale) from exc
        except aiosmtplib.SMTPTimeoutError as exc:
            client.close()
            raise _Failed(
                timeout_error(stage, where=self._where, seconds=self.config.timeout), stale=False
            ) from exc
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError, OSError) as exc:
            client.close()
            stale = reused and stage == "MAIL"
            raise _Failed(connection_error(stage, exc, where=self._where), stale=stale) from exc
        except asyncio.CancelledError:
            client.close()  # mid-transaction state is unknown: never reuse it
            raise

    async def _reset(self, client: aiosmtplib.SMTP, stage: str) -> None:
        """RSET after any refusal so the connection can carry the next message.

        Even after DATA: a refused DATA *command* leaves MAIL/RCPT standing on the server,
        and RSET after a finished transaction is harmless.
        """
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            client.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        """Open, secure and authenticate one connection; failures become DeliveryErrors."""
        cfg = self.config
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        if self._tls_context is None and cfg.security is not Security.NONE:
            self._tls_context = await asyncio.to_thread(self._build_tls_context)
        start_tls: bool | None = {
            Security.STARTTLS_REQUIRED: True,
            Security.STARTTLS_OPPORTUNISTIC: None,
            Security.IMPLICIT_TLS: False,
            Security.NONE: False,
        }[Security(cfg.security)]
        client = aiosmtplib.SMTP(
            hostname=cfg.host, port=cfg.port, timeout=cfg.timeout,
            local_hostname=self._local_hostname,
            use_tls=cfg.security is Security.IMPLICIT_TLS, start_tls=start_tls,
            tls_context=self._tls_context if cfg.security is not Security.NONE else None,
        )
        stage = "CONNECT"
        try:
            await client.connect()
            stage = "EHLO"
            if client.is_ehlo_or_helo_needed:
                await client.ehlo()
            if cfg.username:
                stage = "AUTH"
                encrypted = client.get_transport_info("sslcontext") is not None
                if not encrypted and cfg.security is not Security.NONE:
                    client.close()
                    raise _Failed(TransientDeliveryError(
                        f"{self._where} offered no STARTTLS, so the password was not sent; "
                        "enable TLS on the server or set security='none' for a trusted relay",
                        code="tls-unavailable",
                    ), stale=False)
                await client.login(cfg.username, cfg.password or "")
        except _Failed:
            raise
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            error = reply_error(stage, exc.code, exc.message, where=self._where)
            raise _Failed(error, stale=False) from exc
        except aiosmtplib.SMTPTimeoutError as exc:
            client.close()
            late = timeout_error(stage, where=self._where, seconds=cfg.timeout)
            raise _Failed(late, stale=False) from exc
        except ssl.SSLError as exc:
            client.close()
            raise _Failed(TransientDeliveryError(
                f"TLS with {self._where} failed ({exc}); check the certificate, ca_file or "
                "validate_certs", code="tls",
            ), stale=False) from exc
        except aiosmtplib.SMTPException as exc:
            client.close()
            if "STARTTLS" in str(exc):
                raise _Failed(TransientDeliveryError(
                    f"{self._where} does not offer STARTTLS but security is starttls-required; "
                    "mail is held rather than sent in clear", code="tls-unavailable",
                ), stale=False) from exc
            if isinstance(exc, aiosmtplib.SMTPConnectError):
                raise _Failed(connection_error(stage, exc, where=self._where), stale=False) from exc
            raise _Failed(PermanentDeliveryError(
                f"{self._where} refused the session at {stage}: {exc}", code="session",
            ), stale=False) from exc
        except OSError as exc:
            client.close()
            raise _Failed(connection_error(stage, exc, where=self._where), stale=False) from exc
        except BaseException:
            client.close()
            raise
        return client

    def _build_tls_context(self) -> ssl.SSLContext:
        """Default verifying context (TLS 1.2+), trusting ``ca_file`` when given."""
        ctx = ssl.create_default_context(cafile=self.config.ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if not self.config.validate_certs:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx


class _ReusableError(Exception):
    """Internal: the server refused this message but the connection is still good."""

    def __init__(self, error: DeliveryError) -> None:
        self.error = error
