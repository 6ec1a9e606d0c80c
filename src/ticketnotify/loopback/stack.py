"""Every delivery peer on loopback at once, with channels pointed at them: demo, bench, tests."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from ..channels.base import Channel
from ..channels.smtp.channel import SMTPChannel
from ..channels.smtp.config import Security, SMTPConfig
from .smtp import LoopbackSMTPServer

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

    from .apns import APNsLoopback
    from .fcm import FCMLoopback

APNS_TOPIC = "com.example.helpdesk"
APNS_KEY_ID = "DEMOKEY123"
APNS_TEAM_ID = "DEMOTEAM45"
FCM_PROJECT = "ticketnotify-demo"
SENDER = "support@helpdesk.example"


class LoopbackStack:
    """SMTP (aiosmtpd), APNs and FCM v1 stand-ins on 127.0.0.1, and channels that reach them.

    ``push=False`` starts the mail server only (no push extras needed). Keys and TLS
    certificates are made fresh for each start and never leave the process.
    """

    def __init__(self, *, mail_dir: Path | None = None, push: bool = True,
                 smtp_pool_size: int = 4) -> None:
        self.mail_dir = mail_dir
        self.push = push
        self.smtp_pool_size = smtp_pool_size
        self.smtp = LoopbackSMTPServer(eml_dir=mail_dir)
        self.apns: APNsLoopback | None = None
        self.fcm: FCMLoopback | None = None
        self._stack = contextlib.AsyncExitStack()
        self._channels: dict[str, Channel] = {}

    async def __aenter__(self) -> LoopbackStack:
        await self._stack.enter_async_context(self.smtp)
        self._channels["email"] = SMTPChannel(SMTPConfig(
            host="127.0.0.1", port=self.smtp.port, security=Security.NONE, sender=SENDER,
            sender_name="Helpdesk Support", pool_size=self.smtp_pool_size, timeout=10))
        if self.push:
            await self._start_push()
        return self

    async def _start_push(self) -> None:
        from google.oauth2 import service_account

        from ..channels.push.apns import APNsChannel, APNsConfig
        from ..channels.push.fcm import FCM_SCOPE, FCMChannel, FCMConfig
        from .apns import APNsLoopback
        from .fcm import FCMLoopback

        apns_key, apns_public = _ec_key()
        apns = APNsLoopback(topic=APNS_TOPIC, verify_key=apns_public, key_id=APNS_KEY_ID,
                            team_id=APNS_TEAM_ID)
        await apns.start()
        self._stack.push_async_callback(apns.stop)
        self.apns = apns
        self._channels["apns"] = APNsChannel(APNsConfig(
            key=apns_key, key_id=APNS_KEY_ID, team_id=APNS_TEAM_ID, topic=APNS_TOPIC,
            host="127.0.0.1", port=apns.port, ssl_context=apns.certificate.client_context()))

        fcm_key, fcm_public = _rsa_key()
        fcm = FCMLoopback(project_id=FCM_PROJECT, verify_key=fcm_public)
        await fcm.start()
        self._stack.push_async_callback(fcm.stop)
        self.fcm = fcm
        credentials = service_account.Credentials.from_service_account_info({  # type: ignore[no-untyped-call]
            "type": "service_account", "project_id": FCM_PROJECT, "private_key": fcm_key,
            "private_key_id": "demo", "client_email": "push@ticketnotify-demo.iam.gserviceaccount.com",
            "token_uri": fcm.token_uri,
        }, scopes=[FCM_SCOPE])
        self._channels["fcm"] = FCMChannel(FCMConfig(
            credentials=credentials, endpoint_base=fcm.endpoint_base,
            verify=fcm.certificate.ca_file))

    def channels(self) -> dict[str, Channel]:
        """Channel name → adapter, ready for a ``Worker``."""
        return dict(self._channels)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        for channel in self._channels.values():
            await channel.aclose()
        await self._stack.aclose()


def _ec_key() -> tuple[str, bytes]:
    """A fresh P-256 key, as an APNs .p8 file holds, and its public half for the stand-in."""
    from cryptography.hazmat.primitives.asymmetric import ec

    return _pem_pair(ec.generate_private_key(ec.SECP256R1()))


def _rsa_key() -> tuple[str, bytes]:
    """A fresh RSA key, as a Google service-account file holds, and its public half."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _pem_pair(key: PrivateKeyTypes) -> tuple[str, bytes]:
    from cryptography.hazmat.primitives import serialization as s

    private = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption())
    public = key.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public
