"""Purpose-bound signed values on itsdangerous: the core that links and access grants share.

A value is ``<payload>.<signature>``: the payload is base64url of a compact JSON array,
the signature HMAC-SHA256 (itsdangerous ``Signer``, key derived per purpose with the
salt). Keys rotate: the first signs, all verify. Anything not in canonical form is
refused, so no two spellings of one token are accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from typing import Any

from itsdangerous import Signer
from itsdangerous.encoding import base64_decode, base64_encode

from ..errors import ConfigurationError

LINK = "guest-link"
GRANT = "guest-grant"
PURPOSES = (LINK, GRANT)
VERSION = 1
MIN_KEY_BYTES = 32
MAX_TOKEN_CHARS = 1024
_SIGNATURE_CHARS = 43  # 32 bytes of HMAC-SHA256 in unpadded base64url
_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{" + str(_SIGNATURE_CHARS) + "}")


class Malformed(Exception):
    """Internal: not shaped like a value of ours."""


class Tampered(Exception):
    """Internal: the signature does not verify under any key and purpose."""


class OtherPurpose(Exception):
    """Internal: authentic, but signed for ``args[0]``."""


def secret_keys(keys: Sequence[str | bytes], what: str = "secret_keys") -> list[bytes]:
    """Check and encode keys: at least one, each at least 32 bytes, none a bare str/bytes."""
    if isinstance(keys, str | bytes):
        raise ConfigurationError(
            f"{what} must be a list of keys (newest first), not a single key; wrap it: [key]"
        )
    encoded: list[bytes] = []
    for index, key in enumerate(keys):
        if not isinstance(key, str | bytes):
            raise ConfigurationError(f"{what}[{index}] must be str or bytes")
        raw = key.encode() if isinstance(key, str) else bytes(key)
        if len(raw) < MIN_KEY_BYTES:
            raise ConfigurationError(
                f"{what}[{index}] is {len(raw)} bytes; use at least {MIN_KEY_BYTES} random bytes "
                "(e.g. secrets.token_urlsafe(32))"
            )
        encoded.append(raw)
    if not encoded:
        raise ConfigurationError(f"{what} is empty; give at least one key (the first one signs)")
    return encoded


def subkey(key: bytes, label: str) -> bytes:
    """Derive an independent key for one use, so one secret never serves two jobs."""
    return hmac.new(key, f"ticketnotify.{label}".encode(), hashlib.sha256).digest()


class PurposeSigner:
    """Sign JSON-able fields for a purpose; verify and tell wrong purpose from tampering."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        self.keys = list(keys)
        # itsdangerous signs with its *last* key and verifies with all: hand it ours reversed.
        self._signers = {
            purpose: Signer(
                list(reversed(self.keys)), salt=f"ticketnotify.{purpose}.v{VERSION}",
                key_derivation="hmac", digest_method=hashlib.sha256,
            )
            for purpose in PURPOSES
        }

    def __repr__(self) -> str:
        return f"PurposeSigner(keys=<{len(self.keys)} redacted>)"

    def sign(self, purpose: str, fields: Sequence[str | int]) -> str:
        """Signed, URL-safe value carrying ``fields`` for ``purpose``."""
        raw = json.dumps([VERSION, *fields], separators=(",", ":"), ensure_ascii=False)
        payload = base64_encode(raw.encode())
        return self._signers[purpose].sign(payload).decode("ascii")

    def verify(self, value: object, purpose: str) -> list[Any]:
        """Fields of an authentic value for ``purpose``; raise Malformed/Tampered/OtherPurpose."""
        if not isinstance(value, str) or len(value) > MAX_TOKEN_CHARS:
            raise Malformed(f"not a string of at most {MAX_TOKEN_CHARS} characters")
        if not _SHAPE.fullmatch(value):
            raise Malformed("not shaped like <payload>.<signature> in URL-safe base64")
        payload, signature = value.split(".")
        if not _canonical(signature):
            raise Tampered("signature is not in canonical form")
        if not self._signers[purpose].verify_signature(payload, signature):
            for other in PURPOSES:
                if other != purpose and self._signers[other].verify_signature(payload, signature):
                    raise OtherPurpose(other)
            raise Tampered("signature does not match any current key")
        try:
            fields = json.loads(base64_decode(payload).decode())
        except (ValueError, UnicodeDecodeError) as exc:
            raise Malformed(f"payload is not readable: {exc}") from exc
        if not isinstance(fields, list) or not fields or fields[0] != VERSION:
            raise Malformed("unknown token version")
        return fields[1:]


def _canonical(segment: str) -> bool:
    """Base64 leaves spare low bits in the last character; refuse any spelling but ours."""
    try:
        return base64_encode(base64_decode(segment)).decode("ascii") == segment
    except Exception:
        return False
