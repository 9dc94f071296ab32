"""End to end against the fake unit: polls, request counts, dispatch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import logging
import time

import pytest

from custom_components.sunstream.pysunstream.alphaess import AlphaEssSource
from custom_components.sunstream.pysunstream.alphaess.dispatch import DISPATCH_ADDRESS, IDLE_WORDS
from custom_components.sunstream.pysunstream.alphaess.errors import DispatchNotApplied
from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind
from custom_components.sunstream.pysunstream.errors import CommandFailed, CommandRejected
from custom_components.sunstream.pysunstream.model import (
    BatteryMode,
    DeviceKind,
    InverterStatus,
    Metric,
)
from custom_components.sunstream.pysunstream.source import Source
from sunstream_fakes.alphaess_fake import FakeAlphaEss

from .conftest import MakeSource, charge_command as _charge


def _now() -> datetime:
    return datetime.now(UTC)


async def test_identify_reads_the_serial(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source()
    assert await source.identify() == "AL7001021060321"
    identity = source.identity
    assert identity is not None
    assert identity.kind is DeviceKind.INVERTER
    assert identity.firmware == "V1.0.23R1"
    assert len(fake.requests) == 2


async def test_full_poll_takes_five_requests(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source(spacing=0.1)
    await source.identify()
    await source.async_poll(_now())  # first poll adds the 3 slow reads
    await asyncio.sleep(0.15)
    fake.reset_counters()
    started = time.monotonic()
    snapshot = await source.async_poll(_now())
    wall = time.monotonic() - started
    assert len(fake.requests) == 5
    assert all(r.function_code == 3 for r in fake.requests)
    assert all(r.count <= 100 for r in fake.requests)
    assert wall <= 5 * 0.1  # issue 4 benchmark target: ≤ 5 × spacing
    assert snapshot.get(Metric.BATTERY_SOC) == fake.soc


async def test_snapshot_maps_the_unit(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    fake.step()
    fake.speed = 0  # freeze the model so the unit's values can be compared
    source = make_source()
    snapshot = await source.async_poll(_now())
    typed: Source = source  # the protocol, checked by mypy
    assert typed.source_type == "modbus"
    assert source.source_type == "modbus"
    grid = snapshot.get(Metric.GRID_POWER)
    battery = snapshot.get(Metric.BATTERY_POWER)
    pv = snapshot.get(Metric.PV_POWER)
    assert grid == fake.get("grid_power")
    assert battery == fake.get("battery_power")
    assert pv == fake.get("pv1_power") + fake.get("pv2_power")
    assert isinstance(grid, float)
    assert isinstance(battery, float)
    assert isinstance(pv, float)
    assert snapshot.get(Metric.LOAD_POWER) == pytest.approx(pv + grid + battery)
    assert snapshot.get(Metric.GRID_IMPORT_ENERGY) == pytest.approx(
        fake.get("grid_import_energy") * 0.01
    )
    assert snapshot.get(Metric.PV_ENERGY_TOTAL) == pytest.approx(fake.get("system_pv_energy") * 0.1)
    assert snapshot.get(Metric.BATTERY_CHARGE_ENERGY) == pytest.approx(783.5, abs=1)
    assert snapshot.get(Metric.STATUS) == InverterStatus.PRODUCING
    assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.SELF_CONSUMPTION
    assert snapshot.get(Metric.INVERTER_TEMPERATURE) == 28.9
    assert snapshot.extras["battery_soh"] == 98.0
    assert snapshot.extras["grid_voltage_a"] == 244.0
    assert snapshot.identity is not None
    assert snapshot.identity.serial == "AL7001021060321"
    (battery_device,) = snapshot.devices
    assert battery_device.identity.kind is DeviceKind.BATTERY
    assert battery_device.identity.model == "M4856-P"
    assert battery_device.values["battery_soh"] == 98.0
    assert battery_device.units["battery_voltage"] == "V"
    limits = source.battery_limits
    assert limits is not None
    assert (limits.capacity_kwh, limits.max_charge_w, limits.min_soc) == (11.4, 5280, 10)


async def test_charge_is_one_write_read_back(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source()
    await source.async_poll(_now())
    fake.reset_counters()
    await source.async_dispatch(_charge(3000, 90, 60))
    write, readback = fake.requests
    assert (write.function_code, write.address, write.count) == (16, DISPATCH_ADDRESS, 9)
    assert (readback.function_code, readback.address, readback.count) == (3, DISPATCH_ADDRESS, 9)
    # On the wire: 32000 − 3000, SOC 90 % / 0.4, lease of 600 s.
    assert fake.dispatch_words() == (1, 0, 29000, 0, 32000, 2, 225, 0, 600)
    snapshot = await source.async_poll(_now())
    assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.FORCED_CHARGE
    assert snapshot.get(Metric.BATTERY_POWER) == -3000
    assert snapshot.extras["dispatch_target_soc"] == 90.0


async def test_battery_follows_discharge_then_stop(
    make_source: MakeSource, socket_enabled: None
) -> None:
    async with FakeAlphaEss(speed=3600) as fake:  # an hour per second
        source = make_source(port=fake.port, lease=timedelta(hours=1))  # fast clock
        await source.async_poll(_now())
        soc_before = fake.soc
        await source.async_dispatch(
            Command(
                kind=CommandKind.DISCHARGE,
                issued_at=_now(),
                power_w=4000,
                target_soc=20,
                duration=timedelta(hours=1),
            )
        )
        assert fake.dispatch_words()[:3] == (1, 0, 36000)
        await asyncio.sleep(0.2)
        snapshot = await source.async_poll(_now())
        assert snapshot.get(Metric.BATTERY_POWER) == 4000
        assert fake.soc < soc_before
        await source.async_dispatch(Command(kind=CommandKind.STOP, issued_at=_now()))
        assert fake.dispatch_words() == IDLE_WORDS
        snapshot = await source.async_poll(_now())
        assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.SELF_CONSUMPTION
        assert source.lease_state is None


async def test_charge_stops_at_the_target_soc(
    make_source: MakeSource, socket_enabled: None
) -> None:
    fake = FakeAlphaEss(speed=3600 * 4)
    fake.set("battery_soc", 300)  # 30 %: PV surplus alone must not reach the target first
    async with fake:
        # The clock runs 4 h per second: hold the command and its lease a day.
        source = make_source(port=fake.port, lease=timedelta(hours=24))
        await source.async_poll(_now())
        await source.async_dispatch(_charge(5000, 60, 24 * 60))
        for _ in range(20):
            await asyncio.sleep(0.05)
            snapshot = await source.async_poll(_now())
            if snapshot.get(Metric.BATTERY_POWER) == 0:
                break
        assert snapshot.get(Metric.BATTERY_POWER) == 0
        assert fake.soc == pytest.approx(60, abs=0.5)


@pytest.mark.parametrize(
    ("command", "key"),
    [
        (
            Command(
                kind=CommandKind.CHARGE,
                issued_at=datetime(2026, 1, 1, tzinfo=UTC),
                power_w=6000,
                target_soc=90,
                duration=timedelta(hours=1),
            ),
            "power_out_of_range",
        ),
        (
            Command(
                kind=CommandKind.DISCHARGE,
                issued_at=datetime(2026, 1, 1, tzinfo=UTC),
                power_w=1000,
                target_soc=120,
                duration=timedelta(hours=1),
            ),
            "soc_out_of_range",
        ),
        (
            Command(
                kind=CommandKind.DISCHARGE,
                issued_at=datetime(2026, 1, 1, tzinfo=UTC),
                power_w=1000,
                target_soc=5,
                duration=timedelta(hours=1),
            ),
            "soc_below_cutoff",
        ),  # below the unit's discharge cut-off (0x0850 = 10 %)
        (
            Command(
                kind=CommandKind.CHARGE,
                issued_at=datetime(2026, 1, 1, tzinfo=UTC),
                power_w=1000,
                target_soc=90,
                duration=timedelta(hours=25),
            ),
            "duration_out_of_range",
        ),
    ],
)
async def test_invalid_commands_never_reach_the_unit(
    fake: FakeAlphaEss, make_source: MakeSource, command: Command, key: str
) -> None:
    source = make_source()
    await source.async_poll(_now())
    fake.reset_counters()
    with pytest.raises(CommandRejected) as err:
        await source.async_dispatch(command)
    assert err.value.key == key
    assert fake.requests == []
    assert fake.dispatch_words() == IDLE_WORDS


async def test_dispatch_before_any_poll_reads_the_limits(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = make_source()
    await source.async_dispatch(_charge(1000))
    assert fake.dispatch_words()[0] == 1


async def test_t10_dispatch_is_refused(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source(model="smile-t10")
    await source.async_poll(_now())
    with pytest.raises(CommandRejected) as err:
        await source.async_dispatch(_charge())
    assert err.value.key == "dispatch_unsupported"


async def test_ignored_write_is_reported(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source()
    await source.async_poll(_now())
    fake.ignore_dispatch = True
    with pytest.raises(DispatchNotApplied) as err:
        await source.async_dispatch(_charge())
    assert err.value.key == "dispatch_not_applied"
    # The unit's doing, not a rule the command broke.
    assert isinstance(err.value, CommandFailed)
    assert not isinstance(err.value, CommandRejected)
    assert source.lease_state is None


async def test_lease_is_refreshed_before_expiry(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = make_source(lease=timedelta(minutes=10), lease_margin=timedelta(minutes=2))
    await source.async_poll(_now())
    command = _charge(2000, 95, 30)
    await source.async_dispatch(command)
    assert fake.dispatch_words()[7:] == (0, 600)
    t0 = command.issued_at
    assert not await source.async_maintain(t0 + timedelta(minutes=5))
    fake.reset_counters()
    # 8.5 min in: within the margin → re-sent with the next lease.
    assert await source.async_maintain(t0 + timedelta(minutes=8, seconds=30))
    assert [r.function_code for r in fake.requests] == [16, 3]
    assert fake.dispatch_words()[7:] == (0, 600)
    # 25 min in: only the remaining 5 minutes go out.
    lease = source.lease_state
    assert lease is not None
    assert await source.async_maintain(t0 + timedelta(minutes=25))
    assert fake.dispatch_words()[7:] == (0, 300)
    # After the command ends the source forgets it; nothing is written.
    fake.reset_counters()
    assert not await source.async_maintain(t0 + timedelta(minutes=31))
    assert source.lease_state is None
    assert fake.requests == []


async def test_a_renewal_the_unit_ignores_is_sent_again_next_poll(
    fake: FakeAlphaEss, make_source: MakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_source(lease=timedelta(minutes=10), lease_margin=timedelta(minutes=2))
    await source.async_poll(_now())
    command = _charge(2000, 95, 30)
    await source.async_dispatch(command)
    t0 = command.issued_at
    fake.ignore_dispatch = True
    with caplog.at_level(logging.WARNING):
        # 25 min in the renewal carries the remaining 5 min: other words.
        snapshot = await source.async_poll(t0 + timedelta(minutes=25))
    # The reading is not lost; the lease stays due, to be sent again.
    assert snapshot.get(Metric.BATTERY_SOC) == fake.soc
    lease = source.lease_state
    assert lease is not None
    assert lease.sent_at == t0
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "dispatch_not_applied" in warning.getMessage()
    caplog.clear()
    fake.ignore_dispatch = False
    renewed = t0 + timedelta(minutes=26)
    with caplog.at_level(logging.WARNING):
        await source.async_poll(renewed)
    lease = source.lease_state
    assert lease is not None
    assert lease.sent_at == renewed
    assert fake.dispatch_words()[7:] == (0, 240)
    assert not caplog.records


async def test_poll_refreshes_and_state_survives_restart(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = make_source(lease=timedelta(seconds=60), lease_margin=timedelta(seconds=30))
    await source.async_poll(_now())
    command = _charge(1500, 90, 10)
    await source.async_dispatch(command)
    saved = source.as_dict()
    assert saved["lease"]["sent_seconds"] == 60
    await source.async_close()  # the unit serves one client at a time
    await asyncio.sleep(0.05)  # let the unit see the close
    restored = make_source(lease=timedelta(seconds=60), lease_margin=timedelta(seconds=30))
    restored.restore(saved)
    fake.reset_counters()
    await restored.async_poll(command.issued_at + timedelta(seconds=45))
    writes = [r for r in fake.requests if r.function_code == 16]
    assert len(writes) == 1
    assert restored.lease_state is not None


async def test_external_stop_is_not_fought(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source()
    await source.async_poll(_now())
    await source.async_dispatch(_charge())
    fake._write_block(DISPATCH_ADDRESS, list(IDLE_WORDS))  # the app stopped it
    await source.async_poll(_now())
    assert source.lease_state is None


async def test_field_by_field_dispatch(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    from custom_components.sunstream.pysunstream.alphaess.quirks import (
        QUIRKS,
        DispatchWrite,
        Quirk,
    )

    quirks = (
        *QUIRKS,
        Quirk(
            source="test", models=frozenset({"fields"}), dispatch_write=DispatchWrite.FIELD_BY_FIELD
        ),
    )
    source: AlphaEssSource = make_source(model="fields", quirks=quirks)
    await source.async_poll(_now())
    fake.reset_counters()
    await source.async_dispatch(_charge(2500, 50, 60))
    writes = [(r.function_code, r.address, r.count) for r in fake.requests if r.function_code != 3]
    # Field-by-field (docs/protocols/alphaess.md#write-sequences): start (FC06),
    # power (FC16 ×2), time (FC16 ×2), SOC (FC06), mode (FC06).
    assert writes == [
        (6, 0x0880, 1),
        (16, 0x0881, 2),
        (16, 0x0887, 2),
        (6, 0x0886, 1),
        (6, 0x0885, 1),
    ]
    assert fake.dispatch_words() == (1, 0, 29500, 0, 32000, 2, 125, 0, 600)
