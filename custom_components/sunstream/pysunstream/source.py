"""What the integration needs from any source of data."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from .dispatch import BatteryLimits, Command
from .model import Snapshot


class Source(Protocol):
    """A system Sunstream can read and, if it has a battery, command.

    ``async_poll`` raises :class:`~.errors.SourceUnavailable` when the link
    is down; ``async_dispatch`` raises :class:`~.errors.CommandRejected` for
    a command the system cannot accept and :class:`~.errors.CommandFailed`
    for one it took but did not carry out. What only some sources can do
    is a protocol of its own in :mod:`.capabilities`.
    """

    source_type: str

    @property
    def battery_limits(self) -> BatteryLimits | None:
        """Limits commands are checked against; ``None`` without battery."""

    async def async_poll(self, now: datetime) -> Snapshot:
        """Read the whole system once."""

    async def async_dispatch(self, command: Command) -> None:
        """Carry out a charge, discharge or stop."""

    async def async_close(self) -> None:
        """Release connections."""

    def as_dict(self) -> dict[str, Any]:
        """State worth keeping across restarts (may be empty)."""

    def restore(self, data: dict[str, Any]) -> None:
        """Continue from what :meth:`as_dict` saved."""
