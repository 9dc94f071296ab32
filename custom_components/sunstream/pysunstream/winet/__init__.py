"""Sungrow WiNet / WiNet-S / WiNet-S2 gateways over their local WebSocket.

Layers, bottom up (each importable and testable on its own):

* sans-I/O core: :mod:`.messages` (frames), :mod:`.values` (value and unit
  parsing), :mod:`.i18n` (translation file), :mod:`.device_types`,
  :mod:`.mapping` (to the data model), :mod:`.session` (protocol state
  machine), :mod:`.watchdog` (reconnects are spaced by the shared
  :mod:`..backoff`);
* I/O: :mod:`.client` (aiohttp WebSocket + HTTP), :mod:`.tls`,
  :mod:`.endpoint`, :mod:`.metrics`;
* the Sunstream source: :class:`WinetSource`.

What the integration normally needs is re-exported here.
"""

from __future__ import annotations

from ..backoff import Backoff
from .client import DEFAULT_PASSWORD, DEFAULT_REQUEST_TIMEOUT, DEFAULT_USERNAME, WinetClient
from .device_types import DeviceInfo
from .endpoint import Endpoint, Ports
from .errors import AuthenticationFailed, CertificateMismatch, WinetProtocolError
from .gateway import GatewayInfo
from .i18n import I18n
from .metrics import ConnectionMetrics
from .source import (
    DEFAULT_POLL_INTERVAL,
    MIN_POLL_INTERVAL,
    SOURCE_TYPE,
    GatewayDescription,
    WinetSource,
)
from .tls import TlsConfig, TlsMode, async_fetch_fingerprint, normalise_fingerprint

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_USERNAME",
    "MIN_POLL_INTERVAL",
    "SOURCE_TYPE",
    "AuthenticationFailed",
    "Backoff",
    "CertificateMismatch",
    "ConnectionMetrics",
    "DeviceInfo",
    "Endpoint",
    "GatewayDescription",
    "GatewayInfo",
    "I18n",
    "Ports",
    "TlsConfig",
    "TlsMode",
    "WinetClient",
    "WinetProtocolError",
    "WinetSource",
    "async_fetch_fingerprint",
    "normalise_fingerprint",
]
