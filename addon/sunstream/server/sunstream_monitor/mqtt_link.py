"""Reaching the broker: one client per connection attempt.

aiomqtt 2 has no reconnect of its own; the bridge and the MQTT feed each run
a loop that builds a fresh client per attempt (so no paho state — queued
messages, message ids — leaks from a dead session into the next one) and
sleeps between attempts with :class:`~.backoff.Backoff`.
"""

from __future__ import annotations

import functools
import secrets
import ssl

import aiomqtt

from .settings import MqttSettings

# Seconds between keep-alive pings: how long a silently dead link can go unnoticed, about.
KEEPALIVE = 30
# Seconds to wait for CONNACK, SUBACK or PUBACK before calling the link dead.
TIMEOUT = 10.0
# QoS 1 publishes sent before waiting for their PUBACKs (paho's default in-flight window).
INFLIGHT = 20


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's CAs, loaded from disk once rather than on every attempt."""
    return ssl.create_default_context()


def client_id(role: str) -> str:
    """A unique client id: two processes with one id would kick each other off."""
    return f"sunstream-{role}-{secrets.token_hex(4)}"


def make_client(
    settings: MqttSettings,
    *,
    role: str,
    will: aiomqtt.Will | None = None,
) -> aiomqtt.Client:
    """A client for one connection attempt (call inside the event loop)."""
    tls_context = _tls_context() if settings.tls else None
    client = aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.username,
        password=settings.password,
        identifier=client_id(role),
        will=will,
        clean_session=True,
        keepalive=KEEPALIVE,
        timeout=TIMEOUT,
        tls_context=tls_context,
        max_inflight_messages=INFLIGHT,
    )
    # aiomqtt warns when more than 10 calls await their acknowledgement; the bridge keeps
    # INFLIGHT publishes in flight on purpose (bridge.py), so only more than that is news.
    client.pending_calls_threshold = INFLIGHT
    return client
