"""Words → values, for every register type, and the fixtures through the map."""

from __future__ import annotations

import pytest

from custom_components.sunstream.pysunstream.alphaess.quirks import resolve_profile
from custom_components.sunstream.pysunstream.alphaess.registers import (
    BY_KEY,
    REGISTERS,
    RegType,
)
from custom_components.sunstream.pysunstream.modbus.decode import (
    decode_dump,
    decode_raw,
    decode_register,
    encode_ascii,
    encode_raw,
)
from sunstream_fakes.alphaess_fake import FakeAlphaEss

STANDARD = resolve_profile("standard")


@pytest.mark.parametrize(
    ("type_", "words", "expected"),
    [
        (RegType.U16, [0xFFFF], 65535),
        (RegType.S16, [0xFFFF], -1),
        (RegType.S16, [0x8000], -32768),
        (RegType.S16, [0x7FFF], 32767),
        (RegType.U32, [0x0001, 0xE27B], 123515),  # docs/protocols/alphaess.md#words-and-types
        (RegType.S32, [0xFFFF, 0xFFFA], -6),
        (RegType.S32, [0x8000, 0x0000], -(2**31)),
        (RegType.U32, [0xFFFF, 0xFFFF], 2**32 - 1),
        # A real 0x0743, 16 bytes (docs/protocols/alphaess.md#words-and-types).
        (
            RegType.ASCII,
            [0x414C, 0x3730, 0x3031, 0x3032, 0x3130, 0x3630, 0x3332, 0x3100],
            "AL7001021060321",
        ),
    ],
)
def test_decode_raw(type_: RegType, words: list[int], expected: int | str) -> None:
    assert decode_raw(type_, words) == expected


@pytest.mark.parametrize("value", [-32768, -1, 0, 1, 32767])
def test_s16_round_trip(value: int) -> None:
    assert decode_raw(RegType.S16, encode_raw(RegType.S16, value)) == value


@pytest.mark.parametrize("value", [-(2**31), -163, 0, 123515, 2**31 - 1])
def test_s32_round_trip(value: int) -> None:
    assert decode_raw(RegType.S32, encode_raw(RegType.S32, value)) == value


def test_encode_rejects_overflow() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode_raw(RegType.U16, 65536)
    with pytest.raises(ValueError, match="does not fit"):
        encode_raw(RegType.S16, -32769)


def test_ascii_round_trip_pads_with_nul() -> None:
    words = encode_ascii("AL7001021060321", 8)
    assert len(words) == 8
    assert words[-1] == 0x3100
    assert decode_raw(RegType.ASCII, words) == "AL7001021060321"


def test_scaled_values_and_signs() -> None:
    # 0x0126: − charge, + discharge: raw 0xFF5D = −163 W stays −163 (canonical: − charge).
    assert decode_register(BY_KEY["battery_power"], [0xFF5D], STANDARD) == -163.0
    # 0x0021 grid: −1200 W is export, already the canonical sign.
    assert decode_register(BY_KEY["grid_power"], encode_raw(RegType.S32, -1200), STANDARD) == -1200
    assert decode_register(BY_KEY["battery_soc"], [736], STANDARD) == 73.6
    assert decode_register(BY_KEY["grid_export_energy"], [0x0012, 0xE74C], STANDARD) == 12388.6
    assert decode_register(BY_KEY["battery_min_cell_temperature"], [0xFFEC], STANDARD) == -2.0
    assert decode_register(BY_KEY["inverter_work_mode"], [4], STANDARD) == "fault"
    assert decode_register(BY_KEY["inverter_work_mode"], [99], STANDARD) == "unknown_99"


def test_map_has_no_overlaps_and_fits_the_documented_ranges() -> None:
    last_end = -1
    for reg in REGISTERS:
        assert reg.address > last_end, reg.key
        last_end = reg.end
        assert STANDARD.is_readable(reg.address, reg.end), reg.key


def _dump(fake: FakeAlphaEss) -> dict[int, int]:
    return dict(fake.words)


def test_standard_fixture_decodes_to_documented_values() -> None:
    values = decode_dump(REGISTERS, _dump(FakeAlphaEss(model="standard")), STANDARD)
    # Expected = raw × documented scale, the SMILE-B3 dump's physical values
    # (docs/protocols/alphaess.md#a-real-register-snapshot).
    assert values["grid_export_energy"] == 12388.6  # 1238860 × 0.01
    assert values["grid_import_energy"] == 950.1
    assert values["grid_voltage_a"] == 244.0  # 1 V/bit on EMS3.5/3.6
    assert values["grid_frequency"] == 50.02
    assert values["battery_soc"] == 73.6
    assert values["battery_min_cell_voltage"] == 3.29  # 3290 × 0.001
    assert values["battery_capacity"] == 11.4
    assert values["battery_charge_energy"] == 783.5
    assert values["battery_discharge_energy"] == 730.2
    assert values["battery_power"] == 163.0
    assert values["battery_max_charge_power"] == 5280.0
    assert values["inverter_temperature"] == 28.9
    assert values["inverter_power"] == 161.0
    assert values["system_pv_energy"] == 3204.9
    assert values["battery_type"] == "M4856-P"
    assert values["ems_serial"] == "AL7001021060321"
    assert values["discharge_cutoff_soc"] == 10.0
    assert values["dispatch_active_power"] == 32000.0


def test_b3_fixture_needs_the_b3_quirks() -> None:
    dump = _dump(FakeAlphaEss(model="smile-b3"))
    b3 = decode_dump(REGISTERS, dump, resolve_profile("smile-b3"))
    assert b3["grid_voltage_a"] == 243.6  # raw 2436 × 0.1
    assert b3["battery_min_cell_voltage"] == 3.29  # raw 329 × 0.01
    assert b3["inverter_temperature"] == 28.9  # raw 2890 × 0.01
    assert b3["inverter_power"] == 161.0  # raw 1610 × 0.1
    assert b3["system_pv_energy"] == 3204.89  # raw 320489 × 0.01 (the SMILE-B3 dump)
    # Read with the documented scales the same words are 10× off.
    doc = decode_dump(REGISTERS, dump, STANDARD)
    assert doc["grid_voltage_a"] == 2436.0
    assert doc["inverter_power"] == 1610.0
