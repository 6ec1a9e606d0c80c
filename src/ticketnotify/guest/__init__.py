"""Guest access: signed deep links, email verification codes and short-lived access grants."""

from .codes import SentCode, VerificationCodes
from .errors import (
    AddressMismatchError,
    CodeDeliveryError,
    CodeError,
    CodeExpiredError,
    CodeStoreUnavailableError,
    ExpiredGrantError,
    ExpiredLinkError,
    GrantError,
    GuestAccessError,
    InvalidGrantError,
    LinkError,
    MalformedCodeError,
    MalformedLinkError,
    NoCodeError,
    NotYetValidLinkError,
    RateLimitedError,
    TamperedLinkError,
    TooManyAttemptsError,
    WrongCodeError,
    WrongPurposeLinkError,
    WrongTicketGrantError,
)
from .links import DEFAULT_URL_PATTERN, EXAMPLE_URL_PATTERN, GuestLinks, OpenedLink
from .sender import CodeSender, EmailCodeSender
from .session import AccessGrant, AccessGrants
from .stores.base import DEFAULT_SEND_LIMITS, CodeStore, RateLimit, StoredCode
from .stores.memory import MemoryCodeStore
from .stores.postgres import PostgresCodeStore
from .stores.sqlite import SQLiteCodeStore

__all__ = [
    "DEFAULT_SEND_LIMITS", "DEFAULT_URL_PATTERN", "EXAMPLE_URL_PATTERN", "AccessGrant", "AccessGrants",
    "AddressMismatchError", "CodeDeliveryError", "CodeError", "CodeExpiredError", "CodeSender", "CodeStore",
    "CodeStoreUnavailableError",
    "EmailCodeSender", "ExpiredGrantError", "ExpiredLinkError", "GrantError",
    "GuestAccessError", "GuestLinks", "InvalidGrantError", "LinkError", "MalformedCodeError",
    "MalformedLinkError", "MemoryCodeStore", "NoCodeError", "NotYetValidLinkError",
    "OpenedLink", "PostgresCodeStore", "RateLimit", "RateLimitedError", "SQLiteCodeStore",
    "SentCode", "StoredCode",
    "TamperedLinkError", "TooManyAttemptsError", "VerificationCodes", "WrongCodeError",
    "WrongPurposeLinkError", "WrongTicketGrantError",
]
