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
