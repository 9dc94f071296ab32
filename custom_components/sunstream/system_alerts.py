"""Alerts of one system: the engine fed from the coordinator, told to HA.

Each poll (and each failed poll) becomes a :class:`Reading`; the engine
decides what is raised or cleared, with hysteresis and minimum durations.
Transitions go on the bus as ``sunstream_alert`` and to the system's event
entity; acknowledgements come back through ``sunstream.acknowledge_alert``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .const import ATTR_SOURCE, ATTR_SYSTEM_ID, DOMAIN
from .coordinator import SunstreamCoordinator
from .pysunstream.alerts import AlertEngine, Reading, Transition, default_rules
from .pysunstream.alerts.engine import threshold
from .pysunstream.capabilities import KnowsPvPeak
from .pysunstream.model import Metric, as_number
from .pysunstream.simulator.sun import clear_sky_fraction, solar_elevation

EVENT_ALERT: Final = "sunstream_alert"
EVALUATE_EVERY: Final = timedelta(seconds=15)
CONF_ALERTS: Final = "alerts"

# Option key → (default, minimum, maximum), in the rule's unit.
ALERT_OPTIONS: Final[dict[str, tuple[float, float, float]]] = {
    "soc_low": (10.0, 0.0, 100.0),
    "inverter_temperature_high": (75.0, 30.0, 120.0),
    "nominal_voltage": (230.0, 100.0, 480.0),
    "nominal_frequency": (50.0, 50.0, 60.0),
    "thd_high": (5.0, 0.5, 50.0),
    "communication_loss_minutes": (2.0, 0.0, 1440.0),
}


def alert_settings(options: Mapping[str, Any]) -> dict[str, float]:
    """The thresholds in force: the user's, else the defaults."""
    chosen = options.get(CONF_ALERTS) or {}
    return {key: float(chosen.get(key, default)) for key, (default, _, _) in ALERT_OPTIONS.items()}


def _engine(options: Mapping[str, Any]) -> AlertEngine:
    settings = alert_settings(options)
    return AlertEngine(
        default_rules(
            soc_low=settings["soc_low"],
            inverter_temperature_high=settings["inverter_temperature_high"],
            nominal_voltage=settings["nominal_voltage"],
            nominal_frequency=settings["nominal_frequency"],
            thd_high=settings["thd_high"],
            communication_loss=timedelta(minutes=settings["communication_loss_minutes"]),
        )
    )


class SystemAlerts:
    """The alert engine of one system, wired to its coordinator."""

    def __init__(self, hass: HomeAssistant, coordinator: SunstreamCoordinator) -> None:
        """Build the rules from the entry's options."""
        self.hass = hass
        self.coordinator = coordinator
        self.engine = _engine(coordinator.config_entry.options)
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._sky_minute: int | None = None
        self._sky = 0.0

    @callback
    def async_start(self) -> Callable[[], None]:
        """Evaluate after every poll, and on a timer.

        The coordinator stays quiet while a poll keeps failing the same
        way, yet "offline for two minutes" must still raise: the timer lets
        time-based rules progress without new data.
        """
        remove_listener = self.coordinator.async_add_listener(self.async_evaluate)
        remove_timer = async_track_time_interval(self.hass, self._on_timer, EVALUATE_EVERY)

        def stop() -> None:
            remove_listener()
            remove_timer()

        return stop

    @callback
    def _on_timer(self, _now: datetime) -> None:
        self.async_evaluate()

    def add_listener(self, listener: Callable[[str, dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``listener(event_type, attributes)`` on every transition."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _clear_sky(self, minute: int) -> float:
        """Clear-sky fraction at home; the sun barely moves in a minute, so once a minute."""
        if self._sky_minute != minute:
            config = self.hass.config
            when = datetime.fromtimestamp(minute * 60, UTC)
            self._sky = clear_sky_fraction(solar_elevation(config.latitude, config.longitude, when))
            self._sky_minute = minute
        return self._sky

    def _reading(self) -> Reading:
        coordinator = self.coordinator
        values: dict[str, float | None] = {}
        status: str | None = None
        if coordinator.data is not None and coordinator.last_update_success:
            snapshot = coordinator.data.snapshot
            # A Metric is a str equal to its value, and hashes the same: it
            # is the name itself, without the cost of reading ``.value``.
            # Most values are floats already (as_number would copy them).
            values = {
                key: value if type(value) is float else as_number(value)
                for key, value in chain(snapshot.metrics.items(), snapshot.extras.items())
            }
            raw_status = snapshot.get(Metric.STATUS)
            status = raw_status if isinstance(raw_status, str) else None
        connected = bool(coordinator.connected) and coordinator.last_update_success
        # Only a source that knows its PV peak (the simulated ones) says so;
        # a microgrid's is its solar units', not the entry's house-only field.
        source = coordinator.source
        peak_w = source.pv_peak_w if isinstance(source, KnowsPvPeak) else None
        expected = None
        if peak_w is not None:
            expected = peak_w * self._clear_sky(int(dt_util.utcnow().timestamp() // 60))
        return Reading(
            values=values,
            status=status,
            connected=connected,
            expected_pv_w=expected,
            pv_peak_w=peak_w,
        )

    @callback
    def async_evaluate(self) -> None:
        """Run the rules over the latest reading; announce what changed."""
        for transition in self.engine.evaluate(self._reading(), dt_util.utcnow()):
            self._announce(
                transition.state, _attributes(transition), acknowledged=transition.acknowledged
            )

    def acknowledge(self, rule: str, by: str | None = None) -> bool:
        """Acknowledge an active alert; ``False`` if it isn't active.

        ``by`` names who acknowledged (a Home Assistant user, the app's
        user), so every output can say it.
        """
        state = next((s for s in self.engine.active if s.rule.key == rule), None)
        if state is None or state.acknowledged:
            return state is not None
        self.engine.acknowledge(rule)
        self._announce(
            "acknowledged",
            {
                "rule": rule,
                "severity": state.rule.severity.value,
                "value": state.value,
                "threshold": threshold(state.rule, state.value),
                "acknowledged_by": by,
            },
            acknowledged=True,
        )
        return True

    def as_dict(self) -> list[dict[str, Any]]:
        """Active alerts, for diagnostics."""
        return [state.as_dict() for state in self.engine.active]

    def _announce(self, event_type: str, attributes: dict[str, Any], *, acknowledged: bool) -> None:
        coordinator = self.coordinator
        self.hass.bus.async_fire(
            EVENT_ALERT,
            {
                "device_id": coordinator.system_device_id,
                "config_entry_id": coordinator.config_entry.entry_id,
                ATTR_SYSTEM_ID: coordinator.system_id,
                ATTR_SOURCE: coordinator.source.source_type,
                "alert_id": f"{coordinator.system_id}:{attributes['rule']}",
                "state": event_type,
                "acknowledged": acknowledged,
                **attributes,
            },
        )
        for listener in tuple(self._listeners):
            listener(event_type, attributes)


def _attributes(transition: Transition) -> dict[str, Any]:
    return {
        "rule": transition.rule,
        "severity": transition.severity,
        "value": transition.value,
        "threshold": transition.threshold,
    }


__all__ = ["ALERT_OPTIONS", "CONF_ALERTS", "DOMAIN", "EVENT_ALERT", "SystemAlerts"]
