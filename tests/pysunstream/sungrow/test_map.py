"""The register map, the model table and the planner on Sungrow's limits (no I/O)."""

from __future__ import annotations

import pytest

from custom_components.sunstream.pysunstream.modbus.decode import decode_raw, encode_raw
from custom_components.sunstream.pysunstream.modbus.planner import plan_reads
from custom_components.sunstream.pysunstream.modbus.registers import Cadence, RegType, Table
from custom_components.sunstream.pysunstream.sungrow import (
    Connection,
    Family,
    model_of,
    resolve_profile,
)
from custom_components.sunstream.pysunstream.sungrow.models import readable
from custom_components.sunstream.pysunstream.sungrow.registers import BY_KEY, COMMON, HYBRID


def test_32_bit_values_are_low_word_first() -> None:
    # 123456 = 0x0001_E240: the low word 0xE240 sits at the lower address.
    assert decode_raw(RegType.U32, [0xE240, 0x0001], low_word_first=True) == 123456
    assert encode_raw(RegType.S32, -2, low_word_first=True) == [0xFFFE, 0xFFFF]
    assert decode_raw(RegType.S32, [0xFFFE, 0xFFFF], low_word_first=True) == -2


def test_addresses_are_the_documented_numbers_minus_one() -> None:
    assert BY_KEY["device_type_code"].address == 4999  # documented as 5000
    assert BY_KEY["serial"].address == 4989  # documented as 4990..4999
    assert BY_KEY["ems_mode"].address == 13049  # documented as 13050
    assert BY_KEY["ems_mode"].table is Table.HOLDING
    assert BY_KEY["battery_soc"].table is Table.INPUT


def test_grid_power_of_a_hybrid_is_inverted_to_import_positive() -> None:
    assert BY_KEY["grid_power"].address == 13009
    assert BY_KEY["grid_power"].sign == -1


@pytest.mark.parametrize(
    ("code", "name", "family", "phases"),
    [
        (0x0E03, "SH10RT", Family.HYBRID, 3),
        (0x0E13, "SH10RT-20", Family.HYBRID, 3),
        (0x0D0F, "SH5.0RS", Family.HYBRID, 1),
        (0x0E7F, "0x0E7F", Family.HYBRID, 3),
        (0x2430, "0x2430", Family.STRING, 3),
    ],
)
def test_device_type_codes_name_the_model(
    code: int, name: str, family: Family, phases: int
) -> None:
    model = model_of(code)
    assert (model.name, model.family, model.phases) == (name, family, phases)


def test_winet_plans_at_most_38_registers_per_read() -> None:
    lan = resolve_profile(model_of(0x0E03), Connection.LAN)
    winet = resolve_profile(model_of(0x0E03), Connection.WINET)
    for table in Table:
        rows = [r for r in winet.registers(Cadence.REALTIME) if r.table is table]
        plan = plan_reads(rows, readable(table), max_count=winet.max_count)
        assert all(block.count <= 38 for block in plan.blocks)
        assert not plan.skipped
    counts = {
        profile.connection: sum(
            len(
                plan_reads(
                    [r for r in profile.registers(Cadence.REALTIME) if r.table is table],
                    readable(table),
                    max_count=profile.max_count,
                ).blocks
            )
            for table in Table
        )
        for profile in (lan, winet)
    }
    assert counts == {Connection.LAN: 3, Connection.WINET: 4}


def test_winet_reads_the_frequency_at_a_tenth_of_the_scale() -> None:
    winet = resolve_profile(model_of(0x0E03), Connection.WINET)
    assert winet.scale("grid_frequency", 0.1) == 0.01
    assert resolve_profile(model_of(0x0E03), Connection.LAN).scale("grid_frequency", 0.1) == 0.1


def test_string_inverters_read_no_hybrid_rows() -> None:
    string = resolve_profile(model_of(0x2430), Connection.LAN)
    keys = {r.key for c in Cadence for r in string.registers(c)}
    assert "battery_soc" not in keys
    assert "ems_mode" not in keys
    assert {r.key for r in COMMON} <= keys
    assert BY_KEY["battery_soc"] in HYBRID
