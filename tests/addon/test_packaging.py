"""The app's packaging, checked the way the Supervisor and Docker will read it.

No Home Assistant and no Docker here: the files are parsed and held to the
Supervisor's own rules (regexes copied from ``supervisor/apps/validate.py``,
``supervisor/apps/options.py`` and ``supervisor/validate.py``), to each other
(ports, translations, versions, the base image's Python) and to the server
package (its settings must accept the app's default options).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
import json
import os
from pathlib import Path
import re
import shutil
import struct
import subprocess
import tomllib
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

import sunstream_monitor
from sunstream_monitor import settings as server_settings
from sunstream_monitor.mqtt_topics import check_prefix

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "addon" / "sunstream"
SERVER = APP / "server"
S6_RC = APP / "rootfs" / "etc" / "s6-overlay" / "s6-rc.d"

# --- the Supervisor's rules ------------------------------------------------------

RE_SLUG_FIELD = re.compile(r"^[-_.A-Za-z0-9]+$")
RE_SERVICE = re.compile(r"^(?P<service>mqtt|mysql):(?P<rights>provide|want|need)$")
RE_WATCHDOG = re.compile(r"^(?:https?|\[PROTO:\w+\]|tcp):\/\/\[HOST\]:(\[PORT:\d+\]|\d+).*$")
RE_DOCKER_PORT = re.compile(r"^\d+(?:/tcp|/udp)?$")
RE_SCHEMA_ELEMENT = re.compile(
    r"^(?:"
    r"|bool"
    r"|email"
    r"|url"
    r"|port"
    r"|device(?:\((?P<filter>subsystem=[a-z]+)\))?"
    r"|str(?:\((?P<s_min>\d+)?,(?P<s_max>\d+)?\))?"
    r"|password(?:\((?P<p_min>\d+)?,(?P<p_max>\d+)?\))?"
    r"|int(?:\((?P<i_min>-?\d+)?,(?P<i_max>-?\d+)?\))?"
    r"|float(?:\((?P<f_min>-?\d*\.?\d+)?,(?P<f_max>-?\d*\.?\d+)?\))?"
    r"|match\((?P<match>.*)\)"
    r"|list\((?P<list>.+)\)"
    r")\??$"
)
# Only these two are supported since 2026; armhf, armv7 and i386 are deprecated.
SUPPORTED_ARCH = {"aarch64", "amd64"}
STARTUP = {"initialize", "system", "services", "application", "once"}
BOOT = {"auto", "manual", "manual_only"}
# Names the Supervisor reads as an app's configuration or build file, anywhere
# in the repository (FILE_SUFFIX_CONFIGURATION: .json, .yaml, .yml).
APP_FILE_NAMES = {
    f"{stem}.{ext}" for stem in ("config", "build") for ext in ("json", "yaml", "yml")
}
SKIPPED_DIRS = {
    ".git",
    ".venv",
    ".develop",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
}


def load_yaml(path: Path) -> Any:
    """A YAML file as data."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The app's config.yaml."""
    data = load_yaml(APP / "config.yaml")
    assert isinstance(data, dict)
    return data


def _schema_match(element: str) -> re.Match[str]:
    match = RE_SCHEMA_ELEMENT.match(element)
    assert match is not None, f"schema type {element!r} is not one the Supervisor knows"
    return match


def _check_value(element: str, value: Any) -> None:
    """``value`` passes the Supervisor's check for a scalar schema ``element``."""
    match = _schema_match(element)
    kind = element.rstrip("?")
    if kind.startswith(("str", "password")):
        assert isinstance(value, str)
    elif kind.startswith("int"):
        assert isinstance(value, int)
        assert not isinstance(value, bool)
        low, high = match.group("i_min"), match.group("i_max")
        assert low is None or value >= int(low), f"{value} < {low}"
        assert high is None or value <= int(high), f"{value} > {high}"
    elif kind == "bool":
        assert isinstance(value, bool)
    elif kind.startswith("list"):
        assert value in match.group("list").split("|")
    elif kind.startswith("match"):
        assert re.match(match.group("match"), str(value)), f"{value!r} !~ {element}"
    elif kind == "port":
        assert isinstance(value, int)
        assert 1 <= value <= 65535
    else:
        pytest.fail(f"no check written for schema type {element!r}")


def _matches(element: str, value: str) -> bool:
    """Whether a string passes a ``match(...)`` schema element."""
    return re.match(_schema_match(element).group("match"), value) is not None


# --- config.yaml -----------------------------------------------------------------


def test_config_has_what_the_supervisor_requires(config: dict[str, Any]) -> None:
    """Required keys present, slug/arch/startup/boot valid, no image to pull."""
    for key in ("name", "version", "slug", "description", "arch"):
        assert config.get(key), f"config.yaml lacks {key}"
    assert RE_SLUG_FIELD.match(config["slug"])
    assert config["slug"] == "sunstream"
    assert set(config["arch"]) == SUPPORTED_ARCH
    assert config.get("startup", "application") in STARTUP
    assert config.get("boot", "auto") in BOOT
    assert config["startup"] == "application"
    # Built from the Dockerfile in the repository, not pulled.
    assert "image" not in config
    # No older Core than the integration it follows supports.
    hacs = json.loads((REPO / "hacs.json").read_text(encoding="utf-8"))
    assert str(config["homeassistant"]) == hacs["homeassistant"]
    assert 10 <= config.get("timeout", 10) <= 300
    url = urlsplit(config["url"])
    assert url.scheme == "https"
    assert url.netloc


def test_config_suits_s6_overlay_and_the_security_rating(config: dict[str, Any]) -> None:
    """init off for s6-overlay v3; only the access the app needs."""
    assert config["init"] is False, "s6-overlay v3 must be PID 1"
    assert config["homeassistant_api"] is True
    for key in ("hassio_api", "host_network", "full_access", "docker_api", "privileged"):
        assert not config.get(key), f"{key} is not needed"
    assert config.get("apparmor", True) is True
    assert config["services"] == ["mqtt:want"]
    for service in config["services"]:
        assert RE_SERVICE.match(service)


def test_ports_descriptions_ingress_and_watchdog_agree(config: dict[str, Any]) -> None:
    """One port, described, proxied by ingress, watched on /health, the server's default."""
    ports = config["ports"]
    assert ports == {"9000/tcp": 9000}
    for key, host_port in ports.items():
        assert RE_DOCKER_PORT.match(key)
        assert host_port is None or 1 <= host_port <= 65535
    assert set(config["ports_description"]) == set(ports)
    assert all(config["ports_description"].values())

    assert config["ingress"] is True
    container_port = config["ingress_port"]
    assert f"{container_port}/tcp" in ports
    assert config["panel_icon"] == "mdi:solar-power"
    assert config["panel_title"] == "Sunstream"

    watchdog = config["watchdog"]
    assert RE_WATCHDOG.match(watchdog)
    assert watchdog == f"http://[HOST]:[PORT:{container_port}]/health"

    # The options don't set a port, so the server must listen on this one.
    assert server_settings.Settings().port == container_port
    assert server_settings.INGRESS_PROXY == "172.30.32.2"


def test_schema_types_and_default_options(config: dict[str, Any]) -> None:
    """Every schema type is one the Supervisor parses; defaults pass their own schema."""
    schema: dict[str, Any] = config["schema"]
    options: dict[str, Any] = config["options"]
    assert set(options) <= set(schema), "an option without a schema entry"
    for key, element in schema.items():
        if isinstance(element, list):
            assert len(element) == 1
            assert isinstance(element[0], str)
            _schema_match(element[0])
            optional = element[0].endswith("?")
        else:
            _schema_match(element)
            optional = element.endswith("?")
        if optional:
            assert key not in options, f"optional {key} must have no default"
        else:
            assert key in options, f"{key} is mandatory: it needs a default"
    for key, value in options.items():
        element = schema[key]
        if isinstance(element, list):
            assert isinstance(value, list)
            for item in value:
                _check_value(element[0], item)
        else:
            _check_value(element, value)


def test_schema_follows_the_server_settings(config: dict[str, Any]) -> None:
    """The options are the server's settings keys, less the port (fixed by ingress)."""
    assert set(config["schema"]) == {
        "source",
        "tokens",
        "origins",
        "mqtt_url",
        "mqtt_prefix",
        "mqtt_commands",
        "mqtt_buffer",
        "max_clients",
        "log_level",
    }
    assert config["schema"]["tokens"] == ["password"], "tokens are secrets: masked in the UI"
    assert config["options"]["mqtt_commands"] is False, "commands are opt-in"


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("https://dash.example.com", True),
        ("http://localhost:3000", True),
        ("http://192.168.1.20:8080", True),
        ("https://dash.example.com/", False),
        ("https://dash.example.com/page", False),
        ("dash.example.com", False),
        ("*", False),
    ],
)
def test_origins_are_bare_origins(config: dict[str, Any], value: str, accepted: bool) -> None:
    """A browser's Origin header has no path and no trailing slash: refuse what never matches."""
    assert _matches(config["schema"]["origins"][0], value) is accepted


@pytest.mark.parametrize(
    "url",
    ["mqtt://core-mosquitto", "mqtt://user:secret@192.168.1.10:1883", "mqtts://u:p@broker:8883"],
)
def test_mqtt_urls_the_schema_accepts_the_server_parses(config: dict[str, Any], url: str) -> None:
    """What the options form lets through, the server understands."""
    assert _matches(config["schema"]["mqtt_url"], url)
    parsed = server_settings.parse_mqtt_url(url)
    assert parsed.host == urlsplit(url).hostname


@pytest.mark.parametrize("url", ["http://broker", "mqtt://", "broker:1883", "mqtt://a b"])
def test_mqtt_urls_the_schema_refuses(config: dict[str, Any], url: str) -> None:
    """Obvious mistakes stop at the options form, before the app starts."""
    assert not _matches(config["schema"]["mqtt_url"], url)


@pytest.mark.parametrize(
    ("prefix", "accepted"),
    [
        ("sunstream", True),
        ("home/solar", True),
        ("solar_2-b", True),
        ("/sunstream", False),
        ("sunstream/", False),
        ("a/#", False),
        ("a+b", False),
        ("$SYS", False),
        ("", False),
    ],
)
def test_mqtt_prefix_rule_is_no_looser_than_the_server(
    config: dict[str, Any], prefix: str, accepted: bool
) -> None:
    """A prefix the form accepts is one the bridge can publish under."""
    assert _matches(config["schema"]["mqtt_prefix"], prefix) is accepted
    if accepted:
        assert check_prefix(prefix) == prefix


def _write_options(tmp_path: Path, options: dict[str, Any]) -> Path:
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options), encoding="utf-8")
    return path


def test_default_options_start_the_server_inside_the_app(
    config: dict[str, Any], tmp_path: Path
) -> None:
    """The options file the Supervisor writes on first start loads into valid settings."""
    options = config["options"]
    settings = server_settings.load(
        [], env={"SUPERVISOR_TOKEN": "supervisor"}, options_file=_write_options(tmp_path, options)
    )
    assert settings.supervisor is True
    assert settings.ha_url == server_settings.SUPERVISOR_WS_URL
    assert settings.source == options["source"]
    assert settings.port == config["ingress_port"]
    assert settings.tokens == ()
    assert settings.origins == ()
    assert settings.max_clients == options["max_clients"]
    assert settings.log_level == options["log_level"]


def test_mqtt_options_reach_the_bridge_settings(config: dict[str, Any], tmp_path: Path) -> None:
    """mqtt_url, prefix, commands and buffer from the options end up in MqttSettings."""
    options = {
        **config["options"],
        "tokens": ["a-token-of-sixteen-chars"],
        "origins": ["https://dash.example.com"],
        "mqtt_url": "mqtts://bridge:secret@broker.lan:8883",
        "mqtt_prefix": "home/solar",
        "mqtt_commands": True,
        "mqtt_buffer": 500,
    }
    settings = server_settings.load(
        [], env={"SUPERVISOR_TOKEN": "supervisor"}, options_file=_write_options(tmp_path, options)
    )
    assert settings.tokens == ("a-token-of-sixteen-chars",)
    assert settings.origins == ("https://dash.example.com",)
    mqtt = settings.mqtt
    assert mqtt is not None
    assert (mqtt.host, mqtt.port, mqtt.tls) == ("broker.lan", 8883, True)
    assert (mqtt.username, mqtt.password) == ("bridge", "secret")
    assert (mqtt.prefix, mqtt.commands, mqtt.buffer) == ("home/solar", True, 500)


def test_every_choice_the_form_offers_is_one_the_server_takes(
    config: dict[str, Any], tmp_path: Path
) -> None:
    """list(...) choices for source and log_level are values the server accepts."""
    path = _write_options(tmp_path, config["options"])
    env = {"SUPERVISOR_TOKEN": "supervisor", "MQTT_URL": "mqtt://broker"}
    for choice in _schema_match(config["schema"]["source"]).group("list").split("|"):
        assert (
            server_settings.load(["--source", choice], env=env, options_file=path).source == choice
        )
    for level in _schema_match(config["schema"]["log_level"]).group("list").split("|"):
        loaded = server_settings.load(["--log-level", level], env=env, options_file=path)
        assert loaded.log_level == level


# --- versions ----------------------------------------------------------------------


def test_one_version_everywhere(config: dict[str, Any]) -> None:
    """config.yaml, the package, its pyproject and the changelog's top entry agree."""
    version = str(config["version"])
    assert sunstream_monitor.__version__ == version
    pyproject = tomllib.loads((SERVER / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["version"] == version
    headings = re.findall(r"^## \[?v?([^\]\s]+)", (APP / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings, "CHANGELOG.md has no '## <version>' entry"
    assert headings[0] == version


def test_server_package_builds_from_its_own_folder() -> None:
    """setuptools refuses files outside the project folder (a readme of '../DOCS.md').

    The image build copies only ``server/`` and pip-installs it, as does
    ``pip install ./addon/sunstream/server``: everything pyproject names must
    live inside that folder.
    """
    project = tomllib.loads((SERVER / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    readme = project.get("readme")
    if readme is not None:
        name = readme if isinstance(readme, str) else readme.get("file", "")
        path = (SERVER / name).resolve()
        assert path.is_relative_to(SERVER.resolve()), f"readme {name!r} is outside server/"
        assert path.is_file(), f"readme {name!r} does not exist"


# --- translations -------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "pt-BR"])
def test_translations_cover_every_option_and_port(config: dict[str, Any], language: str) -> None:
    """Exactly the schema's keys, each with a name and a description; every port described."""
    data = load_yaml(APP / "translations" / f"{language}.yaml")
    assert set(data["configuration"]) == set(config["schema"])
    for key, entry in data["configuration"].items():
        assert entry.get("name"), f"{language}: {key} has no name"
        assert entry.get("description"), f"{language}: {key} has no description"
    assert set(data["network"]) == set(config["ports"])
    assert all(data["network"].values())


def test_portuguese_is_translated_not_copied() -> None:
    """No pt-BR text is the English one left in place."""
    english = load_yaml(APP / "translations" / "en.yaml")
    portuguese = load_yaml(APP / "translations" / "pt-BR.yaml")
    for key, entry in portuguese["configuration"].items():
        assert entry["description"] != english["configuration"][key]["description"], key
    for port, text in portuguese["network"].items():
        assert text != english["network"][port]


def test_docs_describe_every_option_and_port(config: dict[str, Any]) -> None:
    """DOCS.md names each option and port, and the endpoints dashboard authors need."""
    docs = (APP / "DOCS.md").read_text(encoding="utf-8")
    for key in config["schema"]:
        assert f"`{key}`" in docs, f"DOCS.md does not describe {key}"
    for port in config["ports"]:
        assert port.split("/")[0] in docs
    for needle in ("/ws/monitoring/", "`/ws`", "/openapi.json", "/health", "socket.io"):
        assert needle in docs, f"DOCS.md does not mention {needle}"


# --- repository ----------------------------------------------------------------------


def _repository_files() -> Iterator[Path]:
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in files:
            yield Path(root) / name


def test_only_the_app_has_a_config_file() -> None:
    """The Supervisor takes any config.yaml (or .yml, .json) in the repository for an app."""
    found = sorted(
        path.relative_to(REPO).as_posix()
        for path in _repository_files()
        if path.name in APP_FILE_NAMES
    )
    assert found == ["addon/sunstream/config.yaml"]


def test_repository_yaml_names_the_store_entry() -> None:
    """repository.yaml at the root: name, url and maintainer."""
    data = load_yaml(REPO / "repository.yaml")
    assert data["name"]
    url = urlsplit(data["url"])
    assert url.scheme == "https"
    assert url.netloc
    assert data["maintainer"]


# --- Dockerfile ----------------------------------------------------------------------


def _dockerfile() -> list[str]:
    """Instructions, with continuation lines joined and comments dropped."""
    text = (APP / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [
        " ".join(part.strip() for part in instruction.split("\\\n"))
        for instruction in re.split(r"(?<!\\)\n", "\n".join(lines))
        if instruction.strip()
    ]


def _base_image() -> str:
    for instruction in _dockerfile():
        if match := re.fullmatch(r"ARG BUILD_FROM=(\S+)", instruction):
            return match.group(1)
    pytest.fail("Dockerfile has no ARG BUILD_FROM=<image> default")


def test_dockerfile_names_a_pinned_base_image_itself() -> None:
    """No build.yaml, and no BUILD_FROM from the Supervisor: the default must be complete."""
    image = _base_image()
    assert re.fullmatch(
        r"ghcr\.io/home-assistant/base-python:3\.\d+-alpine3\.\d+(-\d{4}\.\d+\.\d+)?", image
    ), image
    froms = [line for line in _dockerfile() if line.upper().startswith("FROM ")]
    assert froms == ["FROM ${BUILD_FROM}"]


def test_dockerfile_labels_install_and_layout() -> None:
    """Labels the Supervisor reads, the server installed from server/, rootfs copied to /."""
    instructions = _dockerfile()
    labels = " ".join(line for line in instructions if line.startswith("LABEL "))
    assert 'io.hass.type="app"' in labels
    assert "io.hass.version=" in labels
    assert "io.hass.arch=" in labels
    assert "COPY rootfs /" in instructions
    assert any(line.startswith("COPY server ") for line in instructions)
    install = next(line for line in instructions if "pip install" in line)
    assert "--no-cache-dir" in install
    # s6-overlay's /init from the base image starts the services.
    assert not any(line.startswith(("ENTRYPOINT", "CMD")) for line in instructions)
    health = next(line for line in instructions if line.startswith("HEALTHCHECK"))
    assert "http://127.0.0.1:9000/health" in health


def test_no_build_file_anywhere() -> None:
    """build.yaml is retired; the Supervisor would still read one and warn."""
    assert not [
        path
        for path in _repository_files()
        if path.name.startswith("build.") and path.name in APP_FILE_NAMES
    ]


def test_base_image_python_runs_the_package() -> None:
    """The package's sources parse as the base image's Python and its pyproject allows it."""
    match = re.search(r"base-python:(3)\.(\d+)-", _base_image())
    assert match is not None
    version = (int(match.group(1)), int(match.group(2)))
    requires = tomllib.loads((SERVER / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "requires-python"
    ]
    minimum = re.fullmatch(r">=\s*(\d+)\.(\d+)(?:\.\d+)?", requires)
    assert minimum is not None, f"unexpected requires-python {requires!r}"
    assert version >= (int(minimum.group(1)), int(minimum.group(2)))
    sources = sorted((SERVER / "sunstream_monitor").rglob("*.py"))
    assert sources
    for source in sources:
        try:
            ast.parse(source.read_text(encoding="utf-8"), str(source), feature_version=version)
        except SyntaxError as err:
            pytest.fail(f"{source.relative_to(REPO)} needs a newer Python than the image: {err}")


# --- rootfs: the s6-overlay v3 service tree ------------------------------------------


def _scripts() -> list[Path]:
    return [
        S6_RC / "init-sunstream" / "run",
        S6_RC / "sunstream" / "run",
        S6_RC / "sunstream" / "finish",
    ]


def test_s6_services_are_wired() -> None:
    """A oneshot that prepares, a longrun that depends on it, both in the user bundle."""
    services = {path.name for path in S6_RC.iterdir() if path.is_dir()} - {"user"}
    assert services == {"init-sunstream", "sunstream"}
    assert (S6_RC / "init-sunstream" / "type").read_text().strip() == "oneshot"
    assert (S6_RC / "sunstream" / "type").read_text().strip() == "longrun"
    up = (S6_RC / "init-sunstream" / "up").read_text().strip()
    assert up == "/etc/s6-overlay/s6-rc.d/init-sunstream/run"
    assert (APP / "rootfs" / up.lstrip("/")).is_file()
    assert {p.name for p in (S6_RC / "init-sunstream" / "dependencies.d").iterdir()} == {"base"}
    assert {p.name for p in (S6_RC / "sunstream" / "dependencies.d").iterdir()} == {
        "init-sunstream"
    }
    assert {p.name for p in (S6_RC / "user" / "contents.d").iterdir()} == services


@pytest.mark.parametrize("script", _scripts(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_scripts_are_executable_bash(script: Path) -> None:
    """Executable, a with-contenv bashio shebang, and valid bash."""
    assert os.access(script, os.X_OK), f"chmod +x {script.relative_to(REPO)}"
    assert script.read_text(encoding="utf-8").startswith("#!/command/with-contenv bashio\n")
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_scripts_pass_shellcheck() -> None:
    """No shellcheck findings (run where it is installed)."""
    shellcheck = shutil.which("shellcheck")
    assert shellcheck is not None
    result = subprocess.run(
        [shellcheck, "--shell=bash", *map(str, _scripts())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


# --- AppArmor ------------------------------------------------------------------------


def test_apparmor_profile_matches_the_app_and_image() -> None:
    """One top-level profile, named after the slug; the exec rule names the image's Python."""
    text = (APP / "apparmor.txt").read_text(encoding="utf-8")
    top_level = re.findall(r"^profile (\S+)", text, re.MULTILINE)
    assert top_level == ["sunstream"]
    match = re.search(r"base-python:(3\.\d+)-", _base_image())
    assert match is not None
    assert f"/usr/local/bin/python{match.group(1)} cx -> sunstream_monitor," in text
    assert "profile sunstream_monitor " in text
    assert "/data/** rw," in text


# --- images --------------------------------------------------------------------------


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_icon_is_square() -> None:
    """icon.png: 1:1, about 128 px."""
    width, height = _png_size(APP / "icon.png")
    assert width == height
    assert 96 <= width <= 256


def test_logo_is_wider_than_tall() -> None:
    """logo.png: landscape, about 250x100."""
    width, height = _png_size(APP / "logo.png")
    assert width > height
    assert 150 <= width <= 500
