"""The Sunstream app's program: live feeds of Sunstream systems for outside dashboards.

The server knows nothing of how Sunstream reads devices. It follows the
integration through Home Assistant's WebSocket API (or, scaled out, through
the MQTT topics another instance publishes) and serves what it learns over
WebSocket, Socket.IO, HTTP and MQTT.
"""

from __future__ import annotations

__version__ = "0.1.0"
