"""FCM adapter on pyfcm (HTTP v1, service-account credentials), run in a thread pool.

pyfcm builds the v1 payload, holds a ``requests`` session per thread and turns the service
account into bearer tokens. Three things it cannot do for us, fixed in ``_FCMClient``:

- **Retry-After**: ``BaseAPI.send_request`` ``time.sleep``s for any Retry-After inside the
  request and retries without limit; it also mounts a urllib3 ``Retry`` that sleeps on
  502/503. We send once with retries off and hand Retry-After to the worker instead.
- **Error classes**: ``parse_response`` keeps neither the Google error body nor headers, so
  UNREGISTERED cannot be told from a missing project, nor a bad token from a bad field.
  We classify from the status and body ourselves.
- **Another endpoint**: ``FCM_END_POINT_BASE`` is a class attribute; we shadow it on the
  instance (no global mutation), and give both the FCM session and the token fetch a CA
  bundle so a loopback TLS server can be trusted.

``requests`` speaks HTTP/1.1 only, so each in-flight push holds one thread and one TCP
connection; ``FCMConfig.concurrency`` sizes both.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

import google.auth.transport.requests
import requests
from google.auth.credentials import Credentials
from google.auth.exceptions import RefreshError, TransportError
from pyfcm import FCMNotification
from requests.adapters import HTTPAdapter
from typing_extensions import override

from ...errors import (
    ConfigurationError,
    DeliveryTimeoutError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from ...messages import PushMessage
from .base import PushChannel, PushReply
from .payload import PUSH_PAYLOAD_LIMIT, fit_text
from .retry_after import parse_retry_after

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


@dataclass(frozen=True, slots=True)
class FCMConfig:
    """How to reach FCM HTTP v1: a ready ``credentials`` object or a service-account file.

    Attributes:
        credentials: google-auth credentials with the ``FCM_SCOPE`` scope (workload
            identity, Application Default Credentials ...); or None to use
            ``service_account_file``.
        service_account_file: Path of the Firebase service-account JSON.
        project_id: The Firebase project; None takes it from the credentials.
        endpoint_base: Another endpoint than Google's (the loopback stand-in), as pyfcm's
            ``FCM_END_POINT_BASE``; None for Google.
        verify: CA bundle path to trust for FCM and the OAuth token endpoint, or True
            for the system's.
        concurrency: Pushes in flight at once; each holds a thread and an HTTP/1.1
            connection.
        timeout: Seconds one push may take (token fetch, connect, reply) before
            ``DeliveryTimeoutError``; also each socket operation's timeout.
        time_to_live: Seconds FCM keeps an undelivered push (``android.ttl``).
        android_channel_id: The app's Android notification channel, if it defines one.

    Raises:
        ConfigurationError: Neither credentials nor a file, or a number out of range.
    """

    credentials: Credentials | None = field(default=None, compare=False, repr=False)
    service_account_file: str | None = None
    project_id: str | None = None
    endpoint_base: str | None = None
    verify: str | bool = True
    concurrency: int = 16
    timeout: float = 10.0
    time_to_live: int = 24 * 3600
    android_channel_id: str | None = None

    def __post_init__(self) -> None:
        if self.credentials is None and not self.service_account_file:
            raise ConfigurationError("FCMConfig needs credentials or service_account_file "
                                     "(the Firebase service-account JSON)")
        if self.concurrency < 1 or self.timeout <= 0 or self.time_to_live < 0:
            raise ConfigurationError("FCMConfig: concurrency >= 1, timeout > 0, "
                                     "time_to_live >= 0")


class _VerifyingSession(requests.Session):
    """A session whose ``verify`` wins over REQUESTS_CA_BUNDLE (requests lets the env win)."""

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None or verify is True:
            settings["verify"] = self.verify
        return settings


class _TimedRequest(google.auth.transport.requests.Request):
    """google-auth's transport with our timeout: its default lets a token fetch hang 120 s."""

    def __init__(self, session: requests.Session, timeout: float) -> None:
        super().__init__(session)
        self._timeout = timeout

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: float | None = None, **kwargs: Any) -> Any:
        return super().__call__(url, method=method, body=body,  # type: ignore[no-untyped-call]
                                headers=headers, timeout=timeout or self._timeout, **kwargs)


class _FCMClient(FCMNotification):  # type: ignore[misc]
    """pyfcm with one send per call, our endpoint and CA bundle, and token reuse."""

    def __init__(self, config: FCMConfig, adapter: HTTPAdapter) -> None:
        super().__init__(service_account_file=config.service_account_file,
                         project_id=config.project_id, credentials=config.credentials,
                         adapter=adapter)
        if config.endpoint_base:
            self.FCM_END_POINT_BASE = config.endpoint_base  # instance shadows the class value
        self._verify = config.verify
        self._timeout = config.timeout
        self._token_lock = threading.Lock()
        self._stale_token: str | None = None

    def _get_access_token(self) -> str:
        # pyfcm refreshes on every call (one token fetch per thread); refresh only when the
        # token is invalid or FCM rejected it, under a lock.
        with self._token_lock:
            if self.credentials is None:
                self._initialize_credentials()
            creds = self.credentials
            if not creds.valid or creds.token == self._stale_token:
                session = _VerifyingSession()
                session.verify = self._verify
                creds.refresh(_TimedRequest(session, self._timeout))
            token: str = creds.token
            return token

    def send_request(self, payload: bytes | None = None,
                     timeout: float | None = None) -> requests.Response:
        response: requests.Response = self.requests_session.post(
            self.fcm_end_point, data=payload, timeout=timeout, verify=self._verify)
        if self._is_access_token_expired(response):  # once, not recursively as pyfcm does
            self._stale_token = self.credentials.token
            self.thread_local.token_expiry = 0
            response = self.requests_session.post(self.fcm_end_point, data=payload,
                                                  timeout=timeout, verify=self._verify)
        return response


def _reserved_data_key(key: str) -> bool:
    """Keys FCM refuses in ``data`` (the whole send fails INVALID_ARGUMENT otherwise)."""
    return key in ("from", "notification", "message_type") or key.startswith(("google", "gcm"))


def fcm_fields(message: PushMessage, config: FCMConfig) -> dict[str, Any]:
    """The ``notify``/``parse_payload`` arguments of pyfcm other than title and body."""
    data = {**{k: str(v) for k, v in message.data.items() if not _reserved_data_key(k)},
            "deep_link": message.deep_link, "ticket_id": message.ticket_id}
    notification: dict[str, str] = {"tag": message.collapse_id}
    if config.android_channel_id:
        notification["channel_id"] = config.android_channel_id
    android = {"collapse_key": message.collapse_id, "priority": "HIGH",
               "ttl": f"{config.time_to_live}s", "notification": notification}
    return {"fcm_token": message.token, "data_payload": data, "android_config": android}


class FCMChannel(PushChannel[bytes]):
    """Send ``PushMessage`` to Android through FCM; dead tokens raise InvalidAddressError.

    Args:
        config: Credentials and limits; see ``FCMConfig``.
    """

    name: ClassVar[str] = "fcm"
    provider: ClassVar[str] = "FCM"
    dead_token_reasons: ClassVar[frozenset[str]] = frozenset({"UNREGISTERED"})
    timeout_errors: ClassVar[tuple[type[BaseException], ...]] = (requests.Timeout,)
    transport_errors: ClassVar[tuple[type[BaseException], ...]] = (
        requests.ConnectionError, TransportError)

    def __init__(self, config: FCMConfig) -> None:
        super().__init__(concurrency=config.concurrency, timeout=config.timeout)
        self.config = config
        self._adapter = HTTPAdapter(max_retries=0, pool_connections=1,
                                    pool_maxsize=config.concurrency)
        self._client = _FCMClient(config, self._adapter)
        self._executor: ThreadPoolExecutor | None = None

    @override
    def is_dead_token(self, reply: PushReply) -> bool:
        # FCM answers a malformed or truncated token with a plain INVALID_ARGUMENT whose
        # message names the registration token; other INVALID_ARGUMENTs are our message.
        return super().is_dead_token(reply) or (
            reply.status == 400 and "registration token" in reply.text.lower())

    def payload(self, message: PushMessage) -> bytes:
        """The request body, text shortened on grapheme boundaries to fit 4096 bytes."""
        fields = fcm_fields(message, self.config)

        def build(title: str, body: str) -> bytes:
            encoded: bytes = self._client.parse_payload(
                notification_title=title, notification_body=body, **fields)
            return encoded

        # FCM's limit is on the message; the envelope {"message":..,"validate_only":false}
        # is 35 bytes more, so measuring the whole body keeps us on the safe side.
        return fit_text(build, message.title, message.body, PUSH_PAYLOAD_LIMIT).payload

    build = payload

    @override
    async def post(self, request: bytes) -> PushReply:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.config.concurrency, "ticketnotify-fcm")
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self._executor, self._post, request)
        except TransportError as exc:  # google-auth wraps the token fetch's requests error
            if isinstance(exc.__cause__, requests.Timeout):
                raise DeliveryTimeoutError(
                    f"the OAuth token endpoint did not answer within {self.config.timeout:g} s; "
                    "will retry", code="token_timeout") from exc
            raise TransientDeliveryError(f"could not fetch an OAuth token ({exc}); will retry; "
                                         "check network access to Google",
                                         code="token_fetch") from exc
        except RefreshError as exc:
            if getattr(exc, "retryable", False):
                raise TransientDeliveryError(f"OAuth token refresh failed ({exc}); will retry",
                                             code="token_refresh") from exc
            raise PermanentDeliveryError(f"the service account was refused ({exc}); check the "
                                         "credentials and project", code="token_refresh") from exc
        if response.status_code == 200:
            return PushReply(200, provider_id=str(response.json().get("name", "")))
        grpc_status, error_code, text = _google_error(response)
        return PushReply(response.status_code, reason=error_code or grpc_status, text=text,
                         retry_after=parse_retry_after(response.headers.get("retry-after")))

    def _post(self, body: bytes) -> requests.Response:
        response: requests.Response = self._client.send_request(body, self.config.timeout)
        return response

    async def aclose(self) -> None:
        """Stop the threads and close the HTTP connections; safe twice; ``send`` reopens."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        self._adapter.close()


def _google_error(response: requests.Response) -> tuple[str, str, str]:
    """(status, FcmError errorCode, message) from a Google API error body, '' if absent."""
    try:
        error = response.json()["error"]
        assert isinstance(error, dict)
    except (ValueError, KeyError, TypeError, AssertionError):
        return "", "", response.text[:200]
    codes = [d.get("errorCode", "") for d in error.get("details", []) if isinstance(d, dict)]
    return str(error.get("status", "")), str(next((c for c in codes if c), "")), \
        str(error.get("message", ""))

