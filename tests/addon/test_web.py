"""The monitor's HTTP API and WebSocket endpoints, over real loopback sockets."""

from __future__ import annotations

import asyncio
from dataclasses import replace
import importlib.util
import itertools
import time
from typing import Any

import aiohttp
import orjson
import pytest

from sunstream_monitor.auth import FailureTracker
from sunstream_monitor.clients import CLOSE_TIMEOUT, MAX_MESSAGE_BYTES
from sunstream_monitor.hub import SourceKind
from sunstream_monitor.web import API_KEY, CLIENTS_KEY

from .web_support import (
    ADMIN_TOKEN,
    GARAGE,
    HA_TOKEN,
    HA_USER,
    ROOFTOP,
    WAIT,
    ServerFactory,
    closed,
    document,
    eventually,
    make_server,
    receive,
    receive_type,
)

__all__ = ["make_server"]

PROBLEM = "application/problem+json"


# -- HTTP -----------------------------------------------------------------------------------------


async def test_health_needs_no_token_and_reports_the_feed(make_server: ServerFactory) -> None:
    server = await make_server()
    status, headers, body = await server.get("/health", token=None)
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert body["status"] == "ok"
    assert body["feed_connected"] is False
    server.hub.set_feed_connected(True)
    _, _, body = await server.get("/health", token=None)
    assert body == {"status": "ok", "feed_connected": True, "version": body["version"]}


@pytest.mark.parametrize(
    "path",
    ["/api/systems", "/api/systems/rooftop", "/api/alerts", "/ws/monitoring", "/api/stats"],
)
async def test_data_needs_a_token(make_server: ServerFactory, path: str) -> None:
    server = await make_server()
    status, headers, body = await server.get(path, token=None)
    assert status == 401
    assert headers["Content-Type"] == PROBLEM
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert body["status"] == 401
    assert body["code"] == "unauthorized"
    status, _, body = await server.get(path, token="wrong-token")
    assert status == 401
    assert "not accepted" in body["detail"]
    status, _, _ = await server.get(path, headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert status == 200  # the admin bearer header is added on top; Basic alone is ignored
    status, _, _ = await server.get(path, token=None, headers={"Authorization": "Basic eA=="})
    assert status == 401


async def test_systems_list_and_latest_document(make_server: ServerFactory) -> None:
    server = await make_server()
    server.hub.set_feed_connected(True)
    status, _, body = await server.get("/api/systems", token=HA_TOKEN)
    assert status == 200
    assert body["feed_connected"] is True
    by_id = {s["system_id"]: s for s in body["systems"]}
    assert by_id["rooftop"] == {
        "system_id": "rooftop",
        "name": "Rooftop",
        "source": "simulated",
        "status": "online",
        "connected": True,
        "last_updated": "2026-11-23T14:00:00+00:00",
    }
    assert by_id["garage"]["status"] == "unknown"
    assert by_id["garage"]["source"] == "modbus"

    status, _, body = await server.get("/api/systems/rooftop")
    assert status == 200
    assert body == document("rooftop")

    status, headers, body = await server.get("/api/systems/nowhere")
    assert status == 404
    assert headers["Content-Type"] == PROBLEM
    assert body["code"] == "unknown_system"

    status, headers, body = await server.get("/api/systems/garage")
    assert status == 503
    assert body["code"] == "no_data"
    assert headers["Retry-After"] == "5"


async def test_alerts_list_filter_and_acknowledge(make_server: ServerFactory) -> None:
    server = await make_server()
    hub = server.hub
    hub.raise_alert("rooftop", {"rule": "low_soc", "severity": "warning", "value": 9})
    hub.raise_alert("garage", {"rule": "offline", "severity": "critical"})
    hub.raise_alert("garage", {"rule": "offline", "state": "cleared"})

    status, _, body = await server.get("/api/alerts")
    assert status == 200
    assert [a["alert_id"] for a in body["alerts"]] == ["garage:offline", "rooftop:low_soc"]
    _, _, body = await server.get("/api/alerts?active=true")
    assert [a["alert_id"] for a in body["alerts"]] == ["rooftop:low_soc"]
    _, _, body = await server.get("/api/alerts?system_id=garage")
    assert [a["alert_id"] for a in body["alerts"]] == ["garage:offline"]
    status, _, body = await server.get("/api/alerts?active=maybe")
    assert status == 400
    assert body["code"] == "invalid_parameter"

    channel = await server.ws("/ws")
    await receive_type(channel, "connection_status")
    await channel.send_json({"type": "subscribe", "system_id": "rooftop"})
    await receive_type(channel, "subscribed")

    status, _, body = await server.post("/api/alerts/rooftop:low_soc/acknowledge", token=HA_TOKEN)
    assert status == 200
    assert body["alert"]["acknowledged"] is True
    assert body["alert"]["acknowledged_by"] == HA_USER
    pushed = await receive_type(channel, "alert_acknowledged")
    assert pushed["data"]["alert_id"] == "rooftop:low_soc"

    status, _, body = await server.post("/api/alerts/nope/acknowledge")
    assert status == 404
    assert body["code"] == "unknown_alert"
    status, _, _ = await server.post("/api/alerts/rooftop:low_soc/acknowledge", token=None)
    assert status == 401


def contract_stats(body: dict[str, Any]) -> dict[str, int]:
    """Read GET /ws/monitoring as existing dashboards do (docs/app-api.md): exactly its keys."""
    assert set(body) == {"status", "endpoint", "stats"}
    assert body["status"] == "WebSocket Server Running"
    assert body["endpoint"] == "/ws/monitoring/:system_id"
    stats = body["stats"]
    assert set(stats) == {"total_connections", "active_systems", "systems"}
    systems = {}
    for entry in stats["systems"]:
        assert set(entry) == {"system_id", "connections"}
        systems[entry["system_id"]] = entry["connections"]
    assert stats["active_systems"] == len(systems)
    return {"total": stats["total_connections"], **systems}


async def test_stats_in_the_seed_shape(make_server: ServerFactory) -> None:
    server = await make_server()
    _, _, body = await server.get("/ws/monitoring")
    assert contract_stats(body) == {"total": 0}

    await server.ws("/ws/monitoring/rooftop")
    await server.ws("/ws/monitoring/rooftop")
    garage = await server.ws("/ws/monitoring/garage")
    channel = await server.ws("/ws")
    await channel.send_json({"type": "subscribe", "system_id": "garage"})
    await receive_type(channel, "subscribed")
    await receive(garage)

    _, _, body = await server.get("/ws/monitoring")
    assert contract_stats(body) == {"total": 4, "rooftop": 2, "garage": 2}
    # The app's own counters are beside the contract document, not in it.
    _, _, counters = await server.get("/api/stats")
    assert counters["monitoring_connections"] == 3
    assert counters["channel_connections"] == 1
    if importlib.util.find_spec("sunstream_monitor.sio") is not None:
        assert counters["socketio"]["connections"] == 0

    await garage.close()
    await eventually(lambda: len(server.app[CLIENTS_KEY]) == 3)
    _, _, body = await server.get("/ws/monitoring")
    assert contract_stats(body) == {"total": 3, "rooftop": 2, "garage": 1}


async def test_unknown_route_and_method_are_problems(make_server: ServerFactory) -> None:
    server = await make_server()
    status, headers, body = await server.get("/nothing/here")
    assert status == 404
    assert headers["Content-Type"] == PROBLEM
    assert body["status"] == 404
    status, headers, body = await server.post("/api/systems")
    assert status == 405
    assert headers["Content-Type"] == PROBLEM
    assert "GET" in headers["Allow"]


async def test_openapi_document_and_docs_page(make_server: ServerFactory) -> None:
    server = await make_server()
    status, _, spec = await server.get("/openapi.json", token=None)
    assert status == 200
    assert spec["openapi"] == "3.1.0"
    for path in (
        "/health",
        "/api/systems",
        "/api/systems/{system_id}",
        "/api/alerts",
        "/api/alerts/{alert_id}/acknowledge",
        "/api/broadcast",
        "/ws/monitoring",
        "/api/stats",
        "/ws/monitoring/{system_id}",
        "/ws",
    ):
        assert path in spec["paths"], path
    assert spec["paths"]["/health"]["get"]["security"] == []
    # Every $ref resolves.
    schemas = spec["components"]["schemas"]
    for ref in _refs(spec):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref

    status, headers, page = await server.get("/docs", token=None)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "openapi.json" in page
    assert "https://" not in page  # no CDN
    assert "script-src 'sha256-" in headers["Content-Security-Policy"]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        for value in node.values():
            found += _refs(value)
        return found
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


async def test_dashboard_files(make_server: ServerFactory, tmp_path: Any) -> None:
    server = await make_server()
    server.app[API_KEY].static_dir = tmp_path
    status, headers, body = await server.get("/", token=None)
    assert status == 404
    assert headers["Content-Type"] == PROBLEM
    assert body["code"] == "not_found"

    (tmp_path / "index.html").write_text("<!doctype html><title>Sunstream</title>")
    (tmp_path / "app.js").write_text("console.log(1)")
    (tmp_path / ".secret").write_text("no")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "sun.svg").write_text("<svg/>")
    status, headers, body = await server.get("/", token=None)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "Sunstream" in body
    assert (await server.get("/app.js", token=None))[0] == 200
    assert (await server.get("/static/app.js", token=None))[0] == 200
    assert (await server.get("/static/img/sun.svg", token=None))[0] == 200
    assert (await server.get("/.secret", token=None))[0] == 404
    assert (await server.get("/static/.secret", token=None))[0] == 404
    assert (await server.get("/static/%2e%2e/%2e%2e/etc/passwd", token=None))[0] == 404
    assert (await server.get("/static/img/../../web_support.py", token=None))[0] == 404


async def test_real_static_index_or_a_clear_404(make_server: ServerFactory) -> None:
    server = await make_server()
    index = server.app[API_KEY].static_dir / "index.html"
    status, headers, _ = await server.get("/", token=None)
    if index.is_file():
        assert status == 200
        assert headers["Content-Type"].startswith("text/html")
    else:
        assert status == 404
        assert headers["Content-Type"] == PROBLEM


# -- broadcast ------------------------------------------------------------------------------------


async def test_broadcast_to_one_system_or_to_all(make_server: ServerFactory) -> None:
    server = await make_server()
    rooftop = await server.ws("/ws/monitoring/rooftop")
    garage = await server.ws("/ws/monitoring/garage")
    channel = await server.ws("/ws")
    await receive(rooftop)
    await receive(garage)
    await receive_type(channel, "connection_status")
    await channel.send_json({"type": "subscribe", "system_id": "rooftop"})
    await receive_type(channel, "subscribed")
    await receive_type(channel, "monitoring_update")

    message = {"type": "notice", "text": "maintenance at noon"}
    status, _, body = await server.post(
        "/api/broadcast", json={"system_id": "rooftop", "message": message}
    )
    assert status == 200
    assert body == {"delivered": 2, "system_id": "rooftop"}
    assert await receive(rooftop) == message
    assert await receive(channel) == message

    status, _, body = await server.post("/api/broadcast", json={"message": {"type": "all"}})
    assert body["delivered"] == 3
    assert await receive(garage) == {"type": "all"}  # garage never saw the rooftop notice
    assert await receive(rooftop) == {"type": "all"}
    assert await receive(channel) == {"type": "all"}


async def test_broadcast_is_for_admins_with_a_valid_body(make_server: ServerFactory) -> None:
    server = await make_server()
    body_ok = {"message": {"type": "x"}}
    status, _, body = await server.post("/api/broadcast", token=HA_TOKEN, json=body_ok)
    assert status == 403
    assert body["code"] == "forbidden"
    status, _, _ = await server.post("/api/broadcast", token=None, json=body_ok)
    assert status == 401
    status, _, body = await server.post("/api/broadcast", data=b"{not json")
    assert status == 400
    assert body["code"] == "invalid_json"
    for bad in ({"message": "text"}, [], {"system_id": 5, "message": {}}):
        status, _, body = await server.post("/api/broadcast", json=bad)
        assert status == 400, bad
    status, _, body = await server.post(
        "/api/broadcast", json={"system_id": "nowhere", "message": {}}
    )
    assert status == 404
    status, headers, body = await server.post(
        "/api/broadcast", json={"message": {"pad": "x" * 70_000}}
    )
    assert status == 413
    assert headers["Content-Type"] == PROBLEM


# -- /ws/monitoring/{system_id} -------------------------------------------------------------------


async def test_monitoring_pushes_on_connect_and_on_change(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws/monitoring/rooftop")
    first = await receive(ws)
    assert first == {"type": "monitoring_data", "system_id": "rooftop", "data": document()}
    server.hub.update_state("rooftop", document(generation=2.5))
    second = await receive(ws)
    assert second["data"]["current_generation_kw"] == 2.5
    # Other systems' changes are not this socket's business.
    server.hub.update_state("garage", document("garage"))
    server.hub.update_state("rooftop", document(generation=3.5))
    assert (await receive(ws))["data"]["current_generation_kw"] == 3.5
    await ws.send_json({"type": "ping", "id": 7})
    assert await receive(ws) == {"type": "pong", "id": 7}


async def test_monitoring_repeats_at_least_every_push_interval(
    make_server: ServerFactory,
) -> None:
    server = await make_server(push_interval=0.3)
    ws = await server.ws("/ws/monitoring/rooftop")
    await receive(ws)
    times = [time.monotonic()]
    for _ in range(3):
        message = await receive(ws, within=1.0)
        assert message["type"] == "monitoring_data"
        assert message["data"] == document()
        times.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Never later than the interval (plus scheduling slack), and not a flood either.
    assert all(0.15 < gap < 0.3 + 0.35 for gap in gaps), gaps
    # A change restarts the interval rather than adding to it.
    server.hub.update_state("rooftop", document(generation=9.0))
    changed = await receive_type(ws, "monitoring_data")
    while changed["data"]["current_generation_kw"] != 9.0:
        changed = await receive(ws)
    repeat = await receive(ws, within=1.0)
    assert repeat["data"]["current_generation_kw"] == 9.0


async def test_monitoring_unknown_system_is_closed_with_4404(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws/monitoring/atlantis")
    error = await receive(ws)
    assert error["type"] == "error"
    assert error["code"] == "unknown_system"
    assert error["known"] == ["garage", "rooftop"]
    assert await closed(ws) == 4404


async def test_monitoring_without_data_yet_sends_null(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws/monitoring/garage")
    assert await receive(ws) == {"type": "monitoring_data", "system_id": "garage", "data": None}
    server.hub.update_state("garage", document("garage"))
    assert (await receive(ws))["data"]["system_id"] == "garage"


async def test_plain_http_on_a_websocket_path_is_a_problem(make_server: ServerFactory) -> None:
    server = await make_server()
    status, headers, body = await server.get("/ws/monitoring/rooftop")
    assert status == 400
    assert headers["Content-Type"] == PROBLEM
    assert body["code"] == "websocket_required"


# -- authentication on WebSockets -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ws/monitoring/rooftop", "/ws"])
async def test_first_message_auth(make_server: ServerFactory, path: str) -> None:
    server = await make_server()
    ws = await server.ws(path, token=None)
    assert (await receive(ws))["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": HA_TOKEN})
    ok = await receive(ws)
    assert ok["type"] == "auth_ok"
    assert ok["user"] == HA_USER
    data = await receive(ws)
    assert data["type"] in ("monitoring_data", "connection_status")
    # Authenticating again (a dashboard that always does) is harmless.
    await ws.send_json({"type": "auth", "access_token": "whatever"})
    assert (await receive(ws))["type"] == "auth_ok"


@pytest.mark.parametrize(
    "first",
    [
        orjson.dumps({"type": "auth", "access_token": "wrong"}),
        orjson.dumps({"type": "subscribe", "system_id": "rooftop"}),
        orjson.dumps({"type": "auth", "access_token": 12}),
        b"{not json",
    ],
)
async def test_first_message_auth_refused(make_server: ServerFactory, first: bytes) -> None:
    server = await make_server()
    ws = await server.ws("/ws/monitoring/rooftop", token=None)
    assert (await receive(ws))["type"] == "auth_required"
    await ws.send_str(first.decode())
    refused = await receive(ws)
    assert refused["type"] == "auth_invalid"
    assert refused["message"]
    assert await closed(ws) == 4401
    await eventually(lambda: len(server.app[CLIENTS_KEY]) == 0)


async def test_first_message_auth_binary_refused(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws", token=None)
    await receive(ws)
    await ws.send_bytes(b'{"type":"auth","access_token":"x"}')
    assert (await receive(ws))["type"] == "auth_invalid"
    assert await closed(ws) == 4401


async def test_first_message_auth_times_out(make_server: ServerFactory) -> None:
    server = await make_server(auth_timeout=0.3)
    ws = await server.ws("/ws/monitoring/rooftop", token=None)
    started = time.monotonic()
    assert (await receive(ws))["type"] == "auth_required"
    refused = await receive(ws, within=2)
    assert refused["type"] == "auth_invalid"
    assert "0.3 s" in refused["message"]
    assert await closed(ws) == 4401
    assert time.monotonic() - started < 2


async def test_bad_bearer_header_is_refused_before_the_upgrade(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.ws("/ws/monitoring/rooftop", token="wrong")
    assert refused.value.status == 401
    assert len(server.app[CLIENTS_KEY]) == 0


async def test_ha_token_in_the_header(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws/monitoring/rooftop", token=HA_TOKEN)
    assert (await receive(ws))["type"] == "monitoring_data"


async def test_without_home_assistant_only_configured_tokens(make_server: ServerFactory) -> None:
    server = await make_server(validator=None)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.ws("/ws", token=HA_TOKEN)
    assert refused.value.status == 401
    assert (await server.get("/api/systems", token=ADMIN_TOKEN))[0] == 200


# -- ingress --------------------------------------------------------------------------------------

INGRESS_HEADERS = {
    "X-Ingress-Path": "/api/hassio_ingress/abc",
    "X-Remote-User-Id": "8f1c",
    "X-Remote-User-Name": "bob",
    "X-Remote-User-Display-Name": "Bob",
}


async def test_ingress_headers_trusted_from_the_proxy(make_server: ServerFactory) -> None:
    server = await make_server(trusted_proxies=("127.0.0.1",))
    status, _, _ = await server.get("/api/systems", token=None, headers=INGRESS_HEADERS)
    assert status == 200
    ws = await server.ws("/ws/monitoring/rooftop", token=None, headers=INGRESS_HEADERS)
    assert (await receive(ws))["type"] == "monitoring_data"
    server.hub.raise_alert("rooftop", {"rule": "hot"})
    status, _, body = await server.post(
        "/api/alerts/rooftop:hot/acknowledge", token=None, headers=INGRESS_HEADERS
    )
    assert status == 200
    assert body["alert"]["acknowledged_by"] == "Bob"
    # Ingress users are not admins: broadcast needs a configured token.
    status, _, _ = await server.post(
        "/api/broadcast", token=None, headers=INGRESS_HEADERS, json={"message": {}}
    )
    assert status == 403
    # Without the headers, the proxy's address alone proves nothing.
    status, _, _ = await server.get("/api/systems", token=None)
    assert status == 401


async def test_ingress_headers_ignored_from_anyone_else(make_server: ServerFactory) -> None:
    server = await make_server()  # trusted proxy: 172.30.32.2, the Supervisor's
    status, _, _ = await server.get("/api/systems", token=None, headers=INGRESS_HEADERS)
    assert status == 401
    ws = await server.ws("/ws/monitoring/rooftop", token=None, headers=INGRESS_HEADERS)
    assert (await receive(ws))["type"] == "auth_required"


# -- origins --------------------------------------------------------------------------------------


async def test_origin_allow_list(make_server: ServerFactory) -> None:
    server = await make_server(origins=("https://dash.example",))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.ws("/ws", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    status, headers, body = await server.get(
        "/api/systems", headers={"Origin": "https://evil.example"}
    )
    assert status == 403
    assert body["code"] == "origin_not_allowed"

    ws = await server.ws("/ws", headers={"Origin": "https://dash.example"})
    assert (await receive(ws))["type"] == "connection_status"
    ws = await server.ws("/ws", headers={"Origin": server.base})  # the server's own page
    assert (await receive(ws))["type"] == "connection_status"
    ws = await server.ws("/ws")  # machine client: no Origin
    assert (await receive(ws))["type"] == "connection_status"

    status, headers, _ = await server.get(
        "/api/systems", headers={"Origin": "https://dash.example"}
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "https://dash.example"
    async with server.session.options(
        server.url("/api/broadcast"),
        headers={
            "Origin": "https://dash.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    ) as preflight:
        assert preflight.status == 204
        assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


async def test_no_origin_list_means_tokens_decide(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws", headers={"Origin": "https://anywhere.example"})
    assert (await receive(ws))["type"] == "connection_status"


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ws/monitoring/rooftop", "/ws"])
async def test_bad_messages_get_error_frames(make_server: ServerFactory, path: str) -> None:
    server = await make_server()
    ws = await server.ws(path)
    await receive(ws)
    await ws.send_str("{this is not json")
    assert (await receive(ws))["code"] == "invalid_json"
    await ws.send_str("[1, 2]")
    assert (await receive(ws))["code"] == "invalid_message"
    await ws.send_str('{"no": "type"}')
    assert (await receive(ws))["code"] == "invalid_message"
    await ws.send_str('{"type": "launch_rockets"}')
    error = await receive(ws)
    assert error["type"] == "error"
    assert error["code"] == "unknown_type"
    assert "ping" in error["message"]
    await ws.send_bytes(b"\x00\x01binary")
    assert (await receive(ws))["code"] == "binary_not_supported"
    # Still served.
    await ws.send_json({"type": "ping"})
    assert (await receive_type(ws, "pong"))["type"] == "pong"


async def test_oversized_frame_closes_only_that_client(make_server: ServerFactory) -> None:
    server = await make_server()
    bystander = await server.ws("/ws/monitoring/rooftop")
    await receive(bystander)
    ws = await server.ws("/ws/monitoring/rooftop")
    await receive(ws)
    await ws.send_str('{"type":"ping","pad":"' + "x" * MAX_MESSAGE_BYTES + '"}')
    assert await closed(ws) == 1009
    server.hub.update_state("rooftop", document(generation=4.0))
    assert (await receive(bystander))["data"]["current_generation_kw"] == 4.0


async def test_flood_of_bad_messages_is_closed(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws")
    await receive(ws)
    for _ in range(25):
        await ws.send_str("nope")
    assert await closed(ws) == 1008


# -- limits ---------------------------------------------------------------------------------------


async def test_total_connection_cap(make_server: ServerFactory) -> None:
    server = await make_server(max_clients=2)
    first = await server.ws("/ws")
    await server.ws("/ws/monitoring/rooftop")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.ws("/ws")
    assert refused.value.status == 503
    assert refused.value.headers is not None
    assert refused.value.headers["Retry-After"]
    await first.close()
    await eventually(lambda: len(server.app[CLIENTS_KEY]) == 1)
    ws = await server.ws("/ws")
    assert (await receive(ws))["type"] == "connection_status"


async def test_per_address_connection_cap(make_server: ServerFactory) -> None:
    server = await make_server(max_clients_per_ip=2)
    await server.ws("/ws")
    await server.ws("/ws", token=None)  # still authenticating: counts too
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.ws("/ws")
    assert refused.value.status == 429
    _, _, body = await server.get("/api/stats")
    assert body["refused_connections"] == 1


async def test_repeated_auth_failures_back_off(make_server: ServerFactory) -> None:
    now = [1000.0]
    server = await make_server(failures=FailureTracker(clock=lambda: now[0]))
    for _ in range(4):
        assert (await server.get("/api/systems", token="guess"))[0] == 401
    ws = await server.ws("/ws", token=None)
    await receive(ws)
    await ws.send_json({"type": "auth", "access_token": "guess"})
    assert (await receive(ws))["type"] == "auth_invalid"
    # Five failures: refused for a while, even with a good token.
    status, headers, body = await server.get("/api/systems")
    assert status == 429
    assert body["code"] == "auth_backoff"
    assert int(headers["Retry-After"]) > 0
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.ws("/ws")
    assert refused.value.status == 429
    # /health stays open for the watchdog.
    assert (await server.get("/health", token=None))[0] == 200
    now[0] += 61
    assert (await server.get("/api/systems"))[0] == 200


# -- slow clients ---------------------------------------------------------------------------------


async def test_slow_client_is_dropped_while_a_fast_one_keeps_up(
    make_server: ServerFactory,
) -> None:
    server = await make_server(client_queue=8)
    clients = server.app[CLIENTS_KEY]
    slow = await server.ws("/ws/monitoring/rooftop")  # never reads until the end
    fast = await server.ws("/ws/monitoring/rooftop")
    assert (await receive(fast))["type"] == "monitoring_data"
    received: list[int] = []

    async def read_fast() -> None:
        while True:
            msg = await fast.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                return
            seq = orjson.loads(msg.data)["data"].get("seq")
            if seq is not None:
                received.append(seq)

    reader = asyncio.create_task(read_fast())
    pad = "x" * 100_000  # big frames: the loopback socket buffers fill sooner
    sent = 0
    deadline = time.monotonic() + 30
    while clients.evicted == 0:
        assert time.monotonic() < deadline, "the slow client was never dropped"
        server.hub.update_state("rooftop", document(seq=sent, pad=pad))
        sent += 1
        await asyncio.sleep(0.001)
    for _ in range(20):  # a few more after the drop
        server.hub.update_state("rooftop", document(seq=sent, pad=pad))
        sent += 1
        await asyncio.sleep(0.001)
    await eventually(lambda: len(received) == sent, within=10)
    assert received == list(range(sent))
    await eventually(lambda: len(clients) == 1, within=CLOSE_TIMEOUT * 3)
    _, _, stats = await server.get("/api/stats")
    assert stats["evicted_slow_clients"] == 1
    _, _, body = await server.get("/ws/monitoring")
    assert contract_stats(body) == {"total": 1, "rooftop": 1}
    # The slow client, reading at last, finds its queue cut short and a reason.
    assert await closed(slow, within=10) == 1008
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)


# -- /ws channel ----------------------------------------------------------------------------------


async def test_channel_subscribe_updates_and_power(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws")
    status = await receive(ws)
    assert status["type"] == "connection_status"
    assert status["feed_connected"] is False
    assert status["systems"] == {"rooftop": "online", "garage": "unknown"}

    await ws.send_json({"type": "subscribe", "system_id": "rooftop", "id": "s1"})
    assert await receive(ws) == {"type": "subscribed", "system_id": "rooftop", "id": "s1"}
    current = await receive(ws)
    assert current == {"type": "monitoring_update", "system_id": "rooftop", "data": document()}

    server.hub.update_state("rooftop", document(generation=2.0))
    update = await receive(ws)
    assert update["type"] == "monitoring_update"
    assert update["data"]["current_generation_kw"] == 2.0
    power = await receive(ws)
    assert power == {
        "type": "power_update",
        "system_id": "rooftop",
        "data": {
            "current_generation_kw": 2.0,
            "battery_power_kw": -0.5,
            "battery_soc_percent": 80.0,
            "grid_power_kw": 0.2,
            "load_power_kw": 1.2,
            "last_updated": "2026-11-23T14:00:00+00:00",
        },
    }

    # Not subscribed to the garage: nothing of it arrives.
    server.hub.update_state("garage", document("garage"))
    server.hub.publish_event("dispatch", "garage", {"command": "charge"})
    await ws.send_json({"type": "ping", "id": 3})
    pong = await receive_type(ws, "pong")
    assert pong["id"] == 3

    await ws.send_json({"type": "unsubscribe", "system_id": "rooftop"})
    assert (await receive(ws))["type"] == "unsubscribed"
    server.hub.update_state("rooftop", document(generation=5.0))
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"


async def test_channel_events_and_modbus_names(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws")
    await receive(ws)
    await ws.send_json({"type": "subscribe", "system_id": "garage"})
    await receive_type(ws, "subscribed")

    data = {"system_id": "garage", "source": "modbus", "connected": False, "reason": "timeout"}
    server.hub.publish_event("connectivity", "garage", data)
    assert await receive(ws) == {"type": "connectivity", "system_id": "garage", "data": data}
    assert await receive(ws) == {"type": "modbus_disconnected", "system_id": "garage", "data": data}
    status = await receive(ws)
    assert status["type"] == "connection_status"
    assert status["systems"]["garage"] == "offline"

    data = {**data, "connected": True, "reason": "recovered"}
    server.hub.publish_event("connectivity", "garage", data)
    assert (await receive(ws))["type"] == "connectivity"
    assert (await receive(ws))["type"] == "modbus_connected"
    assert (await receive(ws))["systems"]["garage"] == "online"

    # One part of the system (the battery link) is not the Modbus link as a whole.
    part = {**data, "connected": False, "part": "battery"}
    server.hub.publish_event("connectivity", "garage", part)
    assert (await receive(ws))["data"] == part

    server.hub.publish_event("dispatch", "garage", {"command": "charge", "power": 3.0})
    dispatch = await receive(ws)
    assert dispatch == {
        "type": "dispatch",
        "system_id": "garage",
        "data": {"command": "charge", "power": 3.0},
    }
    server.hub.raise_alert("garage", {"rule": "low_soc", "severity": "warning"})
    alert = await receive(ws)
    assert alert["type"] == "alert"
    assert alert["data"]["alert_id"] == "garage:low_soc"

    await ws.send_json({"type": "acknowledge_alert", "alert_id": "garage:low_soc", "id": 9})
    pushed = await receive(ws)
    assert pushed["type"] == "alert_acknowledged"
    assert pushed["data"]["acknowledged_by"] == "token-1"
    result = await receive(ws)
    assert result["type"] == "acknowledge_result"
    assert result["id"] == 9
    assert result["alert"]["acknowledged"] is True


@pytest.mark.parametrize(
    ("system_source", "event_source", "named"),
    [
        ("sungrow_modbus", None, True),
        ("modbus", None, True),
        ("unknown", "sungrow_modbus", True),
        ("winet", None, False),
        ("simulated", None, False),
        ("unknown", "winet", False),
    ],
)
async def test_modbus_names_for_both_modbus_sources(
    make_server: ServerFactory, system_source: str, event_source: str | None, named: bool
) -> None:
    """Sungrow over Modbus TCP is a Modbus link too; WiNet and simulated are not.

    The event's ``source`` says it, or, when the event has none, the source
    the feed learnt for the system.
    """
    server = await make_server()
    server.hub.set_systems([ROOFTOP, replace(GARAGE, source=SourceKind(system_source))])
    ws = await server.ws("/ws")
    await receive(ws)
    await ws.send_json({"type": "subscribe", "system_id": "garage"})
    await receive_type(ws, "subscribed")

    data: dict[str, Any] = {"system_id": "garage", "connected": False, "reason": "timeout"}
    if event_source is not None:
        data["source"] = event_source
    server.hub.publish_event("connectivity", "garage", data)
    assert (await receive(ws))["type"] == "connectivity"
    following = await receive(ws)
    if named:
        assert following == {"type": "modbus_disconnected", "system_id": "garage", "data": data}
        following = await receive(ws)
    assert following["type"] == "connection_status"

    await ws.send_json({"type": "acknowledge_alert", "alert_id": "nope"})
    assert (await receive(ws))["code"] == "unknown_alert"
    await ws.send_json({"type": "acknowledge_alert"})
    assert (await receive(ws))["code"] == "invalid_message"


async def test_simulated_connectivity_has_no_modbus_names(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws")
    await receive(ws)
    await ws.send_json({"type": "subscribe", "system_id": "rooftop"})
    await receive_type(ws, "monitoring_update")
    data = {"system_id": "rooftop", "source": "simulated", "connected": False}
    server.hub.publish_event("connectivity", "rooftop", data)
    assert (await receive(ws))["type"] == "connectivity"
    assert (await receive(ws))["type"] == "connection_status"


async def test_channel_subscribe_errors_and_everything(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws")
    await receive(ws)
    await ws.send_json({"type": "subscribe", "system_id": "atlantis", "id": 1})
    error = await receive(ws)
    assert error["code"] == "unknown_system"
    assert error["id"] == 1
    await ws.send_json({"type": "subscribe"})
    assert (await receive(ws))["code"] == "invalid_message"

    await ws.send_json({"type": "subscribe", "system_id": "*"})
    assert (await receive(ws))["type"] == "subscribed"
    assert (await receive(ws))["system_id"] == "rooftop"  # the only one with data
    server.hub.update_state("garage", document("garage"))
    assert (await receive(ws))["type"] == "monitoring_update"
    assert (await receive(ws))["type"] == "power_update"


async def test_channel_status_on_request_and_on_feed_change(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws")
    await receive(ws)
    await ws.send_json({"type": "request_status", "id": "r"})
    status = await receive(ws)
    assert status["type"] == "connection_status"
    assert status["id"] == "r"
    server.hub.set_feed_connected(True)
    pushed = await receive(ws, within=3)
    assert pushed["type"] == "connection_status"
    assert pushed["feed_connected"] is True


async def test_shutdown_closes_clients_with_going_away(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws/monitoring/rooftop")
    await receive(ws)
    channel = await server.ws("/ws")
    await receive(channel)
    await server.runner.cleanup()
    assert await closed(ws) == 1001
    assert await closed(channel) == 1001


async def test_liveness_sweep_drops_silent_clients(make_server: ServerFactory) -> None:
    server = await make_server()
    clients = server.app[CLIENTS_KEY]
    alive = await server.ws("/ws/monitoring/rooftop")  # aiohttp answers pings itself
    await receive(alive)
    mute = await server.ws("/ws/monitoring/rooftop", autoping=False)  # never answers
    await receive(mute)
    clients.sweep()  # everyone pinged
    msg = await mute.receive(timeout=WAIT)
    assert msg.type is aiohttp.WSMsgType.PING
    # aiohttp's client answers a ping while it reads.
    with pytest.raises(TimeoutError):
        await alive.receive(timeout=0.2)
    await eventually(lambda: sum(c.silent for c in clients.all) == 1)
    clients.sweep()  # the mute one said nothing for a whole period
    await eventually(lambda: len(clients) == 1)
    assert await closed(mute) in (1006, None)
    server.hub.update_state("rooftop", document(generation=7.0))
    assert (await receive(alive))["data"]["current_generation_kw"] == 7.0


async def test_client_pings_are_answered(make_server: ServerFactory) -> None:
    server = await make_server()
    ws = await server.ws("/ws", token=None, autoping=False)
    await ws.ping(b"during-auth")
    assert (await receive(ws))["type"] == "auth_required"
    msg = await ws.receive(timeout=WAIT)
    assert msg.type is aiohttp.WSMsgType.PONG
    assert msg.data == b"during-auth"
    await ws.send_json({"type": "auth", "access_token": ADMIN_TOKEN})
    assert (await receive(ws))["type"] == "auth_ok"
    await ws.ping(b"later")
    msg = await ws.receive(timeout=WAIT)
    while msg.type is aiohttp.WSMsgType.TEXT:
        msg = await ws.receive(timeout=WAIT)
    assert msg.type is aiohttp.WSMsgType.PONG
    assert msg.data == b"later"


# -- precision ------------------------------------------------------------------------------------

NOISY = 0.49739999999999995  # 0.4974 with binary noise, as a price × energy product has it


async def test_values_are_written_with_sensible_precision(make_server: ServerFactory) -> None:
    """Was: the document's floats went out with their binary noise (0.49739999999999995)."""
    assert repr(NOISY) == "0.49739999999999995"
    server = await make_server()
    watcher = await server.ws("/ws/monitoring/rooftop")
    await receive(watcher)
    noisy = document(today_savings=NOISY, battery={"power_kw": -NOISY}, chart_data=[NOISY])
    server.hub.update_state("rooftop", noisy)

    pushed = await receive(watcher)
    _, _, answered = await server.get("/api/systems/rooftop")
    for body in (pushed["data"], answered):
        assert body["today_savings"] == 0.4974
        assert body["battery"]["power_kw"] == -0.4974
        assert body["chart_data"] == [0.4974]
    async with server.session.get(
        server.url("/api/systems/rooftop"), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as response:
        text = await response.text()
    assert "0.4974," in text
    assert "0.4973999" not in text
