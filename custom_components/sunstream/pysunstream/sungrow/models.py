"""Sungrow models, connection types and their differences, as data.

The inverter names itself: input register 4999 holds a device type code
that :data:`MODELS` turns into a model row (name, family, phases, MPPTs).
Rather than branching on a model name in the parser, each known deviation
is a :class:`Quirk` row keyed by connection, family or model, and
:func:`resolve_profile` folds the rows that apply into one :class:`Profile`.
Adding a model is adding a row (docs/protocols/sungrow-modbus.md#models).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ..modbus.planner import MAX_REGISTERS_PER_READ, Spans
from ..modbus.registers import Cadence, Register, Table
from .registers import COMMON, DOCUMENTED_RANGES, HYBRID, STRING


class Family(StrEnum):
    """Hybrid (SH, with battery and the 13000 block) or string (SG, PV only)."""

    HYBRID = "sh"
    STRING = "sg"


class PowerUnit(StrEnum):
    """The unit a model takes its forced charge/discharge power in (holding 13051)."""

    WATT = "W"
    PERCENT = "%"
    """Of the rated power (input 5000)."""


class Connection(StrEnum):
    """Where Sunstream talks Modbus TCP: the inverter's own LAN port or the WiNet-S dongle."""

    LAN = "lan"
    WINET = "winet"


@dataclass(frozen=True, slots=True, kw_only=True)
class Model:
    """One device type code's model."""

    code: int
    name: str
    family: Family
    phases: int


def _sh(code: int, name: str, phases: int = 3) -> Model:
    return Model(code=code, name=name, family=Family.HYBRID, phases=phases)


#: Device type codes of input 4999 (docs/protocols/sungrow-modbus.md#device-type-codes).
MODELS: Mapping[int, Model] = {
    model.code: model
    for model in (
        _sh(0x0D03, "SH5K-V13", 1),
        _sh(0x0D06, "SH3K6", 1),
        _sh(0x0D07, "SH4K6", 1),
        _sh(0x0D09, "SH5K-20", 1),
        _sh(0x0D0A, "SH3K6-30", 1),
        _sh(0x0D0B, "SH4K6-30", 1),
        _sh(0x0D0C, "SH5K-30", 1),
        _sh(0x0D0D, "SH3.6RS", 1),
        _sh(0x0D0E, "SH4.6RS", 1),
        _sh(0x0D0F, "SH5.0RS", 1),
        _sh(0x0D10, "SH6.0RS", 1),
        _sh(0x0D17, "SH3.0RS", 1),
        _sh(0x0D18, "SH4.0RS", 1),
        _sh(0x0D1A, "SH8.0RS", 1),
        _sh(0x0D1B, "SH10RS", 1),
        _sh(0x0E00, "SH5.0RT"),
        _sh(0x0E01, "SH6.0RT"),
        _sh(0x0E02, "SH8.0RT"),
        _sh(0x0E03, "SH10RT"),
        _sh(0x0E08, "SH5.0RT-V122"),
        _sh(0x0E09, "SH6.0RT-V122"),
        _sh(0x0E0A, "SH8.0RT-V122"),
        _sh(0x0E0B, "SH10RT-V122"),
        _sh(0x0E0C, "SH5.0RT-V112"),
        _sh(0x0E0D, "SH6.0RT-V112"),
        _sh(0x0E0E, "SH8.0RT-V112"),
        _sh(0x0E0F, "SH10RT-V112"),
        _sh(0x0E10, "SH5.0RT-20"),
        _sh(0x0E11, "SH6.0RT-20"),
        _sh(0x0E12, "SH8.0RT-20"),
        _sh(0x0E13, "SH10RT-20"),
    )
}

#: Hybrid codes sit in the 0x0Dxx (single phase) and 0x0Exx (three phase)
#: pages of the table; any other code is taken for a string inverter
#: (docs/protocols/sungrow-modbus.md#device-type-codes).
HYBRID_PAGES = frozenset({0x0D, 0x0E})


def model_of(code: int) -> Model:
    """The model row of a device type code; an unknown code gets a row named after it."""
    known = MODELS.get(code)
    if known is not None:
        return known
    family = Family.HYBRID if code >> 8 in HYBRID_PAGES else Family.STRING
    return Model(code=code, name=f"0x{code:04X}", family=family, phases=3)


@dataclass(frozen=True, slots=True, kw_only=True)
class Quirk:
    """A deviation from the documents, and where it applies.

    A quirk applies when every selector it sets matches: ``connection``,
    ``families`` and ``models`` (model names). Fields left empty or
    ``None`` change nothing.
    """

    source: str
    connection: Connection | None = None
    families: frozenset[Family] = frozenset()
    models: frozenset[str] = frozenset()
    scales: Mapping[str, float] = field(default_factory=dict)
    #: Registers whose sign is the opposite of the documented one.
    inverted: frozenset[str] = frozenset()
    max_count: int | None = None
    spacing: float | None = None
    missing: frozenset[str] = frozenset()
    ems_power_unit: PowerUnit | None = None

    def applies(self, model: Model, connection: Connection) -> bool:
        """Whether this quirk concerns ``model`` reached over ``connection``."""
        if self.connection is not None and self.connection is not connection:
            return False
        if self.families and model.family not in self.families:
            return False
        return not self.models or model.name in self.models


QUIRKS: tuple[Quirk, ...] = (
    Quirk(
        # Reads of more than about 38 registers fail through a WiNet-S on
        # some models, and it needs ~100 ms between requests.
        source="docs/protocols/sungrow-modbus.md#limits",
        connection=Connection.WINET,
        max_count=38,
        spacing=0.1,
    ),
    Quirk(
        # Grid frequency reads ten times larger through a WiNet-S.
        source="docs/protocols/sungrow-modbus.md#winet-s",
        connection=Connection.WINET,
        scales={"grid_frequency": 0.01},
    ),
    Quirk(
        # A string inverter's meter power at 5082 has the opposite sign
        # through a WiNet-S.
        source="docs/protocols/sungrow-modbus.md#winet-s",
        connection=Connection.WINET,
        families=frozenset({Family.STRING}),
        inverted=frozenset({"grid_power"}),
    ),
    Quirk(
        # The document gives the forced power at 13051 as "0 to 100 %" for
        # the SH*.0RT, in W for the SH*K (assumption: the first RT revisions;
        # the -V112, -V122 and -20 revisions take W).
        source="docs/protocols/sungrow-modbus.md#ems",
        models=frozenset({"SH5.0RT", "SH6.0RT", "SH8.0RT", "SH10RT"}),
        ems_power_unit=PowerUnit.PERCENT,
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Everything model- or connection-specific the library needs."""

    model: Model
    connection: Connection
    scales: Mapping[str, float] = field(default_factory=dict)
    inverted: frozenset[str] = frozenset()
    max_count: int = MAX_REGISTERS_PER_READ
    spacing: float = 0.05
    missing: frozenset[str] = frozenset()
    ems_power_unit: PowerUnit = PowerUnit.WATT

    @property
    def low_word_first(self) -> bool:
        """Sungrow puts the low word first (docs/protocols/sungrow-modbus.md#words-and-types)."""
        return True

    @property
    def hybrid(self) -> bool:
        """Whether the inverter has the battery, the 13000 block and the EMS registers."""
        return self.model.family is Family.HYBRID

    def scale(self, key: str, documented: float) -> float:
        """The scale to use for register ``key``; negative where the sign is inverted."""
        scale = self.scales.get(key, documented)
        return -scale if key in self.inverted else scale

    def registers(self, cadence: Cadence) -> tuple[Register, ...]:
        """The rows this inverter answers at ``cadence``."""
        rows = (*COMMON, *(HYBRID if self.hybrid else STRING))
        return tuple(r for r in rows if r.cadence is cadence and r.key not in self.missing)


def readable(table: Table) -> Spans:
    """The documented ranges of ``table``."""
    return Spans(DOCUMENTED_RANGES[table])


#: Before the device type code is read: identity rows only, planned for the
#: stricter of the two connections.
UNKNOWN = Model(code=0, name="unknown", family=Family.STRING, phases=3)


def resolve_profile(
    model: Model, connection: Connection, *, quirks: Iterable[Quirk] = QUIRKS
) -> Profile:
    """Fold every quirk that applies to ``model`` over ``connection`` into a profile."""
    profile = Profile(model=model, connection=connection)
    for quirk in quirks:
        if not quirk.applies(model, connection):
            continue
        profile = replace(
            profile,
            scales={**profile.scales, **quirk.scales},
            inverted=profile.inverted | quirk.inverted,
            max_count=quirk.max_count or profile.max_count,
            spacing=quirk.spacing if quirk.spacing is not None else profile.spacing,
            missing=profile.missing | quirk.missing,
            ems_power_unit=quirk.ems_power_unit or profile.ems_power_unit,
        )
    return profile


def with_rated_power(profile: Profile, rated_w: float | None) -> Profile:
    """``profile`` reading and writing a forced power in % as W (``ems_power`` scale).

    One % is a hundredth of the rated power; a model in W, or an unknown
    rating, keeps the documented scale.
    """
    if profile.ems_power_unit is not PowerUnit.PERCENT or not rated_w:
        return profile
    return replace(profile, scales={**profile.scales, "ems_power": rated_w / 100})
