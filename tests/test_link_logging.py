"""What the log says when a system's link goes and comes back.

Home Assistant's rule (Integration Quality Scale, ``log-when-unavailable``):
once at info level when the device goes, once when it is back, nothing per
poll in between. An outage the user rehearses is no error, and a refused
password shows as the reauthentication request, not as an error.
"""

from __future__ import annotations

import asyncio
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunstream.const import DOMAIN
from custom_components.sunstream.devices import system_identifier
from custom_components.sunstream.pysunstream.backoff import Backoff
from sunstream_fakes.winet_fake import FakeWinet

from .conftest import advance, setup_entry
from .test_winet import _entry, _poll, fake  # noqa: F401  (the fake gateway fixture)

GOES = "is not answering"
REFUSED = "refused the login"
COMES_BACK = "data recovered"


def _link_records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if any(text in record.getMessage() for text in (GOES, REFUSED, COMES_BACK))
    ]


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_rehearsed_outage_logs_no_error(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hass = located_hass
    await setup_entry(hass, config_entry)
    device = dr.async_get(hass).async_get_device_by_identifier(
        system_identifier("sim-rooftop"), config_entry_id=config_entry.entry_id
    )
    assert device is not None
    caplog.set_level(logging.DEBUG)
    await hass.services.async_call(
        DOMAIN, "simulate_outage", {"device_id": device.id, "duration": {"minutes": 1}}, True
    )
    await advance(hass, frozen, 90)  # a dozen failed readings, then back
    assert _errors(caplog) == []
    assert _link_records(caplog) == [
        (
            logging.INFO,
            "sunstream Rooftop is not answering (simulated outage); Sunstream keeps trying",
        ),
        (logging.INFO, "Fetching sunstream Rooftop data recovered"),
    ]


@pytest.mark.usefixtures("socket_enabled")
async def test_gateway_link_loss_logged_once_each_way(
    hass: HomeAssistant,
    fake: FakeWinet,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await _entry(hass, fake)
    entry.runtime_data.coordinator.source.client.backoff = Backoff(base=0.05, cap=0.05, jitter=0.0)
    caplog.set_level(logging.DEBUG)
    fake.faults.drop = 1000
    for _ in range(3):
        await _poll(hass, entry)
        await asyncio.sleep(0.06)
    fake.faults.drop = 0
    for _ in range(2):
        await _poll(hass, entry)
    assert entry.runtime_data.coordinator.last_update_success
    assert _errors(caplog) == []
    assert [level for level, _ in _link_records(caplog)] == [logging.INFO, logging.INFO]


@pytest.mark.usefixtures("socket_enabled")
async def test_refused_password_is_a_reauthentication_not_an_error(
    hass: HomeAssistant,
    fake: FakeWinet,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await _entry(hass, fake)
    caplog.set_level(logging.DEBUG)
    fake.password = "changed"
    await fake.drop_all()
    for _ in range(3):
        await _poll(hass, entry)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    assert _errors(caplog) == []
    assert _link_records(caplog) == [
        (
            logging.INFO,
            "sunstream WiNet-S refused the login (login refused: 102"
            " I18N_COMMON_ACCOUNT_PSSWD_TIP); waiting for the user to log in again",
        )
    ]
