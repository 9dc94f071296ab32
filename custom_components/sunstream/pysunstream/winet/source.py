"""``WinetSource``: a WiNet gateway as a Sunstream :class:`~..source.Source`.

One client, one session kept open across polls; each poll becomes a
:class:`~..model.Snapshot` whose ``identity`` is the gateway (kind
``GATEWAY``) and whose ``devices`` are the inverters and batteries behind it,
``online`` as the dongle reports their link.

Battery commands go to the hybrid inverter whose battery they name (the
only one, or one of several: :func:`.dispatch.dispatch_target`) through the
``param`` service (:mod:`.dispatch`). The inverter knows neither a target
state of charge nor a duration for a forced command, so the source keeps
each command, one per inverter, and after every poll returns an inverter to
self-consumption once its command's time is up or its target is reached.
The commands are part of :meth:`WinetSource.as_dict`, so a restart in the
middle of a forced charge still ends it; while Sunstream is not running,
nothing can (the inverter stays forced until Sunstream is back).

Each hybrid inverter's settings (:mod:`.settings`: forced-charging
windows, charge limit, export limit) make the source
:class:`~..controls.Configurable`; with several hybrids each one's are its
own, known by its battery part
(:class:`~..controls.ConfiguresSeveralBatteries`), read from and written to
that inverter only. They change rarely, so each inverter's two parameter
groups are read on the first poll, every :data:`SETTINGS_REFRESH`, and after
each write to it, never on every poll; they are written only by
:meth:`WinetSource.async_write_setting`. Each battery's mode is read back
from its inverter's list (:func:`.dispatch.battery_mode`), which is
therefore read again after every command.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
import logging
from typing import Any

from ..controls import DeviceSettings, SettingChange, SettingsSpec
from ..dispatch import BatteryLimits, Command, CommandKind
from ..errors import CommandError, CommandFailed, CommandRejected, Reason, SourceUnavailable
from ..model import (
    BatteryMode,
    DeviceIdentity,
    DeviceKind,
    DeviceReading,
    Metric,
    PartKey,
    Snapshot,
)
from .client import WinetClient
from .device_types import DeviceInfo
from .dispatch import (
    ADDR_COMMAND,
    ADDR_EMS_MODE,
    battery_capacity_kwh,
    battery_mode,
    check_command,
    command_finished,
    command_params,
    dispatch_target,
    rated_power_w,
    target_reached,
)
from .errors import ParamsRefused
from .gateway import GatewayInfo, gateway_identity
from .i18n import I18n
from .mapping import build_snapshot, device_identity
from .params import ENERGY_MANAGEMENT, FEED_IN, ParamInfo
from .settings import Parameters, decode, group_of, not_applied, plan, settings_spec

_LOGGER = logging.getLogger(__name__)

SOURCE_TYPE = "winet"
# Seconds. Dongles are reported to crash and reboot when polled faster than
# every 10 s; 5 s is the least a user may choose.
MIN_POLL_INTERVAL = 5
DEFAULT_POLL_INTERVAL = 10
SETTINGS_REFRESH = timedelta(minutes=10)
"""How old the settings may get before a poll reads them again."""
SETTINGS_RETRY = timedelta(minutes=1)
"""How soon a poll tries again after the settings could not be read."""
SETTINGS_GROUPS = (ENERGY_MANAGEMENT, FEED_IN)


@dataclass(frozen=True, slots=True)
class GatewayDescription:
    """What :meth:`WinetSource.async_identify` found, for a config flow.

    ``serial`` is the value to use as the config entry's unique id; it is
    the dongle's own serial when ``/about/list`` answered, else a
    substitute derived from the first device (see
    :func:`~.gateway.gateway_identity`).
    """

    identity: DeviceIdentity
    devices: tuple[DeviceIdentity, ...]
    secure: bool
    generation: int | None

    @property
    def serial(self) -> str:
        """The stable serial of the gateway."""
        assert self.identity.serial is not None
        return self.identity.serial


class WinetSource:
    """Reads a WiNet gateway and commands the battery of its hybrid inverter.

    ``gateway_serial`` pins the gateway identity to the serial the caller
    stored at set-up, so the snapshot identity never changes even if
    ``/about/list`` is unavailable on a later start. ``client`` carries the
    credentials, TLS and HTTP session; without one, a client with the
    factory defaults is made for ``host``.
    """

    source_type = SOURCE_TYPE

    def __init__(
        self,
        host: str,
        *,
        gateway_serial: str | None = None,
        client: WinetClient | None = None,
    ) -> None:
        self.client = client or WinetClient(host)
        self.gateway_serial = gateway_serial
        self._gateway_info_tried = False
        self._snapshot: Snapshot | None = None
        self.commands: dict[PartKey | None, Command] = {}
        """The forced charges and discharges Sunstream is holding, by the
        battery each names (``None``: the only hybrid inverter's)."""
        self._params: dict[str, Parameters] = {}
        """Each hybrid inverter's parameters as last read, by its key."""
        self._params_due: datetime | None = None
        """When a poll reads the settings next; ``None``: on the next poll."""
        self._unread: set[str] = set()
        """Inverters (keys) sent a command since their mode was last read: unknown."""

    @property
    def battery_limits(self) -> BatteryLimits | None:
        """What the model names tell, once a poll has seen the battery.

        WiNet reports neither capacity nor power limits: the capacity comes
        from the SBR stack's model (``SBR096`` → 9.6 kWh) and the power
        limit from the hybrid inverter's rating (``SH10RT`` → 10 kW).
        ``None`` unless both are known and the inverter reports a state of
        charge. Commands are checked without the capacity (see
        :func:`.dispatch.check_command`).
        """
        soc = self._soc(None)
        rating = self._rating()
        capacity = next(
            (
                battery_capacity_kwh(device.model)
                for device in self.client.devices
                if device.kind is DeviceKind.BATTERY and battery_capacity_kwh(device.model)
            ),
            None,
        )
        if soc is None or rating is None or capacity is None:
            return None
        return BatteryLimits(capacity_kwh=capacity, max_charge_w=rating, max_discharge_w=rating)

    @property
    def battery_parts(self) -> tuple[PartKey, ...]:
        """Each hybrid inverter's battery, when the gateway lists several."""
        hybrids = self._hybrids()
        return tuple(device.battery_key for device in hybrids) if len(hybrids) > 1 else ()

    def _hybrids(self) -> list[DeviceInfo]:
        return [device for device in self.client.devices if device.hybrid]

    def limits_of(self, battery: PartKey) -> BatteryLimits | None:
        """One of several hybrids' battery: its inverter's rating, its size unknown.

        ``None`` until the inverter's rating is known from its model and a
        poll has shown the battery's state of charge.
        """
        try:
            target = dispatch_target(self.client.devices, battery)
        except CommandRejected:
            return None
        rating = rated_power_w(target.model)
        if rating is None or self._soc(target) is None:
            return None
        # The dongle does not say which SBR stack is whose: no capacity.
        return BatteryLimits(capacity_kwh=None, max_charge_w=rating, max_discharge_w=rating)

    @property
    def i18n(self) -> I18n | None:
        """The gateway's translation file, once fetched (display names)."""
        return self.client.i18n

    @property
    def devices(self) -> tuple[DeviceInfo, ...]:
        """The devices of the latest device list."""
        return self.client.devices

    async def async_identify(self) -> GatewayDescription:
        """Connect, log in, list devices and name the gateway.

        For a config flow's connection test. Raises
        :class:`~.errors.AuthenticationFailed` (wrong credentials),
        :class:`~.errors.CertificateMismatch` (pinned mode) or
        :class:`~..errors.SourceUnavailable` (anything else, with a reason).
        """
        devices = await self.client.async_connect()
        info = await self._gateway_info()
        identity = gateway_identity(info, devices, serial=self.gateway_serial)
        endpoint = self.client.endpoint
        connect = self.client.connect_info
        return GatewayDescription(
            identity=identity,
            devices=tuple(device_identity(device) for device in devices),
            secure=bool(endpoint and endpoint.secure),
            generation=connect.generation if connect else None,
        )

    async def _gateway_info(self) -> GatewayInfo | None:
        if not self._gateway_info_tried:
            self._gateway_info_tried = True
            await self.client.async_fetch_gateway_info()
        return self.client.gateway

    async def async_poll(self, now: datetime) -> Snapshot:
        """One poll cycle over the open session.

        Raises :class:`~..errors.SourceUnavailable` (or a subclass) when the
        gateway cannot be read; the client recovers by itself on later
        polls.
        """
        data = await self.client.async_poll()
        info = await self._gateway_info()
        identity = gateway_identity(info, self.client.devices, serial=self.gateway_serial)
        snapshot = build_snapshot(now, identity, data)
        self._snapshot = snapshot
        await self._enforce(now)
        await self._refresh_settings(now)
        hybrids = self._hybrids()
        if len(hybrids) == 1 and (mode := self._mode_of(hybrids[0])) is not None:
            metrics = {**snapshot.metrics, Metric.BATTERY_MODE: mode.value}
            snapshot = replace(snapshot, metrics=metrics)
        elif len(hybrids) > 1:
            modes = {
                device.battery_key: mode
                for device in hybrids
                if (mode := self._mode_of(device)) is not None
            }
            snapshot = replace(
                snapshot, devices=tuple(_with_mode(r, modes) for r in snapshot.devices)
            )
        self._snapshot = snapshot
        return snapshot

    def _mode_of(self, inverter: DeviceInfo) -> BatteryMode | None:
        """The mode ``inverter`` listed at its latest settings read.

        Unknown while it is offline, before its first read and after a
        command until it is read again.
        """
        params = self._params.get(inverter.key)
        if params is None or not inverter.online or inverter.key in self._unread:
            return None
        return battery_mode(params.number(ADDR_EMS_MODE), params.number(ADDR_COMMAND))

    async def async_dispatch(self, command: Command) -> None:
        """Charge, discharge or stop the battery ``command`` names.

        Raises :class:`~..errors.CommandRejected` (``not_supported`` for a
        gateway without hybrid inverter, ``dispatch_ambiguous`` with several
        and no battery named, ``unknown_battery``,
        ``no_battery``, ``power_out_of_range``, ``soc_out_of_range``,
        ``duration_out_of_range``), :class:`~.errors.ParamsRefused` when the
        inverter does not set the parameters, or
        :class:`~..errors.SourceUnavailable` when it cannot be reached.

        A charge or discharge whose target the battery has already reached
        writes nothing (beyond ending a forced command still held).
        """
        if self._snapshot is None:  # not polled yet: devices and SOC unknown
            await self.async_poll(command.issued_at)
        target = dispatch_target(self.client.devices, command.battery)
        if not target.online:
            raise SourceUnavailable(Reason.OFFLINE, f"{target.model or 'inverter'} is offline")
        soc = self._soc(target)
        check_command(command, soc, rated_power_w(target.model))
        held = self._held_for(target)
        if command.kind is not CommandKind.STOP and target_reached(command, soc):
            _LOGGER.debug("WiNet: %s target already reached at %s %%", command.kind, soc)
            if held:
                await self._write(target, _stop(command.issued_at))
                self._release(held)
            return
        await self._write(target, command)
        self._release(held)
        if command.kind is not CommandKind.STOP:
            self.commands[command.battery] = command

    def held(self, battery: PartKey | None = None) -> Command | None:
        """The command held for ``battery``, as it was addressed."""
        return self.commands.get(battery)

    def _held_for(self, target: DeviceInfo) -> list[PartKey | None]:
        """The batteries whose held command drives ``target``."""
        found: list[PartKey | None] = []
        for battery in self.commands:
            try:
                if dispatch_target(self.client.devices, battery).key == target.key:
                    found.append(battery)
            except CommandRejected:
                continue
        return found

    def _release(self, batteries: list[PartKey | None]) -> None:
        for battery in batteries:
            self.commands.pop(battery, None)

    # -- settings (Configurable, ConfiguresSeveralBatteries) --------------------

    @property
    def settings_spec(self) -> SettingsSpec:
        """What the only hybrid inverter keeps, from the parameters it listed.

        Empty without exactly one hybrid inverter (with several, each keeps
        its own: :meth:`settings_spec_of`), and before the first read.
        """
        target = self._settings_target()
        return SettingsSpec() if target is None else self._spec(target)

    def reported_settings(self) -> DeviceSettings:
        """The settings as the only hybrid inverter listed them at the latest read."""
        target = self._settings_target()
        return DeviceSettings() if target is None else self._decoded(target)

    @property
    def settings_parts(self) -> tuple[PartKey, ...]:
        """Each hybrid's battery, whose inverter keeps its own settings, when there are several."""
        return self.battery_parts

    def settings_spec_of(self, battery: PartKey) -> SettingsSpec:
        """What the inverter of ``battery`` (one of several hybrids') keeps."""
        target = self._inverter_of(battery)
        return SettingsSpec() if target is None else self._spec(target)

    def reported_settings_of(self, battery: PartKey) -> DeviceSettings:
        """The settings the inverter of ``battery`` listed at its latest read."""
        target = self._inverter_of(battery)
        return DeviceSettings() if target is None else self._decoded(target)

    def _spec(self, target: DeviceInfo) -> SettingsSpec:
        params = self._params.get(target.key)
        if params is None:
            return SettingsSpec()
        return settings_spec(params, rated_power_w(target.model))

    def _decoded(self, target: DeviceInfo) -> DeviceSettings:
        params = self._params.get(target.key)
        return DeviceSettings() if params is None else decode(params)

    def _inverter_of(self, battery: PartKey) -> DeviceInfo | None:
        """The hybrid whose battery ``battery`` is, when it is one of several."""
        if battery not in self.battery_parts:
            return None
        return next(device for device in self._hybrids() if device.battery_key == battery)

    async def async_write_setting(self, change: SettingChange) -> None:
        """Write what differs for ``change`` to its inverter, then read that one back.

        The inverter is the only hybrid, or the one whose battery
        ``change.battery`` names (:func:`.dispatch.dispatch_target`); no
        other is read or written.

        Raises :class:`~..errors.CommandRejected` before anything is sent
        (``not_supported`` without a hybrid inverter, ``dispatch_ambiguous``
        with several and no battery named, ``unknown_battery``,
        ``setting_unsupported``, ``setting_out_of_range``,
        ``window_end_before_start``, ``winet_forced_charge_off``,
        ``winet_export_limit_off``), :class:`~..errors.CommandFailed`
        ``setting_refused`` when the gateway refuses the write and
        ``setting_not_applied`` when the read-back shows another value, and
        :class:`~..errors.SourceUnavailable` when the inverter cannot be
        reached.
        """
        if not self.client.devices:
            raise SourceUnavailable(Reason.OFFLINE, "the gateway has not been read yet")
        target = dispatch_target(self.client.devices, change.battery)
        if not target.online:
            raise SourceUnavailable(Reason.OFFLINE, f"{target.model or 'inverter'} is offline")
        if target.key not in self._params:
            await self._read_params(target)
        params = plan(self._spec(target), self._params[target.key], change)
        if not params:
            _LOGGER.debug("WiNet: %s already as asked, nothing written", change.setting)
            return
        try:
            await self.client.async_write_params(
                target, params, param_type=group_of(params[0].addr)
            )
        except ParamsRefused as err:
            await self._read_back(target)
            raise CommandFailed(
                "setting_refused", setting=change.setting.value, detail=err.detail
            ) from None
        if not await self._read_back(target):
            return
        if missed := not_applied(params, self._params[target.key]):
            _LOGGER.warning(
                "WiNet: %s not applied on %s, the gateway reports other values for %s",
                change.setting,
                target.model,
                ", ".join(f"{param.addr}={param.value}" for param in missed),
            )
            raise CommandFailed("setting_not_applied", setting=change.setting.value)

    def _settings_target(self) -> DeviceInfo | None:
        try:
            return dispatch_target(self.client.devices)
        except CommandRejected:
            return None

    async def _refresh_settings(self, now: datetime) -> None:
        """Read every online hybrid's settings on the first poll and when due again.

        A hybrid never read yet (listed later, or offline until now) is read at once,
        unless a read failed within :data:`SETTINGS_RETRY`.
        """
        hybrids = self._hybrids()
        # Only one that can be read: online, with the dev_code a read must carry.
        readable = [device for device in hybrids if device.online and device.dev_code is not None]
        unread = [device for device in readable if device.key not in self._params]
        if unread and (self._params_due is None or self._params_due > now + SETTINGS_RETRY):
            self._params_due = now
        if self._params_due is not None and now < self._params_due:
            return
        keys = {device.key for device in hybrids}
        for gone in self._params.keys() - keys:
            del self._params[gone]  # nothing of a removed inverter carries over
        if not readable:
            # Nothing to ask yet; costs no request, so look again next poll:
            # the inverter may be listed, or come online, later.
            return
        try:
            for device in readable:
                await self._read_params(device)
        except SourceUnavailable as err:
            _LOGGER.debug("WiNet: settings not read, trying again soon: %s", err)
            self._params_due = now + SETTINGS_RETRY
            return
        self._params_due = now + SETTINGS_REFRESH

    async def _read_params(self, target: DeviceInfo) -> None:
        """Read both groups of ``target``; a group it refuses counts as empty."""
        lists: list[tuple[ParamInfo, ...]] = []
        for group in SETTINGS_GROUPS:
            try:
                lists.append(await self.client.async_read_params(target, group))
            except SourceUnavailable as err:
                if err.reason is not Reason.REFUSED:
                    raise
                _LOGGER.debug("WiNet: %s has no parameter group %s: %s", target.model, group, err)
                lists.append(())
        self._params[target.key] = self._params.get(target.key, Parameters()).updated(lists)
        self._unread.discard(target.key)

    async def _read_back(self, target: DeviceInfo) -> bool:
        """Read ``target``'s settings after a write; whether that worked.

        When it does not, the next poll reads them: the write itself was
        answered, so it is not reported as failed.
        """
        try:
            await self._read_params(target)
        except SourceUnavailable as err:
            _LOGGER.warning("WiNet: settings written but not read back yet: %s", err)
            self._params_due = None
            return False
        return True

    async def async_run_keepalive(self) -> None:
        """Ping the gateway whenever the session is idle; runs until cancelled."""
        await self.client.async_run_keepalive()

    async def _write(self, target: DeviceInfo, command: Command) -> None:
        await self.client.async_write_params(
            target, command_params(command), param_type=ENERGY_MANAGEMENT
        )
        # The next poll reads the mode back; until it does the mode is
        # unknown, not what it was before this command.
        self._params_due = None
        self._unread.add(target.key)

    async def _enforce(self, now: datetime) -> None:
        """End each held command once its time is up or its target is met.

        A stop the inverter refuses, or that cannot reach it, is logged and
        tried again after the next poll: the command stays held until the
        inverter has taken the stop. One that can never be sent (the hybrid
        inverter is gone from the gateway) is dropped.
        """
        for battery, command in list(self.commands.items()):
            try:
                target = dispatch_target(self.client.devices, battery)
            except CommandRejected as err:
                _LOGGER.warning("WiNet: forced %s cannot be ended here: %s", command.kind, err)
                del self.commands[battery]
                continue
            if not command_finished(command, self._soc(target), now):
                continue
            try:
                await self._write(target, _stop(now))
            except (CommandError, SourceUnavailable) as err:
                _LOGGER.warning("WiNet: could not end the forced %s: %s", command.kind, err)
                continue
            _LOGGER.debug("WiNet: forced %s on %s ended", command.kind, target.model)
            del self.commands[battery]

    def _soc(self, target: DeviceInfo | None) -> float | None:
        """State of charge of ``target``'s battery; the system's with one hybrid."""
        snapshot = self._snapshot
        if snapshot is None:
            return None
        soc = snapshot.metrics.get(Metric.BATTERY_SOC)
        if target is not None:
            own = next((r for r in snapshot.devices if r.identity.key == target.battery_key), None)
            if own is not None:
                soc = own.metrics.get(Metric.BATTERY_SOC)
        return soc if isinstance(soc, float | int) else None

    def _rating(self) -> float | None:
        try:
            target = dispatch_target(self.client.devices)
        except CommandError:
            return None
        return rated_power_w(target.model)

    async def async_close(self) -> None:
        """Close the socket."""
        await self.client.async_close()

    def as_dict(self) -> dict[str, Any]:
        """The forced commands being held, so a restart can still end them."""
        if not self.commands:
            return {}
        return {"commands": [command.as_dict() for command in self.commands.values()]}

    def restore(self, data: dict[str, Any]) -> None:
        """Hold again the commands saved by :meth:`as_dict`.

        A save from before several hybrids were supported holds one
        ``command`` (for the only hybrid inverter).
        """
        saved = list(data.get("commands", []))
        if data.get("command"):
            saved.append(data["command"])
        commands = [Command.from_dict(item) for item in saved]
        self.commands = {command.battery: command for command in commands}

    def link_metrics(self) -> dict[str, int]:
        """The client's counters (attempts, failures, frames…), numbers only."""
        return {
            key: value
            for key, value in self.client.metrics.as_dict().items()
            if isinstance(value, int)
        }

    def diagnostics(self) -> dict[str, Any]:
        """Connection state and counters for a diagnostics download."""
        endpoint = self.client.endpoint
        connect = self.client.connect_info
        return {
            "state": self.client.state.value,
            "endpoint": None if endpoint is None else {"secure": endpoint.secure},
            "tls_mode": self.client.tls.mode.value,
            "generation": connect.generation if connect else None,
            "metrics": self.client.metrics.as_dict(),
            "commands": [command.as_dict() for command in self.commands.values()],
            "devices": [dict(device.raw) for device in self.client.devices],
            "parameters": {
                key: {str(addr): param.value for addr, param in sorted(params.current.items())}
                for key, params in self._params.items()
            },
        }


def _with_mode(reading: DeviceReading, modes: dict[PartKey, BatteryMode]) -> DeviceReading:
    """``reading`` with its battery mode, when it is one of several hybrids' battery."""
    mode = modes.get(PartKey(reading.identity.key))
    if mode is None:
        return reading
    return replace(reading, metrics={**reading.metrics, Metric.BATTERY_MODE: mode.value})


def _stop(at: datetime) -> Command:
    """The stop that ends a held command."""
    return Command(kind=CommandKind.STOP, issued_at=at)
