"""One error tree, so hosts catch ``TicketNotifyError`` or the builtin each error resembles."""

from __future__ import annotations


class TicketNotifyError(Exception):
    """Root of every error the library raises."""


class InvalidInputError(TicketNotifyError, ValueError):
    """Bad input refused at a boundary; ``field`` names what was wrong."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class UnknownLocaleError(InvalidInputError):
    """A locale string that is not a locale (Babel cannot parse it)."""


class ConfigurationError(TicketNotifyError, ValueError):
    """The library was set up wrongly (missing key, unknown channel, bad template dir)."""


class StoreUnavailableError(TicketNotifyError):
    """A store (outbox, code store) is out of reach: database down, locked, disk full.

    The call changed nothing (its transaction rolled back), so repeating it later is safe.
    Raised on every call while the outage lasts, never a driver's own exception; a store
    that is set up wrongly (bad path, unknown database, failed login) raises
    ``ConfigurationError`` instead, because waiting will not help.
    """


class OutboxUnavailableError(StoreUnavailableError):
    """The outbox could not store a publish (database down, locked, disk full); nothing was stored."""


class CatalogError(TicketNotifyError):
    """A gettext catalog could not be loaded or is broken.

    ``path`` is the catalog file and ``line`` the 1-based line of the fault, when known.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        super().__init__(message)


class DeliveryError(TicketNotifyError):
    """A channel could not deliver a message; subclasses say whether to retry."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        self.code = code
        super().__init__(message)


class TransientDeliveryError(DeliveryError):
    """Try again later; ``retry_after`` (seconds) is honoured when the peer gave one."""

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, code=code)


class DeliveryTimeoutError(TransientDeliveryError, TimeoutError):
    """The peer did not answer in time."""


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help; the job is dead-lettered with this reason."""


class InvalidAddressError(PermanentDeliveryError):
    """The address or device token is dead; the host is told so it can forget it."""
