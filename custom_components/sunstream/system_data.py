"""What a system's entities read after each poll."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .pysunstream.controls import DeviceSettings
from .pysunstream.economics import EconomicsReading
from .pysunstream.model import DeviceIdentity, DeviceKind, Metric, PartKey, Snapshot, Value


@dataclass(frozen=True, slots=True)
class SystemData:
    """The source's snapshot plus the economics derived from it."""

    snapshot: Snapshot
    economics: EconomicsReading
    # What a Configurable source's device reported on this poll; None otherwise.
    settings: DeviceSettings | None = None
    # Each of several batteries' inverter's own settings, by battery part
    # (ConfiguresSeveralBatteries); empty otherwise.
    part_settings: Mapping[PartKey, DeviceSettings] = field(default_factory=dict)

    def settings_of(self, battery: PartKey | None) -> DeviceSettings | None:
        """What the system (``battery`` None) or one of its batteries' inverters reported."""
        if battery is None:
            return self.settings
        return self.part_settings.get(battery)

    def metric(self, metric: Metric) -> Value:
        """A canonical value from the snapshot."""
        return self.snapshot.get(metric)

    @property
    def has_battery(self) -> bool:
        """Whether the system reports a battery at all."""
        return Metric.BATTERY_SOC in self.snapshot.metrics

    def identity(self, kind: DeviceKind | None = None) -> DeviceIdentity | None:
        """The system's identity, or that of its first part of ``kind``."""
        if kind is None:
            return self.snapshot.identity
        for device in self.snapshot.devices:
            if device.identity.kind is kind:
                return device.identity
        return None
