"""The alert engine: hysteresis, minimum durations, limits, no storms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
import random

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.sunstream.pysunstream.alerts import (
    AlertEngine,
    Band,
    Reading,
    Rule,
    Severity,
    default_rules,
)
from custom_components.sunstream.pysunstream.alerts.rules import generation_ratio, string_mismatch
from custom_components.sunstream.pysunstream.alphaess import mapping as alphaess_mapping
from custom_components.sunstream.pysunstream.model import (
    DeviceIdentity,
    DeviceKind,
    DeviceReading,
    Snapshot,
)
from custom_components.sunstream.pysunstream.winet import mapping as winet_mapping

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _run(
    engine: AlertEngine, values: list[dict[str, float | None]], step: float = 1.0, **kw: object
):
    transitions = []
    for i, vals in enumerate(values):
        reading = Reading(values=vals, **kw)  # type: ignore[arg-type]
        transitions += engine.evaluate(reading, T0 + timedelta(seconds=i * step))
    return transitions


def _engine(key: str) -> AlertEngine:
    return AlertEngine([r for r in default_rules() if r.key == key])


def test_short_spike_does_not_raise() -> None:
    engine = _engine("inverter_over_temperature")
    # 59 s above 75 °C, then back: under the one-minute minimum.
    values = [{"inverter_temperature": 80.0}] * 59 + [{"inverter_temperature": 60.0}] * 5
    assert _run(engine, values) == []


def test_sustained_fault_raises_once_then_clears_once() -> None:
    engine = _engine("inverter_over_temperature")
    values = (
        [{"inverter_temperature": 80.0}] * 120
        + [{"inverter_temperature": 72.0}] * 60  # below trip, above clear: still active
        + [{"inverter_temperature": 60.0}] * 40
    )
    transitions = _run(engine, values)
    assert [(t.state, t.rule) for t in transitions] == [
        ("raised", "inverter_over_temperature"),
        ("cleared", "inverter_over_temperature"),
    ]
    raised, cleared = transitions
    assert raised.at == T0 + timedelta(seconds=60)
    assert raised.threshold == 75.0
    assert raised.severity == Severity.CRITICAL
    # Cleared 30 s after entering the clear band (at index 180).
    assert cleared.at == T0 + timedelta(seconds=210)


def test_noise_at_the_limit_never_storms() -> None:
    """10,000 readings jittering around the trip point give at most one alert."""
    rng = random.Random(42)
    engine = _engine("grid_voltage")
    values = [{"grid_voltage": 253.0 + rng.uniform(-1.5, 1.5)} for _ in range(10_000)]
    transitions = _run(engine, values)
    assert len(transitions) <= 1


def test_unknown_value_holds_state() -> None:
    engine = _engine("battery_soc_low")
    values = [{"battery_soc": 5.0}] * 70 + [{"battery_soc": None}] * 100 + [{}] * 10
    transitions = _run(engine, values)
    assert [t.state for t in transitions] == ["raised"]
    assert [s.rule.key for s in engine.active] == ["battery_soc_low"]


@pytest.mark.parametrize(
    ("voltage", "raised"),
    [(206.0, True), (208.0, False), (252.0, False), (254.0, True)],
)
def test_grid_voltage_en50160_band(voltage: float, raised: bool) -> None:
    engine = _engine("grid_voltage")
    assert bool(_run(engine, [{"grid_voltage": voltage}] * 61)) is raised


@pytest.mark.parametrize(
    ("frequency", "nominal", "raised"),
    [
        (49.4, 50.0, True),
        (49.6, 50.0, False),
        (50.6, 50.0, True),
        (59.5, 60.0, False),
        (60.7, 60.0, True),
    ],
)
def test_grid_frequency_band_scales_with_nominal(
    frequency: float, nominal: float, raised: bool
) -> None:
    engine = AlertEngine(
        [r for r in default_rules(nominal_frequency=nominal) if r.key == "grid_frequency"]
    )
    assert bool(_run(engine, [{"grid_frequency": frequency}] * 11)) is raised


def test_thd_takes_the_worst_converter() -> None:
    engine = _engine("harmonic_distortion")
    values = [{"converter_thd_a": 2.0, "converter_thd_b": 6.5, "converter_thd_c": None}] * 31
    (raised,) = _run(engine, values)
    assert raised.value == 6.5
    assert raised.threshold == 5.0


def test_communication_loss_after_two_minutes() -> None:
    engine = _engine("communication_loss")
    down = [Reading(connected=False)] * 121
    transitions = []
    for i, reading in enumerate([*down, Reading(connected=True)]):
        transitions += engine.evaluate(reading, T0 + timedelta(seconds=i))
    assert [t.state for t in transitions] == ["raised", "cleared"]


def test_string_mismatch() -> None:
    balanced = Reading(values={"pv1_power": 1000.0, "pv2_power": 980.0, "pv_power": 1980.0})
    shaded = Reading(values={"pv1_power": 1000.0, "pv2_power": 400.0})
    dusk = Reading(values={"pv1_power": 40.0, "pv2_power": 10.0})
    single = Reading(values={"pv1_power": 1000.0})
    assert string_mismatch(balanced) == pytest.approx(1.0101, rel=1e-3)
    assert string_mismatch(shaded) == pytest.approx(42.857, rel=1e-3)
    assert string_mismatch(dusk) is None
    assert string_mismatch(single) is None


def _reading(snapshot: Snapshot) -> Reading:
    """What the integration hands the engine: numeric metrics and extras by name."""
    named = {**{m.value: v for m, v in snapshot.metrics.items()}, **snapshot.extras}
    return Reading(values={k: float(v) for k, v in named.items() if isinstance(v, int | float)})


def _alphaess(strings: dict[int, tuple[float, float]], meter_w: float = 0.0) -> Reading:
    """An AlphaESS unit's reading, through the real mapping: six strings, a PV meter.

    ``strings`` maps string number to (volts, watts); the others read 0 V, 0 W,
    as the unit reports strings that are not connected.
    """
    values: dict[str, float | str | None] = {"pv_meter_power": meter_w}
    for n in range(1, 7):
        volts, watts = strings.get(n, (0.0, 0.0))
        values |= {f"pv{n}_voltage": volts, f"pv{n}_current": 0.0, f"pv{n}_power": watts}
    identity = DeviceIdentity(key="AL1", kind=DeviceKind.INVERTER, manufacturer="AlphaESS")
    return _reading(alphaess_mapping.build_snapshot(T0, values, None, identity))


def _winet(mppts: dict[int, tuple[float | None, float | None]]) -> Reading:
    """A WiNet inverter's reading, through the real mapping: MPPT n → (volts, amps)."""
    values: dict[str, float | str | None] = {}
    for n, (volts, amps) in mppts.items():
        power = None if volts is None or amps is None else volts * amps
        values |= {f"MPPT{n}.voltage": volts, f"MPPT{n}.current": amps, f"MPPT{n}.power": power}
    inverter = DeviceReading(
        identity=DeviceIdentity(key="inv", kind=DeviceKind.INVERTER, manufacturer="Sungrow"),
        values=values,
    )
    return Reading(
        values={
            k: float(v)
            for k, v in winet_mapping.system_extras((inverter,)).items()
            if isinstance(v, float)
        }
    )


def test_string_mismatch_leaves_out_what_is_not_a_string() -> None:
    """AlphaESS: unused strings 3–6 at 0 V / 0 W, the AC PV meter, the DC total."""
    healthy = _alphaess({1: (380.0, 1200.0), 2: (350.0, 1000.0)}, meter_w=1500.0)
    assert {"pv_meter_power", "pv_dc_power", "pv3_power", "pv_power"} <= set(healthy.values)
    assert string_mismatch(healthy) == pytest.approx(100 / 11, rel=1e-3)
    shaded = _alphaess({1: (380.0, 1200.0), 2: (300.0, 300.0)}, meter_w=1500.0)
    assert string_mismatch(shaded) == pytest.approx(60.0)
    # A few volts of noise on an open input is still no string.
    noisy = _alphaess({1: (380.0, 1200.0), 2: (350.0, 1000.0), 3: (3.2, 0.0), 4: (10.0, 0.0)})
    assert string_mismatch(noisy) == pytest.approx(100 / 11, rel=1e-3)
    # A connected string (it has voltage) that gives nothing is exactly what to report.
    dead = _alphaess({1: (380.0, 1200.0), 2: (350.0, 1000.0), 3: (360.0, 0.0)})
    assert string_mismatch(dead) == pytest.approx(100.0)
    # One string in use: nothing to compare.
    assert string_mismatch(_alphaess({1: (380.0, 1200.0)}, meter_w=1500.0)) is None


def test_string_mismatch_on_winet_mppts() -> None:
    """WiNet: an unused MPPT reads 0 V; one the dongle does not know reads "--"."""
    both = _winet({1: (512.3, 5.2), 2: (498.7, 3.7)})
    assert string_mismatch(both) == pytest.approx(18.158, rel=1e-3)
    unused = _winet({1: (512.3, 5.2), 2: (498.7, 3.7), 3: (0.0, 0.0), 4: (None, None)})
    assert {"pv3_power", "pv3_voltage", "mppt_total_power"} <= set(unused.values)
    assert string_mismatch(unused) == string_mismatch(both)
    weak = _winet({1: (512.3, 5.2), 2: (480.0, 1.0), 3: (0.0, 0.0)})
    assert string_mismatch(weak) == pytest.approx(69.47, rel=1e-3)


def test_string_mismatch_without_voltages() -> None:
    """Sources without string voltages: a string at exactly 0 W is taken as unused."""
    assert string_mismatch(Reading(values={"pv1_power": 1000.0, "pv2_power": 0.0})) is None
    low = Reading(values={"pv1_power": 1000.0, "pv2_power": 5.0, "pv3_power": 0.0})
    assert string_mismatch(low) == pytest.approx(99.0, rel=1e-3)


def test_generation_ratio_only_in_good_sun() -> None:
    assert (
        generation_ratio(
            Reading(values={"pv_power": 1000.0}, expected_pv_w=4000.0, pv_peak_w=5000.0)
        )
        == 25.0
    )
    assert (
        generation_ratio(Reading(values={"pv_power": 10.0}, expected_pv_w=500.0, pv_peak_w=5000.0))
        is None
    )
    assert generation_ratio(Reading(values={"pv_power": 10.0})) is None


def test_acknowledge_only_active_and_reset_on_clear() -> None:
    engine = _engine("battery_soc_low")
    assert not engine.acknowledge("battery_soc_low")
    assert not engine.acknowledge("no_such_rule")
    _run(engine, [{"battery_soc": 5.0}] * 61)
    assert engine.acknowledge("battery_soc_low")
    assert engine.active[0].as_dict()["acknowledged"] is True
    transitions = []
    for i in range(40):
        transitions += engine.evaluate(
            Reading(values={"battery_soc": 50.0}), T0 + timedelta(minutes=5, seconds=i)
        )
    assert [t.state for t in transitions] == ["cleared"]
    assert engine.states[0].acknowledged is False


def test_custom_rule_band_open_ends() -> None:
    rule = Rule(
        key="x",
        severity=Severity.INFO,
        value=lambda r: r.get("x"),
        normal=Band(low=None, high=None),
        clear=Band(),
        min_duration=timedelta(0),
    )
    engine = AlertEngine([rule])
    assert engine.evaluate(Reading(values={"x": 1e9}), T0) == []


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    centre=st.floats(min_value=-3, max_value=3),
    amplitude=st.floats(min_value=0, max_value=4),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    step=st.sampled_from([1.0, 5.0, 10.0]),
)
def test_noise_never_raises_more_than_once_per_minimum_duration(
    centre: float, amplitude: float, seed: int, step: float
) -> None:
    """Noise around the 253 V trip point: at most one alert per minute of data.

    Between two raises the alert must clear (30 s inside the clear band) and
    trip again (60 s outside): so two raises are at least 90 s apart.
    """
    rng = random.Random(seed)
    engine = _engine("grid_voltage")
    raised_at = []
    for i in range(600):
        now = T0 + timedelta(seconds=i * step)
        voltage = 253.0 + centre + rng.uniform(-amplitude, amplitude)
        for t in engine.evaluate(Reading(values={"grid_voltage": voltage}), now):
            if t.state == "raised":
                raised_at.append(t.at)
    gaps = [(b - a).total_seconds() for a, b in pairwise(raised_at)]
    assert all(gap >= 90 for gap in gaps)
    duration = 600 * step
    assert len(raised_at) <= 1 + duration // 90


def test_inverter_fault_needs_a_live_link() -> None:
    engine = _engine("inverter_fault")
    transitions = []
    for i in range(15):
        transitions += engine.evaluate(
            Reading(status="fault", connected=False), T0 + timedelta(seconds=i)
        )
    assert transitions == []
    for i in range(15, 30):
        transitions += engine.evaluate(Reading(status="fault"), T0 + timedelta(seconds=i))
    assert [t.state for t in transitions] == ["raised"]
