"""What some sources can do beyond :class:`~.source.Source`.

Each capability is a small protocol the integration checks with
``isinstance`` (they are ``runtime_checkable``), never with ``getattr``:
a source has one by having its members, nothing to register. ``isinstance``
only sees that the names exist, so ``tests/pysunstream/test_capabilities.py``
pins which source has which, and mypy checks the members' types where the
integration uses them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from .dispatch import BatteryLimits
from .modbus.client import ModbusClient
from .model import PartKey
from .simulator.rehearsal import FaultKind


@runtime_checkable
class KeepsAlive(Protocol):
    """Holds a session open between polls (WiNet) and must keep it alive."""

    async def async_run_keepalive(self) -> None:
        """Keep the session alive until cancelled."""


@runtime_checkable
class HasLinkMetrics(Protocol):
    """Counts its connection's events (attempts, failures, frames…)."""

    def link_metrics(self) -> dict[str, int]:
        """The counters by name, numbers only."""


@runtime_checkable
class Diagnosable(Protocol):
    """Has more to tell about its link than the snapshot (for diagnostics)."""

    def diagnostics(self) -> dict[str, Any]:
        """Connection state, counters, raw device data."""


@runtime_checkable
class KnowsPvPeak(Protocol):
    """Knows what its PV can produce at best (only the simulated ones do)."""

    @property
    def pv_peak_w(self) -> float:
        """Peak PV power, in W."""


@runtime_checkable
class Rehearses(Protocol):
    """A simulation a user can rehearse outages and faults on."""

    @property
    def fault_kinds(self) -> frozenset[FaultKind]:
        """The faults :meth:`simulate_fault` accepts."""

    def start_outage(self, now: datetime, duration: timedelta) -> None:
        """Answer no poll until ``now + duration``."""

    def simulate_fault(self, kind: FaultKind, now: datetime, duration: timedelta) -> None:
        """Inject ``kind`` (one of :attr:`fault_kinds`) from ``now`` for ``duration``."""


@runtime_checkable
class Pausable(Protocol):
    """A simulation that can be frozen and run again."""

    @property
    def running(self) -> bool:
        """Whether the simulation advances."""

    def start(self) -> None:
        """Run the simulation."""

    def stop(self) -> None:
        """Freeze it: readings repeat until started again."""


@runtime_checkable
class CommandsSeveralBatteries(Protocol):
    """Has several batteries, each commanded on its own.

    A WiNet gateway with several hybrid inverters: a command names its
    battery part (:attr:`~.dispatch.Command.battery`).
    """

    @property
    def battery_parts(self) -> tuple[PartKey, ...]:
        """The batteries a command can name; empty unless there are several."""

    def limits_of(self, battery: PartKey) -> BatteryLimits | None:
        """What ``battery`` can do, once known; ``None`` before."""


@runtime_checkable
class HoldsModbus(Protocol):
    """Reads its device through one Modbus session (AlphaESS, Sungrow Modbus).

    The session is what a shared Modbus endpoint forwards other clients'
    requests through (:mod:`.modbus.endpoint`).
    """

    @property
    def modbus_client(self) -> ModbusClient:
        """The one session to the device."""


@runtime_checkable
class MayLackDispatch(Protocol):
    """Has a battery that some of its models cannot command (AlphaESS SMILE-T10).

    A source without this capability takes a charge or discharge command
    whenever its battery is known (:attr:`~.source.Source.battery_limits`).
    """

    @property
    def dispatch_supported(self) -> bool:
        """Whether this model takes remote charge and discharge commands."""
