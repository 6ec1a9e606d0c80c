"""SMTP settings as a plain dataclass, with an optional reader for environment variables."""

from __future__ import annotations

import enum
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ConfigurationError, InvalidInputError
from ...validation import check_email, check_text
from .dkim import DKIMConfig


class Security(enum.StrEnum):
    """How the connection is protected; the names are what mail admins call the modes."""

    STARTTLS_REQUIRED = "starttls-required"  # submission (587): never send in clear
    STARTTLS_OPPORTUNISTIC = "starttls-opportunistic"  # upgrade when offered
    IMPLICIT_TLS = "implicit-tls"  # submissions (465): TLS from the first byte
    NONE = "none"  # trusted local relay only


_DEFAULT_PORT = {
    Security.STARTTLS_REQUIRED: 587,
    Security.STARTTLS_OPPORTUNISTIC: 25,
    Security.IMPLICIT_TLS: 465,
    Security.NONE: 25,
}


@dataclass(frozen=True, slots=True)
class SMTPConfig:
    """Where and how to submit mail, and who it is from.

    ``port`` defaults from ``security`` (587, 25, 465, 25). With opportunistic STARTTLS
    the password is still never sent over a plain connection; only ``security="none"``
    allows that. ``message_id_domain`` defaults to the sender's domain.
    """

    host: str = "localhost"
    port: int | None = None
    sender: str = ""
    sender_name: str = ""
    reply_to: str | None = None
    security: Security | str = Security.STARTTLS_OPPORTUNISTIC
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    pool_size: int = 4
    pipelining: bool = True
    max_messages_per_connection: int = 100
    validate_certs: bool = True
    ca_file: str | None = None
    tls_context: ssl.SSLContext | None = None
    local_hostname: str | None = None
    message_id_domain: str | None = None
    dkim: DKIMConfig | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "security", Security(self.security))
        except ValueError as exc:
            modes = ", ".join(s.value for s in Security)
            raise ConfigurationError(
                f"SMTP security {self.security!r} is not one of {modes}"
            ) from exc
        if not self.host or any(c.isspace() for c in self.host):
            raise ConfigurationError(f"SMTP host {self.host!r} is empty or has spaces")
        if self.port is None:
            object.__setattr__(self, "port", _DEFAULT_PORT[Security(self.security)])
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ConfigurationError(f"SMTP port {self.port!r} is not a TCP port (1-65535)")
        try:
            # One canonical form (IDNA 2008 A-labels): the envelope, From and Message-IDs agree.
            object.__setattr__(self, "sender", check_email("sender", self.sender))
            if self.reply_to:
                object.__setattr__(self, "reply_to", check_email("reply_to", self.reply_to))
        except InvalidInputError as exc:
            raise ConfigurationError(
                f"SMTP {exc}; set a plain address like notify@example.com"
            ) from exc
        if self.sender_name:
            try:
                check_text("sender_name", self.sender_name, max_len=256)
            except InvalidInputError as exc:
                raise ConfigurationError(
                    f"SMTP {exc}; a display name must be one line of at most 256 characters, "
                    "e.g. sender_name='Example Support'"
                ) from exc
        if self.password is not None and not self.username:
            raise ConfigurationError("SMTP password given without username; set both or neither")
        if not self.timeout > 0:
            raise ConfigurationError(f"SMTP timeout must be positive seconds, got {self.timeout!r}")
        if self.pool_size < 1 or self.max_messages_per_connection < 1:
            raise ConfigurationError("SMTP pool_size and max_messages_per_connection must be >= 1")
        if self.tls_context is not None and self.ca_file is not None:
            raise ConfigurationError("give SMTP tls_context or ca_file, not both")

    @property
    def domain(self) -> str:
        """Right-hand side of Message-IDs and thread ids."""
        return self.message_id_domain or self.sender.rsplit("@", 1)[1]

    @classmethod
    def from_env(
        cls, prefix: str = "TICKETNOTIFY_SMTP_", environ: Mapping[str, str] | None = None
    ) -> SMTPConfig:
        """Read ``<prefix>HOST``, ``PORT``, ``SECURITY``, ``SENDER`` ... (see docs/smtp.md)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(prefix + name)
            return value if value not in (None, "") else None

        def number(name: str, kind: type[int] | type[float]) -> int | float | None:
            raw = get(name)
            if raw is None:
                return None
            try:
                return kind(raw)
            except ValueError as exc:
                raise ConfigurationError(f"{prefix}{name}={raw!r} is not a number") from exc

        def flag(name: str) -> bool | None:
            raw = get(name)
            if raw is None:
                return None
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ConfigurationError(f"{prefix}{name}={raw!r} is not a yes/no value")

        sender = get("SENDER")
        if sender is None:
            raise ConfigurationError(f"{prefix}SENDER is not set; set it to the From address")
        password = get("PASSWORD")
        password_file = get("PASSWORD_FILE")
        if password_file is not None:
            if password is not None:
                raise ConfigurationError(f"set {prefix}PASSWORD or {prefix}PASSWORD_FILE, not both")
            try:
                password = Path(password_file).read_text().rstrip("\r\n")
            except OSError as exc:
                raise ConfigurationError(f"cannot read {prefix}PASSWORD_FILE: {exc}") from exc
        dkim = None
        if get("DKIM_SELECTOR") or get("DKIM_DOMAIN") or get("DKIM_KEY_FILE"):
            key_file = get("DKIM_KEY_FILE")
            if key_file is None:
                raise ConfigurationError(f"{prefix}DKIM_KEY_FILE is needed with a DKIM selector")
            dkim = DKIMConfig.from_files(
                get("DKIM_DOMAIN") or sender.rsplit("@", 1)[-1],
                get("DKIM_SELECTOR") or "",
                key_file,
                algorithm=get("DKIM_ALGORITHM") or "rsa-sha256",
            )
        kwargs: dict[str, object] = {
            "host": get("HOST"), "port": number("PORT", int), "security": get("SECURITY"),
            "sender_name": get("SENDER_NAME"), "reply_to": get("REPLY_TO"),
            "username": get("USERNAME"), "timeout": number("TIMEOUT", float),
            "pool_size": number("POOL_SIZE", int), "pipelining": flag("PIPELINING"),
            "max_messages_per_connection": number("MAX_MESSAGES_PER_CONNECTION", int),
            "validate_certs": flag("VALIDATE_CERTS"), "ca_file": get("CA_FILE"),
            "local_hostname": get("LOCAL_HOSTNAME"), "message_id_domain": get("MESSAGE_ID_DOMAIN"),
        }
        given = {k: v for k, v in kwargs.items() if v is not None}
        return cls(sender=sender, password=password, dkim=dkim, **given)  # type: ignore[arg-type]
