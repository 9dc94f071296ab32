"""Device settings (:mod:`..controls`) over WiNet parameters, free of I/O.

What a hybrid inverter (``dev_type`` 35) lists in its parameter groups, as
captured on an SH5.0RS (``docs/protocols/winet.md``), and what Sunstream
makes of it:

================ ======= ================================= ===========================
setting          address parameter                         value
================ ======= ================================= ===========================
charge windows   33208   Forced Charging                   170 on, 85 off (both windows)
                 33209   Forced Charging Valid Time        0 weekdays, 1 every day
window 1         33210-3 Start Time 1 h/min, End Time 1    h 0-23 (end 0-24), min 0-59
                 33214   Forced Charging Target SOC 1      % 0-100
window 2         33215-8 Start Time 2 h/min, End Time 2    as window 1
                 33219   Forced Charging Target SOC 2      % 0-100
export limit     31221   Feed-in Limitation (group ``7``)  170 on, 85 off
                 31222   Feed-in Limitation Value          kW, accuracy 2
================ ======= ================================= ===========================

Rules that follow from the device:

* One switch (33208) runs both forced-charging windows: a window's
  ``enabled`` is that switch, and changing it for one window changes it
  for the other. A window is written as a daily window, so switching one on
  also sets the valid time to every day (33209 = 1).
* The charge limit (grid-charge target) is the windows' target SOC: a write
  sets both targets; the reported value is the target of the windows in use
  (start ≠ end), unknown when they disagree.
* While a switch is off the gateway hides the parameters under it
  (:mod:`.params`). The times, targets and feed-in value then shown are the
  ones the device listed last (unknown until it has listed them once), and
  a target, new window times or a feed-in value cannot be written while the
  switch is (or goes) off (``winet_forced_charge_off`` /
  ``winet_export_limit_off``): nothing could read them back. A window whose
  times the device has not listed yet is reported as off without times
  (:attr:`~..controls.DeviceSettings.windows_untimed`); switching it on
  writes the switch alone, and the device then lists the times it keeps.
* A window end of 24:00 (the device allows hour 24) is shown as 23:59,
  and 23:59 is written as 24:00, so an unchanged window is never rewritten.

Not offered, so no entity: a reserve / discharge-floor SOC (no parameter in
either group), discharge windows (33151-33158 and the weekend set
33179-33195 are discharge *permission* times without an on/off switch,
split into weekday and weekend sets; a daily window with a switch cannot
be mapped onto them without inventing a state).

Only what differs from the device's latest reading is written; which
parameter belongs to which group decides how many ``param`` requests a
change needs (one, except never two here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..controls import (
    DeviceSettings,
    NumberRange,
    Setting,
    SettingChange,
    SettingsSpec,
    Window,
    sharing_storage,
)
from ..errors import CommandRejected
from ..setting_rules import (
    check_order,
    checked_number,
    only_switches_off,
    stored_clock,
    stored_end,
    supports,
)
from .messages import Param
from .params import ENERGY_MANAGEMENT, FEED_IN, ParamInfo

ENABLE = 170
DISABLE = 85
EVERY_DAY = 1

ADDR_FORCED_CHARGE = 33208
ADDR_FORCED_CHARGE_DAYS = 33209
ADDR_FEED_IN = 31221
ADDR_FEED_IN_VALUE = 31222


@dataclass(frozen=True, slots=True)
class WindowParams:
    """The addresses of one forced-charging window."""

    start_hour: int
    start_minute: int
    end_hour: int
    end_minute: int
    target_soc: int

    @property
    def times(self) -> tuple[int, int, int, int]:
        """Start h, start min, end h, end min."""
        return (self.start_hour, self.start_minute, self.end_hour, self.end_minute)


CHARGE_WINDOWS: Mapping[Setting, WindowParams] = MappingProxyType(
    {
        Setting.CHARGE_WINDOW_1: WindowParams(33210, 33211, 33212, 33213, 33214),
        Setting.CHARGE_WINDOW_2: WindowParams(33215, 33216, 33217, 33218, 33219),
    }
)


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """How a parameter is written when the device has not listed it yet.

    From the web UI's own write and a known client's feed-in write
    (docs/protocols/winet.md#energy-management-parameters); a listed
    parameter's own ``param_id`` / ``accuracy`` win.
    """

    param_id: int
    param_type: int
    name: str
    accuracy: int = 0


PARAMS: Mapping[int, ParamSpec] = MappingProxyType(
    {
        ADDR_FORCED_CHARGE: ParamSpec(21, 1, "Forced Charging"),
        ADDR_FORCED_CHARGE_DAYS: ParamSpec(22, 1, "Forced Charging Valid Time"),
        33210: ParamSpec(23, 2, "Forced Charging Start Time 1: Hour"),
        33211: ParamSpec(24, 2, "Forced Charging Start Time 1: Minute"),
        33212: ParamSpec(25, 2, "Forced Charging End Time 1: Hour"),
        33213: ParamSpec(26, 2, "Forced Charging End Time 1: Minute"),
        33214: ParamSpec(27, 2, "Forced Charging Target SOC 1"),
        33215: ParamSpec(28, 2, "Forced Charging Start Time 2: Hour"),
        33216: ParamSpec(29, 2, "Forced Charging Start Time 2: Minute"),
        33217: ParamSpec(30, 2, "Forced Charging End Time 2: Hour"),
        33218: ParamSpec(31, 2, "Forced Charging End Time 2: Minute"),
        33219: ParamSpec(32, 2, "Forced Charging Target SOC 2"),
        ADDR_FEED_IN: ParamSpec(13, 1, "Feed-in Limitation"),
        ADDR_FEED_IN_VALUE: ParamSpec(14, 2, "Feed-in Limitation Value", accuracy=2),
    }
)

WRITE_GROUPS = sharing_storage(
    {
        **{
            setting: (*addrs.times, ADDR_FORCED_CHARGE_DAYS, ADDR_FORCED_CHARGE)
            for setting, addrs in CHARGE_WINDOWS.items()
        },
        Setting.CHARGE_LIMIT_SOC: tuple(addrs.target_soc for addrs in CHARGE_WINDOWS.values()),
        Setting.EXPORT_LIMIT_ENABLED: (ADDR_FEED_IN,),
        Setting.EXPORT_LIMIT: (ADDR_FEED_IN_VALUE,),
    }
)
"""Both windows write the one forced-charging switch (33208): one write budget."""

_FEED_IN_GROUP = frozenset({ADDR_FEED_IN, ADDR_FEED_IN_VALUE})
SOC_RANGE = NumberRange(minimum=0, maximum=100, step=1, unit="%")
"""Target SOC limits as the device lists them (``[0~100]``, accuracy 0)."""


def group_of(addr: int) -> str:
    """The parameter group (``type``) that holds ``addr``."""
    return FEED_IN if addr in _FEED_IN_GROUP else ENERGY_MANAGEMENT


@dataclass(frozen=True, slots=True)
class Parameters:
    """What the device listed: now (``current``) and last time seen (``seen``).

    ``seen`` keeps a parameter the gateway hides while its parent switch is
    off, so the entity can still show the last value the device reported.
    """

    current: Mapping[int, ParamInfo] = field(default_factory=dict)
    seen: Mapping[int, ParamInfo] = field(default_factory=dict)

    def updated(self, lists: Iterable[tuple[ParamInfo, ...]]) -> Parameters:
        """A new reading of every group replaces ``current``; ``seen`` accumulates."""
        current = {param.addr: param for params in lists for param in params}
        return Parameters(current=current, seen={**self.seen, **current})

    def number(self, addr: int, *, hidden: bool = False) -> float | None:
        """The value at ``addr`` listed now (or last seen, if ``hidden``)."""
        param = (self.seen if hidden else self.current).get(addr)
        return None if param is None else param.number()

    def param(self, addr: int, value: str) -> Param:
        """A write of ``value`` to ``addr``, with the device's own ids if listed."""
        listed = self.seen.get(addr)
        spec = PARAMS[addr]
        return Param(
            listed.param_id if listed else spec.param_id,
            addr,
            spec.name,
            listed.param_type if listed else spec.param_type,
            value,
            accuracy=listed.accuracy if listed else spec.accuracy,
        )

    def accuracy(self, addr: int) -> int:
        """Decimals of the value at ``addr``."""
        listed = self.seen.get(addr)
        return listed.accuracy if listed else PARAMS[addr].accuracy


# -- what the device keeps -----------------------------------------------------------


def settings_spec(params: Parameters, rated_power_w: float | None) -> SettingsSpec:
    """What a device that listed ``params`` keeps.

    The forced-charging switch brings both windows and the charge limit;
    the feed-in switch brings the export limit, whose maximum is the
    device's own range when it has listed the value, else the inverter's
    rating (the Sungrow documentation's limit), else no number.
    """
    ranges: dict[Setting, NumberRange] = {}
    windows: frozenset[Setting] = frozenset()
    if ADDR_FORCED_CHARGE in params.seen:
        windows = frozenset(CHARGE_WINDOWS)
        target = params.seen.get(CHARGE_WINDOWS[Setting.CHARGE_WINDOW_1].target_soc)
        ranges[Setting.CHARGE_LIMIT_SOC] = (
            NumberRange(
                minimum=target.minimum,
                maximum=target.maximum,
                step=10.0**-target.accuracy,
                unit="%",
            )
            if target is not None and target.minimum is not None and target.maximum is not None
            else SOC_RANGE
        )
    switch = ADDR_FEED_IN in params.seen
    if switch:
        value = params.seen.get(ADDR_FEED_IN_VALUE)
        maximum_kw = value.maximum if value is not None else None
        maximum_w = maximum_kw * 1000 if maximum_kw is not None else rated_power_w
        if maximum_w is not None:
            ranges[Setting.EXPORT_LIMIT] = NumberRange(
                minimum=0,
                maximum=maximum_w,
                step=10.0 ** (3 - params.accuracy(ADDR_FEED_IN_VALUE)),
                unit="W",
            )
    return SettingsSpec(
        ranges=ranges,
        windows=windows,
        export_limit_switch=switch,
        windows_may_overlap=True,
        write_groups=WRITE_GROUPS,
    )


# -- decoding ----------------------------------------------------------------------------


def _switch(value: float | None) -> bool | None:
    if value == ENABLE:
        return True
    if value == DISABLE:
        return False
    return None


def _window(params: Parameters, addrs: WindowParams, enabled: bool) -> Window | None:
    sh, sm, eh, em = (params.number(addr, hidden=True) for addr in addrs.times)
    start, end = stored_clock(sh, sm), stored_clock(eh, em)
    if start is None or end is None:
        return None
    return Window(start=start, end=end, enabled=enabled)


def _charge_limit(params: Parameters, windows: Mapping[Setting, Window]) -> float | None:
    """The target of the windows in use; window 1's when none is; unknown if they differ."""
    in_use = [
        params.number(CHARGE_WINDOWS[setting].target_soc, hidden=True)
        for setting, window in windows.items()
        if window.start != window.end
    ]
    if not in_use:
        in_use = [params.number(CHARGE_WINDOWS[Setting.CHARGE_WINDOW_1].target_soc, hidden=True)]
    first = in_use[0]
    return first if all(target == first for target in in_use) else None


def decode(params: Parameters) -> DeviceSettings:
    """The settings as the device lists them (see the module for the rules)."""
    forced = _switch(params.number(ADDR_FORCED_CHARGE))
    windows: dict[Setting, Window] = {}
    if forced is not None:
        for setting, addrs in CHARGE_WINDOWS.items():
            if (window := _window(params, addrs, forced)) is not None:
                windows[setting] = window
    feed_in = params.number(ADDR_FEED_IN_VALUE, hidden=True)
    untimed = frozenset(CHARGE_WINDOWS) - windows.keys() if forced is False else frozenset()
    return DeviceSettings(
        charge_limit_soc=_charge_limit(params, windows) if forced is not None else None,
        export_limit_enabled=_switch(params.number(ADDR_FEED_IN)),
        export_limit=None if feed_in is None else round(feed_in * 1000, 3),
        windows=windows,
        windows_untimed=untimed,
    )


# -- writing -----------------------------------------------------------------------------


def _format(value: float, accuracy: int) -> str:
    return f"{value:.{accuracy}f}"


def _differs(params: Parameters, addr: int, value: str) -> bool:
    """Whether ``value`` differs from what the device lists now (or hides)."""
    listed = params.current.get(addr)
    if listed is None:
        return True
    try:
        return float(listed.value) != float(value)
    except ValueError:
        return True


def plan(spec: SettingsSpec, params: Parameters, change: SettingChange) -> tuple[Param, ...]:
    """The parameters to write for ``change``; empty when the device has it already.

    Raises :class:`~..errors.CommandRejected` (nothing may be written) for
    a setting the device does not keep, a value outside its range or of the
    wrong kind, a window whose end precedes its start, and a target, new
    window times or a feed-in value while its switch hides them. All returned parameters belong
    to one group (:func:`group_of`).
    """
    setting, value = change.setting, change.value
    if not supports(spec, setting):
        raise CommandRejected("setting_unsupported", setting=setting.value)
    wanted: list[tuple[int, str]] = []
    if setting is Setting.EXPORT_LIMIT_ENABLED:
        if not isinstance(value, bool):
            raise CommandRejected("setting_unsupported", setting=setting.value)
        wanted.append((ADDR_FEED_IN, str(ENABLE if value else DISABLE)))
    elif setting is Setting.EXPORT_LIMIT:
        watts = checked_number(spec, change)
        if ADDR_FEED_IN_VALUE not in params.current:
            raise CommandRejected("winet_export_limit_off")
        text = _format(watts / 1000, params.accuracy(ADDR_FEED_IN_VALUE))
        wanted.append((ADDR_FEED_IN_VALUE, text))
    elif setting is Setting.CHARGE_LIMIT_SOC:
        soc = checked_number(spec, change)
        for addrs in CHARGE_WINDOWS.values():
            if addrs.target_soc not in params.current:
                raise CommandRejected("winet_forced_charge_off")
            wanted.append((addrs.target_soc, _format(soc, params.accuracy(addrs.target_soc))))
    elif isinstance(value, bool) and _window(params, CHARGE_WINDOWS[setting], False) is None:
        wanted.extend(_switch_params(value))  # times never listed: the device's own
    else:
        if not isinstance(value, Window):
            raise CommandRejected("setting_unsupported", setting=setting.value)
        wanted.extend(_window_params(params, setting, value))
    return tuple(params.param(addr, text) for addr, text in wanted if _differs(params, addr, text))


def _window_params(params: Parameters, setting: Setting, window: Window) -> list[tuple[int, str]]:
    addrs = CHARGE_WINDOWS[setting]
    if not only_switches_off(_window(params, addrs, enabled=True), window):
        check_order(window)
    clock = (window.start.hour, window.start.minute, *stored_end(window.end))
    wanted = [(addr, str(part)) for addr, part in zip(addrs.times, clock, strict=True)]
    if not window.enabled and any(
        params.number(addr, hidden=True) != float(text) for addr, text in wanted
    ):
        # Times written with the switch going off would be hidden at once:
        # nothing could read them back.
        raise CommandRejected("winet_forced_charge_off")
    return wanted + _switch_params(window.enabled)


def _switch_params(on: bool) -> list[tuple[int, str]]:
    """Forced charging on (every day) or off.

    The switch last: the web UI lists parent before children, but a device
    that applies items in order then already has the new times.
    """
    days = [(ADDR_FORCED_CHARGE_DAYS, str(EVERY_DAY))] if on else []
    return [*days, (ADDR_FORCED_CHARGE, str(ENABLE if on else DISABLE))]


def not_applied(written: Iterable[Param], params: Parameters) -> tuple[Param, ...]:
    """The written parameters the device now lists with another value.

    A parameter the device hides after the write (its switch went off)
    cannot be checked and is not reported.
    """
    return tuple(param for param in written if _differs_listed(params, param))


def _differs_listed(params: Parameters, param: Param) -> bool:
    return param.addr in params.current and _differs(params, param.addr, param.value)
