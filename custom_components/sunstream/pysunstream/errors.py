"""Errors a source raises; the integration translates each for the user."""

from __future__ import annotations


class SunstreamError(Exception):
    """Base class for every error of this package."""


class SourceUnavailable(SunstreamError):
    """The source cannot be reached right now; polling will retry.

    ``reason`` is a short machine-readable word ("outage", "timeout",
    "refused", …) carried into connectivity events. ``issue`` names a
    problem only the user can resolve (a changed certificate, a unit held
    by another client); callers surface it instead of retrying silently.
    """

    issue: str | None = None

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


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
