"""quality_scale.yaml lists all 54 rules, each done, todo or exempt with a reason."""

from __future__ import annotations

from pathlib import Path

from homeassistant.util.yaml import load_yaml_dict

INTEGRATION = Path(__file__).parent.parent / "custom_components" / "sunstream"

RULES = {
    # Bronze
    "action-setup", "appropriate-polling", "brands", "common-modules",
    "config-flow-test-coverage", "config-flow", "dependency-transparency", "docs-actions",
    "docs-conditions", "docs-high-level-description", "docs-installation-instructions",
    "docs-removal-instructions", "docs-triggers", "entity-event-setup", "entity-unique-id",
    "has-entity-name", "runtime-data", "test-before-configure", "test-before-setup",
    "unique-config-entry",
    # Silver
    "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
    "docs-installation-parameters", "entity-unavailable", "integration-owner",
    "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
    # Gold
    "devices", "diagnostics", "discovery-update-info", "discovery", "docs-data-update",
    "docs-examples", "docs-known-limitations", "docs-supported-devices",
    "docs-supported-functions", "docs-troubleshooting", "docs-use-cases", "dynamic-devices",
    "entity-category", "entity-device-class", "entity-disabled-by-default",
    "entity-translations", "exception-translations", "icon-translations",
    "reconfiguration-flow", "repair-issues", "stale-devices",
    # Platinum
    "async-dependency", "inject-websession", "strict-typing",
}  # fmt: skip


ROOT = INTEGRATION.parent.parent

# What backs each rule marked done: "path::test_name" (a test that must
# exist) or "path:text" (a check the file must contain, e.g. scripts/test).
EVIDENCE: dict[str, tuple[str, ...]] = {
    "action-setup": ("tests/test_services.py::test_unloaded_system",),
    "appropriate-polling": (
        "tests/test_winet.py::test_options_refuse_fast_polling",
        "tests/test_config_flow.py::test_simulated_rejects_then_recovers",
    ),
    "brands": (
        "tests/test_metadata.py::test_brand_icon",
        "tests/test_metadata.py::test_brand_logo",
    ),
    "common-modules": ("tests/test_quality_scale.py::test_common_modules",),
    "config-flow-test-coverage": (
        "scripts/test:--include='custom_components/sunstream/config_flow*.py'",
    ),
    "config-flow": (
        "tests/test_config_flow.py::test_simulated_creates_entry",
        "tests/test_winet.py::test_add_gateway",
        "tests/test_alphaess.py::test_add_unit",
    ),
    "dependency-transparency": (
        "tests/test_quality_scale.py::test_requirements_are_public_packages",
    ),
    "docs-actions": ("tests/test_docs.py::test_actions_page_covers_every_action_and_field",),
    "docs-high-level-description": ("tests/test_docs.py::test_the_manual_has_its_pages",),
    "docs-installation-instructions": ("tests/test_docs.py::test_the_manual_has_its_pages",),
    "docs-removal-instructions": ("tests/test_docs.py::test_the_manual_has_its_pages",),
    "docs-triggers": ("tests/test_docs.py::test_events_page_covers_events_payloads_and_triggers",),
    "entity-event-setup": ("tests/test_init.py::test_unload_leaves_nothing_behind",),
    "entity-unique-id": ("tests/test_sensor.py::test_entities",),
    "has-entity-name": ("tests/test_quality_scale.py::test_every_entity_has_a_translated_name",),
    "runtime-data": ("tests/test_init.py::test_diagnostics",),
    "test-before-configure": (
        "tests/test_winet.py::test_unreachable",
        "tests/test_alphaess.py::test_unreachable",
    ),
    "test-before-setup": ("tests/test_init.py::test_unknown_source_fails_for_good",),
    "unique-config-entry": (
        "tests/test_config_flow.py::test_simulated_same_name_aborts",
        "tests/test_winet.py::test_same_gateway_twice_aborts",
        "tests/test_alphaess.py::test_unit_twice_aborts",
    ),
    "action-exceptions": (
        "tests/test_services.py::test_bad_input_rejected",
        "tests/test_command_errors.py::test_command_error_mapping",
        "tests/test_controls.py::test_rate_limit",
    ),
    "config-entry-unloading": ("tests/test_init.py::test_unload_leaves_nothing_behind",),
    "docs-configuration-parameters": (
        "tests/test_docs.py::test_configuration_names_every_field_and_choice",
    ),
    "docs-installation-parameters": (
        "tests/test_docs.py::test_configuration_names_every_field_and_choice",
    ),
    "entity-unavailable": (
        "tests/test_connectivity.py::test_outage_transitions",
        "tests/test_alphaess.py::test_fault_makes_entities_unavailable_only_while_it_lasts",
        "tests/test_winet.py::test_outages_recover_without_restart",
    ),
    "integration-owner": ("tests/test_metadata.py::test_manifest",),
    "log-when-unavailable": (
        "tests/test_link_logging.py::test_gateway_link_loss_logged_once_each_way",
    ),
    "parallel-updates": ("tests/test_quality_scale.py::test_every_platform_sets_parallel_updates",),
    "reauthentication-flow": ("tests/test_winet.py::test_reauth",),
    "test-coverage": ("scripts/test:--cov-fail-under",),
    "devices": (
        "tests/test_winet_snapshots.py::test_devices",
        "tests/test_microgrid.py::test_parts_are_sub_devices_with_their_sensors",
    ),
    "diagnostics": (
        "tests/test_init.py::test_diagnostics",
        "tests/test_winet.py::test_link_counters_and_diagnostics",
    ),
    "docs-data-update": ("tests/test_docs.py::test_the_manual_has_its_pages",),
    "docs-examples": ("tests/test_docs.py::test_yaml_example",),
    "docs-known-limitations": ("tests/test_docs.py::test_the_manual_has_its_pages",),
    "docs-supported-devices": ("tests/test_docs.py::test_the_manual_has_its_pages",),
    "docs-supported-functions": ("tests/test_docs.py::test_entities_page_names_every_entity",),
    "docs-troubleshooting": ("tests/test_docs.py::test_every_message_is_explained",),
    "docs-use-cases": (
        "tests/test_blueprints.py::test_alert_notify_end_to_end",
        "tests/test_use_cases.py::test_predbat",
    ),
    "dynamic-devices": (
        "tests/test_winet.py::test_part_goes_offline",
        "tests/test_inverters.py::test_an_inverter_that_comes_and_goes",
    ),
    "entity-category": (
        "tests/test_sensor.py::test_entities",
        "tests/test_controls.py::test_entities",
    ),
    "entity-device-class": (
        "tests/test_energy_dashboard.py::test_energy_dashboard_accepts_sensors",
    ),
    "entity-disabled-by-default": ("tests/test_sensor.py::test_disabled_by_default",),
    "entity-translations": ("tests/test_metadata.py::test_entity_descriptions_are_translated",),
    "exception-translations": (
        "tests/test_services.py::test_translations_render",
        "tests/test_quality_scale.py::test_every_rejection_key_is_translated",
        "tests/test_metadata.py::test_raised_placeholders_match_their_messages",
    ),
    "icon-translations": ("tests/test_metadata.py::test_icons_refer_to_translated_entities",),
    "reconfiguration-flow": (
        "tests/test_config_flow.py::test_reconfigure",
        "tests/test_winet.py::test_reconfigure_new_address",
        "tests/test_alphaess.py::test_reconfigure_to_a_new_address",
    ),
    "repair-issues": (
        "tests/test_winet.py::test_pinned_mismatch_raises_repair_issue",
        "tests/test_alphaess.py::test_unit_held_while_running_raises_repair_issue",
    ),
    "stale-devices": (
        "tests/test_init.py::test_battery_removed_drops_its_device",
        "tests/test_init.py::test_manual_device_removal_only_for_stale",
    ),
    "async-dependency": ("tests/test_quality_scale.py::test_pysunstream_does_no_blocking_io",),
    "inject-websession": (
        "tests/test_quality_scale.py::test_winet_runs_on_home_assistants_session",
    ),
    "strict-typing": ("scripts/test:mypy --strict custom_components/sunstream",),
}


def _rules() -> dict[str, object]:
    return load_yaml_dict(INTEGRATION / "quality_scale.yaml")["rules"]


def _status(value: object) -> str:
    return value if isinstance(value, str) else value["status"]  # type: ignore[index]


def test_every_done_rule_is_backed_by_evidence() -> None:
    for name, value in _rules().items():
        if _status(value) != "done":
            continue
        assert EVIDENCE.get(name), f"{name}: done without a test or check behind it"
        for item in EVIDENCE[name]:
            if "::" in item:
                path, test = item.split("::")
                source = (ROOT / path).read_text(encoding="utf-8")
                assert f"def {test}(" in source, f"{name}: {item} does not exist"
            else:
                path, _, text = item.partition(":")
                assert text in (ROOT / path).read_text(encoding="utf-8"), f"{name}: {item}"


def test_nothing_is_left_todo() -> None:
    assert [n for n, v in _rules().items() if _status(v) == "todo"] == []


def test_common_modules() -> None:
    for module in ("coordinator.py", "entity.py"):
        assert (INTEGRATION / module).is_file()
    entity = (INTEGRATION / "entity.py").read_text(encoding="utf-8")
    assert "class SunstreamEntity(CoordinatorEntity" in entity


def test_requirements_are_public_packages() -> None:
    import json

    manifest = json.loads((INTEGRATION / "manifest.json").read_text(encoding="utf-8"))
    names = {r.split("==")[0].lower() for r in manifest["requirements"]}
    assert names == {"pymodbus"}
    assert all("==" in r for r in manifest["requirements"])


def test_every_entity_has_a_translated_name() -> None:
    import ast

    for path in INTEGRATION.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "").endswith(
                "EntityDescription"
            ):
                keywords = {k.arg for k in node.keywords}
                assert "translation_key" in keywords or "key" not in keywords, (
                    f"{path.name}:{node.lineno}"
                )
    entity = (INTEGRATION / "entity.py").read_text(encoding="utf-8")
    assert "_attr_has_entity_name = True" in entity


def test_pysunstream_does_no_blocking_io() -> None:
    """The device layer is asyncio-native: no requests, no time.sleep, no sync sockets."""
    import ast

    banned_modules = {"requests", "urllib.request", "http.client", "socket", "ssl"}
    for path in (INTEGRATION / "pysunstream").rglob("*.py"):
        if "testing" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                assert not set(names) & banned_modules - {"ssl"} or path.name == "tls.py", (
                    f"{path}: imports {names}"
                )
            if isinstance(node, ast.Attribute) and node.attr == "sleep":
                assert getattr(node.value, "id", None) != "time", f"{path}:{node.lineno} time.sleep"


def test_winet_runs_on_home_assistants_session() -> None:
    sources = (INTEGRATION / "sources.py").read_text(encoding="utf-8")
    assert "session=async_get_clientsession(hass)" in sources


def test_every_rule_is_assessed() -> None:
    rules = load_yaml_dict(INTEGRATION / "quality_scale.yaml")["rules"]
    assert len(RULES) == 54
    assert set(rules) == RULES
    for name, value in rules.items():
        if isinstance(value, str):
            assert value in {"done", "todo"}, name
        else:
            assert value["status"] in {"done", "todo", "exempt"}, name
            if value["status"] == "exempt":
                assert value.get("comment", "").strip(), f"{name}: exempt without reason"


def test_every_platform_sets_parallel_updates() -> None:
    import importlib

    from custom_components.sunstream import PLATFORMS

    for platform in PLATFORMS:
        module = importlib.import_module(f"custom_components.sunstream.{platform.value}")
        assert isinstance(module.PARALLEL_UPDATES, int), platform


def test_every_rejection_key_is_translated() -> None:
    """A CommandRejected raised anywhere in pysunstream has a message."""
    import ast
    import json

    exceptions = json.loads((INTEGRATION / "strings.json").read_text())["exceptions"]
    keys = set()
    for path in (INTEGRATION / "pysunstream").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "CommandRejected"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                keys.add(node.args[0].value)
    assert keys >= {"no_battery", "power_out_of_range"}
    assert keys - set(exceptions) == set()


def test_pysunstream_imports_no_home_assistant() -> None:
    import ast

    for path in (INTEGRATION / "pysunstream").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom) and node.level > 0:
                # A relative import may not climb out of pysunstream.
                depth = len(path.relative_to(INTEGRATION / "pysunstream").parts) - 1
                assert node.level <= depth + 1, f"{path}: relative import leaves pysunstream"
            for name in names:
                assert not name.startswith("homeassistant"), f"{path} imports {name}"


def test_shipped_integration_imports_only_what_the_manifest_declares() -> None:
    """What HACS installs is what users run: no fakes, no test-only libraries.

    The fake devices live in ``sunstream_fakes/`` at the top of the
    repository; the integration may import the standard library, Home
    Assistant, itself and the manifest's requirements, nothing else.
    """
    import ast
    import json
    import sys

    manifest = json.loads((INTEGRATION / "manifest.json").read_text())
    declared = {req.split("==")[0].replace("-", "_") for req in manifest["requirements"]}
    allowed = declared | {"homeassistant", "probatio", "aiohttp", "custom_components"}
    for path in INTEGRATION.rglob("*.py"):
        assert "testing" not in path.relative_to(INTEGRATION).parts, path
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                assert top in sys.stdlib_module_names or top in allowed or top == "__future__", (
                    f"{path} imports {top}, which the manifest does not declare"
                )


def _import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (relative imports, any depth)."""
    import ast

    modules: dict[str, Path] = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        package = [part for part in package if part]
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.level > 0):
                continue
            base = package[: len(package) - (node.level - 1)]
            target = ".".join([*base, *([node.module] if node.module else [])])
            for candidate in (target, *(f"{target}.{a.name}".lstrip(".") for a in node.names)):
                if candidate in graph and candidate != name:
                    graph[name].add(candidate)
    return graph


def test_no_import_cycles() -> None:
    """Parts meet through types, not through each other's modules in a loop.

    ``TYPE_CHECKING`` imports count too: a cycle hidden from the interpreter
    is still one for the reader.
    """
    graph = _import_graph(INTEGRATION)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, f"import cycles: {cycles}"
