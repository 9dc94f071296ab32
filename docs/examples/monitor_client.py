"""Follow a Sunstream system through the Sunstream app and print its MonitoringData.

Needs Python 3.10 or newer and aiohttp (``pip install aiohttp``). Usage::

    python monitor_client.py --server http://homeassistant.local:9000 --token TOKEN
    python monitor_client.py --system sim-rooftop --count 3 --json

``--token`` is one of the app's API tokens (its ``tokens`` option) or a Home
Assistant access token; ``SUNSTREAM_SERVER`` and ``SUNSTREAM_TOKEN`` work too.
Without ``--system`` the script follows the first system the app lists.

What it does, in the app's API (addon/sunstream/DOCS.md):

1. ``GET /api/systems`` with ``Authorization: Bearer <token>``;
2. opens ``/ws/monitoring/<system_id>``. It authenticates the way a browser
   must (answering ``auth_required`` with an ``auth`` message) so the
   example shows both ways; a program may just send the Bearer header on
   the upgrade request instead, as step 1 does;
3. prints every ``monitoring_data`` document the app pushes (on every
   change, at least every 5 seconds) until ``--count`` documents or Ctrl+C.

Exit codes: 0 done, 1 the app refused the request, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import aiohttp

CLOSE_UNAUTHORIZED = 4401
CLOSE_UNKNOWN_SYSTEM = 4404


class AppError(Exception):
    """The app refused a request; the message says why."""


async def list_systems(session: aiohttp.ClientSession, server: str, token: str) -> list[Any]:
    """The systems the app knows: ``[{system_id, name, source, status, …}]``."""
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(f"{server}/api/systems", headers=headers) as response:
        if response.status != 200:
            # Errors are application/problem+json: {"title", "detail", "code", …}.
            problem = await response.json(content_type=None)
            raise AppError(f"GET /api/systems: {response.status} {problem.get('detail', '')}")
        body: dict[str, Any] = await response.json()
    systems: list[Any] = body["systems"]
    return systems


def summary(data: dict[str, Any]) -> str:
    """One line for a MonitoringData document."""
    battery = data.get("battery") or {}
    grid = data.get("grid") or {}
    parts = [
        f"{data['last_updated']} {data['name']} [{data['status']}]",
        f"PV {data['current_generation_kw']} kW",
        f"today {data['today_generation_kwh']} kWh",
        f"grid {grid.get('power_kw')} kW",
    ]
    if battery:
        parts.append(f"battery {battery.get('soc_percent')} % {battery.get('power_kw')} kW")
    return ", ".join(parts)


async def follow(
    session: aiohttp.ClientSession,
    server: str,
    token: str,
    system_id: str,
    *,
    count: int | None = None,
    as_json: bool = False,
) -> int:
    """Print the system's documents; how many were printed."""
    url = server.replace("http", "ws", 1) + f"/ws/monitoring/{system_id}"
    printed = 0
    async with session.ws_connect(url, heartbeat=30) as ws:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            frame = message.json()
            kind = frame.get("type")
            if kind == "auth_required":
                await ws.send_json({"type": "auth", "access_token": token})
            elif kind == "auth_invalid":
                raise AppError(f"token refused: {frame.get('message')}")
            elif kind == "error":
                known = frame.get("known")
                raise AppError(f"{frame.get('code')}: {frame.get('message')} (known: {known})")
            elif kind == "monitoring_data" and frame.get("data") is not None:
                data = frame["data"]
                print(json.dumps(data, indent=2) if as_json else summary(data), flush=True)
                printed += 1
                if count is not None and printed >= count:
                    break
    if ws.close_code == CLOSE_UNAUTHORIZED:
        raise AppError("the app closed the connection: not authenticated")
    if ws.close_code == CLOSE_UNKNOWN_SYSTEM:
        raise AppError(f"the app does not know system {system_id!r}")
    return printed


async def run(
    server: str,
    token: str,
    system_id: str | None = None,
    *,
    count: int | None = None,
    as_json: bool = False,
) -> int:
    """List the systems, pick one, follow it; how many documents were printed."""
    server = server.rstrip("/")
    async with aiohttp.ClientSession() as session:
        if system_id is None:
            systems = await list_systems(session, server, token)
            if not systems:
                raise AppError("the app knows no system yet (is the integration set up?)")
            system_id = str(systems[0]["system_id"])
            print(f"following {system_id} ({systems[0]['name']})", file=sys.stderr)
        return await follow(session, server, token, system_id, count=count, as_json=as_json)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server",
        default=os.environ.get("SUNSTREAM_SERVER", "http://homeassistant.local:9000"),
        help="the app's address (default: %(default)s)",
    )
    parser.add_argument("--token", default=os.environ.get("SUNSTREAM_TOKEN"))
    parser.add_argument("--system", help="system id (default: the first one listed)")
    parser.add_argument("--count", type=int, help="stop after this many documents")
    parser.add_argument("--json", action="store_true", help="print whole documents as JSON")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("give --token or set SUNSTREAM_TOKEN")
    try:
        asyncio.run(run(args.server, args.token, args.system, count=args.count, as_json=args.json))
    except AppError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except aiohttp.ClientError as err:
        print(f"error: cannot reach {args.server}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
