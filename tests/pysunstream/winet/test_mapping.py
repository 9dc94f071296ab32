"""Captured payloads → the data model (no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from custom_components.sunstream.pysunstream.model import DeviceKind, InverterStatus, Metric
from custom_components.sunstream.pysunstream.winet import messages
from custom_components.sunstream.pysunstream.winet.gateway import (
    GatewayInfo,
    gateway_identity,
    parse_about,
)
from custom_components.sunstream.pysunstream.winet.mapping import (
    DeviceData,
    PollData,
    build_snapshot,
)
from sunstream_fakes.winet_fake import load_fixture

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def poll_data(fixture: dict[str, Any]) -> PollData:
    """What a poll cycle over ``fixture`` reads, built with the real parsers."""
    devices = messages.parse_devicelist({"list": fixture["devices"]})
    result = []
    for device in devices:
        lists = fixture["data"].get(str(device.dev_id), {})
        points: list[messages.DataPoint] = []
        for stage in ("real", "real_battery"):
            if stage in lists:
                points.extend(messages.parse_data_points({"list": lists[stage]}))
        direct = messages.parse_direct({"list": lists.get("direct", [])})
        result.append(DeviceData(device=device, points=tuple(points), direct=direct))
    return PollData(tuple(result))


def snapshot(name: str) -> Any:
    fixture = load_fixture(name)
    data = poll_data(fixture)
    info = parse_about(
        '{"result_code":1,"result_msg":"success","result_data":{"list":'
        + __import__("json").dumps(fixture["about"])
        + "}}"
    )
    return build_snapshot(NOW, gateway_identity(info, ()), data)


def test_sh10rt_metrics() -> None:
    snap = snapshot("sh10rt")
    assert snap.metrics == {
        Metric.PV_POWER: 4520.0,
        Metric.PV_ENERGY_TODAY: 21.3,
        Metric.PV_ENERGY_TOTAL: 15872.4,
        Metric.LOAD_POWER: 1200.0,
        Metric.GRID_POWER: -2100.0,  # exporting
        Metric.GRID_IMPORT_ENERGY: 3310.9,
        Metric.GRID_EXPORT_ENERGY: 6021.7,
        Metric.INVERTER_TEMPERATURE: 38.2,
        Metric.STATUS: InverterStatus.PRODUCING.value,
        Metric.BATTERY_POWER: -1220.0,  # charging
        Metric.BATTERY_SOC: 63.0,
        Metric.BATTERY_CHARGE_ENERGY: 3201.3,
        Metric.BATTERY_DISCHARGE_ENERGY: 2874.1,  # from the misspelled BATTRY key
        Metric.GRID_IMPORT_ENERGY_TODAY: 1.4,
        Metric.GRID_EXPORT_ENERGY_TODAY: 9.8,
        Metric.BATTERY_CHARGE_ENERGY_TODAY: 4.3,
        Metric.BATTERY_DISCHARGE_ENERGY_TODAY: 5.6,
        Metric.BATTERY_CAPACITY: 9.6,  # SBR096
    }
    assert snap.extras["grid_frequency"] == 49.98
    assert snap.extras["grid_voltage"] == 238.9
    assert [snap.extras[f"grid_voltage_{p}"] for p in "abc"] == [238.9, 240.2, 239.5]
    assert [snap.extras[f"grid_current_{p}"] for p in "abc"] == [4.7, 4.6, 4.6]
    # One inverter: its values are the system's, nothing repeated on the part.
    assert all(not d.metrics and not d.extras for d in snap.devices)
    assert snap.extras["pv1_power"] == 2663.96
    assert snap.extras["pv2_voltage"] == 498.7
    # Strings are a breakdown of the MPPTs and not added to the total
    # (docs/protocols/winet.md#data-services).
    assert snap.extras["mppt_total_power"] == 4509.15


def test_sh10rt_devices_keep_every_value_with_units() -> None:
    snap = snapshot("sh10rt")
    assert snap.identity is not None
    assert snap.identity.kind is DeviceKind.GATEWAY
    assert snap.identity.serial == "B2302107654"
    assert snap.identity.firmware == "WINET-SV200.001.00.P020"
    assert snap.identity.model == "WiNet-S"
    inverter, battery = snap.devices
    assert inverter.identity.kind is DeviceKind.INVERTER
    assert inverter.identity.model == "SH10RT"
    assert battery.identity.kind is DeviceKind.BATTERY
    assert battery.online
    values, units = inverter.values, inverter.units
    assert values["I18N_COMMON_TOTAL_YIELD"] is None  # "--"
    assert units["I18N_COMMON_BACKUP_FREQUENCY_MPPOWHDF"] == "Hz"  # sent as HZ
    assert units["I18N_COMMON_MAXIMUM_APPARENT_POWER_SIWHFGQY"] == "kVA"  # sent as kVar
    assert units["I18N_COMMON_AIR_TEM_INSIDE_MACHINE"] == "°C"
    assert units["I18N_COMMON_SQUARE_ARRAY_INSULATION_IMPEDANCE"] == "kΩ"
    assert values["I18N_COMMON_SQUARE_ARRAY_INSULATION_IMPEDANCE"] == 2200.0
    assert values["I18N_COMMON_DEVICE_STATUS"] == "I18N_COMMON_ENERGY_DISPATCH_OPERATION"
    assert values["I18N_COMMON_TOTAL_REACTIVE_POWER"] == -0.05
    assert values["I18N_COMMON_GROUP_BUNCH_TITLE_AND%@3.power"] is None
    assert values["I18N_COMMON_GROUP_BUNCH_TITLE_AND%@1.power"] == 2663.96
    assert battery.values["I18N_COMMON_BATTERY_OPERATION_STATUS"] == "I18N_COMMON_STATUS_RUN"


def test_sh5_unknown_yields_and_single_phase() -> None:
    snap = snapshot("sh5_0rs")
    assert snap.metrics[Metric.PV_POWER] == 0.0
    assert snap.metrics[Metric.GRID_POWER] == 0.0
    assert snap.metrics[Metric.BATTERY_POWER] == 1068.0  # discharging
    assert snap.metrics[Metric.BATTERY_SOC] == 79.5
    assert snap.metrics[Metric.BATTERY_DISCHARGE_ENERGY] == 511.5
    assert snap.extras["mppt_total_power"] == 0.0
    assert snap.identity is not None
    assert snap.identity.serial == "B2281302388"


def test_grid_meter_phases_where_reported() -> None:
    """The meter's phase values as the inverter lists them; none invented for the others."""
    meter = {k: v for k, v in snapshot("sh10rs").extras.items() if k.startswith("meter_")}
    assert meter == {"meter_current_a": 0.6, "meter_voltage_a": 232.1}
    meter = {k: v for k, v in snapshot("sh5_0rs").extras.items() if k.startswith("meter_")}
    assert meter == {"meter_current_a": 1.2}
    assert "meter_current_a" not in snapshot("sh10rt").extras
    # "Reactive Power Uploaded by Meter" (var): only the SH10RT capture has it.
    assert snapshot("sh10rt").extras["grid_reactive_power"] == -120.0
    assert "grid_reactive_power" not in snapshot("sh10rs").extras


def test_backup_output_in_watts_where_reported() -> None:
    backup = {k: v for k, v in snapshot("sh5_0rs").extras.items() if k.startswith("backup_")}
    assert backup == {"backup_power": 666.0, "backup_power_a": 666.0}
    sh10rt = snapshot("sh10rt").extras
    assert [sh10rt[f"backup_power_{phase}"] for phase in "abc"] == [0.0, 0.0, 0.0]


def test_battery_temperature_and_current_signed_as_the_power() -> None:
    """The current comes unsigned; the hybrid's charge and discharge powers sign it."""
    charging, discharging = snapshot("sh10rt").extras, snapshot("sh5_0rs").extras
    assert (charging["battery_current"], charging["battery_temperature"]) == (-5.9, 22.0)
    assert (discharging["battery_current"], discharging["battery_temperature"]) == (4.0, 16.4)
    # The stack's own reading has no power beside it, and here no inverter sends one either:
    # as sent (5.9 A while charging) it would read as discharging, so there is none.
    fixture = load_fixture("sh10rt")
    del fixture["data"]["1"]["real_battery"]
    stack = build_snapshot(NOW, gateway_identity(None, ()), poll_data(fixture)).extras
    assert "battery_current" not in stack
    assert stack["battery_temperature"] == 22.0


def test_inverter_ac_values_in_var_where_reported() -> None:
    """kvar → var; the power factor a bare fraction; nothing for keys not sent."""
    ac = ("reactive_power", "apparent_power", "power_factor", "dc_bus_voltage")
    ac += ("insulation_resistance",)
    sh10rt = snapshot("sh10rt").extras
    assert [sh10rt[k] for k in ac] == [-50.0, 3300.0, 0.999, 622.4, 2200.0]
    sh5 = snapshot("sh5_0rs").extras
    assert [sh5[k] for k in ac] == [10.0, 667.0, 1.0, 365.2, 1107.0]
    assert not set(ac) & set(snapshot("sh10rs").extras)


def test_sh10rs_standby_without_battery_device() -> None:
    snap = snapshot("sh10rs")
    assert snap.metrics[Metric.STATUS] == InverterStatus.STANDBY.value
    assert snap.metrics[Metric.GRID_POWER] == 130.0  # importing
    assert snap.metrics[Metric.BATTERY_SOC] == 41.0
    assert snap.extras["grid_voltage"] is None  # "--"
    assert snap.extras["pv1_power"] is None
    assert snap.extras["mppt_total_power"] == 0.0
    assert snap.identity is not None
    assert snap.identity.model == "WiNet-S2"
    assert len(snap.devices) == 1


def test_battery_from_battery_device_when_inverter_lacks_it() -> None:
    fixture = load_fixture("sh10rt")
    del fixture["data"]["1"]["real_battery"]
    snap = build_snapshot(NOW, gateway_identity(None, ()), poll_data(fixture))
    assert snap.metrics[Metric.BATTERY_SOC] == 63.0  # REMAIN_BATTERY_POWER
    assert snap.metrics[Metric.BATTERY_DISCHARGE_ENERGY] == 2874.1  # ..._BMS
    assert Metric.BATTERY_POWER not in snap.metrics


def test_offline_inverter_and_unknown_grid() -> None:
    fixture = load_fixture("sh10rt")
    fixture["devices"][0]["link_status"] = 0
    for point in fixture["data"]["1"]["real"]:
        if point["data_name"] == "I18N_CONFIG_KEY_4060":
            point["data_value"] = "--"
    snap = build_snapshot(NOW, gateway_identity(None, ()), poll_data(fixture))
    assert snap.metrics[Metric.STATUS] == InverterStatus.OFFLINE.value
    assert snap.metrics[Metric.GRID_POWER] is None  # one direction unknown
    assert not snap.devices[0].online


def test_two_inverters_add_production_not_grid() -> None:
    fixture = load_fixture("sh10rs")
    second = dict(fixture["devices"][0], id=2, dev_id=2, dev_sn="A2411200002")
    fixture["devices"].append(second)
    fixture["data"]["2"] = fixture["data"]["1"]
    snap = build_snapshot(NOW, gateway_identity(None, ()), poll_data(fixture))
    assert snap.metrics[Metric.PV_ENERGY_TOTAL] == pytest.approx(2 * 421.9)
    assert snap.metrics[Metric.GRID_POWER] == 130.0
    assert snap.metrics[Metric.BATTERY_POWER] == 560.0


def test_gateway_identity_fallbacks() -> None:
    devices = messages.parse_devicelist({"list": load_fixture("sh10rt")["devices"]})
    assert gateway_identity(None, devices).serial == "dev-A2302112345"
    assert gateway_identity(GatewayInfo(serial="G1"), devices, serial="STORED").serial == "STORED"
    assert gateway_identity(GatewayInfo(), ()).key == "winet_gateway_unknown"
    assert GatewayInfo(module="M_WiNet-S2_V01_V01_A").model == "WiNet-S2"


def _truth(fixture: dict[str, Any], dev_id: int, name: str) -> float:
    """A value straight from the fixture (what the fake serves), as a number."""
    for service in ("real", "real_battery"):
        for point in fixture["data"][str(dev_id)].get(service, []):
            if point["data_name"] == name:
                return float(point["data_value"])
    raise KeyError(name)


def test_several_inverters_each_show_their_own() -> None:
    fixture = load_fixture("multi")
    snap = build_snapshot(NOW, gateway_identity(None, ()), poll_data(fixture))
    parts = {d.identity.key: d for d in snap.devices}
    by_serial = {d["dev_sn"]: d["dev_id"] for d in fixture["devices"]}
    inverters = [d for d in snap.devices if d.identity.kind is DeviceKind.INVERTER]
    assert [d.identity.model for d in inverters] == ["SH10RT", "SH8.0RT", "SG5.0RT"]
    for inverter in inverters:
        dev_id = by_serial[inverter.identity.serial]
        kw = _truth(fixture, dev_id, "I18N_COMMON_TOTAL_DCPOWER")
        assert inverter.metrics[Metric.PV_POWER] == pytest.approx(kw * 1000)
        assert inverter.metrics[Metric.INVERTER_TEMPERATURE] == _truth(
            fixture, dev_id, "I18N_COMMON_AIR_TEM_INSIDE_MACHINE"
        )
        assert Metric.BATTERY_SOC not in inverter.metrics  # that is the battery's
        assert Metric.GRID_POWER not in inverter.metrics  # that is the site's
    sh10, sh8, sg5 = inverters
    assert sh8.metrics[Metric.STATUS] == InverterStatus.STANDBY.value
    assert sh8.extras["running_state"] == "standby"
    assert sg5.metrics[Metric.PV_ENERGY_TOTAL] == 20411.9  # from TOTAL_YIELD
    assert sg5.extras["pv3_voltage"] == 210.4
    assert sg5.extras["pv4_power"] is None  # "--"
    # The system keeps the sums; strings are per inverter only.
    assert snap.metrics[Metric.PV_POWER] == pytest.approx(
        sum(i.metrics[Metric.PV_POWER] for i in inverters)  # type: ignore[misc]
    )
    assert "pv1_power" not in snap.extras
    # Each hybrid has a battery part of its own, from its own real_battery data.
    for hybrid in (sh10, sh8):
        battery = parts[f"{hybrid.identity.key}_battery"]
        dev_id = by_serial[hybrid.identity.serial]
        assert battery.identity.kind is DeviceKind.BATTERY
        assert battery.metrics[Metric.BATTERY_SOC] == _truth(
            fixture, dev_id, "I18N_COMMON_BATTERY_SOC"
        )
        power = _truth(fixture, dev_id, "I18N_CONFIG_KEY_3921") - _truth(
            fixture, dev_id, "I18N_CONFIG_KEY_3907"
        )
        assert battery.metrics[Metric.BATTERY_POWER] == pytest.approx(power * 1000)
    assert f"{sg5.identity.key}_battery" not in parts
    assert snap.metrics[Metric.BATTERY_SOC] == pytest.approx((63.0 + 48.0) / 2)
    assert snap.metrics[Metric.BATTERY_CAPACITY] == pytest.approx(9.6 + 12.8)


def test_ev_charger_is_a_part_with_the_captured_values() -> None:
    fixture = load_fixture("multi")
    snap = build_snapshot(NOW, gateway_identity(None, ()), poll_data(fixture))
    charger = next(d for d in snap.devices if d.identity.kind is DeviceKind.CHARGER)
    assert charger.identity.model == "AC011E-01"
    # Power from each phase's voltage × current; the lifetime energy from Wh.
    power = 231.2 * 10.4 + 232.0 * 10.3 + 230.6 * 10.4
    assert charger.extras == {
        "charger_power": pytest.approx(power, abs=0.1),
        "charger_energy_total": 2316.812,
        "charger_voltage_a": 231.2,
        "charger_current_a": 10.4,
        "charger_voltage_b": 232.0,
        "charger_current_b": 10.3,
        "charger_voltage_c": 230.6,
        "charger_current_c": 10.4,
    }
    # Nothing of the charger counts as the site's production.
    assert snap.metrics[Metric.PV_ENERGY_TOTAL] == pytest.approx(15872.4 + 9210.5 + 20411.9)


def test_charger_power_unknown_while_a_phase_reads_no_number() -> None:
    fixture = load_fixture("multi")
    for point in fixture["data"]["6"]["real"]:
        if point["data_name"] == "I18N_COMMON_PHASE_B_CHARGING_CURRENT_SAHGKWBA":
            point["data_value"] = "--"
    snap = build_snapshot(NOW, gateway_identity(None, ()), poll_data(fixture))
    charger = next(d for d in snap.devices if d.identity.kind is DeviceKind.CHARGER)
    assert charger.extras["charger_power"] is None
