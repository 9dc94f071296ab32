"""Where a gateway listens, and how to find out (plain or TLS).

Older firmware serves HTTP on 80 and WebSocket on 8082; WiNet-S2 and
WiNet-S since ``P026`` serve both over TLS on 443 only
(docs/protocols/winet.md#transport). Like other clients, this one fetches the
translation file over HTTP first and falls back to HTTPS; unlike the most
used one it requires a 200 with a body that is a translation file, so a 404
page cannot select the wrong transport.
"""

from __future__ import annotations

from dataclasses import dataclass

WS_PATH = "/ws/home/overview"


@dataclass(frozen=True, slots=True)
class Ports:
    """The gateway's ports; the defaults are the device's, tests override them.

    WSS shares the HTTPS port, as on the device.
    """

    http: int = 80
    ws: int = 8082
    https: int = 443


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A resolved transport: host, TLS or not, and ports."""

    host: str
    secure: bool
    ports: Ports = Ports()

    @property
    def _netloc_host(self) -> str:
        host = self.host
        return f"[{host}]" if ":" in host and not host.startswith("[") else host

    @property
    def http_base(self) -> str:
        """``http(s)://host:port`` for the HTTP endpoints."""
        if self.secure:
            return f"https://{self._netloc_host}:{self.ports.https}"
        return f"http://{self._netloc_host}:{self.ports.http}"

    @property
    def ws_url(self) -> str:
        """The WebSocket URL."""
        if self.secure:
            return f"wss://{self._netloc_host}:{self.ports.https}{WS_PATH}"
        return f"ws://{self._netloc_host}:{self.ports.ws}{WS_PATH}"
