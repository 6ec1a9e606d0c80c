"""DKIM signing with dkimpy, done last on the exact bytes that go on the wire."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import ConfigurationError

# Headers a receiver shows or threads on; signing them means a relay cannot swap them.
SIGNED_HEADERS: tuple[str, ...] = (
    "From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Thread-Topic", "Thread-Index", "Auto-Submitted", "MIME-Version", "Content-Type",
    "Content-Transfer-Encoding", "Content-Language",
)


@dataclass(frozen=True, slots=True)
class DKIMConfig:
    """Signing domain (d=), selector (s=) and the private key whose public half is in DNS.

    RSA keys are PEM; ed25519 keys are dkimpy's base64 seed (needs PyNaCl).
    """

    domain: str
    selector: str
    private_key: bytes = field(repr=False)
    algorithm: str = "rsa-sha256"
    headers: tuple[str, ...] = SIGNED_HEADERS

    def __post_init__(self) -> None:
        if not self.domain or not self.selector:
            raise ConfigurationError("DKIM needs both a domain and a selector; set both or neither")
        if self.algorithm == "rsa-sha256" and b"PRIVATE KEY" not in self.private_key:
            raise ConfigurationError(
                "DKIM private_key is not a PEM private key; pass the key file's bytes"
            )
        if self.algorithm not in ("rsa-sha256", "ed25519-sha256"):
            raise ConfigurationError(
                f"DKIM algorithm {self.algorithm!r} unsupported; use rsa-sha256 or ed25519-sha256"
            )
        if self.algorithm == "rsa-sha256":
            _check_rsa_key(self.private_key)

    @classmethod
    def from_files(cls, domain: str, selector: str, key_file: str | Path, **kw: Any) -> DKIMConfig:
        """Read the key from a file, the usual way a key is mounted into a container."""
        try:
            key = Path(key_file).read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read DKIM key file {key_file}: {exc}") from exc
        return cls(domain=domain, selector=selector, private_key=key, **kw)


def _check_rsa_key(pem: bytes) -> None:
    """Parse the key now, so a broken key fails at start-up and not on every send."""
    try:
        from dkim.crypto import UnparsableKeyError, parse_pem_private_key
    except ImportError:  # pragma: no cover - dkimpy is an optional extra
        return
    try:
        parse_pem_private_key(pem)
    except UnparsableKeyError as exc:
        raise ConfigurationError(f"DKIM private_key does not parse as an RSA key ({exc})") from exc


def dkim_sign(raw: bytes, config: DKIMConfig) -> bytes:
    """Return ``raw`` with a DKIM-Signature header prepended (relaxed/relaxed)."""
    try:
        import dkim
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(
            "DKIM signing needs dkimpy: pip install 'ticketnotify[dkim]'"
        ) from exc
    try:
        signature: bytes = dkim.sign(
            raw,
            config.selector.encode("ascii"),
            config.domain.encode("ascii"),
            config.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=config.algorithm.encode("ascii"),
            include_headers=[h.encode("ascii") for h in config.headers],
        )
    except dkim.DKIMException as exc:
        raise ConfigurationError(
            f"DKIM signing failed ({exc}); check the key and selector"
        ) from exc
    return signature + raw
