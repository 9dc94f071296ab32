"""The values a forced charge or discharge is sent with, and who may be sent one.

The *Mode* select and the ``sunstream.charge`` / ``discharge`` /
``stop`` actions are one state (docs/actions.md): an action's power, target
and duration become these values (:meth:`CommandValues.after`), and choosing
a forced mode in the select sends a command built from them
(:meth:`CommandValues.command`). They are kept with the system's saved state,
so they survive a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .pysunstream.capabilities import MayLackDispatch
from .pysunstream.dispatch import BatteryLimits, Command, CommandKind
from .pysunstream.model import BatteryMode, PartKey
from .pysunstream.source import Source

DEFAULT_TARGET_SOC = 100.0
DEFAULT_DURATION_MIN = 60.0
MIN_POWER_W = 10.0
POWER_STEP_W = 10.0

MODE_COMMANDS: dict[BatteryMode, CommandKind] = {
    BatteryMode.SELF_CONSUMPTION: CommandKind.STOP,
    BatteryMode.FORCED_CHARGE: CommandKind.CHARGE,
    BatteryMode.FORCED_DISCHARGE: CommandKind.DISCHARGE,
}
"""The modes a user can choose, and the command each sends."""

RUNNING: dict[str, CommandKind] = {
    BatteryMode.FORCED_CHARGE: CommandKind.CHARGE,
    BatteryMode.FORCED_DISCHARGE: CommandKind.DISCHARGE,
}
"""The forced command a reported battery mode means."""


def accepts_dispatch(source: Source) -> bool:
    """Whether ``source`` can take a charge or discharge command now.

    A battery must be known (its limits read); the AlphaESS SMILE-T10 has a
    battery but no remote dispatch (docs/devices-and-limits.md).
    """
    if source.battery_limits is None:
        return False
    return source.dispatch_supported if isinstance(source, MayLackDispatch) else True


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandValues:
    """Power, target and duration of the next (or the running) forced command.

    A power of ``None`` stands for the battery's maximum, whatever the limits
    are once the source reports them.
    """

    charge_power_w: float | None = None
    discharge_power_w: float | None = None
    target_soc: float = DEFAULT_TARGET_SOC
    duration_min: float = DEFAULT_DURATION_MIN

    def power(self, kind: CommandKind, limits: BatteryLimits) -> float:
        """The power a ``kind`` command is sent with."""
        if kind is CommandKind.CHARGE:
            return limits.max_charge_w if self.charge_power_w is None else self.charge_power_w
        return limits.max_discharge_w if self.discharge_power_w is None else self.discharge_power_w

    def command(
        self,
        kind: CommandKind,
        limits: BatteryLimits,
        now: datetime,
        battery: PartKey | None = None,
    ) -> Command:
        """The command the select sends for ``kind`` (to ``battery``, one of several)."""
        if kind is CommandKind.STOP:
            return Command(kind=kind, issued_at=now, battery=battery)
        return Command(
            kind=kind,
            issued_at=now,
            power_w=self.power(kind, limits),
            target_soc=self.target_soc,
            duration=timedelta(minutes=self.duration_min),
            battery=battery,
        )

    def after(self, command: Command) -> CommandValues:
        """These values once ``command`` was sent (a stop changes nothing)."""
        if command.kind is CommandKind.STOP:
            return self
        values = replace(
            self,
            target_soc=command.target_soc,
            duration_min=command.duration.total_seconds() / 60,
        )
        if command.kind is CommandKind.CHARGE:
            return replace(values, charge_power_w=command.power_w)
        return replace(values, discharge_power_w=command.power_w)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the system's saved state."""
        return {
            "charge_power_w": self.charge_power_w,
            "discharge_power_w": self.discharge_power_w,
            "target_soc": self.target_soc,
            "duration_min": self.duration_min,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CommandValues:
        """Inverse of :meth:`as_dict`; missing keys keep their defaults."""
        default = cls()
        return cls(
            charge_power_w=data.get("charge_power_w", default.charge_power_w),
            discharge_power_w=data.get("discharge_power_w", default.discharge_power_w),
            target_soc=data.get("target_soc", default.target_soc),
            duration_min=data.get("duration_min", default.duration_min),
        )
