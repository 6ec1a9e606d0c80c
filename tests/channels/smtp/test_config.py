"""SMTPConfig: defaults a mail admin expects, clear refusals, environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketnotify.channels.smtp.channel import Security, SMTPConfig
from ticketnotify.errors import ConfigurationError


@pytest.mark.parametrize(
    ("security", "port"),
    [("starttls-required", 587), ("implicit-tls", 465), ("starttls-opportunistic", 25), ("none", 25)],
)
def test_port_defaults_from_security(security: str, port: int) -> None:
    cfg = SMTPConfig("mail.example.com", sender="a@example.com", security=security)
    assert cfg.port == port
    assert cfg.security is Security(security)


def test_password_stays_out_of_repr() -> None:
    cfg = SMTPConfig(sender="a@example.com", username="u", password="hunter2")
    assert "hunter2" not in repr(cfg)


def test_message_id_domain_defaults_to_the_sender_domain() -> None:
    assert SMTPConfig(sender="notify@support.example.com").domain == "support.example.com"
    assert SMTPConfig(sender="a@b.example", message_id_domain="ids.example").domain == "ids.example"


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"sender": ""}, "sender"),
        ({"sender": "a@example.com\r\nBcc: x@example.com"}, "sender"),
        ({"sender": "a@example.com", "security": "ssl"}, "starttls-required"),
        ({"sender": "a@example.com", "port": 70000}, "port"),
        ({"sender": "a@example.com", "password": "p"}, "username"),
        ({"sender": "a@example.com", "timeout": 0}, "timeout"),
        ({"sender": "a@example.com", "pool_size": 0}, "pool_size"),
        ({"sender": "a@example.com", "sender_name": "A\nB"}, "sender_name"),
        ({"sender": "a@example.com", "reply_to": "not an address"}, "reply_to"),
    ],
)
def test_bad_settings_are_refused_with_the_field_named(options: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint) as caught:
        SMTPConfig(**options)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)


def test_from_env_reads_every_setting(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    cfg = SMTPConfig.from_env(environ={
        "TN_HOST": "smtp.example.com", "TN_PORT": "2525", "TN_SECURITY": "implicit-tls",
        "TN_USERNAME": "helpdesk", "TN_PASSWORD_FILE": str(secret), "TN_TIMEOUT": "12.5",
        "TN_SENDER": "notify@example.com", "TN_SENDER_NAME": "Kundtjänst",
        "TN_REPLY_TO": "no-reply@example.com", "TN_POOL_SIZE": "8",
        "TN_MAX_MESSAGES_PER_CONNECTION": "50", "TN_VALIDATE_CERTS": "no",
        "TN_LOCAL_HOSTNAME": "app1.example.com", "TN_MESSAGE_ID_DOMAIN": "mail.example.com",
    }, prefix="TN_")
    assert (cfg.host, cfg.port, cfg.security) == ("smtp.example.com", 2525, Security.IMPLICIT_TLS)
    assert (cfg.username, cfg.password, cfg.timeout) == ("helpdesk", "s3cret", 12.5)
    assert (cfg.sender, cfg.sender_name, cfg.reply_to) == (
        "notify@example.com", "Kundtjänst", "no-reply@example.com",
    )
    assert (cfg.pool_size, cfg.max_messages_per_connection, cfg.validate_certs) == (8, 50, False)
    assert (cfg.local_hostname, cfg.domain) == ("app1.example.com", "mail.example.com")


def test_from_env_defaults_and_missing_sender() -> None:
    cfg = SMTPConfig.from_env(environ={"TICKETNOTIFY_SMTP_SENDER": "a@example.com"})
    assert (cfg.host, cfg.port, cfg.security) == ("localhost", 25, Security.STARTTLS_OPPORTUNISTIC)
    with pytest.raises(ConfigurationError, match="TICKETNOTIFY_SMTP_SENDER"):
        SMTPConfig.from_env(environ={})


@pytest.mark.parametrize(("name", "value"), [("PORT", "twenty-five"), ("VALIDATE_CERTS", "maybe")])
def test_from_env_refuses_garbage(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"TICKETNOTIFY_SMTP_{name}"):
        SMTPConfig.from_env(environ={"TICKETNOTIFY_SMTP_SENDER": "a@example.com",
                                     f"TICKETNOTIFY_SMTP_{name}": value})


def test_from_env_dkim_needs_a_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="DKIM_KEY_FILE"):
        SMTPConfig.from_env(environ={"TICKETNOTIFY_SMTP_SENDER": "a@example.com",
                                     "TICKETNOTIFY_SMTP_DKIM_SELECTOR": "s1"})
    with pytest.raises(ConfigurationError, match="cannot read DKIM key file"):
        SMTPConfig.from_env(environ={"TICKETNOTIFY_SMTP_SENDER": "a@example.com",
                                     "TICKETNOTIFY_SMTP_DKIM_SELECTOR": "s1",
                                     "TICKETNOTIFY_SMTP_DKIM_KEY_FILE": str(tmp_path / "none")})
