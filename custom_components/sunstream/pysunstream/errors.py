"""Errors a source raises; the integration translates each for the user."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a link is down (or came back), as connectivity events say it.

    The values are public: they go out in ``sunstream_connectivity`` events
    and the *Connection* sensor's ``reason`` attribute, and
    ``docs/events-and-triggers.md`` lists them. Never rename one.
    """

    # Any source.
    OUTAGE = "outage"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    REFUSED = "refused"
    PROTOCOL = "protocol"
    # AlphaESS.
    DISCONNECTED = "disconnected"
    # WiNet.
    TLS = "tls"
    CERTIFICATE = "certificate"
    AUTH = "auth"
    USER_LIMIT = "user_limit"
    INTERNAL_ERROR = "internal_error"
    READ_FAILED = "read_failed"
    TOKEN_EXPIRED = "token_expired"
    CLOSED = "closed"
    OFFLINE = "offline"
    BACKOFF = "backoff"
    # Transitions, not failures: the link is back, or a part's own link.
    CONNECTED = "connected"
    LINK_LOST = "link_lost"
    LINK_RESTORED = "link_restored"


class SunstreamError(Exception):
    """Base class for every error of this package."""


class SourceUnavailable(SunstreamError):
    """The source cannot be reached right now; polling will retry.

    ``reason`` says why (a :class:`Reason`, carried into connectivity
    events). ``issue`` names a
    problem only the user can resolve (a changed certificate, a unit held
    by another client); callers surface it instead of retrying silently.
    """

    issue: str | None = None

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(detail or str(reason))
        self.reason = reason
        self.detail = detail


class AuthenticationFailed(SourceUnavailable):
    """The system refused the credentials; retrying with them cannot help.

    The caller asks the user for new ones (Home Assistant: a reauth flow)
    instead of polling on.
    """

    def __init__(self, detail: str = "") -> None:
        super().__init__(Reason.AUTH, detail)


class CommandError(SunstreamError):
    """A dispatch command was not carried out.

    ``key`` names what went wrong (a translation key of the integration)
    and ``placeholders`` the numbers its message needs. Raise one of the
    subclasses: whose fault it was decides how the user is told.
    """

    def __init__(self, key: str, **placeholders: str) -> None:
        super().__init__(key)
        self.key = key
        self.placeholders = placeholders

    def __str__(self) -> str:
        """The key and its placeholders, for the log (``dispatch_not_applied (expected=…)``)."""
        if not self.placeholders:
            return self.key
        return f"{self.key} ({', '.join(f'{k}={v}' for k, v in self.placeholders.items())})"


class CommandRejected(CommandError):
    """The command is not valid for this system; nothing was sent.

    What was asked must change (``no_battery``, ``power_out_of_range``,
    ``soc_out_of_range``, …), so retrying the same command cannot help.
    """


class CommandFailed(CommandError):
    """A valid command was sent, but the system did not carry it out.

    Nothing the user typed was wrong: the system ignored or overrode the
    command (``dispatch_not_applied``), so checking the system or retrying
    later may help.
    """
