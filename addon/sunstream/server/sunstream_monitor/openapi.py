"""The OpenAPI 3.1 description of the HTTP API, and a small page that shows it.

Seed 002 (docs/protocols/app-seeds.md#seed-002) served Swagger UI from a
CDN; the app must work offline (and behind ingress), so ``/docs`` is a
self-contained page: it fetches ``openapi.json`` relative to itself, lists
the operations and can try the ``GET`` ones with a token typed into the page
(kept in memory only). The page's one inline script is allowed by its hash
in a strict Content-Security-Policy.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Final

from . import __version__
from .hub import SourceKind

_JSON: Final = "application/json"
_PROBLEM: Final = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_PROBLEM: {"schema": _ref("Problem")}}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


_NUMBER: Final = {"type": ["number", "null"]}
_AUTH_ERRORS: Final = {
    "401": _problem("No token, or the token was not accepted"),
    "429": _problem("Too many failed authentications from this address; see Retry-After"),
}

_SCHEMAS: Final[dict[str, Any]] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string", "description": "Stable machine-readable reason"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "feed_connected"],
        "properties": {
            "status": {"const": "ok"},
            "feed_connected": {
                "type": "boolean",
                "description": "Whether the feed (Home Assistant or the broker) is reachable now",
            },
            "version": {"type": "string"},
        },
    },
    "MonitoringData": {
        "type": "object",
        "description": "One system's live document. Numbers are null when unknown.",
        "required": ["system_id", "status", "last_updated"],
        "properties": {
            "system_id": {"type": "string"},
            "name": {"type": "string"},
            "source": {"type": "string"},
            "status": {"enum": ["online", "offline", "maintenance"]},
            "current_generation_kw": _NUMBER,
            "today_generation_kwh": _NUMBER,
            "monthly_generation_kwh": _NUMBER,
            "total_generation_kwh": _NUMBER,
            "today_savings": _NUMBER,
            "monthly_savings": _NUMBER,
            "total_savings": _NUMBER,
            "currency": {"type": ["string", "null"]},
            "co2_offset_kg": _NUMBER,
            "trees_planted_equivalent": _NUMBER,
            "battery": {
                "type": ["object", "null"],
                "description": "Power + discharge / − charge",
                "properties": {
                    "soc_percent": _NUMBER,
                    "power_kw": _NUMBER,
                    "charge_energy_kwh": _NUMBER,
                    "discharge_energy_kwh": _NUMBER,
                    "mode": {"type": ["string", "null"]},
                },
            },
            "grid": {
                "type": "object",
                "description": "Power + import / − export",
                "properties": {
                    "power_kw": _NUMBER,
                    "import_energy_kwh": _NUMBER,
                    "export_energy_kwh": _NUMBER,
                },
            },
            "load": {"type": "object", "properties": {"power_kw": _NUMBER}},
            "inverter": {
                "type": "object",
                "properties": {
                    "temperature_c": _NUMBER,
                    "status": {"type": ["string", "null"]},
                },
            },
            "chart_data": {
                "type": "object",
                "description": "The last 24 hours, hourly, oldest first",
                "properties": {
                    "labels": {"type": "array", "items": {"type": "string"}},
                    "values": {"type": "array", "items": {"type": "number"}},
                },
            },
            "last_updated": {"type": "string", "format": "date-time"},
        },
    },
    "SystemSummary": {
        "type": "object",
        "required": ["system_id", "name", "source", "status"],
        "properties": {
            "system_id": {"type": "string"},
            "name": {"type": "string"},
            "source": {"enum": [kind.value for kind in SourceKind]},
            "status": {"enum": ["online", "offline", "maintenance", "unknown"]},
            "connected": {"type": ["boolean", "null"]},
            "last_updated": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "SystemList": {
        "type": "object",
        "required": ["systems", "feed_connected"],
        "properties": {
            "systems": {"type": "array", "items": _ref("SystemSummary")},
            "feed_connected": {"type": "boolean"},
        },
    },
    "Alert": {
        "type": "object",
        "required": ["alert_id", "system_id", "rule", "severity", "state", "raised_at"],
        "properties": {
            "alert_id": {"type": "string"},
            "system_id": {"type": "string"},
            "rule": {"type": "string"},
            "severity": {"type": "string"},
            "state": {"enum": ["raised", "cleared"]},
            "value": _NUMBER,
            "threshold": _NUMBER,
            "raised_at": {"type": "string", "format": "date-time"},
            "cleared_at": {"type": ["string", "null"], "format": "date-time"},
            "acknowledged": {"type": "boolean"},
            "acknowledged_at": {"type": ["string", "null"], "format": "date-time"},
            "acknowledged_by": {"type": ["string", "null"]},
        },
    },
    "AlertList": {
        "type": "object",
        "required": ["alerts"],
        "properties": {"alerts": {"type": "array", "items": _ref("Alert")}},
    },
    "Stats": {
        "type": "object",
        "description": (
            "Connection statistics in the shape existing dashboards read, exactly (the app's "
            "own counters are at GET /api/stats)."
        ),
        "required": ["status", "endpoint", "stats"],
        "additionalProperties": False,
        "properties": {
            "status": {"const": "WebSocket Server Running"},
            "endpoint": {"const": "/ws/monitoring/:system_id"},
            "stats": {
                "type": "object",
                "required": ["total_connections", "active_systems", "systems"],
                "additionalProperties": False,
                "properties": {
                    "total_connections": {
                        "type": "integer",
                        "description": "Open WebSocket connections (both endpoints)",
                    },
                    "active_systems": {
                        "type": "integer",
                        "description": "Systems with at least one WebSocket watcher",
                    },
                    "systems": {
                        "type": "array",
                        "description": "Watchers per system (/ws/monitoring plus /ws subscribers)",
                        "items": {
                            "type": "object",
                            "required": ["system_id", "connections"],
                            "additionalProperties": False,
                            "properties": {
                                "system_id": {"type": "string"},
                                "connections": {"type": "integer"},
                            },
                        },
                    },
                },
            },
        },
    },
    "ServerStats": {
        "type": "object",
        "description": "The Sunstream app's own counters, beside the connection statistics.",
        "required": [
            "monitoring_connections",
            "channel_connections",
            "evicted_slow_clients",
            "refused_connections",
            "socketio",
        ],
        "properties": {
            "monitoring_connections": {"type": "integer"},
            "channel_connections": {"type": "integer"},
            "evicted_slow_clients": {"type": "integer"},
            "refused_connections": {"type": "integer"},
            "socketio": {
                "type": "object",
                "required": ["connections", "refused", "evicted", "systems"],
                "properties": {
                    "connections": {"type": "integer"},
                    "refused": {"type": "integer"},
                    "evicted": {"type": "integer"},
                    "systems": {"type": "object", "additionalProperties": {"type": "integer"}},
                },
            },
        },
    },
    "DeviceData": {
        "type": "object",
        "description": (
            "Socket.IO `device:data` event: what existing dashboards destructure as "
            "`({deviceId, data, timestamp})`."
        ),
        "required": ["deviceId", "data", "timestamp"],
        "additionalProperties": False,
        "properties": {
            "deviceId": {"type": "string", "description": "The system id"},
            "data": _ref("MonitoringData"),
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "description": "When the app took the document in",
            },
        },
    },
    "DeviceAlerts": {
        "type": "object",
        "description": (
            "Socket.IO `device:alerts` event, `({deviceId, alerts})`: the alerts that changed."
        ),
        "required": ["deviceId", "alerts"],
        "additionalProperties": False,
        "properties": {
            "deviceId": {"type": "string", "description": "The system id"},
            "alerts": {"type": "array", "items": _ref("Alert")},
        },
    },
    "BroadcastRequest": {
        "type": "object",
        "required": ["message"],
        "properties": {
            "system_id": {
                "type": "string",
                "description": "Only this system's watchers; omit for every client",
            },
            "message": {
                "type": "object",
                "description": (
                    "Sent verbatim as one JSON text frame to WebSocket clients, and as a "
                    "`broadcast` event to Socket.IO clients"
                ),
            },
        },
    },
    "BroadcastResult": {
        "type": "object",
        "required": ["delivered"],
        "properties": {
            "delivered": {
                "type": "integer",
                "description": "WebSocket and Socket.IO clients it was sent to",
            },
            "system_id": {"type": ["string", "null"]},
        },
    },
}

_SYSTEM_ID: Final = {
    "name": "system_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}

_WS_DESCRIPTION: Final = (
    "WebSocket upgrade. Authenticate with an `Authorization: Bearer` header, or (browsers) "
    'answer the server\'s `{"type":"auth_required"}` with `{"type":"auth","access_token":…}` '
    "within 10 s; the server replies `auth_ok`, or `auth_invalid` and closes with 4401. "
    "Frames are JSON text; malformed or unknown messages get "
    '`{"type":"error","code":…,"message":…}`; frames over 64 KiB close the socket with 1009; '
    "a client that cannot keep up is closed with 1008."
)


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (paths are relative, so it works behind ingress)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "The Sunstream app",
            "version": __version__,
            "description": (
                "Live data of Sunstream solar systems, fed from Home Assistant. Every operation "
                "except /health, /openapi.json and /docs needs a bearer token: one configured in "
                "the app, or a Home Assistant access token. Errors are "
                "application/problem+json."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "."}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "health"},
            {"name": "systems"},
            {"name": "alerts"},
            {"name": "websocket"},
            {"name": "admin"},
        ],
        "paths": {
            "/health": {
                "get": {
                    "tags": ["health"],
                    "summary": "Liveness for the Supervisor watchdog",
                    "description": (
                        "200 while the server runs, even when Home Assistant is unreachable: "
                        "a restart would not bring HA back, and the server keeps serving the "
                        "last known data and reconnecting. `feed_connected` tells the difference."
                    ),
                    "security": [],
                    "operationId": "health",
                    "responses": {"200": _ok("The server is running", _ref("Health"))},
                }
            },
            "/api/systems": {
                "get": {
                    "tags": ["systems"],
                    "summary": "Every known system",
                    "operationId": "listSystems",
                    "responses": {"200": _ok("Systems", _ref("SystemList")), **_AUTH_ERRORS},
                }
            },
            "/api/systems/{system_id}": {
                "get": {
                    "tags": ["systems"],
                    "summary": "A system's latest MonitoringData",
                    "operationId": "getSystem",
                    "parameters": [_SYSTEM_ID],
                    "responses": {
                        "200": _ok("The latest document", _ref("MonitoringData")),
                        "404": _problem("No such system"),
                        "503": _problem("The system is known but has no data yet"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/api/alerts": {
                "get": {
                    "tags": ["alerts"],
                    "summary": "Alerts, newest first",
                    "operationId": "listAlerts",
                    "parameters": [
                        {"name": "system_id", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "active",
                            "in": "query",
                            "description": "true: only alerts still raised",
                            "schema": {"type": "boolean"},
                        },
                    ],
                    "responses": {
                        "200": _ok("Alerts", _ref("AlertList")),
                        "400": _problem("Bad query parameter"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/api/alerts/{alert_id}/acknowledge": {
                "post": {
                    "tags": ["alerts"],
                    "summary": "Acknowledge an alert (here and in Home Assistant)",
                    "operationId": "acknowledgeAlert",
                    "parameters": [
                        {
                            "name": "alert_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": _ok(
                            "The acknowledged alert",
                            {"type": "object", "properties": {"alert": _ref("Alert")}},
                        ),
                        "404": _problem("No such alert"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/api/broadcast": {
                "post": {
                    "tags": ["admin"],
                    "summary": "Send a message to one system's watchers or to every client",
                    "description": "Needs a token configured in the app (admin role).",
                    "operationId": "broadcast",
                    "requestBody": {
                        "required": True,
                        "content": {_JSON: {"schema": _ref("BroadcastRequest")}},
                    },
                    "responses": {
                        "200": _ok("How many clients it was sent to", _ref("BroadcastResult")),
                        "400": _problem("Malformed body"),
                        "403": _problem("The caller is not an admin"),
                        "404": _problem("No such system"),
                        "413": _problem("Body larger than 64 KiB"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/ws/monitoring": {
                "get": {
                    "tags": ["websocket"],
                    "summary": "Connection statistics",
                    "operationId": "stats",
                    "responses": {"200": _ok("Statistics", _ref("Stats")), **_AUTH_ERRORS},
                }
            },
            "/api/stats": {
                "get": {
                    "tags": ["websocket"],
                    "summary": "This server's connection counters (evictions, refusals, Socket.IO)",
                    "operationId": "serverStats",
                    "responses": {
                        "200": _ok("Counters", _ref("ServerStats")),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/ws/monitoring/{system_id}": {
                "get": {
                    "tags": ["websocket"],
                    "summary": "WebSocket: one system's MonitoringData, pushed",
                    "description": (
                        _WS_DESCRIPTION
                        + ' Pushes `{"type":"monitoring_data","system_id":…,"data":{…}}` on '
                        "connect, on every change and at least every 5 s; an unknown system "
                        "gets an `unknown_system` error frame and close code 4404. Accepts "
                        '`{"type":"ping"}`.'
                    ),
                    "operationId": "monitoringSocket",
                    "parameters": [_SYSTEM_ID],
                    "responses": {
                        "101": {"description": "Switching to the WebSocket protocol"},
                        "400": _problem("Not a WebSocket upgrade"),
                        "403": _problem("Browser origin not allowed"),
                        "503": _problem("Server connection limit reached"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/ws": {
                "get": {
                    "tags": ["websocket"],
                    "summary": "WebSocket: subscriptions, status, events",
                    "description": (
                        _WS_DESCRIPTION
                        + " Client messages: `subscribe` / `unsubscribe` (`system_id`, `*` for "
                        "all), `request_status`, `ping` (→ `pong`), `acknowledge_alert` "
                        "(`alert_id`); an optional `id` is echoed. Server messages: "
                        "`connection_status`, `monitoring_update`, `power_update`, "
                        "`connectivity`, `modbus_connected` / `modbus_disconnected` "
                        "(sources `modbus` and `sungrow_modbus`), "
                        "`alert`, `alert_acknowledged`, `dispatch`."
                    ),
                    "operationId": "channelSocket",
                    "responses": {
                        "101": {"description": "Switching to the WebSocket protocol"},
                        "400": _problem("Not a WebSocket upgrade"),
                        "403": _problem("Browser origin not allowed"),
                        "503": _problem("Server connection limit reached"),
                        **_AUTH_ERRORS,
                    },
                }
            },
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "A token configured in the app, or a Home Assistant access token"
                    ),
                }
            },
        },
    }


_SCRIPT: Final = """
"use strict";
const out = document.getElementById("ops");
const tokenBox = document.getElementById("token");
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
async function tryIt(path, result) {
  const headers = {};
  if (tokenBox.value) headers["Authorization"] = "Bearer " + tokenBox.value;
  result.textContent = "…";
  try {
    const r = await fetch(path.replace(/^\\//, ""), {headers});
    const text = await r.text();
    let body = text;
    try { body = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
    result.textContent = r.status + " " + r.statusText + "\\n" + body;
  } catch (e) {
    result.textContent = String(e);
  }
}
fetch("openapi.json").then((r) => r.json()).then((spec) => {
  document.getElementById("title").textContent = spec.info.title + " " + spec.info.version;
  document.getElementById("about").textContent = spec.info.description;
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const box = el("section", undefined, "op");
      const head = el("h2");
      head.append(el("span", method.toUpperCase(), "method " + method), el("code", path));
      box.append(head, el("p", op.summary));
      if (op.description) box.append(el("p", op.description, "desc"));
      const codes = Object.entries(op.responses)
        .map(([code, r]) => code + " " + r.description).join(" · ");
      box.append(el("p", codes, "codes"));
      if (method === "get" && !path.includes("{") && !path.startsWith("/ws/monitoring/")
          && path !== "/ws") {
        const button = el("button", "Try it");
        const result = el("pre");
        button.addEventListener("click", () => tryIt(path, result));
        box.append(button, result);
      }
      out.append(box);
    }
  }
  const raw = el("details");
  raw.append(el("summary", "openapi.json"), el("pre", JSON.stringify(spec, null, 2)));
  out.append(raw);
}).catch((e) => { out.textContent = "Could not load openapi.json: " + e; });
"""

_STYLE: Final = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem;
       color: #1d232a; background: #fafbfc; }
.op { background: #fff; border: 1px solid #d8dee4; border-radius: 6px; margin: 1rem 0;
      padding: .2rem 1rem; }
h2 { font-size: 1rem; display: flex; gap: .6rem; align-items: center; }
.method { font: 600 .8rem monospace; padding: .15rem .5rem; border-radius: 4px; color: #fff;
          background: #0969da; }
.method.post { background: #1a7f37; }
.desc, .codes { color: #57606a; font-size: .9rem; }
pre { background: #f6f8fa; padding: .6rem; overflow: auto; max-height: 24rem; }
input { width: 28rem; max-width: 100%; }
"""

DOCS_HTML: Final = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>The Sunstream app API</title><style>{_STYLE}</style></head>
<body><h1 id="title">The Sunstream app API</h1><p id="about"></p>
<p><label>Bearer token (kept in this page only):
<input id="token" type="password" autocomplete="off"></label>
· <a href="openapi.json">openapi.json</a></p>
<div id="ops"></div>
<script>{_SCRIPT}</script></body></html>
"""

_SCRIPT_HASH: Final = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()

DOCS_CSP: Final = (
    "default-src 'none'; "
    f"script-src 'sha256-{_SCRIPT_HASH}'; "
    "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)
