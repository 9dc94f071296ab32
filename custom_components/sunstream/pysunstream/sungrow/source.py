"""``SungrowModbusSource``: a Sungrow SH or SG inverter over Modbus TCP as a Sunstream source.

What a poll does on a hybrid (requests counted against the fake, see the
tests; WiNet-S in brackets, where no read may exceed 38 registers):

* every poll: 5002..5035 (1), the 13000 block 12999..13045 (1 [2]) and the
  EMS block 13049..13051 read back (1): **3** [4] reads;
* every ``slow_every`` polls (and the first): settings and battery limits
  13057..13099 (1 [2]) and 33046..33048 (1), the forced-charging schedule
  33207..33218 (1), and the 5003 lifetime output;
* once per connection: identity (serial, device type code, ARM version).

A string inverter reads 5002..5035 and its meter at 5082..5099 every poll.

Registers answered with exception 2 are read one at a time once, then left
out of the plan until the next connection (an inverter that lacks one,
docs/protocols/sungrow-modbus.md#models).

Forced charge and discharge go through the EMS holding registers
(docs/protocols/sungrow-modbus.md#ems): mode 13049 = forced, command 13050
= charge/discharge, power 13051, each written only if it differs from the
value read back, then read back until they match. They are three writes,
so each may be the one refused: a forced command writes power, command,
mode (the inverter ignores the first two in self-consumption), a stop mode
first. A write that fails after one went through sets the inverter back to
self-consumption (best effort) and reads it back; so does a forced
command written but not read back (the link lost, or the inverter holding
other words, e.g. a clamped power); if even that fails, a stop is held so
the next poll sends it again. The inverter has no
duration: it holds the forced mode until told otherwise, so Sunstream ends
it itself (stop = self-consumption) when the command's time is over or the
target SOC is reached, checked on every poll. If someone else changes the
EMS mode, Sunstream forgets its command and does not fight.
"""

from __future__ import annotations

from collections.abc import Set
import contextlib
from datetime import UTC, datetime
import logging
from typing import Any, NoReturn

from ..backoff import Backoff
from ..controls import (
    DeviceSettings,
    NumberRange,
    Setting,
    SettingChange,
    SettingsSpec,
    Window,
)
from ..dispatch import BatteryLimits, Command, CommandKind, validate_command
from ..errors import CommandError, CommandFailed, CommandRejected, SourceUnavailable
from ..modbus.client import DEFAULT_PORT, DEFAULT_TIMEOUT, ModbusClient, WriteCode, read_block
from ..modbus.decode import decode_block
from ..modbus.errors import ModbusError
from ..modbus.planner import Plan, ReadBlock, plan_cadence
from ..modbus.poller import ModbusPoller
from ..modbus.registers import Cadence, Register, Table
from ..model import Snapshot, Value, as_number
from ..setting_rules import validate_change
from .mapping import build_snapshot, serial_of, system_identity
from .models import (
    QUIRKS,
    UNKNOWN,
    Connection,
    Model,
    PowerUnit,
    Profile,
    Quirk,
    model_of,
    resolve_profile,
    with_rated_power,
)
from .registers import (
    BY_KEY,
    COMMAND_CHARGE,
    COMMAND_DISCHARGE,
    COMMAND_STOP,
    DOCUMENTED_RANGES,
    EMS_ADDRESS,
    EMS_COUNT,
    EMS_FORCED,
    EMS_SELF_CONSUMPTION,
    EXPORT_LIMIT_OFF,
    EXPORT_LIMIT_ON,
    SCHEDULE_ADDRESS,
    SCHEDULE_COUNT,
)
from .schedule import (
    OFFSETS as SCHEDULE_WORDS,
    SWITCH as SCHEDULE_SWITCH,
    WINDOW_KEYS,
    WRITE_GROUPS as WINDOW_WRITE_GROUPS,
    planned_words,
    switch as schedule_switch,
    windows as schedule_windows,
)

SOURCE_TYPE = "sungrow_modbus"
DEFAULT_UNIT = 1
# Seconds between polls unless the user chooses otherwise (as for AlphaESS:
# a poll takes 3-4 requests, well inside it even through a WiNet-S).
DEFAULT_POLL_INTERVAL = 10
READBACK_TRIES = 3

#: Documented ranges of the SOC limits (docs/protocols/sungrow-modbus.md#settings).
RESERVE_RANGE = NumberRange(minimum=0, maximum=50, step=1, unit="%")
CHARGE_LIMIT_RANGE = NumberRange(minimum=50, maximum=100, step=1, unit="%")

#: Which register keeps each numeric setting, and its raw step.
_SETTING_REGISTERS: dict[Setting, str] = {
    Setting.RESERVE_SOC: "min_soc",
    Setting.CHARGE_LIMIT_SOC: "max_soc",
    Setting.EXPORT_LIMIT: "export_limit",
    Setting.EXPORT_LIMIT_ENABLED: "export_limit_mode",
}

_LOGGER = logging.getLogger(__name__)


class SungrowModbusSource:
    """Reads and commands one Sungrow inverter over Modbus TCP (LAN port or WiNet-S)."""

    source_type = SOURCE_TYPE

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        unit: int = DEFAULT_UNIT,
        *,
        connection: Connection = Connection.LAN,
        timeout: float = DEFAULT_TIMEOUT,
        backoff: Backoff | None = None,
        slow_every: int = 12,
        quirks: tuple[Quirk, ...] = QUIRKS,
    ) -> None:
        self.connection = connection
        self._quirks = quirks
        self.profile: Profile = resolve_profile(UNKNOWN, connection, quirks=quirks)
        self.client = ModbusClient(
            host, port, unit, timeout=timeout, spacing=self.profile.spacing, backoff=backoff
        )
        self._poller = ModbusPoller(
            self.client,
            self._plan_rows,
            tables=(Table.INPUT, Table.HOLDING),
            slow_every=slow_every,
        )
        self._values: dict[str, Value] = {}
        self._command: Command | None = None

    # --- identity --------------------------------------------------------

    @property
    def model(self) -> Model:
        """The model the device type code names (``UNKNOWN`` before the first read)."""
        return self.profile.model

    @property
    def modbus_client(self) -> ModbusClient:
        """The one Modbus session to the device (a shared endpoint forwards through it)."""
        return self.client

    async def identify(self) -> tuple[str, Model]:
        """Read the identity registers: the serial and the model (config-flow unique id).

        Raises :class:`~..errors.SourceUnavailable` when the inverter cannot
        be read, ``CommandRejected("no_serial")`` when it reports none.
        """
        await self._read_identity()
        serial = serial_of(self._poller.identity_values)
        if serial is None:
            raise CommandRejected("no_serial")
        return serial, self.profile.model

    async def _read_identity(self) -> None:
        # A new connection may be another inverter or firmware: learn what it lacks afresh.
        self._poller.unsupported.clear()
        self._poller.forget_plans()
        unknown = resolve_profile(UNKNOWN, self.connection)
        values = await self._poller.read(
            Cadence.IDENTITY,
            unknown,
            lambda cadence, table, unsupported: _plan_rows(unknown, cadence, table, unsupported),
        )
        self._poller.identified(values)
        code = as_number(values.get("device_type_code"))
        model = model_of(int(code)) if code is not None else UNKNOWN
        profile = with_rated_power(
            resolve_profile(model, self.connection, quirks=self._quirks),
            as_number(values.get("nominal_power")),
        )
        if profile != self.profile:
            self.profile = profile
            self.client.spacing = profile.spacing
            self._poller.forget_plans()

    # --- polling ---------------------------------------------------------

    @property
    def battery_limits(self) -> BatteryLimits | None:
        """Capacity and power limits from 33046..33048; ``None`` on a string inverter."""
        if not self.profile.hybrid:
            return None
        capacity = as_number(self._values.get("battery_capacity"))
        if capacity is None or capacity <= 0:
            return None
        nominal = as_number(self._poller.identity_values.get("nominal_power")) or 0.0
        charge = as_number(self._values.get("battery_max_charge_power")) or nominal
        discharge = as_number(self._values.get("battery_max_discharge_power")) or nominal
        min_soc = as_number(self._values.get("min_soc"))
        max_soc = as_number(self._values.get("max_soc"))
        return BatteryLimits(
            capacity_kwh=capacity,
            max_charge_w=charge,
            max_discharge_w=discharge,
            min_soc=min_soc if min_soc is not None else 0.0,
            max_soc=max_soc if max_soc is not None else 100.0,
        )

    async def async_poll(self, now: datetime) -> Snapshot:
        """Read the inverter once; end a forced command whose time or target is reached."""
        if self._poller.identity_due:
            await self._read_identity()
        values = await self._poller.read_due(self.profile)
        poller = self._poller
        self._values = {**poller.identity_values, **poller.slow_values, **values}
        await self._hold(now)
        identity = system_identity(self._poller.identity_values, self.profile)
        return build_snapshot(now, self._values, self.profile, identity)

    @property
    def slow_every(self) -> int:
        """Polls between two reads of the slow registers."""
        return self._poller.slow_every

    def plan(self, cadence: Cadence, table: Table) -> Plan:
        """The block reads of one cadence and table on this inverter's profile."""
        return self._poller.plan(cadence, table)

    def _plan_rows(self, cadence: Cadence, table: Table, unsupported: Set[str]) -> Plan:
        return _plan_rows(self.profile, cadence, table, unsupported)

    # --- dispatch --------------------------------------------------------

    async def async_dispatch(self, command: Command) -> None:
        """Charge, discharge or stop through the EMS registers; validated, written, read back.

        Raises :class:`~..errors.CommandRejected` (``no_battery``,
        ``power_out_of_range``, ``soc_out_of_range``, ``soc_below_cutoff``
        (a discharge below the inverter's min SOC, 13058),
        ``duration_out_of_range``, ``rated_power_unknown``, ``power_below_step``)
        before writing,
        :class:`~..errors.CommandFailed` when the inverter reads back
        something else (``dispatch_not_applied``; for a forced command only
        where it still reads self-consumption), refuses the first write
        (``dispatch_refused``: nothing changed), fails a later one or the
        read-back of a forced command written, and is set back to
        self-consumption (``dispatch_rolled_back``), or cannot even be
        set back (``dispatch_half_applied``: the next poll tries again), or
        :class:`~..errors.SourceUnavailable` when it is not reachable before
        anything was written.
        """
        if not self.profile.hybrid:
            raise CommandRejected("no_battery")
        if self.battery_limits is None:
            self._poller.slow_values = await self._poller.read(Cadence.SLOW, self.profile)
            self._values.update(self._poller.slow_values)
        limits = self.battery_limits
        validate_command(command, limits)
        if (
            command.kind is CommandKind.DISCHARGE
            and limits is not None
            and command.target_soc < limits.min_soc
        ):
            # The inverter stops at its min SOC (13058) whatever the target.
            raise CommandRejected(
                "soc_below_cutoff", soc=f"{command.target_soc:g}", min_soc=f"{limits.min_soc:g}"
            )
        if command.kind is CommandKind.STOP:
            await self._write_ems(EMS_SELF_CONSUMPTION, COMMAND_STOP, None)
            self._command = None
            return
        code = COMMAND_CHARGE if command.kind is CommandKind.CHARGE else COMMAND_DISCHARGE
        await self._write_ems(EMS_FORCED, code, self._ems_power_word(command.power_w))
        self._command = command

    def _ems_power_word(self, power_w: float) -> int:
        """The 13051 word for ``power_w``: W, or % of the rated power on models that take %.

        Raises ``CommandRejected("rated_power_unknown")`` on a model that takes
        % but reported no rating (input 5000): any word would be a guess, and
        the watts taken for % would ask for full power; ``power_below_step``
        for a power under 1 % of the rating.
        """
        reg = BY_KEY["ems_power"]
        if self.profile.ems_power_unit is PowerUnit.PERCENT and not as_number(
            self._poller.identity_values.get("nominal_power")
        ):
            raise CommandRejected("rated_power_unknown", model=self.profile.model.name)
        step = self.profile.scale(reg.key, reg.scale)
        word = round(power_w / step)
        if self.profile.ems_power_unit is not PowerUnit.PERCENT:
            return word
        if word < 1:
            # 0 % would be a forced command that moves nothing, reported as sent.
            raise CommandRejected(
                "power_below_step",
                model=self.profile.model.name,
                power=f"{power_w:g}",
                step=f"{step:g}",
            )
        return min(word, 100)

    async def _hold(self, now: datetime) -> None:
        """End the forced command Sunstream started once its time or SOC target is reached.

        A stop the inverter refuses or does not apply is logged and sent
        again on the next poll (the command, or a stop, stays held; see
        :meth:`_fall_back`); the reading goes on.
        """
        command = self._command
        if command is None:
            return
        mode = as_number(self._values.get("ems_mode"))
        if mode is not None and int(mode) != EMS_FORCED:
            self._command = None  # someone else took the battery back: do not fight
            return
        soc = as_number(self._values.get("battery_soc"))
        reached = soc is not None and (
            (command.kind is CommandKind.CHARGE and soc >= command.target_soc)
            or (command.kind is CommandKind.DISCHARGE and soc <= command.target_soc)
        )
        if reached or not command.active(now):
            try:
                await self._write_ems(EMS_SELF_CONSUMPTION, COMMAND_STOP, None)
            except (CommandError, ModbusError) as err:
                if self._command is None:  # set back to self-consumption on the way
                    _LOGGER.warning(
                        "Sungrow: ending the forced %s went only half-way (%s); it reads "
                        "self-consumption",
                        command.kind,
                        err,
                    )
                else:
                    _LOGGER.warning(
                        "Sungrow: could not end the forced %s (%s); trying again on the next poll",
                        command.kind,
                        err,
                    )
                return
            self._command = None
            self._values.update(await self._read_ems())

    async def _read_ems(self) -> dict[str, Value]:
        rows = tuple(BY_KEY[k] for k in ("ems_mode", "ems_command", "ems_power"))
        block = ReadBlock(EMS_ADDRESS, EMS_COUNT, rows)
        values, split = await read_block(self.client, block, self.profile, self._poller.unsupported)
        if split:
            self._poller.forget_plans()
        return values

    async def _write_ems(self, mode: int, command: int, power: int | None) -> None:
        """Write the EMS words that differ, safest partial state first; read them back.

        Entering forced mode, the mode goes last: power and command written
        in self-consumption move nothing (docs/protocols/sungrow-modbus.md#ems).
        Leaving it, the mode goes first: self-consumption at once, whatever
        the command then reads. A forced command whose words were written
        but not read back goes through :meth:`_fall_back`.
        """
        wanted = (mode, command, power)
        current = await self.client.read(EMS_ADDRESS, EMS_COUNT, Table.HOLDING)
        offsets = (2, 1, 0) if mode == EMS_FORCED else (0, 1, 2)
        changed = [o for o in offsets if wanted[o] is not None and current[o] != wanted[o]]
        for written, offset in enumerate(changed):
            word = wanted[offset]
            assert word is not None  # left out of ``changed`` otherwise
            try:
                await self.client.write(EMS_ADDRESS + offset, [word], WriteCode.FC06)
            except SourceUnavailable as err:
                # A refusal (Modbus exception) applied nothing; a timeout may have.
                if not written and isinstance(err, ModbusError):
                    raise CommandFailed("dispatch_refused", detail=str(err)) from err
                await self._fall_back(err)
        # A forced command written and not confirmed may have left the
        # inverter forced with no end; Sunstream holds no command for it yet,
        # so it is set back here (a stop's failure leaves the held command,
        # which :meth:`_hold` ends).
        entering = bool(changed) and mode == EMS_FORCED
        actual: list[int] = current
        for _ in range(READBACK_TRIES):
            try:
                actual = await self.client.read(EMS_ADDRESS, EMS_COUNT, Table.HOLDING)
            except SourceUnavailable as err:
                if entering:
                    await self._fall_back(err)
                raise
            if all(w is None or a == w for a, w in zip(actual, wanted, strict=True)):
                self._values.update({"ems_mode": actual[0], "ems_command": actual[1]})
                return
        expected = [w for w in wanted if w is not None]
        failed = CommandFailed(
            "dispatch_not_applied", expected=str(expected), actual=str(actual[: len(expected)])
        )
        if entering and actual[0] != EMS_SELF_CONSUMPTION:
            await self._fall_back(failed)
        raise failed

    async def _fall_back(self, err: SourceUnavailable | CommandFailed) -> NoReturn:
        """After a half-done or unconfirmed EMS write: back to self-consumption, read back, raise.

        Best effort, mode first (it alone decides who drives the battery),
        then the stop. Sunstream's command is over either way; where the
        inverter still reads forced (or cannot be read), a stop is held so
        the next poll sends it again (:meth:`_hold`).
        """
        self._command = None
        values: dict[str, Value] = {}
        with contextlib.suppress(SourceUnavailable):
            current = await self.client.read(EMS_ADDRESS, EMS_COUNT, Table.HOLDING)
            for offset, word in ((0, EMS_SELF_CONSUMPTION), (1, COMMAND_STOP)):
                if current[offset] != word:
                    with contextlib.suppress(ModbusError):
                        await self.client.write(EMS_ADDRESS + offset, [word], WriteCode.FC06)
            values = await self._read_ems()
        self._values.update(values)
        mode = as_number(values.get("ems_mode"))
        if mode is not None and int(mode) == EMS_SELF_CONSUMPTION:
            raise CommandFailed("dispatch_rolled_back", detail=str(err)) from err
        self._command = Command(kind=CommandKind.STOP, issued_at=datetime.now(UTC))
        _LOGGER.warning(
            "Sungrow: EMS write failed (%s) and self-consumption could not be restored; "
            "trying again on the next poll",
            err,
        )
        raise CommandFailed("dispatch_half_applied", detail=str(err)) from err

    # --- settings (Configurable) -----------------------------------------

    @property
    def settings_spec(self) -> SettingsSpec:
        """Reserve and charge-limit SOC, export limit and its switch, on hybrids.

        The two forced-charging windows where the inverter answers the
        schedule registers (:mod:`.schedule`); they may overlap (window 1
        wins, as the inverter's manual says). A string inverter has none: what
        its export limitation registers hold is not established
        (docs/protocols/sungrow-modbus.md#export-limitation-on-string-inverters).
        """
        if not self.profile.hybrid:
            return SettingsSpec()
        nominal = as_number(self._poller.identity_values.get("nominal_power")) or 0.0
        ranges = {Setting.RESERVE_SOC: RESERVE_RANGE, Setting.CHARGE_LIMIT_SOC: CHARGE_LIMIT_RANGE}
        if nominal > 0:
            ranges[Setting.EXPORT_LIMIT] = NumberRange(
                minimum=0, maximum=nominal, step=10, unit="W"
            )
        has_windows = schedule_switch(self._poller.slow_values) is not None
        return SettingsSpec(
            ranges=ranges,
            export_limit_switch=True,
            windows=frozenset(WINDOW_KEYS) if has_windows else frozenset(),
            windows_may_overlap=True,
            write_groups=WINDOW_WRITE_GROUPS if has_windows else {},
        )

    def reported_settings(self) -> DeviceSettings:
        """The settings read back on the latest slow read."""
        if not self.profile.hybrid:
            return DeviceSettings()
        mode = as_number(self._poller.slow_values.get("export_limit_mode"))
        return DeviceSettings(
            reserve_soc=as_number(self._poller.slow_values.get("min_soc")),
            charge_limit_soc=as_number(self._poller.slow_values.get("max_soc")),
            export_limit_enabled=(
                None
                if mode is None or int(mode) not in (EXPORT_LIMIT_ON, EXPORT_LIMIT_OFF)
                else int(mode) == EXPORT_LIMIT_ON
            ),
            export_limit=as_number(self._poller.slow_values.get("export_limit")),
            windows=schedule_windows(self._poller.slow_values),
        )

    async def async_write_setting(self, change: SettingChange) -> None:
        """Validate ``change``, write its register if it differs, read it back.

        Raises :class:`~..errors.CommandRejected` (``setting_unsupported``,
        ``setting_out_of_range``) before writing, ``CommandFailed``
        (``setting_refused`` on a Modbus exception, ``setting_not_applied``
        when the register reads back another value).
        """
        validate_change(self.settings_spec, self.reported_settings(), change)
        if isinstance(change.value, Window):
            await self._write_window(change.setting, change.value)
            return
        reg = BY_KEY[_SETTING_REGISTERS[change.setting]]
        raw = self._raw(change, reg)
        current = await self.client.read(reg.address, 1, Table.HOLDING)
        if current[0] != raw:
            try:
                await self.client.write(reg.address, [raw], WriteCode.FC06)
            except ModbusError as err:
                raise CommandFailed(
                    "setting_refused", setting=change.setting.value, detail=str(err)
                ) from err
            current = await self.client.read(reg.address, 1, Table.HOLDING)
        self._poller.slow_values.update(
            decode_block(ReadBlock(reg.address, 1, (reg,)), current, self.profile)
        )
        self._values.update(self._poller.slow_values)
        if current[0] != raw:
            _LOGGER.warning(
                "Sungrow: %s not applied: wrote %s, reads %s", change.setting, raw, current[0]
            )
            raise CommandFailed("setting_not_applied", setting=change.setting.value)

    async def _write_window(self, setting: Setting, window: Window) -> None:
        """Write the schedule words that differ (the switch last), then read the block back.

        A word refused half-way leaves the words before it written: the block
        is read back then too, so the window shows what the inverter now holds.
        """
        words = planned_words(setting, window)
        current = await self.client.read(SCHEDULE_ADDRESS, SCHEDULE_COUNT, Table.HOLDING)
        changed = [offset for offset in sorted(words) if current[offset] != words[offset]]
        # The switch (offset 0) last, so the inverter has the times when it turns on.
        order = sorted(changed, key=lambda o: o == SCHEDULE_WORDS[SCHEDULE_SWITCH])
        for written, offset in enumerate(order):
            try:
                await self.client.write(SCHEDULE_ADDRESS + offset, [words[offset]], WriteCode.FC06)
            except ModbusError as err:
                if written:
                    with contextlib.suppress(SourceUnavailable):
                        self._keep_schedule(
                            await self.client.read(SCHEDULE_ADDRESS, SCHEDULE_COUNT, Table.HOLDING)
                        )
                raise CommandFailed(
                    "setting_refused", setting=setting.value, detail=str(err)
                ) from err
        if changed:
            current = await self.client.read(SCHEDULE_ADDRESS, SCHEDULE_COUNT, Table.HOLDING)
        self._keep_schedule(current)
        if any(current[offset] != word for offset, word in words.items()):
            _LOGGER.warning("Sungrow: %s not applied: wrote %s, reads %s", setting, words, current)
            raise CommandFailed("setting_not_applied", setting=setting.value)

    def _keep_schedule(self, words: list[int]) -> None:
        """The schedule block as read back, as the settings shown."""
        rows = tuple(BY_KEY[key] for key in SCHEDULE_WORDS)
        block = ReadBlock(SCHEDULE_ADDRESS, SCHEDULE_COUNT, rows)
        self._poller.slow_values.update(decode_block(block, words, self.profile))
        self._values.update(self._poller.slow_values)

    def _raw(self, change: SettingChange, reg: Register) -> int:
        """The register word for a change :func:`validate_change` accepted."""
        value = change.value
        if isinstance(value, bool):
            return EXPORT_LIMIT_ON if value else EXPORT_LIMIT_OFF
        assert isinstance(value, float | int)  # validate_change let only numbers through
        return round(value / self.profile.scale(reg.key, reg.scale))

    # --- lifecycle -------------------------------------------------------

    async def async_close(self) -> None:
        """Close the Modbus session."""
        await self.client.close()

    def diagnostics(self) -> dict[str, Any]:
        """What decides how this inverter is read: model, connection limits, plans, raw identity.

        For reports of register differences between models and firmware
        (docs/protocols/sungrow-modbus.md#models): the plan shows which
        blocks were read, ``unsupported`` which registers answered exception 2.
        """
        profile = self.profile
        return {
            "model": {
                "code": f"0x{profile.model.code:04X}",
                "name": profile.model.name,
                "family": profile.model.family.value,
            },
            "connection": profile.connection.value,
            "max_count": profile.max_count,
            "spacing_s": profile.spacing,
            "scales": dict(profile.scales),
            "ems_power_unit": profile.ems_power_unit.value,
            "inverted": sorted(profile.inverted),
            "unsupported": sorted(self._poller.unsupported),
            "plans": {
                f"{cadence.value}/{table.value}": [
                    [block.start, block.count] for block in self.plan(cadence, table).blocks
                ]
                for cadence in Cadence
                for table in Table
            },
            "requests": self.client.stats.requests,
            "identity": {k: v for k, v in self._poller.identity_values.items() if k != "serial"},
            "command": None if self._command is None else self._command.as_dict(),
        }

    def as_dict(self) -> dict[str, Any]:
        """The forced command Sunstream must end, if any."""
        return {"command": self._command.as_dict()} if self._command else {}

    def restore(self, data: dict[str, Any]) -> None:
        """Continue ending a forced command after a restart."""
        command = data.get("command")
        self._command = Command.from_dict(command) if command else None


def _plan_rows(profile: Profile, cadence: Cadence, table: Table, unsupported: Set[str]) -> Plan:
    """The block reads of one cadence and table on ``profile`` (pure)."""
    rows = [reg for each in Cadence for reg in profile.registers(each) if reg.table is table]
    return plan_cadence(
        rows, cadence, unsupported, DOCUMENTED_RANGES[table], max_count=profile.max_count
    )
