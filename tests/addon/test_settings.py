"""Settings: every layer merges as documented and bad input says what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sunstream_monitor.settings import SUPERVISOR_WS_URL, SettingsError, load, parse_mqtt_url

HA = ["--ha-url", "ws://ha:8123/api/websocket", "--ha-token", "t0ken"]
REPLICA = ["--source", "mqtt", "--mqtt-url", "mqtt://broker"]


def test_defaults_next_to_home_assistant(tmp_path: Path) -> None:
    settings = load(HA, env={}, options_file=tmp_path / "none.json")
    assert settings.source == "ha"
    assert settings.port == 9000
    assert settings.mqtt is None
    assert not settings.supervisor


def test_inside_the_app_the_supervisor_is_used(tmp_path: Path) -> None:
    options = tmp_path / "options.json"
    options.write_text(
        json.dumps({"tokens": ["abcdefghijklmnop"], "mqtt_url": "mqtt://u:p@core-mosquitto"}),
        encoding="utf-8",
    )
    settings = load([], env={"SUPERVISOR_TOKEN": "sup"}, options_file=options)
    assert settings.ha_url == SUPERVISOR_WS_URL
    assert settings.ha_token == "sup"
    assert settings.supervisor
    assert settings.tokens == ("abcdefghijklmnop",)
    assert settings.mqtt is not None
    assert (settings.mqtt.host, settings.mqtt.port, settings.mqtt.username) == (
        "core-mosquitto",
        1883,
        "u",
    )


def test_flags_beat_environment_beat_options(tmp_path: Path) -> None:
    options = tmp_path / "options.json"
    options.write_text(json.dumps({"port": 9100, "mqtt_prefix": "opt"}), encoding="utf-8")
    env = {"SUNSTREAM_PORT": "9200", "MQTT_PREFIX": "env", "MQTT_URL": "mqtt://broker"}
    assert load(HA, env=env, options_file=options).port == 9200
    assert load([*HA, "--port", "9300"], env=env, options_file=options).port == 9300
    settings = load([*HA, "--mqtt-prefix", "flag"], env=env, options_file=options)
    assert settings.mqtt is not None
    assert settings.mqtt.prefix == "flag"


def test_a_replica_follows_every_prefix_given(tmp_path: Path) -> None:
    """Several Home Assistants' bridges, one prefix each, followed by one replica."""
    argv = [*REPLICA, "--mqtt-prefix", "fleet/ha1", "--mqtt-prefix", "fleet", "--mqtt-prefix", "x"]
    settings = load(argv, env={"MQTT_PREFIX": "env"}, options_file=tmp_path / "none.json")
    assert settings.mqtt is not None
    assert settings.mqtt.prefix == "fleet/ha1"
    assert settings.mqtt.followed == ("fleet/ha1", "fleet", "x")
    one = load(REPLICA, env={"MQTT_PREFIX": "env"}, options_file=tmp_path / "none.json")
    assert one.mqtt is not None
    assert one.mqtt.followed == ("env",)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {}, "Home Assistant is not configured"),
        (["--source", "mqtt"], {}, "needs a broker"),
        ([*HA, "--port", "70000"], {}, "port must be between"),
        ([*HA, "--mqtt-url", "http://x"], {}, "MQTT URL must look like"),
        ([*HA, "--mqtt-url", "mqtt://x:99999"], {}, "invalid port"),
        ([*HA, "--mqtt-prefix", "a/#"], {}, "must not contain"),
        ([*HA, "--mqtt-buffer", "0"], {"MQTT_URL": "mqtt://x"}, "between 1 and"),
        ([*HA, "--mqtt-prefix", "a", "--mqtt-prefix", "b"], {}, "publishes under one"),
        ([*REPLICA, "--mqtt-prefix", "a", "--mqtt-prefix", "a"], {}, "more than once: a"),
        ([*REPLICA, "--mqtt-prefix", "a", "--mqtt-prefix", "b/+"], {}, "must not contain"),
        (HA, {"SUNSTREAM_PORT": "nine"}, "whole number"),
    ],
)
def test_bad_input_is_named(
    tmp_path: Path, argv: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load(argv, env=env, options_file=tmp_path / "none.json")


def test_unreadable_options_file(tmp_path: Path) -> None:
    options = tmp_path / "options.json"
    options.write_text("{not json", encoding="utf-8")
    with pytest.raises(SettingsError, match="Cannot read"):
        load(HA, env={}, options_file=options)


def test_mqtts_defaults_to_8883() -> None:
    mqtt = parse_mqtt_url("mqtts://broker")
    assert (mqtt.tls, mqtt.port) == (True, 8883)
