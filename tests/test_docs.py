"""The user manual in docs/ against the code it describes.

What a user sees (labels, messages, entity names, actions and their fields,
events, alert rules and options) comes from strings.json, services.yaml and
the code; these tests fail when the manual leaves one out, when a link or an
anchor is broken, or when an example no longer validates or runs.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import async_validate_config_item
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util.yaml import load_yaml_dict, parse_yaml
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunstream.const import DOMAIN, EVENT_CONNECTIVITY, EVENT_DISPATCH
from custom_components.sunstream.pysunstream.alerts import default_rules
from custom_components.sunstream.pysunstream.errors import Reason
from custom_components.sunstream.pysunstream.simulator.microgrid import FaultKind
from custom_components.sunstream.services import (
    ACKNOWLEDGE_SCHEMA,
    DISPATCH_SCHEMA,
    FAULT_SCHEMA,
    OUTAGE_SCHEMA,
    STOP_SCHEMA,
)
from custom_components.sunstream.system_alerts import ALERT_OPTIONS, EVENT_ALERT

from .conftest import setup_entry

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
INTEGRATION = ROOT / "custom_components" / DOMAIN
PAGES = sorted(DOCS.glob("*.md"))
PLACEHOLDER_DEVICE = "0123456789abcdef0123456789abcdef"

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
PLACEHOLDER = re.compile(r"\{\w+\}")


def _strings() -> dict[str, Any]:
    strings: dict[str, Any] = json.loads((INTEGRATION / "strings.json").read_text("utf-8"))
    return strings


def _page(name: str) -> str:
    return (DOCS / name).read_text("utf-8")


def _flat(text: str) -> str:
    """Whitespace collapsed, so a phrase wrapped across lines still matches."""
    return " ".join(text.split())


def _manual() -> str:
    return _flat("\n".join(page.read_text("utf-8") for page in PAGES))


def _prose(text: str) -> str:
    """Markdown without fenced blocks."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose(path.read_text("utf-8")).splitlines():
        if match := re.match(r"#{1,6}\s+(.*)", line):
            base = slug(match[1])
            count = seen.get(base, 0)
            anchors.add(base if count == 0 else f"{base}-{count}")
            seen[base] = count + 1
    return anchors


# --- structure and links --------------------------------------------------------------


def test_the_manual_has_its_pages() -> None:
    names = {page.name for page in PAGES}
    assert names >= {
        "index.md",
        "installation.md",
        "configuration.md",
        "entities.md",
        "actions.md",
        "events-and-triggers.md",
        "alerts.md",
        "data-updates.md",
        "devices-and-limits.md",
        "troubleshooting.md",
        "use-cases.md",
        "app-api.md",
    }


def test_index_links_every_page() -> None:
    linked = set(LINK.findall(_prose(_page("index.md"))))
    for page in PAGES:
        if page.name != "index.md":
            assert page.name in linked, f"index.md does not link {page.name}"


def _links() -> Iterator[tuple[str, str]]:
    for page in PAGES:
        for target in LINK.findall(_prose(page.read_text("utf-8"))):
            yield page.name, target


@pytest.mark.parametrize(("page", "target"), list(_links()))
def test_link_resolves(page: str, target: str) -> None:
    if re.match(r"[a-z]+:", target):  # https:, mailto:
        return
    path_part, _, anchor = target.partition("#")
    path = (DOCS / page).parent / path_part if path_part else DOCS / page
    path = path.resolve()
    assert path.exists(), f"{page}: {target} does not exist"
    if anchor:
        assert path.suffix == ".md", f"{page}: anchor into a non-Markdown file {target}"
        assert anchor in _anchors(path), f"{page}: no heading for #{anchor} in {path.name}"


# --- what the UI shows ------------------------------------------------------------------


def _labels(tree: dict[str, Any]) -> Iterator[str]:
    """Field labels of config / options steps, with their sections."""
    for step in tree["step"].values():
        yield from step.get("data", {}).values()
        for section in step.get("sections", {}).values():
            yield section["name"]
            yield from section.get("data", {}).values()
        yield from step.get("menu_options", {}).values()


def test_configuration_names_every_field_and_choice() -> None:
    strings = _strings()
    page = _flat(_page("configuration.md"))
    labels = [*_labels(strings["config"]), *_labels(strings["options"])]
    for selector in ("profile", "tls_mode", "model", "connection_type"):
        labels += strings["selector"][selector]["options"].values()
    for label in labels:
        assert label in page, f"configuration.md does not name {label!r}"


def _fragments(message: str) -> Iterator[str]:
    """The literal parts of a message, around its {placeholders}."""
    for part in PLACEHOLDER.split(message):
        literal = part.strip(" ")
        if len(literal) >= 8:
            yield literal


def _messages() -> Iterator[tuple[str, str]]:
    strings = _strings()
    for section in ("config", "options"):
        for kind in ("error", "abort"):
            for key, text in strings[section].get(kind, {}).items():
                yield f"{section}.{kind}.{key}", text
    for key, value in strings["exceptions"].items():
        yield f"exceptions.{key}", value["message"]
    for key, value in strings["issues"].items():
        yield f"issues.{key}", value["title"]


@pytest.mark.parametrize(
    ("key", "message"), [pytest.param(*item, id=item[0]) for item in _messages()]
)
def test_every_message_is_explained(key: str, message: str) -> None:
    manual = _manual()
    for fragment in _fragments(message):
        assert _flat(fragment) in manual, f"{key}: the manual never quotes {fragment!r}"


# Tables whose first column quotes what the user sees, in italics.
MESSAGE_TABLES = {"actions.md", "troubleshooting.md", "devices-and-limits.md"}
MESSAGE_COLUMNS = ("Message", "Symptom")
ITALIC = re.compile(r"(?<![*\w])\*(?!\*)([^*]+?)\*(?![*\w])")
ELISION = "…"


def _quoted_messages() -> Iterator[tuple[str, str]]:
    """Each italic quote in the first cell of a Message/Symptom table, with its page."""
    for name in sorted(MESSAGE_TABLES):
        in_table = False
        for line in _page(name).splitlines():
            if not line.startswith("|"):
                in_table = False
                continue
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if cells[0] in MESSAGE_COLUMNS:
                in_table = True
            elif in_table and not cells[0].startswith("---"):
                for quote in ITALIC.findall(cells[0]):
                    yield name, _flat(quote)


def _tokens(text: str, wildcard: re.Pattern[str]) -> list[str | None]:
    """``text`` as characters, each ``wildcard`` match one ``None`` (any text)."""
    tokens: list[str | None] = []
    for n, part in enumerate(wildcard.split(text)):
        if n:
            tokens.append(None)
        tokens.extend(part)
    return tokens


# The longest example value the docs show where a message has a placeholder.
EXAMPLE_VALUE = 40


def _matches(quote: str, message: str) -> bool:
    """Whether ``quote`` is (part of) ``message``.

    The docs elide with ``…`` (a placeholder, or text left out), which
    matches any text of the message; they may show a short example value
    (``(refused)``) where the message has a placeholder.
    """
    q = [None, *_tokens(quote, re.compile(r"\s*…\s*")), None]
    m = _tokens(message, PLACEHOLDER)
    # (position in q, in m, quote characters the placeholder at m has taken)
    todo = [(0, 0, 0)]
    seen = set(todo)
    while todo:
        i, j, taken = todo.pop()
        if i == len(q) and j == len(m):
            return True
        steps = []
        if i < len(q) and q[i] is None:
            # The elision ends; a placeholder it ends on takes no example value.
            steps.append((i + 1, j, EXAMPLE_VALUE if j < len(m) and m[j] is None else 0))
            if j < len(m):
                steps.append((i, j + 1, 0))  # it covers one more of the message
        elif j < len(m) and m[j] is None and taken < EXAMPLE_VALUE:
            steps.append((i + 1, j, taken + 1))  # the example value goes on
        if j < len(m) and m[j] is None:
            steps.append((i, j + 1, 0))  # the placeholder ends
        if i < len(q) and j < len(m) and q[i] is not None and q[i] == m[j]:
            steps.append((i + 1, j + 1, 0))
        for step in steps:
            if step not in seen:
                seen.add(step)
                todo.append(step)
    return False


# Quotes in those tables that are not a translated message of Sunstream.
NOT_OURS = {
    "busy": "pymodbus's name of Modbus exception 6",
    "Log in to … again": "Home Assistant's reauthentication dialog",
    "Failed to set up, will retry": "Home Assistant's state of a config entry",
}
# Log lines the docs quote, and the file that logs each.
LOGGED = {
    "… is not answering (reason); Sunstream keeps trying": (
        "custom_components/sunstream/coordinator.py"
    ),
    "Sungrow: could not end the forced … (…); trying again on the next poll": (
        "custom_components/sunstream/pysunstream/sungrow/source.py"
    ),
    "AlphaESS: the unit did not take the renewed forced …": (
        "custom_components/sunstream/pysunstream/alphaess/source.py"
    ),
    "Home Assistant refused the access token": (
        "addon/sunstream/server/sunstream_monitor/feeds/ha.py"
    ),
}


@pytest.mark.parametrize(
    ("page", "quote"), [pytest.param(*item, id=item[1][:40]) for item in _quoted_messages()]
)
def test_every_quoted_message_is_current(page: str, quote: str) -> None:
    """A message the docs quote in a table is one Sunstream still shows (or logs)."""
    if quote in NOT_OURS:
        return
    if quote in LOGGED:
        code = (ROOT / LOGGED[quote]).read_text("utf-8")
        for part in re.split(r"…|\(\w+\)", quote):
            assert part.strip() in code, f"{page}: {LOGGED[quote]} no longer logs {quote!r}"
        return
    messages = [_flat(message) for _, message in _messages()]
    assert any(_matches(quote, message) for message in messages), (
        f"{page} quotes {quote!r}, which is no current message"
    )


def _entity_names() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for platform, entities in _strings()["entity"].items():
        for key, text in entities.items():
            yield platform, key, text


@pytest.mark.parametrize(
    ("platform", "key", "text"),
    [pytest.param(*item, id=f"{item[0]}.{item[1]}") for item in _entity_names()],
)
def test_entities_page_names_every_entity(platform: str, key: str, text: dict[str, Any]) -> None:
    page = _flat(_page("entities.md"))
    name = text["name"].replace("{string}", "1").replace("{phase}", "A").replace("{number}", "1")
    assert name in page, f"entities.md does not name {platform}.{key} ({name!r})"
    for state in text.get("state", {}):
        assert f"`{state}`" in page, f"entities.md does not list state {state!r} of {key}"


CONTROL_PLATFORMS = ("number", "select", "time", "switch")


def test_controls_section_names_every_control() -> None:
    """Each control entity is in entities.md's Controls section, and its table says the device."""
    page = _page("entities.md")
    section = _flat(page[page.index("## Controls") : page.index("## Microgrid part sensors")])
    strings = _strings()["entity"]
    for platform in CONTROL_PLATFORMS:
        for key, text in strings.get(platform, {}).items():
            if key == "simulation_running":
                continue
            name = text["name"].replace("{number}", "1")
            assert name in section, f"Controls does not name {platform}.{key} ({name!r})"
    limits = _flat(_page("devices-and-limits.md"))
    assert "## Controls" in _page("devices-and-limits.md")
    assert "SMILE-T10 has no remote dispatch" in limits


def test_actions_page_covers_every_action_and_field() -> None:
    services = load_yaml_dict(INTEGRATION / "services.yaml")
    strings = _strings()["services"]
    page = _flat(_page("actions.md"))
    for service, spec in services.items():
        assert f"## `{DOMAIN}.{service}`" in _page("actions.md"), service
        assert strings[service]["name"] in page, f"{service}: UI name"
        for field in spec.get("fields") or {}:
            assert f"`{field}`" in page, f"{service}.{field}"
            assert strings[service]["fields"][field]["name"] in page, f"{service}.{field} label"
    for kind in FaultKind:
        assert f"`{kind.value}`" in page, kind
    for rule in default_rules():
        assert f"`{rule.key}`" in page, rule.key


def test_events_page_covers_events_payloads_and_triggers() -> None:
    page = _flat(_page("events-and-triggers.md"))
    for event in (EVENT_CONNECTIVITY, EVENT_DISPATCH, EVENT_ALERT):
        assert f"## `{event}`" in _page("events-and-triggers.md"), event
    keys = {
        "device_id",
        "config_entry_id",
        "system_id",
        "source",
        "connected",
        "reason",
        "part",
        "command",
        "power",
        "target_soc",
        "duration",
        "expires_at",
        "alert_id",
        "state",
        "acknowledged",
        "rule",
        "severity",
        "value",
        "threshold",
    }
    for key in keys:
        assert f"`{key}`" in page, key
    for label in _strings()["device_automation"]["trigger_type"].values():
        assert label in page, label


def test_reasons_table_is_the_reason_enum() -> None:
    """Every reason an event can carry is documented, and only those."""
    section = _page("events-and-triggers.md").split("### Reasons", 1)[1].split("\n## ", 1)[0]
    documented = {
        word
        for row in section.splitlines()
        if row.startswith("| `")
        for word in re.findall(r"`([a-z_]+)`", row.split("|")[1])
    }
    assert documented == {reason.value for reason in Reason}


def test_alerts_page_covers_every_rule_and_option() -> None:
    page = _page("alerts.md")
    labels = _strings()["options"]["step"]["init"]["sections"]["alerts"]["data"]
    rule_names = _strings()["entity"]["event"]["alert"]["state_attributes"]["rule"]["state"]
    rows = [line for line in page.splitlines() if line.startswith("|")]
    for rule in default_rules():
        row = next((r for r in rows if r.startswith(f"| `{rule.key}`")), None)
        assert row is not None, f"alerts.md has no row for {rule.key}"
        assert rule_names[rule.key] in row
        assert rule.severity.value in row
    for key, (default, low, high) in ALERT_OPTIONS.items():
        row = next((r for r in rows if f"(`{key}`)" in r), None)
        assert row is not None, f"alerts.md has no row for option {key}"
        assert labels[key] in row
        assert f"{default:g}" in row, f"{key}: default {default:g}"
        assert f"{low:g}" in row, f"{key}: minimum {low:g}"
        assert f"{high:g}" in row, f"{key}: maximum {high:g}"


def test_use_cases_link_every_blueprint() -> None:
    page = _page("use-cases.md")
    for blueprint in (ROOT / "blueprints" / "automation" / DOMAIN).glob("*.yaml"):
        assert f"(../blueprints/automation/{DOMAIN}/{blueprint.name})" in page, blueprint.name


# --- examples against a running simulated system -------------------------------------------


def _yaml_blocks() -> Iterator[tuple[str, int, str]]:
    for page in PAGES:
        for index, match in enumerate(FENCE.finditer(page.read_text("utf-8"))):
            if match[1] == "yaml":
                yield page.name, index, match[2]


@pytest.fixture
async def rooftop(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> str:
    """The simulated system the examples are written for; its device id."""
    await setup_entry(located_hass, config_entry)
    device = dr.async_get(located_hass).async_get_device_by_identifier(
        (DOMAIN, "sim-rooftop"), config_entry.entry_id
    )
    assert device is not None
    return device.id


SCHEMAS = {
    "charge": DISPATCH_SCHEMA,
    "discharge": DISPATCH_SCHEMA,
    "stop": STOP_SCHEMA,
    "simulate_outage": OUTAGE_SCHEMA,
    "simulate_fault": FAULT_SCHEMA,
    "acknowledge_alert": ACKNOWLEDGE_SCHEMA,
}


@pytest.mark.parametrize(
    ("page", "index", "text"),
    [pytest.param(*block, id=f"{block[0]}-{block[1]}") for block in _yaml_blocks()],
)
async def test_yaml_example(
    located_hass: HomeAssistant, rooftop: str, page: str, index: int, text: str
) -> None:
    """Automations validate as Home Assistant would; action calls validate and run."""
    block = parse_yaml(text.replace(PLACEHOLDER_DEVICE, rooftop))
    assert isinstance(block, dict), f"{page} block {index} is not a mapping"
    if "triggers" in block:
        config = {"id": f"{page}-{index}", "alias": "example", "actions": [], **block}
        assert await async_validate_config_item(located_hass, config["id"], config) is not None
        return
    action = block.get("action", "")
    if action.startswith(f"{DOMAIN}."):
        service = action.removeprefix(f"{DOMAIN}.")
        SCHEMAS[service](block.get("data", {}))
        if "{{" not in text:
            # A literal example must really work on the system it is written for.
            await located_hass.services.async_call(DOMAIN, service, block["data"], blocking=True)
        return
    pytest.fail(f"{page} block {index}: neither an automation nor a Sunstream action")


async def test_entity_ids_in_the_manual_are_registered(
    located_hass: HomeAssistant, rooftop: str
) -> None:
    """The entity ids the manual uses are the ones a simulated *Rooftop* really gets."""
    registry = er.async_get(located_hass)
    registered = {entry.entity_id for entry in registry.entities.values()}
    mentioned = set(
        re.findall(
            r"\b((?:sensor|binary_sensor|event|switch|number|select|time)\.rooftop_[a-z0-9_]+)",
            _manual(),
        )
    )
    assert mentioned
    assert mentioned <= registered, sorted(mentioned - registered)
