"""scripts/develop's first screen, against a real Home Assistant over loopback.

``scripts/lib/develop_bootstrap.py`` runs here as it runs against the
development instance: through Home Assistant's HTTP and WebSocket APIs. It
adds the simulated system through the config flow, sets up the Energy
dashboard and adds docs/examples/dashboard.yaml as the dashboard Home Assistant
opens on; Home Assistant then validates the Energy preferences, stores the
dashboard, runs every action its buttons perform, and its own frontend draws it
in headless Chromium.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC
import importlib.util
import json
from pathlib import Path
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.energy import data as energy_data, validate as energy_validate
from homeassistant.components.http.config import (
    HTTP_STORAGE_SCHEMA,
    ActiveConfigType,
    ConfData,
    async_get_and_load_store,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)

from bench.soak.home_assistant import load_bootstrap
from custom_components.sunstream.const import DOMAIN
from sunstream_fakes.alphaess_fake import FakeAlphaEss
from sunstream_fakes.sungrow_fake import FakeSungrow

from .addon.cdp import CHROMIUM, chromium
from .addon.test_dashboard import artifact
from .conftest import NOON_ISH, advance, setup_entry

# The card types Home Assistant's frontend ships (its editor's card list plus the
# energy cards): the dashboard in docs/ may use nothing else.
BUILT_IN_CARDS = {
    "alarm-panel", "area", "button", "calendar", "conditional", "energy-distribution",
    "entities", "entity", "entity-filter", "gauge", "glance", "grid", "history-graph",
    "horizontal-stack", "humidifier", "iframe", "light", "logbook", "map", "markdown",
    "media-control", "picture", "picture-elements", "picture-entity", "picture-glance",
    "plant-status", "sensor", "statistic", "statistics-graph", "thermostat", "tile",
    "todo-list", "vertical-stack", "weather-forecast",
}  # fmt: skip


boot = load_bootstrap()


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: object, enable_custom_integrations: None
) -> None:
    """The recorder first: the Energy dashboard and statistic cards need it."""


@pytest.fixture
async def api(
    located_hass: HomeAssistant,
    socket_enabled: None,
    aiohttp_client: Any,
    hass_access_token: str,
    hass_storage: dict[str, Any],
) -> AsyncIterator[Any]:
    """The bootstrap's client, logged in as an admin of an onboarded Home Assistant on 127.0.0.1."""
    hass = located_hass
    hass_storage["onboarding"] = {
        "version": 4,
        "key": "onboarding",
        "data": {"done": ["user", "core_config", "analytics", "integration"]},
    }
    # What scripts/develop gets from default_config and the dashboard's cards read.
    for component in ("frontend", "energy", "config", "history", "logbook"):
        assert await async_setup_component(hass, component, {})
    client = await aiohttp_client(hass.http.app)
    async with aiohttp.ClientSession() as session:
        hass_api = boot.Hass(session, str(client.make_url("/")))
        hass_api.token = hass_access_token
        yield hass_api


async def test_first_screen(located_hass: HomeAssistant, api: Any) -> None:
    """The system through the config flow, the Energy dashboard, the default dashboard."""
    hass = located_hass
    await boot.add_system(api)
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.title == boot.SYSTEM["name"]

    await boot.set_up_energy(api)
    manager = await energy_data.async_get_manager(hass)
    assert manager.data is not None
    wanted = boot.energy_prefs()
    assert [
        {key: source.get(key) for key in wanted_source}
        for source, wanted_source in zip(
            manager.data["energy_sources"], wanted["energy_sources"], strict=True
        )
    ] == wanted["energy_sources"]

    await boot.set_up_dashboard(api)
    stored = await api.call({"type": "lovelace/config", "url_path": boot.DASHBOARD_URL})
    connection = er.async_get(hass).async_get(f"binary_sensor.{boot.SYSTEM_SLUG}_connection")
    assert connection is not None
    assert connection.device_id is not None
    device = dr.async_get(hass).async_get(connection.device_id)
    assert device is not None
    assert device.via_device_id is None  # the system itself
    assert stored == boot.load_dashboard(connection.device_id)

    # Everything it shows exists, with nothing but built-in cards.
    shown = boot.dashboard_entities(stored)
    assert shown >= {"sensor.rooftop_battery_state_of_charge", "binary_sensor.rooftop_connection"}
    assert sorted(e for e in shown if hass.states.get(e) is None) == []
    assert boot.card_types(stored) <= BUILT_IN_CARDS

    # Every button's action is accepted by the integration, in the dashboard's order.
    actions = boot.dashboard_actions(stored)
    assert [action for action, _ in actions] == [
        "sunstream.charge",
        "sunstream.discharge",
        "sunstream.stop",
    ]
    dispatched: list[str] = []
    hass.bus.async_listen(
        "sunstream_dispatch", lambda event: dispatched.append(event.data.get("kind", ""))
    )
    for action, data in actions:
        domain, service = action.split(".")
        await hass.services.async_call(domain, service, data, blocking=True)
    await hass.async_block_till_done()
    assert len(dispatched) == 3

    # Home Assistant opens on it.
    core = await api.call({"type": "frontend/get_system_data", "key": "core"})
    assert core["value"]["default_panel"] == boot.DASHBOARD_URL

    # A second start keeps what the user may have changed since.
    edited = {"views": [{"cards": []}]}
    await api.call(
        {"type": "lovelace/config/save", "url_path": boot.DASHBOARD_URL, "config": edited}
    )
    await api.call(
        {"type": "frontend/set_system_data", "key": "core", "value": {"default_panel": "energy"}}
    )
    await boot.set_up_dashboard(api)
    assert await api.call({"type": "lovelace/config", "url_path": boot.DASHBOARD_URL}) == edited
    core = await api.call({"type": "frontend/get_system_data", "key": "core"})
    assert core["value"] == {"default_panel": "energy"}
    await api.call({"type": "energy/save_prefs", "energy_sources": wanted["energy_sources"][:1]})
    await boot.set_up_energy(api)
    assert len(manager.data["energy_sources"]) == 1


async def test_dashboard_refuses_missing_entities(
    located_hass: HomeAssistant, api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dashboard naming an entity the system lacks fails the bootstrap, naming it."""
    await boot.add_system(api)
    await located_hass.async_block_till_done()
    broken = tmp_path / "dashboard.yaml"
    broken.write_text(
        boot.DASHBOARD.read_text(encoding="utf-8").replace(
            "sensor.rooftop_battery_mode", "sensor.rooftop_battery_moood"
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(
        boot, "load_dashboard", lambda device_id: boot.yaml.safe_load(broken.read_text())
    )
    with pytest.raises(boot.BootstrapError, match=r"sensor\.rooftop_battery_moood"):
        await boot.set_up_dashboard(api)
    assert await api.call({"type": "lovelace/dashboards/list"}) == []


async def test_fakes_are_added_through_the_config_flow(
    located_hass: HomeAssistant, api: Any
) -> None:
    """scripts/develop --fakes: the fake Sungrow and AlphaESS added as a user adds them."""
    hass = located_hass
    async with (
        FakeSungrow(port=0) as sungrow,
        FakeAlphaEss(port=0) as alphaess,
    ):
        rows = await boot.add_fakes(
            api, None, ("127.0.0.1", alphaess.port), ("127.0.0.1", sungrow.port)
        )
        await hass.async_block_till_done()
        assert rows == [
            ("Fake AlphaESS", f"127.0.0.1:{alphaess.port}"),
            ("Fake Sungrow", f"127.0.0.1:{sungrow.port}"),
        ]
        entries = {e.data["source"]: e for e in hass.config_entries.async_entries(DOMAIN)}
        assert entries["sungrow_modbus"].title == "Sungrow SH10RT"
        assert entries["sungrow_modbus"].state is ConfigEntryState.LOADED
        assert entries["modbus"].state is ConfigEntryState.LOADED
        # A kept config dir runs it again: the inverter is already there, nothing added.
        await boot.add_fakes(api, None, None, ("127.0.0.1", sungrow.port))
        assert len(hass.config_entries.async_entries(DOMAIN)) == 2
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)


async def test_energy_prefs_pass_validation(
    located_hass: HomeAssistant, frozen: FrozenDateTimeFactory
) -> None:
    """Home Assistant's Energy validation accepts the bootstrap's preferences."""
    hass = located_hass
    assert await async_setup_component(hass, "energy", {})
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=boot.SYSTEM["name"],
        unique_id=f"sim-{boot.SYSTEM_SLUG}",
        data={"source": "simulated", "pv_peak_kw": 5.5, "battery_kwh": 10.0},
        options={"update_interval": 5, "tariff": 0.85, "co2_factor": 0.5},
    )
    await setup_entry(hass, entry)
    prefs = boot.energy_prefs()
    manager = await energy_data.async_get_manager(hass)
    await manager.async_update(prefs)
    await hass.async_block_till_done()
    await advance(hass, frozen, 300)
    await async_wait_recording_done(hass)
    do_adhoc_statistics(hass, start=NOON_ISH.astimezone(UTC))
    await async_wait_recording_done(hass)
    assert sorted(e for e in boot.energy_entities(prefs) if hass.states.get(e) is None) == []

    result = (await energy_validate.async_validate(hass)).as_dict()

    assert result["energy_sources"] == [[], [], []]


async def test_clean_start(located_hass: HomeAssistant, api: Any) -> None:
    """The development set-up's own repair is dismissed; any other repair stays."""
    hass = located_hass
    ir.async_create_issue(
        hass, "homeassistant", "deprecated_method", is_fixable=False,
        severity=ir.IssueSeverity.WARNING, translation_key="deprecated_method",
    )  # fmt: skip
    ir.async_create_issue(
        hass, "other", "real_problem", is_fixable=False,
        severity=ir.IssueSeverity.ERROR, translation_key="real_problem",
    )  # fmt: skip

    assert await boot.dismiss_setup_issues(api, limit=0) == [("homeassistant", "deprecated_method")]
    registry = ir.async_get(hass)
    dismissed = registry.async_get_issue("homeassistant", "deprecated_method")
    assert dismissed is not None
    assert dismissed.dismissed_version is not None
    other = registry.async_get_issue("other", "real_problem")
    assert other is not None
    assert other.dismissed_version is None
    # A second start has nothing left to dismiss.
    assert await boot.dismiss_setup_issues(api, limit=0) == []


async def test_http_settings_on_trial_are_confirmed(located_hass: HomeAssistant, api: Any) -> None:
    """Settings on trial are promoted (else they revert and restart in 5 min); none: no-op."""
    store = await async_get_and_load_store(located_hass)
    await boot.confirm_http_settings(api)  # nothing on trial: nothing to do, no error
    assert store.pending is None

    await store.async_set_pending(ConfData(**HTTP_STORAGE_SCHEMA({"server_port": 8124})))
    await store.async_activate_config()
    assert store.active_config_type is ActiveConfigType.PENDING
    await boot.confirm_http_settings(api)
    assert store.pending is None
    assert store.stable["server_port"] == 8124
    assert store.revert_deadline is None


def _store_http(config_dir: Path, stable_port: int, pending_port: int | None = None) -> None:
    pending = None if pending_port is None else {"server_port": pending_port, "error": None}
    (config_dir / ".storage").mkdir(parents=True)
    (config_dir / ".storage" / "http").write_text(
        json.dumps(
            {
                "version": 2,
                "minor_version": 2,
                "key": "http",
                "data": {
                    "stable": {"server_port": stable_port},
                    "pending": pending,
                    "yaml_migration_done": True,
                },
            }
        ),
        encoding="utf-8",
    )


def test_kept_config_on_another_port_is_refused(tmp_path: Path) -> None:
    """--keep with another --port says which port the kept config serves on."""
    boot.check_port(tmp_path, "http://127.0.0.1:8123")  # fresh: SETUP_PORT decides
    _store_http(tmp_path, 8123)
    boot.check_port(tmp_path, "http://127.0.0.1:8123")
    with pytest.raises(boot.BootstrapError, match=r"serves on port 8123 \(.*\), not 9000"):
        boot.check_port(tmp_path, "http://127.0.0.1:9000")


def test_settings_on_trial_decide_the_port(tmp_path: Path) -> None:
    """Settings on trial (kept from an older scripts/develop) are the ones served."""
    _store_http(tmp_path, 8123, pending_port=9000)
    assert boot.stored_http_port(tmp_path) == 9000


# Every element of the page, through the shadow roots Home Assistant's frontend is made of.
CARD_ELEMENTS = """(() => {
  const found = {};
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      const tag = el.tagName.toLowerCase();
      if (tag.startsWith('hui-')) found[tag] = (found[tag] || 0) + 1;
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return found;
})()"""
PAGE_TEXT = """(() => {
  const parts = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (['SCRIPT', 'STYLE'].includes(el.tagName)) continue;
      for (const node of el.childNodes) if (node.nodeType === 3) parts.push(node.textContent);
    }
  };
  walk(document);
  return parts.join(' ').replace(/\\s+/g, ' ');
})()"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/test installs it)")
@pytest.mark.skipif(
    importlib.util.find_spec("hass_frontend") is None,
    reason="Home Assistant's frontend is not installed (scripts/test installs it)",
)
async def test_home_assistant_draws_the_dashboard(
    located_hass: HomeAssistant,
    api: Any,
    hass_admin_user: MockUser,
    tmp_path: Path,
) -> None:
    """Home Assistant's frontend opens on the dashboard and draws every card, none in error."""
    hass = located_hass
    await boot.add_system(api)
    await hass.async_block_till_done()
    await boot.set_up_energy(api)
    await boot.set_up_dashboard(api)

    base = api.url
    refresh = await hass.auth.async_create_refresh_token(hass_admin_user, f"{base}/")
    tokens = {
        "access_token": hass.auth.async_create_access_token(refresh),
        "token_type": "Bearer",
        "expires_in": 1800,
        "expires": 4102444800000,  # the frontend refreshes nothing in this test
        "refresh_token": refresh.token,
        "hassUrl": base,
        "clientId": f"{base}/",
    }
    async with chromium(tmp_path) as page:
        await page.navigate(f"{base}/manifest.json")  # the origin, to hold the login
        await page.evaluate(f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(tokens))})")
        await page.navigate(f"{base}/")
        await page.wait_for(
            f"location.pathname.startsWith('/{boot.DASHBOARD_URL}')",
            within=60,
            what="Home Assistant to open on the Sunstream dashboard",
        )
        expected = {f"hui-{card}-card" for card in boot.card_types(boot.load_dashboard("x"))}
        cards = await page.wait_for(
            f"(() => {{ const f = {CARD_ELEMENTS}; "
            f"return {json.dumps(sorted(expected))}.every(t => f[t]) && f; }})()",
            within=60,
            what="every card of the dashboard",
        )
        # Every card's title and button, drawn (cards fill in one after another).
        labels = [
            "Power now",
            "Today",
            "Battery control",
            "Kept in the battery",
            "Charge",
            "Discharge",
            "Stop",
            "Connection",
            "Alerts and connection",
        ]
        text = await page.wait_for(
            f"(() => {{ const t = {PAGE_TEXT}; "
            f"return {json.dumps(labels)}.every(l => t.includes(l)) && t; }})()",
            within=60,
            what="the cards' text",
        )
        artifact(await page.screenshot(tmp_path / "develop-dashboard.png"))

    assert "hui-error-card" not in cards, text
    assert "hui-warning" not in cards, text  # an entity the card cannot find
