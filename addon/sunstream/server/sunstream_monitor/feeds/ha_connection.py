"""One authenticated WebSocket to Home Assistant: commands, subscriptions, reading.

Every command gets the next integer id and a future its result resolves;
every subscription gets a handler its events are passed to, in the order
Home Assistant sent them. When the socket closes, whatever still waits
fails with :class:`ConnectionLost` at once instead of timing out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import logging
from typing import Any, Final

import aiohttp
import orjson

from .ha_protocol import (
    MAX_MESSAGE_SIZE,
    AuthInvalid,
    ConnectionLost,
    ProtocolError,
    decode_frame,
    result_of,
)

_LOGGER = logging.getLogger(__name__)

AUTH_TIMEOUT: Final = 10.0
COMMAND_TIMEOUT: Final = 30.0
# The client pings too: a half-open TCP link (a pulled cable, a suspended
# VM) is noticed within a minute rather than never. HA's own ``ping``
# command is used, not WebSocket pings: through the Supervisor those would
# only test the hop to the Supervisor, not Core behind it.
KEEPALIVE_INTERVAL: Final = 30.0
KEEPALIVE_TIMEOUT: Final = 10.0

type EventHandler = Callable[[dict[str, Any]], None]


async def send_json(ws: aiohttp.ClientWebSocketResponse, message: Mapping[str, Any]) -> None:
    """Send one message as a TEXT frame (Home Assistant refuses binary ones)."""
    await ws.send_frame(orjson.dumps(message), aiohttp.WSMsgType.TEXT)


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    message = await ws.receive()
    if message.type is aiohttp.WSMsgType.TEXT:
        return decode_frame(message.data)
    if message.type in (
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSING,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.ERROR,
    ):
        raise ConnectionLost(f"Home Assistant closed the connection ({ws.close_code})")
    raise ProtocolError(f"unexpected {message.type.name} frame from Home Assistant")


async def authenticate(ws: aiohttp.ClientWebSocketResponse, token: str) -> str:
    """Run the auth phase; return HA's version. :class:`AuthInvalid` if refused."""
    async with asyncio.timeout(AUTH_TIMEOUT):
        first = (await _receive(ws))[0]
        if first.get("type") == "auth_ok":  # no auth required (a proxy did it)
            return str(first.get("ha_version", ""))
        if first.get("type") != "auth_required":
            raise ProtocolError(f"expected auth_required, got {first.get('type')!r}")
        await send_json(ws, {"type": "auth", "access_token": token})
        answer = (await _receive(ws))[0]
    if answer.get("type") == "auth_ok":
        return str(answer.get("ha_version", ""))
    if answer.get("type") == "auth_invalid":
        raise AuthInvalid(str(answer.get("message") or "invalid access token"))
    raise ProtocolError(f"expected auth_ok, got {answer.get('type')!r}")


async def open_websocket(
    session: aiohttp.ClientSession, url: str, *, verify_tls: bool = True
) -> aiohttp.ClientWebSocketResponse:
    """Open the WebSocket with the limits this client needs (10 s to connect)."""
    async with asyncio.timeout(AUTH_TIMEOUT):
        return await session.ws_connect(
            url,
            ssl=verify_tls,  # True: verify as usual; False: no verification
            max_msg_size=MAX_MESSAGE_SIZE,
            # Frames travel over a LAN or the Supervisor's bridge: compressing
            # them would only cost CPU on both ends.
            compress=0,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
            autoclose=True,
            autoping=True,
        )


class HomeAssistantConnection:
    """An authenticated WebSocket; call :meth:`run` to read from it."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        *,
        after_frame: Callable[[], None] | None = None,
    ) -> None:
        """Wrap ``ws``; ``after_frame`` runs once every message of a frame is handled."""
        self._ws = ws
        self._after_frame = after_frame
        self._next_id = 1
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._handlers: dict[int, EventHandler] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether the socket is gone."""
        return self._closed or self._ws.closed

    async def command(
        self, payload: Mapping[str, Any], *, time_limit: float = COMMAND_TIMEOUT
    ) -> Any:
        """Send a command, return its result; :class:`CommandFailed` on an error result."""
        _, result = await self._request(payload, time_limit, None)
        return result

    async def subscribe(
        self,
        payload: Mapping[str, Any],
        handler: EventHandler,
        *,
        time_limit: float = COMMAND_TIMEOUT,
    ) -> int:
        """Start a subscription; ``handler`` gets each event. Return its id."""
        subscription, _ = await self._request(payload, time_limit, handler)
        return subscription

    async def _request(
        self, payload: Mapping[str, Any], time_limit: float, handler: EventHandler | None
    ) -> tuple[int, Any]:
        if self.closed:
            raise ConnectionLost("not connected to Home Assistant")
        message_id = self._next_id
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        if handler is not None:
            # Registered before sending: the first event may follow the result
            # in the very same frame.
            self._handlers[message_id] = handler
        try:
            await send_json(self._ws, {**payload, "id": message_id})
            async with asyncio.timeout(time_limit):
                return message_id, result_of(await future)
        except BaseException as err:
            self._handlers.pop(message_id, None)
            if isinstance(err, aiohttp.ClientError | ConnectionResetError):
                raise ConnectionLost(f"sending to Home Assistant failed: {err}") from err
            raise
        finally:
            self._pending.pop(message_id, None)

    async def unsubscribe(self, subscription: int) -> None:
        """End a subscription; events already on their way are dropped."""
        if self._handlers.pop(subscription, None) is not None and not self.closed:
            await self.command({"type": "unsubscribe_events", "subscription": subscription})

    async def keepalive(
        self, interval: float = KEEPALIVE_INTERVAL, time_limit: float = KEEPALIVE_TIMEOUT
    ) -> None:
        """Ping Home Assistant every ``interval``; close the socket if it stops answering."""
        while not self.closed:
            await asyncio.sleep(interval)
            try:
                await self.command({"type": "ping"}, time_limit=time_limit)
            except TimeoutError:
                _LOGGER.warning("Home Assistant stopped answering pings; reconnecting")
                await self.close()
                return
            except ConnectionLost:
                return

    async def run(self) -> None:
        """Read until the socket closes, then raise :class:`ConnectionLost`."""
        try:
            while True:
                message = await self._ws.receive()
                if message.type is aiohttp.WSMsgType.TEXT:
                    self._handle_frame(message.data)
                elif message.type is aiohttp.WSMsgType.BINARY:
                    _LOGGER.debug("Ignoring a binary frame from Home Assistant")
                else:
                    break
        finally:
            self._closed = True
            reason = f"Home Assistant connection closed ({self._ws.close_code})"
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionLost(reason))
            self._pending.clear()
            self._handlers.clear()
        raise ConnectionLost(reason)

    def _handle_frame(self, data: str) -> None:
        try:
            messages = decode_frame(data)
        except ProtocolError as err:
            _LOGGER.warning("%s", err)
            return
        for message in messages:
            self._dispatch(message)
        if self._after_frame is not None:
            try:
                self._after_frame()
            except Exception:
                _LOGGER.exception("Handling a Home Assistant frame failed")

    def _dispatch(self, message: dict[str, Any]) -> None:
        message_id = message.get("id")
        kind = message.get("type")
        if not isinstance(message_id, int):
            return
        if kind == "event":
            handler = self._handlers.get(message_id)
            event = message.get("event")
            if handler is not None and isinstance(event, dict):
                try:
                    handler(event)
                except Exception:
                    _LOGGER.exception("Handling a Home Assistant event failed")
        elif kind in ("result", "pong"):
            future = self._pending.get(message_id)
            if future is not None and not future.done():
                future.set_result(message if kind == "result" else {"success": True})

    async def close(self) -> None:
        """Close the socket (idempotent)."""
        self._closed = True
        if not self._ws.closed:
            await self._ws.close()
