"""Devices behind a WiNet gateway and what to ask each of them.

The ``devicelist`` reply names every device on the dongle's RS-485 bus; the
``dev_type`` decides which services return its data
(docs/protocols/winet.md#devices). Unknown types are polled with ``real``
only: the most used client crashes on them, and ``real`` is the one service
every type answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model import DeviceKind, PartKey

REAL = "real"
REAL_BATTERY = "real_battery"
DIRECT = "direct"

HYBRID_INVERTER = 35
"""Residential energy-storage inverter (SH*RS, SH*RT)."""
PV_INVERTER = 21
"""Residential PV inverter (SG*RS, SG*RT)."""
STRING_INVERTER = 1
BATTERY = 44
"""SBR battery stack (polled with ``real`` on its own ``dev_id``)."""
METER = 18
CHARGER = 46
"""EV charger (``I18N_COMMON_CHARGING_PILE`` in ``/device/getType``)."""

# The table every other client copied, plus type 1 (docs/protocols/winet.md#devices).
_STAGES: dict[int, tuple[str, ...]] = {
    0: (REAL, DIRECT),
    STRING_INVERTER: (REAL, DIRECT),
    PV_INVERTER: (REAL, DIRECT),
    HYBRID_INVERTER: (REAL, REAL_BATTERY, DIRECT),
}

_KINDS: dict[int, DeviceKind] = {
    BATTERY: DeviceKind.BATTERY,
    METER: DeviceKind.METER,
    CHARGER: DeviceKind.CHARGER,
}


def stages_for(dev_type: int) -> tuple[str, ...]:
    """The services that read a device of ``dev_type``, in poll order."""
    return _STAGES.get(dev_type, (REAL,))


def kind_for(dev_type: int) -> DeviceKind:
    """What a device of ``dev_type`` is.

    The data model has no "other" kind; boxes (rare behind a WiNet) are
    reported as inverters, which is what the gateway's web UI lists them
    under too.
    """
    return _KINDS.get(dev_type, DeviceKind.INVERTER)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    """One entry of the ``devicelist`` reply.

    ``raw`` keeps every field the device sent (diagnostics), including the
    misspelled ``dev_procotol``.
    """

    dev_id: int
    dev_type: int
    serial: str
    model: str
    name: str = ""
    dev_code: int | None = None
    link_status: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def online(self) -> bool:
        """Whether the dongle can reach the device (``link_status`` 1).

        A device list without ``link_status`` (old firmware) counts as online.
        """
        return self.link_status is None or self.link_status == 1

    @property
    def stages(self) -> tuple[str, ...]:
        """See :func:`stages_for`."""
        return stages_for(self.dev_type)

    @property
    def kind(self) -> DeviceKind:
        """See :func:`kind_for`."""
        return kind_for(self.dev_type)

    @property
    def hybrid(self) -> bool:
        """Whether the device is a hybrid inverter (it has a battery to command)."""
        return self.dev_type == HYBRID_INVERTER

    @property
    def key(self) -> str:
        """Stable identity: the serial, or the bus id when it is blank."""
        return self.serial or f"dev{self.dev_id}"

    @property
    def part_key(self) -> PartKey:
        """The device's part key in a snapshot."""
        return PartKey(f"winet_{self.key}")

    @property
    def battery_key(self) -> PartKey:
        """The part key of a hybrid inverter's own battery (one of several)."""
        return PartKey(f"{self.part_key}_battery")
