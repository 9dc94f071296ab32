"""One coordinator per Sunstream system: polls its source, keeps its state."""

from __future__ import annotations

from datetime import timedelta
import math
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .battery_control import CommandValues
from .const import (
    ATTR_COMMAND,
    ATTR_CONNECTED,
    ATTR_DURATION,
    ATTR_EXPIRES_AT,
    ATTR_POWER,
    ATTR_REASON,
    ATTR_SOURCE,
    ATTR_SYSTEM_ID,
    ATTR_TARGET_SOC,
    DOMAIN,
    EVENT_CONNECTIVITY,
    EVENT_DISPATCH,
    LOGGER,
    STORAGE_SAVE_DELAY,
)
from .identifiers import part_identifier
from .pysunstream.capabilities import CommandsSeveralBatteries
from .pysunstream.controls import (
    Configurable,
    ConfiguresSeveralBatteries,
    SettingChange,
    reported_of,
    spec_of,
)
from .pysunstream.daily import DailyTotals
from .pysunstream.dispatch import Command
from .pysunstream.economics import Economics
from .pysunstream.errors import (
    AuthenticationFailed,
    CommandError,
    CommandFailed,
    CommandRejected,
    Reason,
    SourceUnavailable,
)
from .pysunstream.model import Metric, PartKey, Snapshot, as_number
from .pysunstream.setting_rules import reported_value, validate_change
from .pysunstream.source import Source
from .pysunstream.totals import LifetimeTotals
from .pysunstream.write_limiter import WriteLimiter
from .store import system_store
from .system_data import SystemData
from .system_options import SystemOptions

# Link failures only the user can resolve (SourceUnavailable.issue); each
# becomes a repair issue, withdrawn as soon as a poll succeeds again.
USER_ISSUES = ("certificate", "busy")

# How a command error reaches the user, first match wins. A rejection is
# about what was asked (power above the battery's maximum, SOC out of
# range): a ServiceValidationError, so the UI blames the input. A failure
# is the system's doing (it ignored a valid command): a plain
# HomeAssistantError. Any other command error is not assumed to be the
# user's fault either, hence the last row.
COMMAND_ERRORS: tuple[tuple[type[CommandError], type[HomeAssistantError]], ...] = (
    (CommandRejected, ServiceValidationError),
    (CommandFailed, HomeAssistantError),
    (CommandError, HomeAssistantError),
)


class SunstreamCoordinator(DataUpdateCoordinator[SystemData]):
    """Polls one source and turns link changes into events.

    The source is anything that follows :class:`Source`; the coordinator
    adds what every source needs: persistence of its counters, economics,
    connectivity events, and the bridge from dispatch errors to translated
    Home Assistant exceptions.
    """

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        source: Source,
        *,
        system_id: str,
        system_device_id: str,
    ) -> None:
        """Set up the coordinator for ``source``, whose device is ``system_device_id``."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=timedelta(seconds=SystemOptions.of(entry.options).update_interval),
            always_update=False,
        )
        self.source = source
        self.system_id = system_id
        self.system_device_id = system_device_id
        self.connected: bool | None = None
        self.disconnect_reason: Reason | None = None
        self.economics = Economics()
        self.daily = DailyTotals()
        self.command_values = CommandValues()
        # Each battery's own, where the system commands several separately.
        self.battery_command_values: dict[PartKey, CommandValues] = {}
        self.write_limiter = WriteLimiter()
        # The highest each lifetime total has shown (see LifetimeTotals).
        self.totals = LifetimeTotals()
        self._restored = False
        self._parts_online: dict[str, bool] = {}
        self._store = system_store(hass, entry.entry_id)

    # -- life cycle -------------------------------------------------------

    async def _async_setup(self) -> None:
        """Continue from the state saved by the previous run."""
        saved = await self._store.async_load()
        if saved:
            self.source.restore(saved.get("source", {}))
            self.economics = Economics.from_dict(saved.get("economics", {}))
            self.daily = DailyTotals.from_dict(saved.get("daily", {}))
            self.command_values = CommandValues.from_dict(saved.get("command_values", {}))
            self.battery_command_values = {
                PartKey(key): CommandValues.from_dict(values)
                for key, values in saved.get("battery_command_values", {}).items()
            }
            self.totals = LifetimeTotals.from_dict(saved.get("totals", {}))
            # Offline when we last looked: coming back is a transition.
            if saved.get("connected") is False:
                self.connected = False
                self.disconnect_reason = _reason(saved.get("disconnect_reason"))
        self._restored = True

    def _state_to_save(self) -> dict[str, Any]:
        return {
            "source": self.source.as_dict(),
            "economics": self.economics.as_dict(),
            "daily": self.daily.as_dict(),
            "command_values": self.command_values.as_dict(),
            "battery_command_values": {
                key: values.as_dict() for key, values in self.battery_command_values.items()
            },
            "totals": self.totals.as_dict(),
            "connected": self.connected,
            "disconnect_reason": self.disconnect_reason,
        }

    async def async_shutdown(self) -> None:
        """Save state and release the source.

        Nothing is saved unless the saved state was read first: a set-up
        that failed before that must not overwrite the counters with zeros.
        """
        await super().async_shutdown()
        if self._restored:
            await self._store.async_save(self._state_to_save())
        await self.source.async_close()

    # -- polling ----------------------------------------------------------

    async def _async_refresh(
        self,
        log_failures: bool = True,
        raise_on_auth_failed: bool = False,
        scheduled: bool = False,
        raise_on_entry_error: bool = False,
    ) -> None:
        """Refresh without the base class's ERROR for a failed reading.

        A link that goes is logged once at info level by
        :meth:`_set_connected` (and a refused password shows as the
        reauthentication request); the base class logs its coming back at
        info level. An outage the user rehearses is no error at all.
        Anything unexpected is still logged with its traceback.
        """
        del log_failures
        await super()._async_refresh(
            log_failures=False,
            raise_on_auth_failed=raise_on_auth_failed,
            scheduled=scheduled,
            raise_on_entry_error=raise_on_entry_error,
        )

    async def _async_update_data(self) -> SystemData:
        now = dt_util.now()
        try:
            snapshot = await self.source.async_poll(now)
        except SourceUnavailable as err:
            self._set_connected(False, err.reason, str(err))
            if isinstance(err, AuthenticationFailed):
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN,
                    translation_key="auth_failed",
                    translation_placeholders={"name": self.config_entry.title},
                ) from err
            if err.issue is not None:
                self._raise_issue(err.issue, err)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="source_unavailable",
                translation_placeholders={"reason": err.reason},
            ) from err
        # Today's energies, house consumption and stored energy the device
        # does not report, the same way for every source.
        snapshot = self.daily.complete(snapshot)
        self._set_connected(True, Reason.CONNECTED)
        self._clear_issues()
        self._track_parts(snapshot)
        options = SystemOptions.of(self.config_entry.options)
        self.economics.book(
            as_number(snapshot.get(Metric.PV_ENERGY_TOTAL)),
            now,
            options.tariff,
            options.co2_factor,
        )
        self._store.async_delay_save(self._state_to_save, STORAGE_SAVE_DELAY)
        source = self.source
        return SystemData(
            snapshot=snapshot,
            economics=self.economics.reading(),
            settings=source.reported_settings() if isinstance(source, Configurable) else None,
            part_settings=(
                {part: source.reported_settings_of(part) for part in source.settings_parts}
                if isinstance(source, ConfiguresSeveralBatteries)
                else {}
            ),
        )

    def _set_connected(self, connected: bool, reason: Reason, detail: str | None = None) -> None:
        """Record the link state; log and fire an event only on a real transition."""
        previous, self.connected = self.connected, connected
        self.disconnect_reason = None if connected else reason
        if not connected:
            # Remember the outage even if Home Assistant stops during it.
            self._store.async_delay_save(self._state_to_save, STORAGE_SAVE_DELAY)
        if previous is None or previous == connected:
            return
        if not connected and reason is Reason.AUTH:
            LOGGER.info(
                "%s refused the login (%s); waiting for the user to log in again",
                self.name,
                detail or reason,
            )
        elif not connected:
            LOGGER.info(
                "%s is not answering (%s); Sunstream keeps trying", self.name, detail or reason
            )
        self.hass.bus.async_fire(
            EVENT_CONNECTIVITY,
            {
                **self._event_base(),
                ATTR_CONNECTED: connected,
                ATTR_REASON: reason,
            },
        )

    def _raise_issue(self, issue: str, err: SourceUnavailable) -> None:
        """Ask the user to act: only they can fix a pinned certificate or a busy unit."""
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"{issue}_{self.config_entry.entry_id}",
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=issue,
            translation_placeholders={
                "name": self.config_entry.title,
                "detail": err.detail or err.reason,
            },
        )

    def _clear_issues(self) -> None:
        for issue in USER_ISSUES:
            ir.async_delete_issue(self.hass, DOMAIN, f"{issue}_{self.config_entry.entry_id}")

    def _track_parts(self, snapshot: Snapshot) -> None:
        """Announce parts (inverters, batteries) whose link changed."""
        online = {r.identity.key: r.online for r in snapshot.devices}
        previous, self._parts_online = self._parts_online, online
        registry = dr.async_get(self.hass)
        for key, is_online in online.items():
            if previous.get(key, is_online) == is_online:
                continue
            device = registry.async_get_device_by_identifier(
                part_identifier(self.system_id, key),
                config_entry_id=self.config_entry.entry_id,
            )
            self.hass.bus.async_fire(
                EVENT_CONNECTIVITY,
                {
                    **self._event_base(),
                    "device_id": device.id if device else None,
                    "part": key,
                    ATTR_CONNECTED: is_online,
                    ATTR_REASON: Reason.LINK_RESTORED if is_online else Reason.LINK_LOST,
                },
            )

    def _event_base(self) -> dict[str, Any]:
        return {
            "device_id": self.system_device_id,
            "config_entry_id": self.config_entry.entry_id,
            ATTR_SYSTEM_ID: self.system_id,
            ATTR_SOURCE: self.source.source_type,
        }

    # -- commands ---------------------------------------------------------

    def _unavailable(self) -> HomeAssistantError:
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="system_unavailable",
            translation_placeholders={"name": self.config_entry.title},
        )

    def _require_online(self) -> None:
        if not self.connected or not self.last_update_success:
            raise self._unavailable()

    async def async_dispatch(self, command: Command) -> None:
        """Send a command; raise translated errors; announce it on the bus.

        Its power, target and duration become :attr:`command_values`, which
        the battery control entities show (docs/actions.md).
        """
        self._require_online()
        try:
            await self.source.async_dispatch(command)
        except CommandRejected as err:
            raise _command_error(err) from err
        except CommandError as err:
            # Something may have reached the battery (or been rolled back): show what it holds.
            await self.async_refresh()
            raise _command_error(err) from err
        except SourceUnavailable as err:
            raise self._unavailable() from err
        self.hass.bus.async_fire(
            EVENT_DISPATCH,
            {
                **self._event_base(),
                ATTR_COMMAND: command.kind.value,
                ATTR_POWER: command.power_w,
                ATTR_TARGET_SOC: command.target_soc,
                ATTR_DURATION: command.duration.total_seconds() / 60,
                ATTR_EXPIRES_AT: command.expires_at.isoformat(),
            },
        )
        battery = command.battery
        self.set_command_values(self.command_values_of(battery).after(command), battery)
        await self.async_refresh()

    def _own_values(self, battery: PartKey | None) -> PartKey | None:
        """``battery`` if it keeps values of its own (one of several), else ``None``."""
        source = self.source
        if (
            battery is not None
            and isinstance(source, CommandsSeveralBatteries)
            and battery in source.battery_parts
        ):
            return battery
        return None

    def command_values_of(self, battery: PartKey | None) -> CommandValues:
        """The values the next command to ``battery`` is sent with."""
        own = self._own_values(battery)
        if own is None:
            return self.command_values
        return self.battery_command_values.get(own, CommandValues())

    def set_command_values(self, values: CommandValues, battery: PartKey | None = None) -> None:
        """Keep ``values`` for the next forced command (and across restarts)."""
        own = self._own_values(battery)
        if own is None:
            self.command_values = values
        else:
            self.battery_command_values[own] = values
        self._store.async_delay_save(self._state_to_save, STORAGE_SAVE_DELAY)

    async def async_write_setting(self, change: SettingChange) -> None:
        """Write one device setting; raise translated errors; read it back.

        Nothing is written while the system is offline, for a value the
        device cannot take (checked here, for every source, by
        :func:`~.pysunstream.setting_rules.validate_change`), for a value the
        device already reports, or for a stored value written too often
        (:class:`~.pysunstream.write_limiter.WriteLimiter`, per write group:
        settings sharing a register share its budget; where each of several
        batteries' inverters keeps its own settings, per battery too).
        """
        self._require_online()
        source = self.source
        spec = spec_of(source, change.battery)
        try:
            if not isinstance(source, Configurable):
                raise CommandRejected("setting_unsupported", setting=change.setting.value)
            reported = reported_of(source, change.battery)
            validate_change(spec, reported, change)
        except CommandError as err:
            raise _command_error(err) from err
        if reported_value(reported, change.setting) == change.value:
            return
        now = dt_util.now()
        group = (change.battery, spec.write_group(change.setting))
        if (wait := self.write_limiter.wait(group, now)) > timedelta(0):
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="setting_rate_limited",
                translation_placeholders={
                    "max_writes": str(self.write_limiter.max_writes),
                    "seconds": str(math.ceil(wait.total_seconds())),
                },
            )
        try:
            await source.async_write_setting(change)
        except CommandRejected as err:
            raise _command_error(err) from err
        except CommandError as err:
            # Something may have reached the device: count it, show what it holds.
            self.write_limiter.record(group, now)
            await self.async_refresh()
            raise _command_error(err) from err
        except SourceUnavailable as err:
            raise self._unavailable() from err
        self.write_limiter.record(group, now)
        await self.async_refresh()


def _reason(saved: object) -> Reason | None:
    """A reason saved by an earlier run; ``None`` for one this version does not know."""
    return next((reason for reason in Reason if reason == saved), None)


def _command_error(err: CommandError) -> HomeAssistantError:
    """The translated Home Assistant exception for ``err`` (see COMMAND_ERRORS)."""
    kind = next(ha for lib, ha in COMMAND_ERRORS if isinstance(err, lib))
    return kind(
        translation_domain=DOMAIN,
        translation_key=err.key,
        translation_placeholders=err.placeholders,
    )
