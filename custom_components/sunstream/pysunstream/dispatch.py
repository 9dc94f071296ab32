"""Battery dispatch commands and the rules every source applies to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .errors import CommandRejected
from .model import PartKey

MIN_DURATION = timedelta(minutes=1)
MAX_DURATION = timedelta(hours=24)


class CommandKind(StrEnum):
    """The three things a user can ask of a battery."""

    CHARGE = "charge"
    DISCHARGE = "discharge"
    STOP = "stop"


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryLimits:
    """What a battery can do; commands are checked against it.

    ``capacity_kwh`` is ``None`` where the source cannot tell one battery's
    size (one of several behind a WiNet gateway); 0 means no battery.
    """

    capacity_kwh: float | None
    max_charge_w: float
    max_discharge_w: float
    min_soc: float = 0.0
    max_soc: float = 100.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A forced charge or discharge held until ``expires_at``, or a stop.

    A charge ends early once the state of charge reaches ``target_soc`` from
    below, a discharge once it reaches it from above. ``battery`` names the
    battery part the command is for; ``None`` is the system's battery (a
    source with several refuses to guess).
    """

    kind: CommandKind
    issued_at: datetime
    power_w: float = 0.0
    target_soc: float = 0.0
    duration: timedelta = timedelta(0)
    battery: PartKey | None = None

    @property
    def expires_at(self) -> datetime:
        """When the battery returns to normal operation by itself."""
        return self.issued_at + self.duration

    def active(self, now: datetime) -> bool:
        """Whether the command still holds at ``now``."""
        return self.kind is not CommandKind.STOP and now < self.expires_at

    def as_dict(self) -> dict[str, str | float]:
        """JSON-ready form, for storage and events."""
        data: dict[str, str | float] = {
            "kind": self.kind.value,
            "issued_at": self.issued_at.isoformat(),
            "power_w": self.power_w,
            "target_soc": self.target_soc,
            "duration_s": self.duration.total_seconds(),
        }
        if self.battery is not None:
            data["battery"] = self.battery
        return data

    @classmethod
    def from_dict(cls, data: dict[str, str | float]) -> Command:
        """Inverse of :meth:`as_dict`."""
        return cls(
            kind=CommandKind(str(data["kind"])),
            issued_at=datetime.fromisoformat(str(data["issued_at"])),
            power_w=float(data["power_w"]),
            target_soc=float(data["target_soc"]),
            duration=timedelta(seconds=float(data["duration_s"])),
            battery=PartKey(str(data["battery"])) if "battery" in data else None,
        )


def validate_command(command: Command, limits: BatteryLimits | None) -> None:
    """Raise :class:`CommandRejected` unless ``limits`` admit ``command``."""
    if limits is None or (limits.capacity_kwh is not None and limits.capacity_kwh <= 0):
        raise CommandRejected("no_battery")
    if command.kind is CommandKind.STOP:
        return
    max_power = (
        limits.max_charge_w if command.kind is CommandKind.CHARGE else limits.max_discharge_w
    )
    if not 0 < command.power_w <= max_power:
        raise CommandRejected(
            "power_out_of_range",
            power=f"{command.power_w:g}",
            max_power=f"{max_power:g}",
        )
    validate_target(command)


def validate_target(command: Command) -> None:
    """Check what every source checks alike: the SOC target and the duration."""
    if not 0 <= command.target_soc <= 100:
        raise CommandRejected("soc_out_of_range", soc=f"{command.target_soc:g}")
    if not MIN_DURATION <= command.duration <= MAX_DURATION:
        raise CommandRejected(
            "duration_out_of_range",
            duration=f"{command.duration.total_seconds() / 60:g}",
            min_duration=f"{MIN_DURATION.total_seconds() / 60:g}",
            max_duration=f"{MAX_DURATION.total_seconds() / 60:g}",
        )
