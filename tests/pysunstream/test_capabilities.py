"""Which source has which optional capability (``pysunstream.capabilities``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.sunstream.pysunstream.alphaess import AlphaEssSource
from custom_components.sunstream.pysunstream.capabilities import (
    CommandsSeveralBatteries,
    Diagnosable,
    HasLinkMetrics,
    HoldsModbus,
    KeepsAlive,
    KnowsPvPeak,
    MayLackDispatch,
    Pausable,
    Rehearses,
)
from custom_components.sunstream.pysunstream.controls import ConfiguresSeveralBatteries
from custom_components.sunstream.pysunstream.errors import Reason, SourceUnavailable
from custom_components.sunstream.pysunstream.simulator import SimulatedSystem, SimulatorConfig
from custom_components.sunstream.pysunstream.simulator.microgrid import (
    MicrogridConfig,
    MicrogridSystem,
)
from custom_components.sunstream.pysunstream.simulator.rehearsal import FaultKind
from custom_components.sunstream.pysunstream.sungrow import SungrowModbusSource
from custom_components.sunstream.pysunstream.winet import WinetSource

CAPABILITIES = (
    KeepsAlive,
    HasLinkMetrics,
    Diagnosable,
    KnowsPvPeak,
    Rehearses,
    Pausable,
    CommandsSeveralBatteries,
    HoldsModbus,
    MayLackDispatch,
    ConfiguresSeveralBatteries,
)
NOON = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)


def _has(source: object) -> set[type]:
    return {capability for capability in CAPABILITIES if isinstance(source, capability)}


def test_winet_keeps_alive_counts_and_tells() -> None:
    assert _has(WinetSource("127.0.0.1")) == {
        KeepsAlive,
        HasLinkMetrics,
        Diagnosable,
        CommandsSeveralBatteries,
        ConfiguresSeveralBatteries,
    }


def test_alphaess_holds_one_modbus_session_and_may_lack_dispatch() -> None:
    assert _has(AlphaEssSource("127.0.0.1", 502, 85)) == {HoldsModbus, MayLackDispatch}


def test_sungrow_modbus_holds_one_modbus_session_and_tells() -> None:
    assert _has(SungrowModbusSource("127.0.0.1")) == {HoldsModbus, Diagnosable}


def test_simulated_house_rehearses_and_knows_its_peak() -> None:
    assert _has(SimulatedSystem(SimulatorConfig())) == {KnowsPvPeak, Rehearses}


def test_microgrid_also_pauses() -> None:
    assert _has(MicrogridSystem(MicrogridConfig())) == {KnowsPvPeak, Rehearses, Pausable}


def test_house_rehearses_an_inverter_fault_as_an_outage_and_nothing_else() -> None:
    house = SimulatedSystem(SimulatorConfig())
    for kind in set(FaultKind) - house.fault_kinds:
        with pytest.raises(ValueError, match=kind.value):
            house.simulate_fault(kind, NOON, timedelta(minutes=5))
    assert house.online(NOON)
    house.simulate_fault(FaultKind.INVERTER_OFFLINE, NOON, timedelta(minutes=5))
    with pytest.raises(SourceUnavailable) as outage:
        house.poll(NOON + timedelta(minutes=1))
    assert outage.value.reason is Reason.OUTAGE
    house.poll(NOON + timedelta(minutes=5))
    assert house.outage_until is None


async def test_microgrid_outage_is_the_same_state_as_the_house_one() -> None:
    grid = MicrogridSystem(MicrogridConfig())
    grid.start_outage(NOON, timedelta(minutes=5))
    with pytest.raises(SourceUnavailable) as outage:
        await grid.async_poll(NOON + timedelta(minutes=1))
    assert outage.value.reason is Reason.OUTAGE
    grid.end_outage()
    await grid.async_poll(NOON + timedelta(minutes=2))
    assert grid.outage_until is None
