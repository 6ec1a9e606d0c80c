"""An FCM HTTP v1 stand-in with its OAuth token endpoint, over TLS (HTTP/2 or HTTP/1.1).

``POST /token`` plays Google's OAuth endpoint for service-account JWT assertions;
``POST /v1/projects/<project>/messages:send`` plays FCM, answering ``{"name": ...}`` or a
Google API error body ``{"error": {"code", "message", "status", "details": [FcmError]}}``
as documented under "FCM ErrorCode". Failures are scripted per registration token.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs

import jwt

from .https import LoopbackHTTPSServer, ReceivedRequest, Reply
from .tls import LoopbackCertificate

PAYLOAD_LIMIT = 4096
_SEND_PATH = re.compile(r"^/v1/projects/([^/]+)/messages:send$")
_DURATION = re.compile(r"^\d+(\.\d{1,9})?s$")
# google-auth puts Google's endpoint in the assertion's audience whatever token_uri says.
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
INVALID_TOKEN_MESSAGE = "The registration token is not a valid FCM registration token"


@dataclass
class CannedFailure:
    """A Google API error to answer a token with; ``times=None`` means every time."""

    status: int
    grpc_status: str
    error_code: str
    message: str
    times: int | None = None
    retry_after: float | None = None


def google_error(status: int, grpc_status: str, message: str, error_code: str | None = None,
                 retry_after: float | None = None) -> Reply:
    """A reply in Google's error envelope, with an FcmError detail when ``error_code``."""
    error: dict[str, object] = {"code": status, "message": message, "status": grpc_status}
    if error_code:
        error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                             "errorCode": error_code}]
    headers = (("retry-after", f"{retry_after:g}"),) if retry_after is not None else ()
    return Reply.json(status, {"error": error}, headers)


class FCMLoopback(LoopbackHTTPSServer):
    """Accept FCM v1 sends like Google does; issue OAuth tokens; script failures per token.

    ``verify_key`` (PEM public key of the service account) makes the token endpoint verify
    the assertion's RS256 signature; without it any well-formed assertion gets a token.
    """

    def __init__(self, *, project_id: str = "ticketnotify-loopback",
                 verify_key: bytes | None = None,
                 certificate: LoopbackCertificate | None = None) -> None:
        super().__init__(certificate=certificate)
        self.project_id = project_id
        self.verify_key = verify_key
        self.failures: dict[str, CannedFailure] = {}
        self.issued_tokens: list[str] = []
        self._ids = itertools.count(1)

    @property
    def token_uri(self) -> str:
        """Where a service-account credential should fetch its access token."""
        return f"{self.base_url}/token"

    @property
    def endpoint_base(self) -> str:
        """What pyfcm calls ``FCM_END_POINT_BASE`` for this server."""
        return f"{self.base_url}/v1/projects"

    def fail(self, token: str, failure: CannedFailure) -> None:
        """Answer sends to ``token`` with ``failure``."""
        self.failures[token] = failure

    def unregistered(self, token: str) -> None:
        """404 UNREGISTERED: the app instance is gone; forget the token."""
        self.fail(token, CannedFailure(404, "NOT_FOUND", "UNREGISTERED",
                                       "Requested entity was not found."))

    def invalid_token(self, token: str) -> None:
        """400 INVALID_ARGUMENT about the token itself (malformed or truncated token)."""
        self.fail(token, CannedFailure(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
                                       INVALID_TOKEN_MESSAGE))

    def sender_mismatch(self, token: str) -> None:
        """403 SENDER_ID_MISMATCH: the token was registered for another Firebase project."""
        self.fail(token, CannedFailure(
            403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"))

    def throttle(self, token: str, *, times: int = 1, retry_after: float | None = 1.0) -> None:
        """429 QUOTA_EXCEEDED with ``Retry-After``, ``times`` times."""
        self.fail(token, CannedFailure(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED",
                                       "Quota exceeded for sending messages.", times, retry_after))

    def unavailable(self, token: str, *, times: int = 1, status: int = 503,
                    retry_after: float | None = None) -> None:
        """503 UNAVAILABLE (or 500 INTERNAL when ``status=500``), ``times`` times."""
        grpc, code = ("INTERNAL", "INTERNAL") if status == 500 else ("UNAVAILABLE", "UNAVAILABLE")
        self.fail(token, CannedFailure(status, grpc, code, "The service is currently unavailable.",
                                       times, retry_after))

    def sends(self) -> list[ReceivedRequest]:
        """Message sends received (token fetches left out), oldest first."""
        return [r for r in self.requests if r.path.endswith("/messages:send")]

    def sent_to(self, token: str) -> list[dict[str, object]]:
        """The ``message`` objects received for one registration token."""
        out = []
        for request in self.sends():
            try:
                message = request.json()["message"]
            except (ValueError, KeyError, TypeError):
                continue
            if message.get("token") == token:
                out.append(message)
        return out

    def respond(self, request: ReceivedRequest) -> Reply:
        if request.method == "POST" and request.path == "/token":
            return self._issue_token(request)
        match = _SEND_PATH.match(request.path)
        if request.method != "POST" or match is None:
            return google_error(404, "NOT_FOUND", f"no such method {request.path}")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.issued_tokens:
            return google_error(401, "UNAUTHENTICATED",
                                "Request had invalid authentication credentials.")
        if match.group(1) != self.project_id:
            return google_error(403, "PERMISSION_DENIED", "Permission denied on the project.")
        try:
            message = request.json()["message"]
            assert isinstance(message, dict)
        except (ValueError, KeyError, TypeError, AssertionError):
            return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        problem = _check_message(message)
        if problem:
            return google_error(400, "INVALID_ARGUMENT", problem, "INVALID_ARGUMENT")
        token = message.get("token")
        if self.take_storm():
            return google_error(500, "INTERNAL", "Internal error encountered.", "INTERNAL")
        canned = self.failures.get(token) if isinstance(token, str) else None
        if canned is not None and canned.times != 0:
            if canned.times is not None:
                canned.times -= 1
            return google_error(canned.status, canned.grpc_status, canned.message,
                                canned.error_code, canned.retry_after)
        return Reply.json(200, {"name": f"projects/{self.project_id}/messages/{next(self._ids)}"})

    def _issue_token(self, request: ReceivedRequest) -> Reply:
        form = parse_qs(request.body.decode("utf-8", "replace"))
        assertion = form.get("assertion", [""])[0]
        if form.get("grant_type", [""])[0] != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Reply.json(400, {"error": "unsupported_grant_type"})
        try:
            if self.verify_key is not None:
                jwt.decode(assertion, self.verify_key, algorithms=["RS256"],
                           audience=[self.token_uri, GOOGLE_TOKEN_URI],
                           options={"require": ["iss", "exp"]})
            else:
                jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            return Reply.json(400, {"error": "invalid_grant", "error_description": str(exc)})
        token = f"ya29.loopback-{len(self.issued_tokens) + 1}"
        self.issued_tokens.append(token)
        return Reply.json(200, {"access_token": token, "expires_in": 3600,
                                "token_type": "Bearer"})


def _check_message(message: dict[str, object]) -> str:
    """What FCM would refuse as INVALID_ARGUMENT in a message, or ''."""
    targets = [k for k in ("token", "topic", "condition") if message.get(k)]
    if len(targets) != 1:
        return "Exactly one of token, topic or condition must be set."
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return "Invalid value at 'message.data': values must be strings."
    reserved = [k for k in data if k in ("from", "notification", "message_type")
                or k.startswith(("google", "gcm"))]
    if reserved:
        return f"Invalid data payload key: {reserved[0]}"
    android = message.get("android", {})
    if isinstance(android, dict):
        ttl = android.get("ttl")
        if ttl is not None and not (isinstance(ttl, str) and _DURATION.match(ttl)):
            return "Invalid value at 'message.android.ttl' (google.protobuf.Duration)"
        if str(android.get("priority", "HIGH")).upper() not in {"HIGH", "NORMAL"}:
            return "Invalid value at 'message.android.priority'"
    size = len(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode())
    if size > PAYLOAD_LIMIT:
        return f"Message is too big ({size} bytes, limit {PAYLOAD_LIMIT})."
    return ""
