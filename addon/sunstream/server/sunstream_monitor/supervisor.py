"""MQTT credentials from the Supervisor, inside the app.

The app declares ``services: ["mqtt:want"]``; the Supervisor then answers
``GET /services/mqtt`` with the broker a provider (usually the Mosquitto
app) registered. Nothing guarantees that provider is there yet — ``need`` is
not enforced beyond access — so callers wait with :func:`wait_for_mqtt`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from .backoff import Backoff
from .settings import MqttSettings

_LOGGER = logging.getLogger(__name__)

SUPERVISOR_URL = "http://supervisor"
REQUEST_TIMEOUT = 10.0


async def mqtt_from_supervisor(
    session: aiohttp.ClientSession,
    token: str,
    base: str = SUPERVISOR_URL,
    **extra: Any,
) -> MqttSettings | None:
    """The broker the Supervisor knows of, or ``None`` (logged) when it has none.

    ``extra`` goes to :class:`MqttSettings` as is (``prefix``, ``commands``,
    ``buffer`` from the app's options).
    """
    url = f"{base.rstrip('/')}/services/mqtt"
    try:
        async with session.get(
            url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        ) as response:
            status = response.status
            try:
                body: Any = await response.json(content_type=None)
            except ValueError:
                body = None
    except (aiohttp.ClientError, TimeoutError) as err:
        _LOGGER.warning("Supervisor unreachable at %s: %s", url, err or type(err).__name__)
        return None
    message = body.get("message") if isinstance(body, dict) else None
    if status != 200 or not isinstance(body, dict) or body.get("result") != "ok":
        # 400 "Service not enabled": no broker yet; 403: no "mqtt" in the app's services.
        _LOGGER.warning("Supervisor has no MQTT service (HTTP %d): %s", status, message or body)
        return None
    data = body.get("data")
    try:
        return _settings(data, extra)
    except ValueError as err:
        _LOGGER.error("Supervisor's MQTT service data is unusable: %s", err)
        return None


def _settings(data: Any, extra: dict[str, Any]) -> MqttSettings:
    if not isinstance(data, dict):
        raise ValueError("'data' is not an object")
    host, port = data.get("host"), data.get("port", 1883)
    if not isinstance(host, str) or not host:
        raise ValueError("no host")
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"bad port {port!r}")
    username, password = data.get("username"), data.get("password")
    return MqttSettings(
        host=host,
        port=port,
        username=username if isinstance(username, str) and username else None,
        password=password if isinstance(password, str) and password else None,
        tls=data.get("ssl") is True,
        **extra,
    )


async def wait_for_mqtt(
    session: aiohttp.ClientSession,
    token: str,
    base: str = SUPERVISOR_URL,
    *,
    backoff: Backoff | None = None,
    **extra: Any,
) -> MqttSettings:
    """Ask until the Supervisor has a broker (a Mosquitto app may still be starting)."""
    backoff = backoff or Backoff(base=2.0, cap=60.0)
    while True:
        settings = await mqtt_from_supervisor(session, token, base, **extra)
        if settings is not None:
            return settings
        await asyncio.sleep(backoff.next_delay())
