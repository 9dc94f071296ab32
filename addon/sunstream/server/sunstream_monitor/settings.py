"""Settings: command line, environment and the app's ``/data/options.json``.

Precedence, lowest to highest: defaults, the options file (inside the app),
environment variables, command-line flags. Inside the app the Supervisor
provides ``SUPERVISOR_TOKEN`` and Home Assistant is reached through it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from .mqtt_topics import check_prefix

SUPERVISOR_WS_URL = "ws://supervisor/core/websocket"
OPTIONS_FILE = Path("/data/options.json")
# Where the Supervisor's ingress proxy connects from (developers' docs, apps/presentation);
# trusted by :func:`load` only when the Supervisor started us (SUPERVISOR_TOKEN is set).
INGRESS_PROXY = "172.30.32.2"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which and why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttSettings:
    """Where the broker is and how the bridge uses it."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    prefix: str = "sunstream"
    # More prefixes a ``--source mqtt`` replica follows: one per publishing server, so one
    # replica serves the systems of several Home Assistants (a bridge publishes under one).
    also_follow: tuple[str, ...] = ()
    commands: bool = False
    buffer: int = 10_000

    @property
    def followed(self) -> tuple[str, ...]:
        """Every prefix a replica subscribes under, its own first."""
        return (self.prefix, *self.also_follow)


# Connection caps of each client endpoint (see admission.py).
DEFAULT_MAX_CLIENTS: Final = 10_000
DEFAULT_MAX_CLIENTS_PER_IP: Final = 1_000
# Messages waiting for one client before it is closed (Home Assistant's MAX_PENDING_MSG).
DEFAULT_CLIENT_QUEUE: Final = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the server needs to start."""

    source: str = "ha"  # "ha" or "mqtt"
    ha_url: str | None = None
    ha_token: str | None = None
    supervisor: bool = False
    host: str = "0.0.0.0"
    port: int = 9000
    tokens: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    mqtt: MqttSettings | None = None
    max_clients: int = DEFAULT_MAX_CLIENTS
    max_clients_per_ip: int = DEFAULT_MAX_CLIENTS_PER_IP
    client_queue: int = DEFAULT_CLIENT_QUEUE
    push_interval: float = 5.0
    trusted_proxies: tuple[str, ...] = field(default=(INGRESS_PROXY,))
    log_level: str = "info"


def parse_mqtt_url(url: str, **extra: Any) -> MqttSettings:
    """``mqtt://user:pass@host:port`` (or ``mqtts://``) to :class:`MqttSettings`."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise SettingsError(f"MQTT URL must look like mqtt://user:password@host:1883, got {url!r}")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as err:
        raise SettingsError(f"MQTT URL has an invalid port: {url!r}") from err
    return MqttSettings(
        host=parts.hostname,
        port=port,
        username=parts.username or None,
        password=parts.password or None,
        tls=tls,
        **extra,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sunstream_monitor",
        description="Live WebSocket, Socket.IO, HTTP and MQTT feeds of Sunstream systems.",
    )
    parser.add_argument("--source", choices=("ha", "mqtt"), help="where data comes from")
    parser.add_argument(
        "--ha-url", help="Home Assistant WebSocket URL, e.g. ws://ha:8123/api/websocket"
    )
    parser.add_argument("--ha-token", help="long-lived access token (env HA_TOKEN)")
    parser.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port to listen on (default 9000)")
    parser.add_argument("--token", action="append", dest="tokens", help="an accepted API token")
    parser.add_argument(
        "--origin", action="append", dest="origins", help="an allowed browser origin"
    )
    parser.add_argument("--mqtt-url", help="broker, e.g. mqtt://user:password@host:1883")
    parser.add_argument(
        "--mqtt-prefix",
        action="append",
        dest="mqtt_prefixes",
        help="topic prefix (default sunstream); a --source mqtt replica may follow several "
        "publishing servers: give it once per server's prefix",
    )
    parser.add_argument("--mqtt-commands", action="store_true", default=None)
    parser.add_argument(
        "--mqtt-buffer", type=int, help="QoS 1 messages kept while the broker is down"
    )
    parser.add_argument("--max-clients", type=int)
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    return parser


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _first(*values: Any) -> int:
    """The first value given (0 counts), as an int; a malformed one is a SettingsError."""
    value = next(v for v in values if v is not None and v != "")
    try:
        return int(value)
    except (TypeError, ValueError) as err:
        raise SettingsError(f"expected a whole number, got {value!r}") from err


def _check_prefixes(prefixes: tuple[str, ...], source: str) -> None:
    """Each a valid prefix; several only for a replica, each once.

    Nested prefixes (``sunstream`` and ``sunstream/ha2``) are fine: a
    system's topics are exactly two levels below its prefix, so the
    subscriptions of one never match the topics of the other.
    """
    try:
        for prefix in prefixes:
            check_prefix(prefix)
    except ValueError as err:
        raise SettingsError(str(err)) from err
    if len(prefixes) > 1 and source != "mqtt":
        raise SettingsError(
            "a server fed by Home Assistant publishes under one --mqtt-prefix; "
            "several are for --source mqtt replicas"
        )
    repeated = sorted({prefix for prefix in prefixes if prefixes.count(prefix) > 1})
    if repeated:
        raise SettingsError(f"MQTT prefix given more than once: {', '.join(repeated)}")


def load(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    options_file: Path = OPTIONS_FILE,
) -> Settings:
    """Merge every layer into :class:`Settings`; raise :class:`SettingsError` on bad input."""
    env = os.environ if env is None else env
    args = _parser().parse_args(argv)
    options: dict[str, Any] = {}
    if options_file.is_file():
        try:
            options = json.loads(options_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise SettingsError(f"Cannot read {options_file}: {err}") from err

    supervisor_token = env.get("SUPERVISOR_TOKEN")
    source = args.source or env.get("SUNSTREAM_SOURCE") or options.get("source") or "ha"
    ha_url = args.ha_url or env.get("HA_URL") or options.get("ha_url")
    ha_token = args.ha_token or env.get("HA_TOKEN") or options.get("ha_token")
    supervisor = False
    if not ha_url and supervisor_token:
        ha_url, ha_token, supervisor = SUPERVISOR_WS_URL, supervisor_token, True
    if source == "ha" and not (ha_url and ha_token):
        raise SettingsError(
            "Home Assistant is not configured: give --ha-url and --ha-token "
            "(or HA_URL and HA_TOKEN), or run inside the app, or use --source mqtt"
        )

    tokens = tuple(args.tokens or ()) + _split(env.get("SUNSTREAM_TOKENS"))
    tokens += tuple(str(t) for t in options.get("tokens", ()) if t)
    origins = tuple(args.origins or ()) + _split(env.get("SUNSTREAM_ORIGINS"))
    origins += tuple(str(o) for o in options.get("origins", ()) if o)

    mqtt: MqttSettings | None = None
    mqtt_url = args.mqtt_url or env.get("MQTT_URL") or options.get("mqtt_url")
    prefixes = tuple(args.mqtt_prefixes or ()) or (
        env.get("MQTT_PREFIX") or options.get("mqtt_prefix") or "sunstream",
    )
    commands = bool(args.mqtt_commands or options.get("mqtt_commands", False))
    buffer = _first(args.mqtt_buffer, options.get("mqtt_buffer"), 10_000)
    _check_prefixes(prefixes, source)
    if mqtt_url:
        mqtt = parse_mqtt_url(
            mqtt_url,
            prefix=prefixes[0],
            also_follow=prefixes[1:],
            commands=commands,
            buffer=buffer,
        )
    if source == "mqtt" and mqtt is None:
        raise SettingsError("--source mqtt needs a broker: give --mqtt-url or MQTT_URL")
    if not 1 <= buffer <= 1_000_000:
        raise SettingsError("--mqtt-buffer must be between 1 and 1000000")

    port = _first(args.port, env.get("SUNSTREAM_PORT"), options.get("port"), 9000)
    if not 1 <= port <= 65535:
        raise SettingsError(f"port must be between 1 and 65535, got {port}")
    return Settings(
        source=source,
        ha_url=ha_url,
        ha_token=ha_token,
        supervisor=supervisor,
        host=args.host or env.get("SUNSTREAM_HOST") or "0.0.0.0",
        port=port,
        tokens=tokens,
        origins=origins,
        mqtt=mqtt,
        max_clients=_first(args.max_clients, options.get("max_clients"), DEFAULT_MAX_CLIENTS),
        # Ingress exists only under the Supervisor. Elsewhere 172.30.32.2 is
        # just an address someone on the network may hold, whose headers
        # must not stand in for a token.
        trusted_proxies=(INGRESS_PROXY,) if supervisor_token else (),
        log_level=args.log_level or str(options.get("log_level", "info")),
    )
