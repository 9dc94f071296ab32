"""Actions: battery dispatch and outage rehearsal.

Registered once in ``async_setup`` so they exist (and fail with a clear
message) even while no system is loaded.
"""

from __future__ import annotations

from datetime import timedelta
import math

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.util import dt as dt_util
import probatio as vol

from .const import ATTR_DURATION, ATTR_POWER, ATTR_TARGET_SOC, DOMAIN, OUTAGE_MAX
from .coordinator import SunstreamCoordinator
from .devices import battery_target
from .pysunstream.capabilities import Rehearses
from .pysunstream.dispatch import MAX_DURATION, MIN_DURATION, Command, CommandKind
from .pysunstream.simulator.rehearsal import FaultKind
from .runtime import SunstreamConfigEntry, SunstreamRuntime

SERVICE_CHARGE = "charge"
SERVICE_DISCHARGE = "discharge"
SERVICE_STOP = "stop"
SERVICE_SIMULATE_OUTAGE = "simulate_outage"
SERVICE_ACKNOWLEDGE_ALERT = "acknowledge_alert"
SERVICE_SIMULATE_FAULT = "simulate_fault"
ATTR_KIND = "kind"
ATTR_RULE = "rule"
ATTR_ALERT_ID = "alert_id"

# Ranges are checked in the handlers, not here, so that a bad value gets a
# translated message naming the limit instead of a bare schema error.
DISPATCH_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Required(ATTR_POWER): vol.Coerce(float),
        vol.Required(ATTR_TARGET_SOC): vol.Coerce(float),
        vol.Required(ATTR_DURATION): vol.Coerce(float),
    }
)
STOP_SCHEMA = vol.Schema({vol.Required(ATTR_DEVICE_ID): cv.string})
FAULT_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Required(ATTR_KIND): vol.In([kind.value for kind in FaultKind]),
        vol.Required(ATTR_DURATION): cv.time_period,
    }
)
# Either the system's device and a rule (the UI's way), or the alert id
# ("<system_id>:<rule>") that the app and the events carry.
ACKNOWLEDGE_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional(ATTR_DEVICE_ID): cv.string,
            vol.Optional(ATTR_RULE): cv.string,
            vol.Optional(ATTR_ALERT_ID): cv.string,
        }
    ),
    cv.has_at_least_one_key(ATTR_DEVICE_ID, ATTR_ALERT_ID),
)
OUTAGE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Required(ATTR_DURATION): cv.time_period,
    }
)


def _runtime(call: ServiceCall) -> SunstreamRuntime:
    """The loaded Sunstream system the call's device belongs to."""
    return _target(call)[0]


def _target(call: ServiceCall) -> tuple[SunstreamRuntime, dr.AnyDeviceEntry]:
    """The loaded Sunstream system the call's device belongs to, and the device."""
    hass = call.hass
    device_id: str = call.data[ATTR_DEVICE_ID]
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="device_not_found",
            translation_placeholders={"device_id": device_id},
        )
    entry = hass.config_entries.async_get_entry(device.config_entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_sunstream_device",
            translation_placeholders={"device": device.name_by_user or device.name or device_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"name": entry.title},
        )
    sunstream_entry: SunstreamConfigEntry = entry
    return sunstream_entry.runtime_data, device


def _out_of_range(key: str, **placeholders: float) -> ServiceValidationError:
    """The translated error ``key`` for a duration outside its range."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={name: f"{value:g}" for name, value in placeholders.items()},
    )


async def _async_dispatch(call: ServiceCall, kind: CommandKind) -> None:
    runtime, device = _target(call)
    coordinator = runtime.coordinator
    battery = battery_target(coordinator, device)
    if kind is CommandKind.STOP:
        command = Command(kind=kind, issued_at=dt_util.now(), battery=battery)
    else:
        minutes: float = call.data[ATTR_DURATION]
        if not math.isfinite(minutes) or not 0 < minutes <= MAX_DURATION.total_seconds() / 60:
            raise _out_of_range(
                "duration_out_of_range",
                duration=minutes,
                min_duration=MIN_DURATION.total_seconds() / 60,
                max_duration=MAX_DURATION.total_seconds() / 60,
            )
        command = Command(
            kind=kind,
            issued_at=dt_util.now(),
            power_w=call.data[ATTR_POWER],
            target_soc=call.data[ATTR_TARGET_SOC],
            duration=timedelta(minutes=minutes),
            battery=battery,
        )
    await coordinator.async_dispatch(command)


async def _async_charge(call: ServiceCall) -> None:
    await _async_dispatch(call, CommandKind.CHARGE)


async def _async_discharge(call: ServiceCall) -> None:
    await _async_dispatch(call, CommandKind.DISCHARGE)


async def _async_stop(call: ServiceCall) -> None:
    await _async_dispatch(call, CommandKind.STOP)


def _rehearsal_duration(call: ServiceCall) -> timedelta:
    """How long an outage or fault lasts: more than nothing, at most a day."""
    duration: timedelta = call.data[ATTR_DURATION]
    if not timedelta(0) < duration <= OUTAGE_MAX:
        raise _out_of_range(
            "outage_out_of_range",
            duration=duration.total_seconds(),
            max_duration=OUTAGE_MAX.total_seconds(),
        )
    return duration


def _rehearsal(call: ServiceCall, refused: str) -> tuple[SunstreamCoordinator, Rehearses]:
    """The call's system and its simulation; ``refused`` is the error for real hardware."""
    coordinator = _runtime(call).coordinator
    source = coordinator.source
    if not isinstance(source, Rehearses):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=refused,
            translation_placeholders={"name": coordinator.config_entry.title},
        )
    return coordinator, source


async def _async_simulate_outage(call: ServiceCall) -> None:
    coordinator, source = _rehearsal(call, "not_simulated")
    source.start_outage(dt_util.now(), _rehearsal_duration(call))
    await coordinator.async_refresh()


async def _async_simulate_fault(call: ServiceCall) -> None:
    coordinator, source = _rehearsal(call, "fault_not_simulated")
    kind = FaultKind(call.data[ATTR_KIND])
    duration = _rehearsal_duration(call)
    if kind not in source.fault_kinds:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="fault_not_applicable",
            translation_placeholders={"name": coordinator.config_entry.title, "kind": kind.value},
        )
    source.simulate_fault(kind, dt_util.now(), duration)
    await coordinator.async_refresh()


def _system_by_id(hass: HomeAssistant, system_id: str) -> SunstreamRuntime:
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        runtime: SunstreamRuntime = entry.runtime_data
        if runtime.coordinator.system_id == system_id:
            return runtime
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="system_not_found",
        translation_placeholders={"system_id": system_id},
    )


async def _async_acknowledge_alert(call: ServiceCall) -> None:
    if ATTR_ALERT_ID in call.data:
        system_id, _, rule = str(call.data[ATTR_ALERT_ID]).rpartition(":")
        runtime = _system_by_id(call.hass, system_id)
    else:
        runtime = _runtime(call)
        rule = call.data.get(ATTR_RULE, "")
    user = (
        await call.hass.auth.async_get_user(call.context.user_id) if call.context.user_id else None
    )
    if not runtime.alerts.acknowledge(rule, user.name if user else None):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="alert_not_active",
            translation_placeholders={
                "rule": rule or "?",
                "name": runtime.coordinator.config_entry.title,
            },
        )


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register Sunstream's actions."""
    hass.services.async_register(DOMAIN, SERVICE_CHARGE, _async_charge, DISPATCH_SCHEMA)
    hass.services.async_register(DOMAIN, SERVICE_DISCHARGE, _async_discharge, DISPATCH_SCHEMA)
    hass.services.async_register(DOMAIN, SERVICE_STOP, _async_stop, STOP_SCHEMA)
    hass.services.async_register(
        DOMAIN, SERVICE_SIMULATE_OUTAGE, _async_simulate_outage, OUTAGE_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_ACKNOWLEDGE_ALERT, _async_acknowledge_alert, ACKNOWLEDGE_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_SIMULATE_FAULT, _async_simulate_fault, FAULT_SCHEMA
    )
