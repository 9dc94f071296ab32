"""Snapshots of a WiNet system (SH10RT hybrid inverter + SBR096 battery) in Home Assistant.

Three snapshots from one set-up against the fake gateway: the frames that
crossed the socket (captured off the fake, tokens and clocks normalised),
the entities built from them, and the device registry. A change to the
captured data shows in the first, a change to the mapping or to the
entities in the second and third: either way as a reviewable diff
(``pytest --snapshot-update`` after checking it is intended).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import json
import re
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from sunstream_fakes.winet_fake import FakeWinet

from .conftest import setup_entry, winet_entry

pytestmark = pytest.mark.usefixtures("socket_enabled", "entity_registry_enabled_by_default")

SERIAL = "B2302107654"  # the fake gateway's /about/list serial
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
async def gateway() -> AsyncIterator[FakeWinet]:
    async with FakeWinet("sh10rt") as fake:
        fake.transcript = []
        yield fake


@pytest.fixture
def platforms() -> list[Platform] | None:
    """The platforms to set up; ``None`` for all of them."""
    return None


@pytest.fixture
async def entry(
    located_hass: HomeAssistant,
    gateway: FakeWinet,
    frozen: FrozenDateTimeFactory,
    platforms: list[Platform] | None,
) -> AsyncIterator[MockConfigEntry]:
    entry = winet_entry(gateway.ports.ws, SERIAL)
    if platforms is None:
        await setup_entry(located_hass, entry)
    else:
        with patch("custom_components.sunstream.PLATFORMS", platforms):
            await setup_entry(located_hass, entry)
    yield entry
    await located_hass.config_entries.async_unload(entry.entry_id)


def _normalised(frame: str) -> Any:
    """A frame with what changes from run to run (tokens, clocks, ids) replaced."""
    payload = json.loads(_UUID.sub("<uuid>", frame))
    for key in ("time123456", "park_serial"):
        if key in payload:
            payload[key] = "<ms>"
    return payload


async def test_frames(
    entry: MockConfigEntry, gateway: FakeWinet, snapshot: SnapshotAssertion
) -> None:
    assert gateway.transcript is not None
    frames = [(direction, _normalised(frame)) for direction, frame in gateway.transcript]
    services = [frame.get("service") for direction, frame in frames if direction == "in"]
    # connect → login → devicelist → one cycle: inverter real, real_battery,
    # direct, battery real.
    assert services == [
        "connect",
        "login",
        "devicelist",
        "real",
        "real_battery",
        "direct",
        "real",
    ]
    assert frames == snapshot


@pytest.mark.parametrize(
    "platforms",
    [
        [Platform.SENSOR],
        [Platform.BINARY_SENSOR],
        [Platform.NUMBER],
        [Platform.SELECT],
        [Platform.SWITCH],
        [Platform.TIME],
    ],
    ids=["sensor", "binary_sensor", "number", "select", "switch", "time"],
)
async def test_entities(
    located_hass: HomeAssistant,
    entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await snapshot_platform(located_hass, entity_registry, snapshot, entry.entry_id)


async def test_devices(
    entry: MockConfigEntry, device_registry: dr.DeviceRegistry, snapshot: SnapshotAssertion
) -> None:
    devices = sorted(
        dr.async_entries_for_config_entry(device_registry, entry.entry_id),
        key=lambda device: device.name or "",
    )
    assert [device.name for device in devices] == snapshot(name="names")
    assert devices == snapshot(name="registry")
