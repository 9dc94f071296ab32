"""The GitHub workflows stay true to the repository they check."""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"


def _workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^(scripts/test)\b", readme, re.MULTILINE)
    assert match, "README gives no test command"
    return match.group(1)


@pytest.mark.parametrize("name", ["validate.yaml", "tests.yaml", "app.yaml"])
def test_workflow_is_well_formed(name: str) -> None:
    workflow = _workflow(name)
    # PyYAML reads the bare key `on` as True.
    assert workflow.get("on", workflow.get(True))
    assert workflow["permissions"] == {"contents": "read"}
    for step in _steps(workflow):
        assert "uses" in step or "run" in step


def test_validate_runs_hassfest_and_hacs() -> None:
    uses = [step.get("uses", "") for step in _steps(_workflow("validate.yaml"))]
    assert any(u.startswith("home-assistant/actions/hassfest@") for u in uses)
    hacs = [s for s in _steps(_workflow("validate.yaml")) if s.get("uses", "").startswith("hacs/")]
    assert hacs
    assert hacs[0]["with"]["category"] == "integration"


def test_tests_workflow_runs_the_readme_command() -> None:
    runs = [step.get("run", "") for step in _steps(_workflow("tests.yaml"))]
    assert _readme_test_command() in runs
    assert (
        (ROOT / ".ci" / "run")
        .read_text(encoding="utf-8")
        .rstrip()
        .endswith("exec " + _readme_test_command())
    )


def test_app_workflow_builds_the_app_folder() -> None:
    steps = _steps(_workflow("app.yaml"))
    contexts = {s["with"]["context"] for s in steps if "build-image" in s.get("uses", "")}
    assert contexts == {"./addon/sunstream"}
    assert (ROOT / "addon" / "sunstream" / "Dockerfile").is_file()
    info = [s for s in steps if s.get("uses", "").startswith("home-assistant/actions/helpers/info")]
    assert info[0]["with"]["path"] == "./addon/sunstream"
