"""The files around the code: translations, manifest, HACS, services, icons, blueprint, brand."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
import json
from pathlib import Path
import re
import shutil
import struct
from typing import Any
import zlib

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import Blueprint
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import STATE_ON, __version__ as HA_VERSION
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)

from custom_components.sunstream.binary_sensor import CONNECTIVITY
from custom_components.sunstream.const import DOMAIN, EVENT_CONNECTIVITY
from custom_components.sunstream.number import COMMAND_NUMBERS, SETTING_NUMBERS
from custom_components.sunstream.select import BATTERY_MODE
from custom_components.sunstream.sensor import SENSORS
from custom_components.sunstream.switch import SETTING_SWITCHES, SIMULATION
from custom_components.sunstream.time import WINDOW_TIMES

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / DOMAIN
TRANSLATIONS = INTEGRATION / "translations"
BRAND = INTEGRATION / "brand"
BLUEPRINT = ROOT / "blueprints" / "automation" / DOMAIN / "connectivity_notify.yaml"

# {placeholder}s and [%key:…%] references must survive translation unchanged.
TOKEN = re.compile(r"\{\w+\}|\[%key:[^%]+%\]")


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _strings() -> dict[str, Any]:
    strings: dict[str, Any] = _json(INTEGRATION / "strings.json")
    return strings


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{path}.")
        else:
            yield path, value


# --- translations ----------------------------------------------------------


def test_english_translation_is_strings_json() -> None:
    assert _json(TRANSLATIONS / "en.json") == _strings()


# Strings that read the same in Brazilian Portuguese; anything else still in
# English is a string someone added to strings.json and forgot to translate.
PT_BR_SAME_AS_ENGLISH = {
    "config.step.user.menu_options.alphaess",
    "entity.sensor.status.name",
    "entity.sensor.status.state.offline",
    "config.step.winet.data.host",
    "config.step.alphaess.data.host",
    "config.step.sungrow_modbus.data.host",
    "config.step.alphaess.title",
    "selector.model.options.smile-b3",
    "selector.model.options.smile-hi10",
}


def _translations() -> list[Path]:
    return sorted(p for p in TRANSLATIONS.glob("*.json") if p.name != "en.json")


def test_pt_br_translation_exists() -> None:
    assert TRANSLATIONS / "pt-BR.json" in _translations()


@pytest.mark.parametrize("path", _translations(), ids=lambda p: p.stem)
def test_translation_matches_strings(path: Path) -> None:
    english = dict(_flatten(_strings()))
    translated = dict(_flatten(_json(path)))
    assert sorted(translated) == sorted(english), "key paths differ from strings.json"
    for key, text in translated.items():
        assert isinstance(text, str), key
        assert text.strip(), f"{key} is empty"
        assert sorted(TOKEN.findall(text)) == sorted(TOKEN.findall(english[key])), key


def test_pt_br_is_translated() -> None:
    english = dict(_flatten(_strings()))
    translated = dict(_flatten(_json(TRANSLATIONS / "pt-BR.json")))
    untranslated = {key for key, text in translated.items() if text == english[key]}
    assert untranslated == PT_BR_SAME_AS_ENGLISH


# --- manifest and HACS ---------------------------------------------------------

MANIFEST_REQUIRED = {
    "domain",
    "name",
    "codeowners",
    "config_flow",
    "documentation",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "requirements",
    "version",
}


def test_manifest() -> None:
    manifest = _json(INTEGRATION / "manifest.json")
    keys = list(manifest)
    # hassfest: domain, name, then the rest in alphabetical order.
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert set(keys) >= MANIFEST_REQUIRED
    assert manifest["domain"] == DOMAIN
    assert manifest["config_flow"] is True
    # Custom integrations need a version hassfest and the loader understand.
    assert AwesomeVersion(manifest["version"]).strategy in {
        AwesomeVersionStrategy.SEMVER,
        AwesomeVersionStrategy.SIMPLEVER,
        AwesomeVersionStrategy.CALVER,
    }


HACS_KEYS = {
    "name",
    "content_in_root",
    "zip_release",
    "filename",
    "hide_default_branch",
    "country",
    "homeassistant",
    "hacs",
    "persistent_directory",
    "render_readme",
}


def test_hacs_json() -> None:
    hacs = _json(ROOT / "hacs.json")
    assert set(hacs) <= HACS_KEYS
    assert hacs["name"] == _json(INTEGRATION / "manifest.json")["name"]
    minimum = AwesomeVersion(hacs["homeassistant"])
    assert minimum.strategy == AwesomeVersionStrategy.CALVER
    # The Home Assistant the tests run on must qualify.
    assert minimum <= AwesomeVersion(HA_VERSION)


# --- services and icons ----------------------------------------------------------


def test_services_are_translated_and_have_icons() -> None:
    services = load_yaml_dict(INTEGRATION / "services.yaml")
    translated = _strings()["services"]
    icons = _json(INTEGRATION / "icons.json")["services"]
    assert set(translated) == set(services)
    assert set(icons) == set(services)
    for service, spec in services.items():
        text = translated[service]
        assert text.get("name"), service
        assert text.get("description"), service
        fields = spec.get("fields") or {}
        assert set(text.get("fields", {})) == set(fields), service
        for field in fields:
            assert text["fields"][field].get("name"), f"{service}.{field}"
            assert text["fields"][field].get("description"), f"{service}.{field}"
        assert icons[service].get("service", "").startswith("mdi:"), service


# --- entities --------------------------------------------------------------------


def test_entity_descriptions_are_translated() -> None:
    entity = _strings()["entity"]
    platforms: tuple[tuple[str, tuple[Any, ...]], ...] = (
        ("sensor", SENSORS),
        ("binary_sensor", (CONNECTIVITY,)),
        ("number", (*SETTING_NUMBERS, *COMMAND_NUMBERS)),
        ("select", (BATTERY_MODE,)),
        ("time", WINDOW_TIMES),
        ("switch", (*SETTING_SWITCHES, SIMULATION)),
    )
    for platform, descriptions in platforms:
        for description in descriptions:
            key = description.translation_key
            assert key in entity[platform], f"{platform}.{key}"
            text = entity[platform][key]
            name_tokens = {t[1:-1] for t in TOKEN.findall(text["name"]) if t.startswith("{")}
            assert name_tokens == set(description.translation_placeholders or {}), key
            if getattr(description, "device_class", None) == SensorDeviceClass.ENUM:
                assert set(text.get("state", {})) == set(description.options or []), key
            if platform == "select":
                assert set(text["state"]) == set(description.options), key


# A command error raised anywhere in the library: CommandRejected("key", …) and the like.
RAISED_KEY = re.compile(r"Command(?:Rejected|Failed|Error)\(\s*\"(\w+)\"")


def test_every_command_error_is_translated() -> None:
    """Each key a source or rule raises has a message in strings.json's exceptions."""
    exceptions = _strings()["exceptions"]
    keys = {
        key
        for path in (INTEGRATION / "pysunstream").rglob("*.py")
        for key in RAISED_KEY.findall(path.read_text("utf-8"))
    }
    keys |= set(RAISED_KEY.findall((INTEGRATION / "coordinator.py").read_text("utf-8")))
    assert {"setting_out_of_range", "window_end_before_start", "windows_overlap"} <= keys
    assert keys <= set(exceptions), sorted(keys - set(exceptions))


# The library's command errors; their subclasses are found in the source.
COMMAND_ERROR_BASES = frozenset({"CommandError", "CommandRejected", "CommandFailed"})
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Placeholders passed on purpose but not shown: the nine raw dispatch words
# are for the log (docs/troubleshooting.md), not for the user's message.
PASSED_FOR_THE_LOG = {"dispatch_not_applied": frozenset({"expected", "actual"})}


@dataclass(frozen=True, kw_only=True)
class TranslatedRaise:
    """An exception built with a literal translation key and literal placeholder names."""

    where: str
    key: str
    passed: frozenset[str]


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _keywords(call: ast.Call) -> frozenset[str] | None:
    """The keyword names ``call`` passes; ``None`` when some come from ``**``."""
    names = [keyword.arg for keyword in call.keywords]
    return None if None in names else frozenset(name for name in names if name)


def _command_error_classes(trees: Mapping[Path, ast.Module]) -> set[str]:
    """CommandError and every class deriving from it, by name."""
    classes = set(COMMAND_ERROR_BASES)
    defined = [
        node for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
    ]
    while grown := {
        node.name
        for node in defined
        if node.name not in classes and any(_name(base) in classes for base in node.bases)
    }:
        classes |= grown
    return classes


def _command_error_raises(
    trees: Mapping[Path, ast.Module], classes: set[str]
) -> Iterator[TranslatedRaise]:
    """``CommandFailed("key", name=…)`` and a subclass's ``super().__init__("key", name=…)``."""
    for path, tree in trees.items():
        subclass_inits = {
            id(call)
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and node.name in classes - COMMAND_ERROR_BASES
            for call in ast.walk(node)
            if isinstance(call, ast.Call)
            and _name(call.func) == "__init__"
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Call)
            and _name(call.func.value.func) == "super"
        }
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or not call.args:
                continue
            if _name(call.func) not in COMMAND_ERROR_BASES and id(call) not in subclass_inits:
                continue
            key, passed = call.args[0], _keywords(call)
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and passed is not None:
                where = f"{path.relative_to(ROOT)}:{call.lineno}"
                yield TranslatedRaise(where=where, key=key.value, passed=passed)


def _home_assistant_raises(trees: Mapping[Path, ast.Module]) -> Iterator[TranslatedRaise]:
    """``SomeError(translation_domain=…, translation_key="key", translation_placeholders={…})``."""
    for path, tree in trees.items():
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            keywords = {keyword.arg: keyword.value for keyword in call.keywords}
            key = keywords.get("translation_key")
            placeholders = keywords.get("translation_placeholders", ast.Dict(keys=[], values=[]))
            if (
                "translation_domain" not in keywords
                or not isinstance(key, ast.Constant)
                or not isinstance(key.value, str)
                or not isinstance(placeholders, ast.Dict)
                or not all(isinstance(name, ast.Constant) for name in placeholders.keys)
            ):
                continue  # a computed key or placeholders: checked where they are built
            passed = frozenset(
                str(name.value) for name in placeholders.keys if isinstance(name, ast.Constant)
            )
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            yield TranslatedRaise(where=where, key=key.value, passed=passed)


def translated_raises() -> list[TranslatedRaise]:
    """Every exception of the integration raised with a literal key, found in its source."""
    trees = {path: ast.parse(path.read_text("utf-8")) for path in INTEGRATION.rglob("*.py")}
    classes = _command_error_classes(trees)
    return [*_command_error_raises(trees, classes), *_home_assistant_raises(trees)]


def test_raised_placeholders_match_their_messages() -> None:
    """Each message shows exactly the placeholders its raise passes, in every language.

    A ``{name}`` no raise passes reaches the user as the raw text; a name
    passed but not shown is a detail the user never sees.
    """
    raises = translated_raises()
    keys = {r.key for r in raises}
    # The finder sees both kinds of raise, subclasses and multi-line calls.
    assert {"setting_refused", "dispatch_refused", "dispatch_not_applied"} <= keys
    assert {"setting_rate_limited", "target_soc_reached", "device_not_found"} <= keys
    problems = []
    for path in (INTEGRATION / "strings.json", *sorted(TRANSLATIONS.glob("*.json"))):
        exceptions = _json(path)["exceptions"]
        for raised in raises:
            if raised.key not in exceptions:
                problems.append(f"{raised.where}: {raised.key} has no message in {path.name}")
                continue
            shown = set(PLACEHOLDER.findall(exceptions[raised.key]["message"]))
            missing = shown - raised.passed
            unused = raised.passed - shown - PASSED_FOR_THE_LOG.get(raised.key, frozenset())
            if missing or unused:
                problems.append(
                    f"{raised.where}: {path.name} {raised.key} shows {sorted(shown)}, "
                    f"raise passes {sorted(raised.passed)}"
                )
    assert not problems, "\n".join(problems)


def test_icons_refer_to_translated_entities() -> None:
    entity = _strings()["entity"]
    icons = _json(INTEGRATION / "icons.json")["entity"]
    for platform, keys in icons.items():
        for key, icon in keys.items():
            assert key in entity.get(platform, {}), f"{platform}.{key}"
            assert set(icon.get("state", {})) <= set(entity[platform][key].get("state", {})), key


# --- blueprint ---------------------------------------------------------------------


def _blueprint() -> Blueprint:
    return Blueprint(
        load_yaml_dict(BLUEPRINT),
        path=str(BLUEPRINT),
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )


def test_blueprint_is_valid() -> None:
    blueprint = _blueprint()
    assert blueprint.validate() is None  # runs on this Home Assistant
    assert set(blueprint.inputs) == {"device", "notify_action", "offline_delay"}
    device = blueprint.inputs["device"]["selector"]["device"]
    assert {"integration": DOMAIN} in device["filter"]
    triggers = blueprint.data["triggers"]
    assert {t["id"]: t["event_data"]["connected"] for t in triggers} == {
        "offline": False,
        "online": True,
    }
    assert {t["event_type"] for t in triggers} == {EVENT_CONNECTIVITY}


@pytest.fixture
async def device_id(hass: HomeAssistant) -> str:
    entry = MockConfigEntry(domain=DOMAIN, title="Rooftop")
    entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, "rooftop")}, name="Rooftop"
    )
    return device.id


async def _use_blueprint(hass: HomeAssistant, tmp_path: Path, **inputs: Any) -> None:
    """Set up an automation from the blueprint, as a user would."""
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints" / "automation" / DOMAIN / BLUEPRINT.name
    target.parent.mkdir(parents=True)
    shutil.copy(BLUEPRINT, target)
    config = {
        "alias": "Rooftop connectivity",
        "use_blueprint": {"path": f"{DOMAIN}/{BLUEPRINT.name}", "input": inputs},
    }
    assert await async_setup_component(hass, "automation", {"automation": [config]})
    await hass.async_block_till_done()
    # An automation whose blueprint produced invalid config is unavailable.
    assert hass.states.get("automation.rooftop_connectivity").state == STATE_ON


async def _settle(hass: HomeAssistant) -> None:
    """Let automation runs proceed as far as they can.

    Not ``async_block_till_done``: that would wait for a run that is waiting
    for time to pass.
    """
    for _ in range(50):
        await asyncio.sleep(0)


async def _link(hass: HomeAssistant, device_id: str, connected: bool, reason: str) -> None:
    hass.bus.async_fire(
        EVENT_CONNECTIVITY,
        {
            "device_id": device_id,
            "config_entry_id": "entry",
            "system_id": "sim-rooftop",
            "source": "simulated",
            "connected": connected,
            "reason": reason,
        },
    )
    await _settle(hass)


async def _wait(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await _settle(hass)


async def test_blueprint_notifies_persistently_by_default(
    hass: HomeAssistant, device_id: str, tmp_path: Path
) -> None:
    calls = async_mock_service(hass, "persistent_notification", "create")
    await _use_blueprint(hass, tmp_path, device=device_id)

    await _link(hass, "another-device", False, "simulated outage")
    assert calls == []

    await _link(hass, device_id, False, "simulated outage")
    assert len(calls) == 1
    assert calls[0].data["title"] == "Rooftop is offline"
    assert calls[0].data["message"] == "Rooftop went offline: simulated outage."

    await _link(hass, device_id, True, "connected")
    assert len(calls) == 2
    assert calls[1].data["title"] == "Rooftop is back online"
    assert calls[1].data["message"] == "Rooftop is back online."
    # The "back online" notification replaces the "offline" one.
    assert calls[0].data["notification_id"] == calls[1].data["notification_id"]


async def test_blueprint_runs_the_notify_action(
    hass: HomeAssistant, device_id: str, tmp_path: Path
) -> None:
    persistent = async_mock_service(hass, "persistent_notification", "create")
    calls = async_mock_service(hass, "test", "notify")
    action = [
        {"action": "test.notify", "data": {"title": "{{ title }}", "message": "{{ message }}"}}
    ]
    await _use_blueprint(hass, tmp_path, device=device_id, notify_action=action)

    await _link(hass, device_id, False, "timeout")
    await _link(hass, device_id, True, "connected")
    assert [call.data["message"] for call in calls] == [
        "Rooftop went offline: timeout.",
        "Rooftop is back online.",
    ]
    assert persistent == []


async def test_blueprint_waits_out_short_dropouts(
    hass: HomeAssistant, device_id: str, tmp_path: Path, frozen: FrozenDateTimeFactory
) -> None:
    calls: list[ServiceCall] = async_mock_service(hass, "persistent_notification", "create")
    await _use_blueprint(hass, tmp_path, device=device_id, offline_delay={"minutes": 1})

    # Back within the minute: neither "offline" nor "back online".
    await _link(hass, device_id, False, "timeout")
    await _wait(hass, frozen, 50)
    await _link(hass, device_id, True, "connected")
    await _wait(hass, frozen, 60)
    assert calls == []

    # Offline for longer: reported once the minute is up, then the return.
    await _link(hass, device_id, False, "timeout")
    await _wait(hass, frozen, 55)
    assert calls == []
    await _wait(hass, frozen, 10)
    assert [call.data["title"] for call in calls] == ["Rooftop is offline"]
    await _link(hass, device_id, True, "connected")
    assert [call.data["title"] for call in calls] == [
        "Rooftop is offline",
        "Rooftop is back online",
    ]


# --- brand -------------------------------------------------------------------------


def _png(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered RGBA rows of an 8-bit RGBA PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    chunks: list[tuple[bytes, bytes]] = []
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"{path.name}: bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR"
    assert chunks[-1][0] == b"IEND"
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, color, interlace) == (8, 6, 0), f"{path.name}: not 8-bit RGBA"
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * 4
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - 4] if i >= 4 else 0
            up = previous[i]
            corner = previous[i - 4] if i >= 4 else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def _corners_transparent(width: int, rows: list[bytes]) -> bool:
    alpha = [rows[y][x * 4 + 3] for y in (0, -1) for x in (0, width - 1)]
    return alpha == [0, 0, 0, 0]


@pytest.mark.parametrize(("name", "size"), [("icon.png", 256), ("icon@2x.png", 512)])
def test_brand_icon(name: str, size: int) -> None:
    width, height, rows = _png(BRAND / name)
    assert (width, height) == (size, size)
    assert _corners_transparent(width, rows)
    # Trimmed: the mark reaches (nearly) the edge on its longer side.
    opaque_cols = [x for x in range(width) if any(row[x * 4 + 3] for row in rows)]
    opaque_rows = [y for y, row in enumerate(rows) if any(row[3::4])]
    margin = min(
        opaque_cols[0], width - 1 - opaque_cols[-1], opaque_rows[0], height - 1 - opaque_rows[-1]
    )
    assert margin <= size // 64


def test_brand_logo() -> None:
    width, height, rows = _png(BRAND / "logo.png")
    assert height == 128
    assert width > height
    assert _corners_transparent(width, rows)
    width2, height2, rows2 = _png(BRAND / "logo@2x.png")
    assert height2 == 256
    assert abs(width2 - 2 * width) <= 2
    assert _corners_transparent(width2, rows2)
