"""Model and firmware quirks are data rows folded into one profile."""

from __future__ import annotations

from custom_components.sunstream.pysunstream.alphaess.quirks import (
    MODELS,
    DispatchWrite,
    Quirk,
    WriteCode,
    resolve_profile,
)


def test_standard_follows_the_documents() -> None:
    profile = resolve_profile("standard")
    assert profile.scales == {}
    assert profile.single_write is WriteCode.FC06
    assert profile.dispatch_write is DispatchWrite.ONE_BLOCK
    assert profile.dispatch_supported


def test_b3_rows() -> None:
    profile = resolve_profile("SMILE-B3")
    assert profile.single_write is WriteCode.FC16
    assert profile.scale("grid_voltage_a", 1) == 0.1
    assert profile.scale("inverter_power", 1) == 0.1
    assert profile.scale("system_pv_energy", 0.1) == 0.01
    assert profile.scale("battery_soc", 0.1) == 0.1


def test_t10_cannot_dispatch() -> None:
    profile = resolve_profile("smile-t10")
    assert not profile.dispatch_supported
    assert profile.scale("discharge_cutoff_soc", 1) == 0.1


def test_ems25_is_a_model_choice() -> None:
    assert resolve_profile("ems2.5").scale("inverter_temperature", 0.1) == 0.01
    # A low reported version alone changes nothing (no source ties scales to it).
    assert resolve_profile("standard", (1, 0, 23)).scales == {}
    assert set(MODELS) >= {"standard", "smile-b3", "smile-t10", "smile-hi10", "ems2.5"}


def test_firmware_rows_and_model_precedence() -> None:
    quirks = (
        Quirk(
            source="model", models=frozenset({"m"}), scales={"x": 0.5}, single_write=WriteCode.FC16
        ),
        Quirk(
            source="fw",
            firmware_below=(2, 0, 0),
            scales={"x": 0.25, "y": 2.0},
            dispatch_write=DispatchWrite.FIELD_BY_FIELD,
        ),
    )
    old = resolve_profile("m", (1, 9, 9), quirks=quirks)
    assert old.scales == {"x": 0.5, "y": 2.0}  # the model row wins for x
    assert old.dispatch_write is DispatchWrite.FIELD_BY_FIELD
    assert old.single_write is WriteCode.FC16
    new = resolve_profile("m", (2, 0, 0), quirks=quirks)
    assert new.scales == {"x": 0.5}
    assert resolve_profile("other", (0, 0, 0), quirks=quirks).scales == {}  # 0.0.0 = unknown
