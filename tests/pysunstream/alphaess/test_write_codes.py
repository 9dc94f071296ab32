"""FC06 vs FC16: which code a model answers is data, and the wire shows it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from custom_components.sunstream.pysunstream.alphaess import DEFAULT_UNIT, ModbusClient, ModbusError
from custom_components.sunstream.pysunstream.alphaess.quirks import WriteCode, resolve_profile
from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind
from custom_components.sunstream.pysunstream.errors import SourceUnavailable
from custom_components.sunstream.pysunstream.model import Metric
from sunstream_fakes.alphaess_fake import FakeAlphaEss

from .conftest import MakeSource

CHARGE_CUT_SOC = 0x0855


@pytest.fixture(name="b3")
async def b3_fixture(socket_enabled: None) -> AsyncIterator[FakeAlphaEss]:
    async with FakeAlphaEss(model="smile-b3") as fake:
        yield fake


async def test_standard_unit_takes_fc06_and_refuses_fc16_on_one_register(
    fake: FakeAlphaEss,
) -> None:
    client = ModbusClient("127.0.0.1", fake.port, DEFAULT_UNIT, timeout=0.3, spacing=0.01)
    try:
        code = resolve_profile("standard").single_write
        assert code is WriteCode.FC06
        await client.write(CHARGE_CUT_SOC, [60], code)
        assert fake.requests[-1].function_code == 6
        assert fake.get("charge_cutoff_soc") == 60
        with pytest.raises(ModbusError) as err:
            await client.write(CHARGE_CUT_SOC, [70], WriteCode.FC16)
        assert err.value.exception_code == 2
        assert fake.get("charge_cutoff_soc") == 60
    finally:
        await client.close()


async def test_b3_never_answers_fc06_and_takes_fc16(b3: FakeAlphaEss) -> None:
    client = ModbusClient("127.0.0.1", b3.port, DEFAULT_UNIT, timeout=0.3, spacing=0.01)
    try:
        await client.read(CHARGE_CUT_SOC, 1)
        code = resolve_profile("smile-b3").single_write
        assert code is WriteCode.FC16
        await client.write(CHARGE_CUT_SOC, [60], code)
        assert b3.requests[-1].function_code == 16
        assert b3.get("charge_cutoff_soc") == 60
        with pytest.raises(SourceUnavailable) as err:
            await client.write(CHARGE_CUT_SOC, [70], WriteCode.FC06)
        assert err.value.reason == "timeout"
    finally:
        await client.close()


async def test_b3_source_decodes_and_dispatches(b3: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source(port=b3.port, model="smile-b3")
    snapshot = await source.async_poll(datetime.now(UTC))
    assert snapshot.extras["grid_voltage_a"] == 243.6
    assert snapshot.extras["battery_min_cell_voltage"] == 3.29
    assert snapshot.get(Metric.INVERTER_TEMPERATURE) == 28.9
    assert snapshot.get(Metric.PV_ENERGY_TOTAL) == pytest.approx(3204.89, abs=0.05)
    assert snapshot.identity is not None
    assert snapshot.identity.model == "SMILE-B3"
    await source.async_dispatch(
        Command(
            kind=CommandKind.DISCHARGE,
            issued_at=datetime.now(UTC),
            power_w=2000,
            target_soc=30,
            duration=timedelta(minutes=30),
        )
    )
    assert b3.dispatch_words() == (1, 0, 34000, 0, 32000, 2, 75, 0, 600)
