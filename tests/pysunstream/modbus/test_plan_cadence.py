"""``plan_cadence``: one cadence's blocks, with the registers a device lacks as holes."""

from __future__ import annotations

from custom_components.sunstream.pysunstream.modbus.planner import plan_cadence
from custom_components.sunstream.pysunstream.modbus.registers import Cadence, RegType, row

ROWS = (
    row("a", 100, RegType.U16),
    row("slow", 101, RegType.U32, cadence=Cadence.SLOW),
    row("b", 105, RegType.U16),
)
SPANS = ((100, 199),)


def _blocks(unsupported: set[str]) -> list[tuple[int, int]]:
    plan = plan_cadence(ROWS, Cadence.REALTIME, unsupported, SPANS)
    return [(block.start, block.count) for block in plan.blocks]


def test_one_block_bridges_rows_of_other_cadences() -> None:
    assert _blocks(set()) == [(100, 6)]


def test_a_missing_register_of_another_cadence_splits_the_block() -> None:
    # A block over an address the device lacks fails as a whole, so a
    # real-time block must not bridge a slow register answered with exception 2.
    assert _blocks({"slow"}) == [(100, 1), (105, 1)]


def test_a_missing_register_is_not_read() -> None:
    assert _blocks({"b"}) == [(100, 1)]
    plan = plan_cadence(ROWS, Cadence.SLOW, {"slow"}, SPANS)
    assert plan.blocks == ()


def test_the_cap_and_the_spans_still_apply() -> None:
    plan = plan_cadence(ROWS, Cadence.REALTIME, set(), SPANS, max_count=3)
    assert [(block.start, block.count) for block in plan.blocks] == [(100, 1), (105, 1)]
    plan = plan_cadence(ROWS, Cadence.REALTIME, set(), ((100, 102), (105, 105)))
    assert [(block.start, block.count) for block in plan.blocks] == [(100, 1), (105, 1)]
