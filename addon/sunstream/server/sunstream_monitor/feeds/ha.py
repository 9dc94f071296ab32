"""The Home Assistant feed: follows Sunstream over HA's WebSocket API into the hub.

Per connection, in this order:

1. auth (``SUPERVISOR_TOKEN`` through the Supervisor, or a long-lived token
   straight to Core), then ``supported_features`` asking for coalesced frames;
2. ``get_config`` for the currency and time zone;
3. ``subscribe_events`` for exactly the ``sunstream_*`` events and the two
   registry events — before discovery, so no registry change falls between;
4. discovery from the device and entity registries;
5. ``subscribe_entities`` for exactly the entities the documents read and
   each system's alert entity (its first event is every current state: the
   resync after a reconnect). The alert entity's ``active`` attribute, then
   and on every change, brings the hub's alerts up to date: alerts raised,
   acknowledged or cleared while the feed was away are announced once, and
   those the live ``sunstream_alert`` events announced are not repeated;
6. recorder statistics for the 24-hour charts, then every few minutes.

Only then is the feed "connected" for the hub. A lost connection is retried
with exponential back-off and jitter (about 1 s, doubling to 30 s, back to
1 s after a success); a refused token is retried every minute and logged
loudly, since only a changed token (or a Supervisor that has caught up with
the app) can fix it. Nothing here ends :meth:`HomeAssistantFeed.run` but
cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Mapping
import contextlib
from datetime import UTC, datetime, timedelta
import logging
from typing import Any, Final

import aiohttp

from ..alert_book import Alert
from ..backoff import Backoff
from ..hub import Hub
from ..monitoring import ChartData, chart_window, hourly_chart
from ..settings import Settings
from .discovery import DOMAIN, discover
from .ha_connection import HomeAssistantConnection, authenticate, open_websocket
from .ha_protocol import (
    AuthInvalid,
    CommandFailed,
    ConnectionLost,
    HomeAssistantError,
    ProtocolError,
    validation_urls,
    websocket_url,
)
from .ha_tokens import TokenChecker
from .ha_tracker import REGISTRY_EVENTS, SUNSTREAM_EVENTS, HaConfig, SystemTracker

__all__ = [
    "AuthInvalid",
    "CommandFailed",
    "ConnectionLost",
    "HomeAssistantError",
    "HomeAssistantFeed",
]

_LOGGER = logging.getLogger(__name__)

ACKNOWLEDGE_SERVICE: Final = "acknowledge_alert"
STATISTICS_TIMEOUT: Final = 60.0
ENTITIES_TIMEOUT: Final = 30.0
# Hourly statistics are compiled just after each hour ends.
STATISTICS_COMPILE_DELAY: Final = 20.0


class HomeAssistantFeed:
    """Feeds the hub from Home Assistant; also the way to call HA's actions."""

    retry_first: float = 1.0
    retry_cap: float = 30.0
    auth_retry: float = 60.0
    chart_interval: float = 300.0
    rediscover_delay: float = 1.0

    def __init__(
        self,
        settings: Settings,
        hub: Hub,
        session: aiohttp.ClientSession,
        *,
        token_urls: tuple[str, ...] | None = None,
    ) -> None:
        """Follow the HA at ``settings.ha_url``; ``token_urls``: where tokens are checked."""
        if not settings.ha_url or not settings.ha_token:
            raise ValueError("the Home Assistant feed needs ha_url and ha_token")
        self._url = websocket_url(settings.ha_url)
        self._token = settings.ha_token
        self._hub = hub
        self._session = session
        self._tracker = SystemTracker(hub)
        self._tokens = TokenChecker(session, token_urls or validation_urls(settings.ha_url))
        self._backoff = Backoff(base=self.retry_first, cap=self.retry_cap)
        self._conn: HomeAssistantConnection | None = None
        self._ready = False
        self._lock = asyncio.Lock()
        self._services: frozenset[str] = frozenset()
        self._entities_subscription: int | None = None
        self._subscribed: list[str] = []
        self._connection_tasks: set[asyncio.Task[None]] = set()
        self._rediscovery: asyncio.Task[None] | None = None
        self._entry_refresh: asyncio.Task[None] | None = None
        self._acknowledgements: set[asyncio.Task[None]] = set()
        self._statistics_warned = False
        self.last_error: str | None = None
        hub.acknowledge_upstream = self._acknowledge_upstream

    # -- public -----------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the feed is connected and in sync with Home Assistant."""
        return self._ready

    async def run(self) -> None:
        """Follow Home Assistant until cancelled, reconnecting as needed."""
        try:
            while True:
                delay = await self._attempt()
                await asyncio.sleep(delay)
        finally:
            for task in tuple(self._acknowledgements):
                task.cancel()

    async def call_service(
        self,
        domain: str,
        service: str,
        data: Mapping[str, Any] | None = None,
        *,
        return_response: bool = False,
    ) -> Any:
        """Call a Home Assistant action; raise :class:`HomeAssistantError` if it fails.

        :class:`CommandFailed` carries HA's error code and message (e.g.
        ``service_validation_error: Sunstream system Rooftop is not loaded``);
        :class:`ConnectionLost` means HA is not reachable right now.
        """
        conn = self._conn
        if conn is None or conn.closed:
            raise ConnectionLost("not connected to Home Assistant")
        payload: dict[str, Any] = {
            "type": "call_service",
            "domain": domain,
            "service": service,
            "service_data": dict(data or {}),
        }
        if return_response:
            payload["return_response"] = True
        result = await conn.command(payload)
        if return_response and isinstance(result, dict):
            return result.get("response")
        return result

    async def validate_token(self, token: str) -> str | None:
        """The HA user's name (or id) if Home Assistant accepts ``token``, else ``None``."""
        return await self._tokens.validate(token)

    # -- connection life cycle ---------------------------------------------

    async def _attempt(self) -> float:
        """One connection, from open to loss; return how long to wait before the next."""
        try:
            await self._connect_once()
        except asyncio.CancelledError:
            raise
        except AuthInvalid as err:
            self._failed(
                f"Home Assistant refused the access token ({err}); check ha_token, or the "
                f"app's homeassistant_api permission. Retrying every {self.auth_retry:.0f} s",
                logging.ERROR,
            )
            return self.auth_retry
        except (HomeAssistantError, aiohttp.ClientError, OSError, TimeoutError) as err:
            if isinstance(err, CommandFailed) and err.code == "unauthorized":
                # Only administrators may subscribe to the sunstream_* events.
                self._failed(
                    f"Home Assistant refused a command ({err}): the access token must belong "
                    f"to an administrator. Retrying every {self.auth_retry:.0f} s",
                    logging.ERROR,
                )
                return self.auth_retry
            delay = self._backoff.next_delay()
            self._failed(
                f"Home Assistant at {self._url}: {err or type(err).__name__}; "
                f"retrying in {delay:.1f} s",
                logging.WARNING,
            )
            return delay
        except Exception:
            # A bug must not stop the feed for good: log it and try again.
            _LOGGER.exception("Home Assistant feed failed")
            return self._backoff.next_delay()
        finally:
            self._ready = False
            self._hub.set_feed_connected(False)
        return self._backoff.next_delay()  # pragma: no cover - _connect_once only raises

    def _failed(self, message: str, level: int) -> None:
        # Repeating the same failure every retry would flood the log.
        if message.partition(";")[0] != (self.last_error or "").partition(";")[0]:
            _LOGGER.log(level, "%s", message)
        else:
            _LOGGER.debug("%s", message)
        self.last_error = message

    async def _connect_once(self) -> None:
        ws = await open_websocket(self._session, self._url)
        try:
            await authenticate(ws, self._token)
            conn = HomeAssistantConnection(ws, after_frame=self._after_frame)
            reader = asyncio.create_task(conn.run(), name="sunstream-ha-reader")
            self._conn = conn
            try:
                await self._until(reader, self._start(conn))
                self._ready = True
                self._backoff.reset()
                if self.last_error is not None:
                    _LOGGER.info("Connected to Home Assistant again")
                self.last_error = None
                self._hub.set_feed_connected(True)
                _LOGGER.info(
                    "Following %d Sunstream system(s) in Home Assistant",
                    len(self._tracker.layouts),
                )
                self._spawn(self._chart_loop(conn))
                self._spawn(conn.keepalive())
                self._after_frame()  # anything that came in while connecting
                await reader
            finally:
                self._ready = False
                self._conn = None
                tasks = [reader, *self._connection_tasks]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self._connection_tasks.clear()
                await conn.close()
        finally:
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close()

    @staticmethod
    async def _until[T](reader: asyncio.Task[None], step: Awaitable[T]) -> T:
        """Await ``step``, but give up as soon as the connection's reader ends."""
        task = asyncio.ensure_future(step)
        try:
            await asyncio.wait({task, reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if task.cancelled():
            reader.result()  # raises ConnectionLost
            raise ConnectionLost("Home Assistant connection closed")
        return task.result()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._connection_tasks.add(task)
        task.add_done_callback(self._connection_tasks.discard)
        return task

    async def _start(self, conn: HomeAssistantConnection) -> None:
        """Everything between auth and "connected": see the module docstring."""
        self._entities_subscription = None
        self._subscribed = []
        self._tracker.hold()  # nothing is current until the entities' first event
        # Must be the first command (id 1) of the connection.
        await conn.command({"type": "supported_features", "features": {"coalesce_messages": 1}})
        config = await conn.command({"type": "get_config"})
        self._tracker.set_config(HaConfig.from_config(config if isinstance(config, dict) else {}))
        await asyncio.gather(
            *(
                conn.subscribe({"type": "subscribe_events", "event_type": kind}, self._on_bus_event)
                for kind in (*SUNSTREAM_EVENTS, *REGISTRY_EVENTS)
            )
        )
        async with self._lock:
            await self._discover(conn)
            await self._subscribe_entities(conn)
            if self._tracker.needs_entry_states:
                await self._refresh_entry_states(conn)

    # -- discovery and subscriptions ------------------------------------------

    async def _discover(self, conn: HomeAssistantConnection) -> None:
        devices, entities, services = await asyncio.gather(
            conn.command({"type": "config/device_registry/list"}),
            conn.command({"type": "config/entity_registry/list"}),
            conn.command({"type": "get_services"}),
        )
        layouts = discover(devices or [], entities or [], self._tracker.sources)
        self._tracker.set_layouts(layouts)
        ours = services.get(DOMAIN) if isinstance(services, dict) else None
        self._services = frozenset(ours) if isinstance(ours, dict) else frozenset()

    async def _subscribe_entities(self, conn: HomeAssistantConnection) -> None:
        """(Re)subscribe to exactly the wanted entities; wait for their states."""
        wanted = self._tracker.wanted_entities()
        if wanted == self._subscribed and self._entities_subscription is not None:
            return
        old, self._entities_subscription = self._entities_subscription, None
        self._tracker.hold()
        if old is not None:
            await conn.unsubscribe(old)
        self._subscribed = wanted
        if not wanted:
            # An empty entity_ids list would subscribe to every entity.
            self._tracker.entity_states({}, resync=True)
            self._tracker.flush()
            return
        first = asyncio.Event()

        def on_entities(event: dict[str, Any]) -> None:
            self._tracker.entity_states(event, resync=not first.is_set())
            first.set()

        self._entities_subscription = await conn.subscribe(
            {"type": "subscribe_entities", "entity_ids": wanted}, on_entities
        )
        async with asyncio.timeout(ENTITIES_TIMEOUT):
            await first.wait()

    async def _refresh_entry_states(self, conn: HomeAssistantConnection) -> None:
        """Config entry states, asked only when a system's entities have no state."""
        states: dict[str, str] = {}
        try:
            entries = await conn.command({"type": "config_entries/get", "domain": DOMAIN})
        except CommandFailed as err:
            _LOGGER.debug("Cannot read Sunstream's config entries: %s", err)
        else:
            for entry in entries if isinstance(entries, list) else ():
                if isinstance(entry, dict) and isinstance(entry.get("entry_id"), str):
                    states[entry["entry_id"]] = str(entry.get("state"))
        self._tracker.set_entry_states(states)
        self._tracker.flush()

    async def _rediscover(self, conn: HomeAssistantConnection) -> None:
        await asyncio.sleep(self.rediscover_delay)  # one pass for a burst of changes
        before = self._tracker.statistic_ids()
        try:
            async with self._lock:
                await self._discover(conn)
                await self._subscribe_entities(conn)
                if self._tracker.needs_entry_states:
                    await self._refresh_entry_states(conn)
                self._tracker.flush()
            if self._tracker.statistic_ids().keys() - before.keys():
                await self._refresh_charts(conn)
        except ConnectionLost:
            pass  # the next connection discovers anyway
        except (HomeAssistantError, TimeoutError) as err:
            _LOGGER.warning("Rediscovering Sunstream systems failed: %s", err)

    # -- events from Home Assistant ---------------------------------------------

    def _on_bus_event(self, event: dict[str, Any]) -> None:
        event_type = event.get("event_type")
        data = event.get("data")
        if not isinstance(event_type, str) or not isinstance(data, dict):
            return
        if event_type in SUNSTREAM_EVENTS:
            self._tracker.bus_event(event_type, data)
        elif event_type in REGISTRY_EVENTS and self._tracker.concerns_us(event_type, data):
            # Also while connecting: the rediscovery waits for the lock the
            # first discovery holds, so a change during it is not missed.
            conn = self._conn
            if conn is not None and (self._rediscovery is None or self._rediscovery.done()):
                self._rediscovery = self._spawn(self._rediscover(conn))

    def _after_frame(self) -> None:
        self._tracker.flush()
        conn = self._conn
        if (
            conn is not None
            and self._ready
            and self._tracker.needs_entry_states
            and (self._entry_refresh is None or self._entry_refresh.done())
        ):
            self._entry_refresh = self._spawn(self._guarded(self._refresh_entry_states(conn)))

    @staticmethod
    async def _guarded(step: Awaitable[None]) -> None:
        try:
            await step
        except ConnectionLost:
            pass
        except (HomeAssistantError, TimeoutError) as err:
            _LOGGER.warning("Reading Sunstream's config entries failed: %s", err)

    # -- charts ----------------------------------------------------------------

    async def _chart_loop(self, conn: HomeAssistantConnection) -> None:
        """Charts now, then every few minutes and just after each hour's statistics."""
        while True:
            try:
                await self._refresh_charts(conn)
            except ConnectionLost:
                return
            now = datetime.now(UTC)
            next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            until_compiled = (next_hour - now).total_seconds() + STATISTICS_COMPILE_DELAY
            await asyncio.sleep(min(self.chart_interval, until_compiled))

    async def _refresh_charts(self, conn: HomeAssistantConnection) -> None:
        systems = self._tracker.statistic_ids()
        if not systems:
            return
        now = datetime.now(UTC)
        window = chart_window(now)
        query = {
            "type": "recorder/statistics_during_period",
            "end_time": now.isoformat(),
            "statistic_ids": sorted(systems),
            "types": ["change"],
            "units": {"energy": "kWh"},
        }
        try:
            hourly, five_minute = await asyncio.gather(
                conn.command(
                    {**query, "start_time": window[0].isoformat(), "period": "hour"},
                    time_limit=STATISTICS_TIMEOUT,
                ),
                conn.command(
                    {**query, "start_time": window[-1].isoformat(), "period": "5minute"},
                    time_limit=STATISTICS_TIMEOUT,
                ),
            )
        except (CommandFailed, TimeoutError, ProtocolError) as err:
            # No recorder, or a slow one: charts stay as they were.
            if not self._statistics_warned:
                _LOGGER.warning("Cannot read PV statistics for the charts: %s", err)
                self._statistics_warned = True
            return
        hourly = hourly if isinstance(hourly, dict) else {}
        five_minute = five_minute if isinstance(five_minute, dict) else {}
        zone = self._tracker.config.time_zone
        charts: dict[str, ChartData] = {
            system_id: hourly_chart(
                now, zone, hourly.get(statistic_id) or (), five_minute.get(statistic_id) or ()
            )
            for statistic_id, system_id in systems.items()
        }
        self._tracker.set_charts(charts)
        self._tracker.flush()

    # -- alerts ------------------------------------------------------------------

    def _acknowledge_upstream(self, alert: Alert, by: str | None) -> None:
        """Hub hook: tell the integration an alert was acknowledged, if it can hear it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._acknowledge(alert.alert_id, by))
        self._acknowledgements.add(task)
        task.add_done_callback(self._acknowledgements.discard)

    async def _acknowledge(self, alert_id: str, by: str | None) -> None:
        if ACKNOWLEDGE_SERVICE not in self._services:
            _LOGGER.debug(
                "Alert %s acknowledged by %s here only: Home Assistant has no %s.%s",
                alert_id,
                by,
                DOMAIN,
                ACKNOWLEDGE_SERVICE,
            )
            return
        try:
            await self.call_service(DOMAIN, ACKNOWLEDGE_SERVICE, {"alert_id": alert_id})
        except HomeAssistantError as err:
            _LOGGER.warning("Acknowledging alert %s in Home Assistant failed: %s", alert_id, err)
