"""A throwaway TLS identity for loopback servers, so clients verify a real certificate chain.

``trustme`` makes a fresh CA and a server certificate it signs for ``localhost`` and
``127.0.0.1``: clients trust the CA file only, and hostname checks run as in production.
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True, slots=True)
class LoopbackCertificate:
    """A one-off CA and the server certificate it issued for ``localhost`` and ``127.0.0.1``.

    Attributes:
        ca_pem: The CA certificate (PEM) a client trusts.
        server_pem: The server's private key and certificate chain (PEM).
        directory: Where both were written (``loopback-ca.pem``, ``loopback-server.pem``).
    """

    ca_pem: bytes
    server_pem: bytes
    directory: Path

    @property
    def ca_file(self) -> str:
        """Path of the PEM a client trusts (``requests`` ``verify=``, ``cafile=``)."""
        return str(self.directory / "loopback-ca.pem")

    @property
    def server_file(self) -> str:
        """Path of the server's key and certificate chain (``load_cert_chain``)."""
        return str(self.directory / "loopback-server.pem")

    @classmethod
    def generate(cls, directory: Path | None = None) -> LoopbackCertificate:
        """Make a fresh CA and server certificate; write the PEMs to ``directory``.

        Args:
            directory: Folder for the PEM files; a new temporary folder when None.

        Returns:
            The certificate, its PEM files written.
        """
        ca = trustme.CA(organization_name="ticketnotify loopback")
        server = ca.issue_cert("localhost", "127.0.0.1", common_name="ticketnotify loopback")
        where = directory or Path(tempfile.mkdtemp(prefix="ticketnotify-tls-"))
        found = cls(ca_pem=ca.cert_pem.bytes(),
                    server_pem=server.private_key_and_cert_chain_pem.bytes(), directory=where)
        Path(found.ca_file).write_bytes(found.ca_pem)
        Path(found.server_file).write_bytes(found.server_pem)
        return found

    def server_context(self, alpn: tuple[str, ...] = ("h2", "http/1.1")) -> ssl.SSLContext:
        """TLS context for the server side, offering ``alpn`` in order of preference (none if empty)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.server_file)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        return ctx

    def client_context(self, alpn: tuple[str, ...] = ("h2",)) -> ssl.SSLContext:
        """TLS context that trusts only this CA (hostname checked as usual)."""
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        return ctx
