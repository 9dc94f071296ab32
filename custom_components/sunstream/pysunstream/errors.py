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


class CommandRejected(SunstreamError):
    """A dispatch command is not valid for this system.

    ``key`` names the rule broken (``no_battery``, ``power_out_of_range``,
    …) and ``placeholders`` the numbers a message needs.
    """

    def __init__(self, key: str, **placeholders: str) -> None:
        super().__init__(key)
        self.key = key
        self.placeholders = placeholders
