"""A throwaway TLS identity for loopback servers, so clients verify a real certificate chain."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True, slots=True)
class LoopbackCertificate:
    """Self-signed certificate for ``localhost`` and ``127.0.0.1``; it is its own CA."""

    cert_pem: bytes
    key_pem: bytes
    directory: Path

    @property
    def ca_file(self) -> str:
        """Path of the PEM a client trusts (``requests`` ``verify=``, ``cafile=``)."""
        return str(self.directory / "loopback-ca.pem")

    @classmethod
    def generate(cls, directory: Path | None = None) -> LoopbackCertificate:
        """Make a fresh P-256 key and a one-day certificate; write the PEMs to ``directory``."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ticketnotify loopback")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
            ]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        where = directory or Path(tempfile.mkdtemp(prefix="ticketnotify-tls-"))
        (where / "loopback-ca.pem").write_bytes(cert_pem)
        (where / "loopback-key.pem").write_bytes(key_pem)
        return cls(cert_pem=cert_pem, key_pem=key_pem, directory=where)

    def server_context(self, alpn: tuple[str, ...] = ("h2", "http/1.1")) -> ssl.SSLContext:
        """TLS context for the server side, offering ``alpn`` in order of preference."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.directory / "loopback-ca.pem"),
                            str(self.directory / "loopback-key.pem"))
        ctx.set_alpn_protocols(list(alpn))
        return ctx

    def client_context(self, alpn: tuple[str, ...] = ("h2",)) -> ssl.SSLContext:
        """TLS context that trusts only this certificate (hostname checked as usual)."""
        ctx = ssl.create_default_context(cafile=self.ca_file)
        ctx.set_alpn_protocols(list(alpn))
        return ctx
