"""Alert rules and the limits behind their defaults.

Each rule reads one number from a :class:`Reading` and says when it is out
of bounds (``trip``) and when it is clearly back (``clear``). The gap
between the two is the hysteresis: a value hovering at the limit raises an
alert once, not every poll.

Defaults and where they come from:

* grid voltage: EN 50160 allows ±10 % of the nominal 230 V (207–253 V) for
  low-voltage supply;
* grid frequency: EN 50160 allows ±1 % of 50 Hz (49.5–50.5 Hz) on
  interconnected systems for 99.5 % of a year;
* harmonic distortion: IEEE 519-2014 limits current distortion to 5 % where
  the short-circuit ratio is below 20 (the case of a home converter), and
  voltage THD to 8 % on buses up to 1 kV;
* inverter temperature: hybrid inverters derate from about 70–75 °C;
* wind: turbines stop above their cut-out speed (25 m/s for the simulated
  ones) and restart once the wind has dropped a margin below it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
import re
from statistics import fmean


class Severity(StrEnum):
    """How urgently a user should look."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """What the engine sees of a system at one moment.

    ``values`` holds canonical metrics and source extras by name (W, V, Hz,
    °C, %). ``expected_pv_w`` is the clear-sky expectation, when the caller
    can compute one; ``connected`` is the link to the source.
    """

    values: Mapping[str, float | None] = field(default_factory=dict)
    status: str | None = None
    connected: bool = True
    expected_pv_w: float | None = None
    pv_peak_w: float | None = None

    def get(self, key: str) -> float | None:
        """A value, ``None`` when unknown."""
        return self.values.get(key)


@dataclass(frozen=True, slots=True)
class Band:
    """Inclusive ``[low, high]``; either end may be open (``None``)."""

    low: float | None = None
    high: float | None = None

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the band."""
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One condition worth telling a user about.

    The alert is raised once ``value`` has been outside ``normal`` for
    ``min_duration``, and cleared once it has been inside ``clear`` (the
    narrower band) for ``clear_duration``.
    """

    key: str
    severity: Severity
    value: Callable[[Reading], float | None]
    normal: Band
    clear: Band
    min_duration: timedelta
    clear_duration: timedelta = timedelta(seconds=30)

    def tripped(self, value: float) -> bool:
        """Outside the normal band."""
        return not self.normal.contains(value)

    def cleared(self, value: float) -> bool:
        """Back inside the clear band."""
        return self.clear.contains(value)


UNUSED_STRING_MAX_V = 10.0
"""At or below this many volts a PV input has no string connected."""
_STRING_POWER = re.compile(r"^pv(\d+)_power$")


def _metric(key: str) -> Callable[[Reading], float | None]:
    def read(reading: Reading) -> float | None:
        return reading.get(key)

    return read


class _Names[T]:
    """What a reader picks from the value names, found once per set of names.

    A system reports the same names poll after poll; matching each name
    against a pattern at every evaluation would cost more than the rule.
    """

    _KEEP = 64  # sets of names remembered (a few per kind of system)

    def __init__(self, pick: Callable[[Iterable[str]], T]) -> None:
        self._pick = pick
        self._picked: dict[tuple[str, ...], T] = {}

    def of(self, values: Mapping[str, float | None]) -> T:
        names = tuple(values)
        picked = self._picked.get(names)
        if picked is None:
            if len(self._picked) >= self._KEEP:
                self._picked.clear()
            picked = self._picked[names] = self._pick(names)
        return picked


def _max_of(prefix: str) -> Callable[[Reading], float | None]:
    """The largest of the values whose name starts with ``prefix``."""
    names = _Names(lambda keys: tuple(k for k in keys if k.startswith(prefix)))

    def read(reading: Reading) -> float | None:
        values = reading.values
        found = [v for k in names.of(values) if (v := values[k]) is not None]
        return max(found) if found else None

    return read


def _disconnected(reading: Reading) -> float:
    return 0.0 if reading.connected else 1.0


def _faulted(reading: Reading) -> float | None:
    """1 while the inverter reports a fault; unknown while the link is down."""
    if not reading.connected or reading.status is None:
        return None
    return 1.0 if reading.status == "fault" else 0.0


def string_powers(reading: Reading) -> dict[int, float]:
    """The power of each PV string in use, by string number.

    Strings are the values named ``pv<N>_power`` and nothing else: not the
    system's ``pv_power``, nor an AC PV meter (``pv_meter_power``) or a DC
    total (``pv_dc_power``). A string counts as not in use (inputs with
    nothing connected, which AlphaESS and WiNet report like the others) when

    * its ``pv<N>_voltage`` is known and at most
      :data:`UNUSED_STRING_MAX_V` (an open input reads 0 V, or a few volts
      of noise; a connected array shows tens of volts even at dusk), or
    * no voltage is known for it and it gives exactly 0 W.

    A connected string giving nothing (voltage present, 0 W) stays in: that
    is what the rule is for.
    """
    powers: dict[int, float] = {}
    values = reading.values
    for number, key, voltage_key in _STRINGS.of(values):
        if (power := values[key]) is None:
            continue
        voltage = values.get(voltage_key)
        unused = power == 0 if voltage is None else voltage <= UNUSED_STRING_MAX_V
        if not unused:
            powers[number] = power
    return powers


def _string_keys(keys: Iterable[str]) -> tuple[tuple[int, str, str], ...]:
    """(string number, its power's name, its voltage's name) for each ``pv<N>_power``."""
    return tuple(
        (int(match[1]), key, f"pv{match[1]}_voltage")
        for key in keys
        if (match := _STRING_POWER.match(key))
    )


_STRINGS = _Names(_string_keys)


def string_mismatch(reading: Reading, min_string_w: float = 100.0) -> float | None:
    """Largest shortfall of one PV string below the strings' mean, in %.

    Only meaningful with two or more strings in use (see
    :func:`string_powers`) and producing; ``None`` otherwise (dawn, dusk,
    single-string systems), so the rule holds its state.
    """
    powers = list(string_powers(reading).values())
    if len(powers) < 2:
        return None
    mean = fmean(powers)
    if mean < min_string_w:
        return None
    return max(0.0, (mean - min(powers)) / mean * 100)


def generation_ratio(reading: Reading, min_share: float = 0.2) -> float | None:
    """PV power as a % of the clear-sky expectation; ``None`` when low sun."""
    expected, peak, pv = reading.expected_pv_w, reading.pv_peak_w, reading.get("pv_power")
    if expected is None or pv is None or peak is None or expected < min_share * peak:
        return None
    return pv / expected * 100


# The band of a yes/no value (1.0 yes, 0.0 no) that is normal when no.
_FALSE = Band(high=0.5)


def _around(nominal: float, low: float, high: float, hysteresis: float) -> tuple[Band, Band]:
    """Normal within ``low``..``high`` × nominal; clear once ``hysteresis`` × nominal inside."""
    normal = Band(low=nominal * low, high=nominal * high)
    return normal, Band(
        low=nominal * low + hysteresis * nominal, high=nominal * high - hysteresis * nominal
    )


def default_rules(
    *,
    soc_low: float = 10.0,
    inverter_temperature_high: float = 75.0,
    nominal_voltage: float = 230.0,
    nominal_frequency: float = 50.0,
    thd_high: float = 5.0,
    string_mismatch_high: float = 25.0,
    generation_low: float = 40.0,
    communication_loss: timedelta = timedelta(minutes=2),
) -> tuple[Rule, ...]:
    """The rules every system gets, with thresholds a user may change."""
    voltage_normal, voltage_clear = _around(nominal_voltage, 0.9, 1.1, 0.01)
    frequency_normal, frequency_clear = _around(nominal_frequency, 0.99, 1.01, 0.001)
    # Inverter and converters share one limit (a user sets one threshold).
    too_hot = Band(high=inverter_temperature_high)
    cooled = Band(high=inverter_temperature_high - 5)
    return (
        Rule(
            key="battery_soc_low",
            severity=Severity.WARNING,
            value=_metric("battery_soc"),
            normal=Band(low=soc_low),
            clear=Band(low=soc_low + 5),
            min_duration=timedelta(minutes=1),
        ),
        Rule(
            key="inverter_over_temperature",
            severity=Severity.CRITICAL,
            value=_metric("inverter_temperature"),
            normal=too_hot,
            clear=cooled,
            min_duration=timedelta(minutes=1),
        ),
        Rule(
            key="converter_over_temperature",
            severity=Severity.CRITICAL,
            value=_max_of("converter_temperature"),
            normal=too_hot,
            clear=cooled,
            min_duration=timedelta(seconds=30),
        ),
        Rule(
            key="grid_voltage",
            severity=Severity.WARNING,
            value=_metric("grid_voltage"),
            normal=voltage_normal,
            clear=voltage_clear,
            min_duration=timedelta(minutes=1),
        ),
        Rule(
            key="grid_frequency",
            severity=Severity.WARNING,
            value=_metric("grid_frequency"),
            normal=frequency_normal,
            clear=frequency_clear,
            min_duration=timedelta(seconds=10),
        ),
        Rule(
            key="harmonic_distortion",
            severity=Severity.WARNING,
            value=_max_of("converter_thd"),
            normal=Band(high=thd_high),
            clear=Band(high=thd_high * 0.8),
            min_duration=timedelta(seconds=30),
        ),
        Rule(
            key="pv_string_mismatch",
            severity=Severity.INFO,
            value=string_mismatch,
            normal=Band(high=string_mismatch_high),
            clear=Band(high=string_mismatch_high * 0.6),
            min_duration=timedelta(minutes=10),
            clear_duration=timedelta(minutes=2),
        ),
        Rule(
            key="generation_low",
            severity=Severity.INFO,
            value=generation_ratio,
            normal=Band(low=generation_low),
            clear=Band(low=generation_low + 20),
            min_duration=timedelta(minutes=30),
            clear_duration=timedelta(minutes=5),
        ),
        Rule(
            key="inverter_fault",
            severity=Severity.CRITICAL,
            value=_faulted,
            normal=_FALSE,
            clear=_FALSE,
            min_duration=timedelta(seconds=10),
            clear_duration=timedelta(seconds=10),
        ),
        Rule(
            key="wind_cut_out",
            severity=Severity.INFO,
            value=_metric("wind_speed"),
            normal=Band(high=25.0),
            clear=Band(high=22.0),
            min_duration=timedelta(seconds=10),
            clear_duration=timedelta(minutes=1),
        ),
        Rule(
            key="communication_loss",
            severity=Severity.CRITICAL,
            value=_disconnected,
            normal=_FALSE,
            clear=_FALSE,
            min_duration=communication_loss,
            clear_duration=timedelta(0),
        ),
    )


DEFAULT_RULES = default_rules()
