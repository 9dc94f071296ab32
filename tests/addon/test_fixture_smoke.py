from __future__ import annotations

import aiohttp

from .conftest import HomeAssistantServer


async def test_ha_server_answers_over_loopback(ha_server: HomeAssistantServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{ha_server.http_url}/api/", headers={"Authorization": f"Bearer {ha_server.token}"}
        ) as resp:
            assert resp.status == 200
        async with session.ws_connect(ha_server.ws_url) as ws:
            assert (await ws.receive_json())["type"] == "auth_required"
            await ws.send_json({"type": "auth", "access_token": ha_server.token})
            assert (await ws.receive_json())["type"] == "auth_ok"
