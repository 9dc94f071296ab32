"""The block planner: request count, size cap, and gaps bridged only where readable."""

from __future__ import annotations

from custom_components.sunstream.pysunstream.alphaess.quirks import UnitProfile, resolve_profile
from custom_components.sunstream.pysunstream.alphaess.registers import (
    BY_KEY,
    REGISTERS,
    Cadence,
    registers_for,
)
from custom_components.sunstream.pysunstream.modbus.planner import plan_reads


def test_realtime_poll_needs_five_requests() -> None:
    plan = plan_reads(registers_for(Cadence.REALTIME), resolve_profile("standard"))
    assert len(plan.blocks) == 5
    assert plan.skipped == ()
    assert [(b.start, b.count) for b in plan.blocks] == [
        (0x0010, 39),  # grid meter
        (0x0090, 19),  # PV meter energy .. power
        (0x0100, 46),  # battery
        (0x0400, 65),  # inverter + PV strings + work mode
        (0x0880, 9),  # dispatch block
    ]


def test_every_block_is_readable_and_capped() -> None:
    profile = resolve_profile("standard")
    plan = plan_reads(REGISTERS, profile)
    covered = {r.key for b in plan.blocks for r in b.registers}
    assert covered == {r.key for r in REGISTERS}
    for block in plan.blocks:
        assert block.count <= 100
        assert profile.is_readable(block.start, block.end)
        for reg in block.registers:
            assert block.start <= reg.address
            assert reg.end <= block.end


def test_slow_and_identity_reads() -> None:
    profile = resolve_profile("standard")
    assert len(plan_reads(registers_for(Cadence.SLOW), profile).blocks) == 3
    assert len(plan_reads(registers_for(Cadence.IDENTITY), profile).blocks) == 2


def test_gap_is_bridged_only_inside_one_readable_range() -> None:
    regs = [BY_KEY["grid_power_factor"], BY_KEY["pv_meter_energy"]]  # 0x0036..0x0091
    one_range = UnitProfile(name="x", readable=((0x0000, 0x00FF),))
    split = UnitProfile(name="x", readable=((0x0000, 0x0036), (0x0090, 0x00B6)))
    assert len(plan_reads(regs, one_range).blocks) == 1
    assert len(plan_reads(regs, split).blocks) == 2


def test_cap_splits_blocks() -> None:
    profile = resolve_profile("standard")
    regs = registers_for(Cadence.REALTIME)
    assert len(plan_reads(regs, profile, max_count=20).blocks) > 5
    assert all(b.count <= 20 for b in plan_reads(regs, profile, max_count=20).blocks)


def test_unreadable_registers_are_skipped() -> None:
    profile = UnitProfile(name="x", readable=((0x0100, 0x012D),))
    plan = plan_reads([BY_KEY["grid_power"], BY_KEY["battery_soc"]], profile)
    assert [r.key for r in plan.skipped] == ["grid_power"]
    assert len(plan.blocks) == 1


def test_hi10_cannot_read_pv_total() -> None:
    assert resolve_profile("smile-hi10").is_readable(0x0453, 0x0454) is False
    assert resolve_profile("standard").is_readable(0x0453, 0x0454) is True
    assert resolve_profile("smile-hi10").is_readable(0x0400, 0x044E) is True
