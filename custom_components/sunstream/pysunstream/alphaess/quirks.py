"""What differs between AlphaESS models and firmware, as data.

The documents give one scale per register; real units disagree
(docs/protocols/alphaess.md#models-and-firmware). Rather than branching on a
model name in the parser, each known deviation is a :class:`Quirk` row keyed
by model and/or firmware, and :func:`resolve_profile` folds the rows that
apply into one :class:`UnitProfile`. Adding a model is adding a row.

``readable`` lists the address ranges the unit answers. The block planner
only bridges a gap between two wanted registers when the whole span lies
inside one readable range, because a block that touches one unanswered
address fails as a whole (docs/protocols/alphaess.md#block-reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ..controls import WINDOWS, NumberRange, Setting
from ..modbus.client import WriteCode
from ..modbus.planner import without

__all__ = [
    "EMS25",
    "MODELS",
    "QUIRKS",
    "SMILE_B3",
    "SMILE_HI10",
    "SMILE_T10",
    "STANDARD",
    "DispatchWrite",
    "Quirk",
    "UnitProfile",
    "WriteCode",
    "resolve_profile",
    "without",
]

#: Address ranges the official tables document (docs/protocols/alphaess.md#register-map); both
#: ends inclusive. Undocumented gaps between them are never bridged.
DOCUMENTED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x0001),
    (0x0010, 0x0036),  # grid meter
    (0x0080, 0x0081),
    (0x0090, 0x00B6),  # PV meter
    (0x0100, 0x0148),  # battery
    (0x0400, 0x044E),  # inverter (0x044F..0x0452 undocumented)
    (0x0453, 0x0454),  # PV total power (absent on SMILE-Hi10)
    (0x0640, 0x0658),  # inverter versions and serial
    (0x0740, 0x0751),  # time, EMS serial and version
    (0x0800, 0x0811),  # system configuration
    (0x084F, 0x0861),  # time-period control
    (0x0880, 0x088A),  # dispatch
    (0x088F, 0x0891),
    (0x08B0, 0x08C1),
    (0x08D0, 0x08D5),  # system energy and fault
)


#: The settings an AlphaESS unit keeps in its flash (0x0800, 0x084F..0x0861;
#: see :mod:`.settings`). No model is known to lack one; a unit that
#: answers exception 2 for a setting's registers loses it at run time.
KEPT_SETTINGS: frozenset[Setting] = frozenset(
    {Setting.RESERVE_SOC, Setting.CHARGE_LIMIT_SOC, Setting.EXPORT_LIMIT, *WINDOWS}
)

_PCT = "%"

#: Limits of the numeric settings. No document states them; these are the
#: ones another Home Assistant integration's number entities offer
#: (docs/protocols/alphaess.md#settings).
SETTING_RANGES: Mapping[Setting, NumberRange] = {
    Setting.RESERVE_SOC: NumberRange(minimum=4, maximum=100, step=1, unit=_PCT),
    Setting.CHARGE_LIMIT_SOC: NumberRange(minimum=10, maximum=100, step=1, unit=_PCT),
    Setting.EXPORT_LIMIT: NumberRange(minimum=0, maximum=100, step=1, unit=_PCT),
}


class DispatchWrite(StrEnum):
    """How the dispatch block goes to the unit.

    ``one_block`` is a single FC16 of nine registers at 0x0880, as most
    clients send it over TCP. ``field_by_field`` is the others' order
    (start, power, time, SOC, mode), each write separate, for a unit that
    does not take the block at once
    (docs/protocols/alphaess.md#write-sequences).
    """

    ONE_BLOCK = "one_block"
    FIELD_BY_FIELD = "field_by_field"


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitProfile:
    """Everything model- or firmware-specific the library needs."""

    name: str
    readable: tuple[tuple[int, int], ...] = DOCUMENTED_RANGES
    scales: Mapping[str, float] = field(default_factory=dict)
    single_write: WriteCode = WriteCode.FC06
    dispatch_write: DispatchWrite = DispatchWrite.ONE_BLOCK
    #: Dispatch SOC percent per bit: the doc's 0.4 (two integrations use
    #: 0.392, docs/protocols/alphaess.md#dispatch).
    dispatch_soc_step: float = 0.4
    dispatch_supported: bool = True
    #: Longest dispatch time one write holds (u32 seconds; an integration
    #: keeps the high word 0, so 65535 s is known to work, docs/protocols/alphaess.md#dispatch).
    dispatch_max_seconds: int = 65535
    #: What the model keeps in flash, and the limits of the numbers.
    settings: frozenset[Setting] = KEPT_SETTINGS
    setting_ranges: Mapping[Setting, NumberRange] = field(
        default_factory=lambda: dict(SETTING_RANGES)
    )
    #: No document says what the unit does with windows that overlap (a
    #: charge window inside a discharge window contradicts itself), so
    #: Sunstream refuses to write such a schedule.
    windows_may_overlap: bool = False

    @property
    def low_word_first(self) -> bool:
        """AlphaESS puts the high word first (docs/protocols/alphaess.md#words-and-types)."""
        return False

    def scale(self, key: str, documented: float) -> float:
        """The scale to use for register ``key``."""
        return self.scales.get(key, documented)

    def is_readable(self, first: int, last: int) -> bool:
        """Whether one read of ``first..last`` stays inside one answered range."""
        return any(lo <= first and last <= hi for lo, hi in self.readable)


@dataclass(frozen=True, slots=True, kw_only=True)
class Quirk:
    """A deviation from the documents, and where it applies.

    ``models`` (lower-case names) and ``firmware_below`` (EMS version
    triple from 0x074B..0x074D) select the units; a quirk with neither
    applies to none. Fields left ``None`` change nothing. No shipped row is
    keyed by firmware yet: no source ties a scale change to a reported
    version number ("EMS2.5" is hardware, see :data:`MODELS`).
    """

    source: str
    models: frozenset[str] = frozenset()
    firmware_below: tuple[int, int, int] | None = None
    scales: Mapping[str, float] = field(default_factory=dict)
    single_write: WriteCode | None = None
    dispatch_write: DispatchWrite | None = None
    dispatch_supported: bool | None = None
    unreadable: tuple[tuple[int, int], ...] = ()
    settings_absent: frozenset[Setting] = frozenset()

    def applies(self, model: str, firmware: tuple[int, int, int] | None) -> bool:
        """Whether this quirk concerns ``model`` running ``firmware``."""
        if model in self.models:
            return True
        return (
            self.firmware_below is not None
            and firmware is not None
            and firmware != (0, 0, 0)  # B3 dump: 0.0.0 means "not reported"
            and firmware < self.firmware_below
        )


STANDARD = "standard"
SMILE_B3 = "smile-b3"
SMILE_T10 = "smile-t10"
SMILE_HI10 = "smile-hi10"
EMS25 = "ems2.5"

#: Model names a user can pick; "standard" follows the documents. "ems2.5"
#: is the switch for older EMS hardware ("EMS3.5/3.6 seems to follow the
#: spec", docs/protocols/alphaess.md#ems-25); the unit's reported version does not
#: say which EMS it is, so this is the user's choice, not a firmware match.
MODELS: tuple[str, ...] = (STANDARD, SMILE_B3, SMILE_HI10, SMILE_T10, EMS25)

#: The model the unit's device shows. No register tells the model (see the
#: map in registers.py), so this follows the user's pick; "standard" and
#: "ems2.5" name no product line.
MODEL_NAMES: dict[str, str] = {
    STANDARD: "Storage system",
    SMILE_B3: "SMILE-B3",
    SMILE_HI10: "SMILE-Hi10",
    SMILE_T10: "SMILE-T10",
    EMS25: "Storage system (EMS 2.5)",
}

_B3_POWER = {
    key: 0.1
    for key in (
        "inverter_power_l1",
        "inverter_power_l2",
        "inverter_power_l3",
        "inverter_power",
        "backup_power",
    )
}
_EMS25 = {
    "grid_voltage_a": 0.1,
    "grid_voltage_b": 0.1,
    "grid_voltage_c": 0.1,
    "battery_min_cell_voltage": 0.01,
    "battery_max_cell_voltage": 0.01,
    "inverter_temperature": 0.01,
}

QUIRKS: tuple[Quirk, ...] = (
    Quirk(
        source="docs/protocols/alphaess.md#smile-b3",
        models=frozenset({SMILE_B3}),
        scales={**_EMS25, **_B3_POWER, "system_pv_energy": 0.01},
        single_write=WriteCode.FC16,
    ),
    Quirk(
        source="docs/protocols/alphaess.md#ems-25",
        models=frozenset({EMS25}),
        scales=_EMS25,
    ),
    # The T10 keeps every setting: it stores the cut-off SOCs at 0.1 % per
    # bit (Sunstream writes them at the same scale), and its firmware makes
    # every register writable but dispatch (docs/protocols/alphaess.md#smile-t10).
    Quirk(
        source="docs/protocols/alphaess.md#smile-t10",
        models=frozenset({SMILE_T10}),
        scales={"discharge_cutoff_soc": 0.1, "charge_cutoff_soc": 0.1},
        dispatch_supported=False,
    ),
    Quirk(
        source="docs/protocols/alphaess.md#smile-hi10",
        models=frozenset({SMILE_HI10}),
        unreadable=((0x0453, 0x0454),),
    ),
)


def resolve_profile(
    model: str = STANDARD,
    firmware: tuple[int, int, int] | None = None,
    *,
    quirks: Iterable[Quirk] = QUIRKS,
) -> UnitProfile:
    """Fold every quirk that applies to ``model``/``firmware`` into a profile.

    Later quirks win over earlier ones for the same field; model quirks come
    first in :data:`QUIRKS`, so a model row states what that model does
    even when a firmware row also matches.
    """
    model = model.lower()
    profile = UnitProfile(name=model)
    applied = [q for q in quirks if q.applies(model, firmware)]
    # Model rows are the more specific knowledge: let them override.
    applied.sort(key=lambda q: model in q.models)
    for quirk in applied:
        profile = replace(
            profile,
            scales={**profile.scales, **quirk.scales},
            single_write=quirk.single_write or profile.single_write,
            dispatch_write=quirk.dispatch_write or profile.dispatch_write,
            dispatch_supported=(
                profile.dispatch_supported
                if quirk.dispatch_supported is None
                else quirk.dispatch_supported
            ),
            readable=without(profile.readable, quirk.unreadable),
            settings=profile.settings - quirk.settings_absent,
        )
    return profile
