"""``AlphaEssSource``: an AlphaESS unit as a Sunstream :class:`~..source.Source`.

What a poll does (requests measured against the fake, see the tests):

* every poll: the real-time registers in **5** block reads (grid meter,
  PV meter, battery, inverter + PV strings, dispatch block);
* every ``slow_every`` polls (and the first): settings and lifetime system
  counters, **3** more reads (0x0800.., 0x084F.., 0x08D0..);
* once per connection: identity, **2** reads (0x0640.., 0x0743..);
* registers learned missing (exception 2) are left out of every plan and
  asked for again, one request each, with the slow reads.

Settings (reserve, charge limit, export limit, time-of-use windows) are
read with the slow registers and written by
:meth:`AlphaEssSource.async_write_setting`: only the registers whose value
changes, one register per write with the model's function code, then read
back (:mod:`.settings`). Nothing is written by a poll, :meth:`restore` or
start-up.

Dispatch writes the 0x0880 block (:mod:`.dispatch`) and reads it back. A
charge or discharge is written in leases of ``lease`` seconds at most and
re-sent by :meth:`AlphaEssSource.async_maintain` (which
:meth:`AlphaEssSource.async_poll` calls first) when less than
``lease_margin`` is left, until the command's own duration ends. If
Sunstream stops, the unit returns to its own control within one lease.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from datetime import datetime, timedelta
import logging
from typing import Any

from ..backoff import Backoff
from ..controls import DeviceSettings, Setting, SettingChange, SettingsSpec
from ..dispatch import BatteryLimits, Command, CommandKind, validate_command
from ..errors import CommandError, CommandFailed, CommandRejected
from ..modbus.client import DEFAULT_PORT, DEFAULT_SPACING, DEFAULT_TIMEOUT, ModbusClient
from ..modbus.decode import decode_block
from ..modbus.planner import Plan, plan_cadence
from ..modbus.poller import ModbusPoller
from ..modbus.registers import Table
from ..model import DeviceIdentity, Snapshot, Value
from .dispatch import (
    DISPATCH_ADDRESS,
    DISPATCH_COUNT,
    FIELD_ORDER,
    DispatchLease,
    DispatchState,
    decode_dispatch,
    encode_dispatch,
    lease_seconds,
)
from .errors import DispatchNotApplied, ModbusError
from .mapping import build_snapshot, firmware_tuple, serial_of, system_identity
from .quirks import (
    MODEL_NAMES,
    QUIRKS,
    STANDARD,
    DispatchWrite,
    Quirk,
    UnitProfile,
    resolve_profile,
)
from .registers import NUMBER_REGISTERS, REGISTERS, Cadence
from .settings import (
    RegisterWrite,
    decode_settings,
    plan_setting_writes,
    raw_of,
    settings_spec,
)

_LOGGER = logging.getLogger(__name__)

SOURCE_TYPE = "modbus"
#: AlphaESS units answer on unit 0x55 (docs/protocols/alphaess.md#transport).
DEFAULT_UNIT = 85
# Seconds between polls unless the user chooses otherwise.
DEFAULT_POLL_INTERVAL = 10
READBACK_TRIES = 3


class AlphaEssSource:
    """Reads and commands one AlphaESS unit over Modbus TCP.

    ``model`` is one of :data:`.quirks.MODELS` (the unit does not report
    its model); the EMS firmware read at connect refines the profile.
    ``quirks`` replaces :data:`.quirks.QUIRKS` (tests, a new model).
    """

    source_type = SOURCE_TYPE

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        unit: int = DEFAULT_UNIT,
        *,
        model: str = STANDARD,
        timeout: float = DEFAULT_TIMEOUT,
        spacing: float = DEFAULT_SPACING,
        backoff: Backoff | None = None,
        slow_every: int = 12,
        lease: timedelta = timedelta(minutes=10),
        lease_margin: timedelta = timedelta(minutes=2),
        quirks: Iterable[Quirk] = QUIRKS,
    ) -> None:
        self.model = model.lower()
        self._quirks = tuple(quirks)
        self.client = ModbusClient(
            host, port, unit, timeout=timeout, spacing=spacing, backoff=backoff
        )
        self.lease = lease
        self.lease_margin = lease_margin
        self.profile: UnitProfile = resolve_profile(self.model, quirks=self._quirks)
        self._poller = ModbusPoller(
            self.client, self._plan_rows, tables=(Table.HOLDING,), slow_every=slow_every
        )
        self._values: dict[str, Value] = {}
        self._lease: DispatchLease | None = None

    # --- Source protocol ---------------------------------------------------

    @property
    def identity(self) -> DeviceIdentity | None:
        """The unit, once :meth:`identify` or a poll has read it."""
        if not self._poller.identity_values:
            return None
        return system_identity(self._poller.identity_values, self._model_label())

    @property
    def battery_limits(self) -> BatteryLimits | None:
        """From the last poll: capacity 0x0119, max powers 0x012C/0x012D, cut-off SOC 0x0850."""
        capacity = self._values.get("battery_capacity")
        if not isinstance(capacity, float) or capacity <= 0:
            return None
        min_soc = self._poller.slow_values.get("discharge_cutoff_soc")
        return BatteryLimits(
            capacity_kwh=capacity,
            max_charge_w=_float(self._values.get("battery_max_charge_power")),
            max_discharge_w=_float(self._values.get("battery_max_discharge_power")),
            min_soc=min_soc if isinstance(min_soc, float) else 0.0,
        )

    @property
    def modbus_client(self) -> ModbusClient:
        """The one Modbus session to the device (a shared endpoint forwards through it)."""
        return self.client

    @property
    def dispatch_supported(self) -> bool:
        """Whether the model takes dispatch (the SMILE-T10 does not)."""
        return self.profile.dispatch_supported

    @property
    def lease_state(self) -> DispatchLease | None:
        """The forced command being kept alive, if any."""
        return self._lease

    async def identify(self) -> str:
        """Read identity registers and return the serial (for config-flow unique ids).

        Raises :class:`~..errors.SourceUnavailable` when the unit cannot be
        read, ``CommandRejected("no_serial")`` when it reports none.
        """
        await self._read_identity()
        serial = serial_of(self._poller.identity_values)
        if serial is None:
            raise CommandRejected("no_serial")
        return serial

    async def async_poll(self, now: datetime) -> Snapshot:
        """Read the unit once; keep a forced command alive first."""
        if self._poller.identity_due:
            await self._read_identity()
        await self._keep_lease(now)
        if self._poller.slow_due:
            await self._reprobe()
        values = await self._poller.read_due(self.profile)
        self._values = {**self._poller.slow_values, **values}
        dispatch = self._dispatch_state(values)
        if (
            self._lease is not None
            and dispatch is not None
            and not dispatch.active
            and self._lease.command.active(now)
        ):
            # Someone else (the app, another controller) ended it: do not fight.
            self._lease = None
        identity = self.identity or system_identity({}, self._model_label())
        return build_snapshot(now, self._values, dispatch, identity)

    async def async_dispatch(self, command: Command) -> None:
        """Charge, discharge or stop; validated, written, read back.

        Raises :class:`~..errors.CommandRejected` (``no_battery``,
        ``power_out_of_range``, ``soc_out_of_range``, ``soc_below_cutoff``
        (a discharge below the unit's cut-off SOC, 0x0850),
        ``duration_out_of_range``, ``dispatch_unsupported``) before
        writing, :class:`.errors.DispatchNotApplied` (a
        :class:`~..errors.CommandFailed`) when the unit took the write but
        reads back something else, or :class:`~..errors.SourceUnavailable`
        when the unit is not reachable.
        """
        if self.battery_limits is None:
            self._values.update(await self._read(Cadence.REALTIME))
        limits = self.battery_limits
        validate_command(command, limits)
        if not self.profile.dispatch_supported:
            raise CommandRejected("dispatch_unsupported", model=self.profile.name)
        if (
            command.kind is CommandKind.DISCHARGE
            and limits is not None
            and command.target_soc < limits.min_soc
        ):
            raise CommandRejected(
                "soc_below_cutoff",
                soc=f"{command.target_soc:g}",
                min_soc=f"{limits.min_soc:g}",
            )
        if command.kind is CommandKind.STOP:
            await self._send(encode_dispatch(CommandKind.STOP))
            self._lease = None
            return
        await self._send_lease(command, command.issued_at)

    async def async_maintain(self, now: datetime) -> bool:
        """Re-send the forced command when its lease is nearly over; ``True`` if sent.

        Call once per poll (``async_poll`` does). Forgets a command whose
        duration has ended: the unit has returned to normal by itself.
        """
        lease = self._lease
        if lease is None:
            return False
        if not lease.command.active(now):
            self._lease = None
            return False
        if not lease.due(now, self.lease_margin):
            return False
        await self._send_lease(lease.command, now)
        return True

    async def _keep_lease(self, now: datetime) -> None:
        """:meth:`async_maintain` within a poll: a renewal the unit does not take is retried.

        The unit answered (it refused the write, or read back other words),
        so the reading goes on and shows what the unit does. The lease is
        kept, still due, so the next poll sends it again, until the
        command's time is up or the unit shows that someone else ended it.
        """
        try:
            await self.async_maintain(now)
        except (CommandError, ModbusError) as err:
            if self._lease is not None:
                _LOGGER.warning(
                    "AlphaESS: the unit did not take the renewed forced %s (%s); "
                    "sending it again on the next poll",
                    self._lease.command.kind,
                    err,
                )

    async def async_close(self) -> None:
        """Close the Modbus session."""
        await self.client.close()

    def as_dict(self) -> dict[str, Any]:
        """The forced command in progress and the registers the unit lacks."""
        data: dict[str, Any] = {"unsupported": sorted(self._poller.unsupported)}
        if self._lease is not None:
            data["lease"] = {
                "command": self._lease.command.as_dict(),
                "sent_at": self._lease.sent_at.isoformat(),
                "sent_seconds": self._lease.sent_seconds,
            }
        return data

    def restore(self, data: dict[str, Any]) -> None:
        """Continue a lease and remember unsupported registers after a restart."""
        self._poller.unsupported = set(data.get("unsupported", []))
        self._poller.forget_plans()
        lease = data.get("lease")
        if lease:
            self._lease = DispatchLease(
                Command.from_dict(lease["command"]),
                datetime.fromisoformat(lease["sent_at"]),
                int(lease["sent_seconds"]),
            )

    # --- settings (controls.Configurable) -----------------------------------

    @property
    def settings_spec(self) -> SettingsSpec:
        """The model's settings whose registers the unit answered on the latest slow read."""
        return settings_spec(self.profile, self._poller.slow_values)

    def reported_settings(self) -> DeviceSettings:
        """The settings as the unit reported them (latest slow read or write read-back)."""
        return decode_settings(self._poller.slow_values, self.settings_spec, self.profile)

    async def async_write_setting(self, change: SettingChange) -> None:
        """Write ``change`` where it differs from the unit's value, then read it back.

        Raises :class:`~..errors.CommandRejected` (see
        :func:`.settings.plan_setting_writes`) before writing;
        :class:`~..errors.CommandFailed` ``setting_refused`` when the unit
        answers a write with a Modbus exception, ``setting_not_applied``
        (``export_limit_during_dispatch`` for 0x0800 while a dispatch runs)
        when the read-back differs; :class:`~..errors.SourceUnavailable`
        when the unit is not reachable. After a failure the reported
        settings are the unit's again.
        """
        if not self._poller.slow_values:
            self._poller.slow_values = await self._read(Cadence.SLOW)
        writes = plan_setting_writes(
            change, self.settings_spec, self._poller.slow_values, self.profile
        )
        if not writes:
            return
        try:
            for write in writes:
                await self.client.write(
                    write.register.address, [write.raw], self.profile.single_write
                )
        except ModbusError as err:
            await self._read_back(writes, tries=1)  # show the unit's values again
            raise CommandFailed(
                "setting_refused",
                setting=change.setting.value,
                detail=f"Modbus exception {err.exception_code} at 0x{err.address:04X}",
            ) from err
        if await self._read_back(writes):
            return
        feed_in = NUMBER_REGISTERS[Setting.EXPORT_LIMIT]
        if any(w.register is feed_in for w in writes) and self._values.get("dispatch_start") == 1:
            # The unit ignores 0x0800 while a dispatch runs
            # (docs/protocols/alphaess.md#settings).
            raise CommandFailed("export_limit_during_dispatch")
        raise CommandFailed("setting_not_applied", setting=change.setting.value)

    async def _read_back(
        self, writes: tuple[RegisterWrite, ...], tries: int = READBACK_TRIES
    ) -> bool:
        """Re-read the blocks ``writes`` touched; whether the unit holds every written word.

        Up to ``tries`` reads: values are reported to read back stale until
        the unit applies them (docs/protocols/alphaess.md#write-sequences).
        """
        blocks = [
            block
            for block in self.plan(Cadence.SLOW).blocks
            if any(block.start <= w.register.address <= block.end for w in writes)
        ]
        for _ in range(tries):
            values: dict[str, Value] = {}
            for block in blocks:
                values.update(
                    decode_block(
                        block, await self.client.read(block.start, block.count), self.profile
                    )
                )
            self._poller.slow_values = {**self._poller.slow_values, **values}
            self._values.update(values)
            if all(raw_of(w.register, values, self.profile) == w.raw for w in writes):
                return True
        return False

    # --- reading -----------------------------------------------------------

    @property
    def slow_every(self) -> int:
        """Polls between two reads of the slow registers."""
        return self._poller.slow_every

    def plan(self, cadence: Cadence) -> Plan:
        """The block reads for one cadence on this unit's profile."""
        return self._poller.plan(cadence, Table.HOLDING)

    def _plan_rows(self, cadence: Cadence, table: Table, unsupported: Set[str]) -> Plan:
        return plan_cadence(REGISTERS, cadence, unsupported, self.profile.readable)

    async def _read_identity(self) -> None:
        values = await self._read(Cadence.IDENTITY)
        self._poller.identified(values)
        profile = resolve_profile(self.model, firmware_tuple(values), quirks=self._quirks)
        if profile != self.profile:
            self.profile = profile
            self._poller.forget_plans()

    async def _read(self, cadence: Cadence) -> dict[str, Value]:
        """Read one cadence's blocks.

        A block that hits an address the unit lacks costs one request per
        register once (:func:`~..modbus.client.read_block`); the re-planned
        poll skips the missing ones (0x0453 on a SMILE-Hi10,
        docs/protocols/alphaess.md#smile-hi10) until :meth:`_reprobe` finds
        them answering again.
        """
        return await self._poller.read(cadence, self.profile)

    async def _reprobe(self) -> None:
        """Ask again for the registers learned missing; plan those that answer.

        Exception 2 is what a unit lacking a register answers
        (docs/protocols/alphaess.md#block-reads), but no document says it is
        for good: a firmware update can add registers, and nothing rules out
        a unit answering it for a while. A register dropped forever (it is
        saved across restarts) would leave its entity unknown until the
        entry is re-added, so each one costs one request per slow cycle
        instead.
        """
        await self._poller.reprobe(REGISTERS)

    def _dispatch_state(self, values: dict[str, Value]) -> DispatchState | None:
        keys = (
            "dispatch_start",
            "dispatch_active_power",
            "dispatch_mode",
            "dispatch_soc",
            "dispatch_time",
        )
        if any(not isinstance(values.get(k), float) for k in keys):
            return None
        start, power, mode, soc, seconds = (int(_float(values[k])) for k in keys)
        words = (
            start,
            power >> 16,
            power & 0xFFFF,
            0,
            0,
            mode,
            soc,
            seconds >> 16,
            seconds & 0xFFFF,
        )
        return decode_dispatch(words, self.profile.dispatch_soc_step)

    # --- writing -----------------------------------------------------------

    async def _send_lease(self, command: Command, now: datetime) -> None:
        seconds = lease_seconds(command, now, self.lease, self.profile.dispatch_max_seconds)
        words = encode_dispatch(
            command.kind,
            power_w=command.power_w,
            target_soc=command.target_soc,
            seconds=seconds,
            soc_step=self.profile.dispatch_soc_step,
        )
        await self._send(words)
        self._lease = DispatchLease(command, now, seconds)

    async def _send(self, words: tuple[int, ...]) -> None:
        """Write the dispatch block (one FC16 where the model allows) and verify it."""
        if self.profile.dispatch_write is DispatchWrite.ONE_BLOCK:
            await self.client.write(DISPATCH_ADDRESS, words, self.profile.single_write)
        else:
            for offset, count in FIELD_ORDER:
                await self.client.write(
                    DISPATCH_ADDRESS + offset,
                    words[offset : offset + count],
                    self.profile.single_write,
                )
        actual: tuple[int, ...] = ()
        for _ in range(READBACK_TRIES):
            # Power/SOC may read back stale until applied
            # (docs/protocols/alphaess.md#write-sequences).
            actual = tuple(await self.client.read(DISPATCH_ADDRESS, DISPATCH_COUNT))
            if actual == words:
                return
        raise DispatchNotApplied(words, actual)

    def _model_label(self) -> str:
        return MODEL_NAMES.get(self.model, self.model)


def _float(value: Value) -> float:
    return float(value) if isinstance(value, float | int) else 0.0
