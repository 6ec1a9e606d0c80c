"""An APNs provider-API stand-in: HTTP/2 over TLS, Apple's headers, reasons and statuses.

Requests are ``POST /3/device/<token>`` with ``apns-topic``, ``apns-push-type``,
``apns-priority``, ``apns-expiration``, ``apns-collapse-id`` and a ``bearer`` JWT; replies
are 200 with ``apns-id`` or an error status with ``{"reason": ...}``, as Apple documents in
"Handling notification responses from APNs". Failures are scripted per device token.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from .https import LoopbackHTTPSServer, ReceivedRequest, Reply
from .tls import LoopbackCertificate

PAYLOAD_LIMIT = 4096
PUSH_TYPES = {"alert", "background", "voip", "complication", "fileprovider", "mdm",
              "liveactivity", "location", "pushtotalk"}


@dataclass
class CannedFailure:
    """A reply to give a token instead of 200; ``times=None`` means every time."""

    status: int
    reason: str
    times: int | None = None
    retry_after: float | None = None


class APNsLoopback(LoopbackHTTPSServer):
    """Accept pushes like APNs, checking what APNs checks; failures are scripted per token.

    ``verify_key`` (PEM public key of the .p8 signing key) makes it verify the provider JWT's
    signature, ``kid`` and ``iss`` too; without it a bearer token only has to be present.
    """

    def __init__(self, *, topic: str | None = None, verify_key: bytes | None = None,
                 key_id: str | None = None, team_id: str | None = None,
                 certificate: LoopbackCertificate | None = None,
                 max_concurrent_streams: int = 1000) -> None:
        super().__init__(certificate=certificate, max_concurrent_streams=max_concurrent_streams)
        self.topic = topic
        self.verify_key = verify_key
        self.key_id = key_id
        self.team_id = team_id
        self.failures: dict[str, CannedFailure] = {}
        self.storm_status = 500
        self.storm_reason = "InternalServerError"

    def fail(self, token: str, status: int, reason: str, *, times: int | None = None,
             retry_after: float | None = None) -> None:
        """Answer ``token`` with ``status``/``reason`` (``times`` times, or always)."""
        self.failures[token] = CannedFailure(status, reason, times, retry_after)

    def unregistered(self, token: str) -> None:
        """410 Unregistered: the app was removed; the token is dead for good."""
        self.fail(token, 410, "Unregistered")

    def bad_device_token(self, token: str) -> None:
        """400 BadDeviceToken: e.g. a sandbox token sent to production."""
        self.fail(token, 400, "BadDeviceToken")

    def not_for_topic(self, token: str) -> None:
        """400 DeviceTokenNotForTopic: the token belongs to another app."""
        self.fail(token, 400, "DeviceTokenNotForTopic")

    def throttle(self, token: str, *, times: int = 1, retry_after: float | None = 1.0) -> None:
        """429 TooManyRequests, optionally with ``Retry-After`` (Apple sends none; we may)."""
        self.fail(token, 429, "TooManyRequests", times=times, retry_after=retry_after)

    def unavailable(self, token: str, *, times: int = 1, status: int = 503,
                    reason: str = "ServiceUnavailable", retry_after: float | None = None) -> None:
        """5xx for ``times`` requests (503 ServiceUnavailable unless told otherwise)."""
        self.fail(token, status, reason, times=times, retry_after=retry_after)

    def received_for(self, token: str) -> list[ReceivedRequest]:
        """Requests addressed to one device token, oldest first."""
        return [r for r in self.requests if r.path == f"/3/device/{token}"]

    def respond(self, request: ReceivedRequest) -> Reply:
        apns_id = request.headers.get("apns-id") or str(uuid.uuid4()).upper()

        def error(status: int, reason: str, retry_after: float | None = None) -> Reply:
            body: dict[str, object] = {"reason": reason}
            if status == 410:
                body["timestamp"] = int(time.time() * 1000)
            extra: tuple[tuple[str, str], ...] = (("apns-id", apns_id),)
            if retry_after is not None:
                extra += (("retry-after", f"{retry_after:g}"),)
            return Reply.json(status, body, extra)

        if request.method != "POST":
            return error(405, "MethodNotAllowed")
        prefix = "/3/device/"
        if not request.path.startswith(prefix) or len(request.path) == len(prefix):
            return error(404, "BadPath")
        token = request.path[len(prefix):]
        auth_problem = self._check_auth(request.headers.get("authorization", ""))
        if auth_problem:
            return error(403, auth_problem)
        topic = request.headers.get("apns-topic")
        if not topic:
            return error(400, "MissingTopic")
        push_type = request.headers.get("apns-push-type")
        if push_type is not None and push_type not in PUSH_TYPES:
            return error(400, "InvalidPushType")
        if request.headers.get("apns-priority", "10") not in {"1", "5", "10"}:
            return error(400, "BadPriority")
        if len(request.headers.get("apns-collapse-id", "").encode()) > 64:
            return error(400, "BadCollapseId")
        if not request.headers.get("apns-expiration", "0").isdigit():
            return error(400, "BadExpirationDate")
        if not request.body:
            return error(400, "PayloadEmpty")
        if len(request.body) > PAYLOAD_LIMIT:
            return error(413, "PayloadTooLarge")
        try:
            request.json()
        except ValueError:
            return error(400, "BadPayload")  # not an Apple reason: the stand-in's own check
        if self.take_storm():
            return error(self.storm_status, self.storm_reason)
        canned = self.failures.get(token)
        if canned is not None and canned.times != 0:
            if canned.times is not None:
                canned.times -= 1
            return error(canned.status, canned.reason, canned.retry_after)
        if self.topic is not None and topic != self.topic:
            return error(400, "DeviceTokenNotForTopic")
        if not all(c in "0123456789abcdefABCDEF" for c in token):
            return error(400, "BadDeviceToken")
        return Reply(200, headers=(("apns-id", apns_id),))

    def _check_auth(self, header: str) -> str:
        """Return the APNs reason for a bad provider token, or '' when it is acceptable."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return "MissingProviderToken"
        if self.verify_key is None:
            return ""
        try:
            claims = jwt.decode(token, self.verify_key, algorithms=["ES256"],
                                options={"require": ["iat", "iss"]})
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return "InvalidProviderToken"
        if (self.key_id and kid != self.key_id) or (self.team_id and claims["iss"] != self.team_id):
            return "InvalidProviderToken"
        if claims["iat"] < time.time() - 3600:
            return "ExpiredProviderToken"
        return ""
