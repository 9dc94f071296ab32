"""What a user can rehearse on a simulated system: outages and faults.

Both simulators (the house of :mod:`.system`, the microgrid of
:mod:`.microgrid`) keep simulating through an outage (the sun does not
stop) but answer no poll until it ends; :class:`SimulatedLink` is that one
state for both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from ..errors import Reason, SourceUnavailable


class FaultKind(StrEnum):
    """Faults a user can rehearse (``sunstream.simulate_fault``)."""

    BUS_VOLTAGE_SAG = "bus_voltage_sag"
    CONVERTER_OVER_TEMPERATURE = "converter_over_temperature"
    INVERTER_OFFLINE = "inverter_offline"
    WIND_CUT_OUT = "wind_cut_out"
    PV_STRING_SHADING = "pv_string_shading"


class SimulatedLink:
    """The link of a simulated system, which an outage cuts for a while."""

    outage_until: datetime | None = None

    def start_outage(self, now: datetime, duration: timedelta) -> None:
        """Stop answering polls until ``now + duration`` (the link, not the grid)."""
        self.outage_until = now + duration

    def end_outage(self) -> None:
        """Answer polls again at once."""
        self.outage_until = None

    def online(self, now: datetime) -> bool:
        """Whether a poll at ``now`` would be answered."""
        return self.outage_until is None or now >= self.outage_until

    def answer(self, now: datetime) -> None:
        """Let a poll at ``now`` through, or raise the outage it falls in."""
        if not self.online(now):
            raise SourceUnavailable(Reason.OUTAGE, "simulated outage")
        self.outage_until = None
