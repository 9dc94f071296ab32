"""The asyncio WiNet client: aiohttp sockets around the sans-I/O session.

The client owns exactly one WebSocket at a time and keeps it open across
polls (the dongle serves one user at a time; logging in for every poll is
what makes the web UI kick users out, docs/protocols/winet.md#session). All
protocol decisions are the session's (:mod:`.session`); the client only
carries out its actions, applies the request timeout, counts, and decides
*when* to reconnect:

* at once for routine events (token expiry, a socket the dongle dropped
  while idle), at most twice within one poll;
* after an exponential back-off with jitter otherwise; while the back-off
  runs, :meth:`WinetClient.async_poll` fails fast with
  :class:`~..errors.SourceUnavailable` instead of touching the network;
* after ``watchdog_limit`` consecutive failed polls, a full reconnect that
  also re-detects the transport (firmware updates have switched dongles from
  plain to TLS-only, docs/protocols/winet.md#firmware-timeline).

Between polls, :meth:`WinetClient.async_run_keepalive` (run by the caller,
e.g. as a Home Assistant background task) pings a session that has been
quiet for the keep-alive interval (:mod:`.keepalive`). Battery commands and
settings go through :meth:`WinetClient.async_write_params`, one request
between polls; settings are read with :meth:`WinetClient.async_read_params`
(HTTP, with the session's token).

The aiohttp ``ClientSession`` comes from the caller (Home Assistant's shared
session); the client creates and closes its own only if none is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from functools import partial
import logging
import time
from typing import TYPE_CHECKING, NoReturn

import aiohttp

from ..backoff import Backoff
from ..errors import Reason, SourceUnavailable, SunstreamError
from .device_types import DeviceInfo
from .endpoint import Endpoint, Ports
from .errors import CertificateMismatch, ParamsRefused, WinetProtocolError
from .gateway import GatewayInfo, parse_about
from .i18n import I18n, looks_like_properties, parse_properties
from .keepalive import DEFAULT_INTERVAL as DEFAULT_KEEPALIVE, KeepAlive
from .messages import (
    DEFAULT_LANG,
    MSG_READ_FAILED,
    RESULT_READ_FAILED,
    RESULT_TOKEN_EXPIRED,
    ConnectReply,
    Param,
    ParamResult,
)
from .metrics import ConnectionMetrics
from .params import GETPARAM_PATH, ParamInfo, getparam_query, parse_param_list
from .session import (
    DEFAULT_DEVICELIST_EVERY,
    DEFAULT_READ_RETRIES,
    DEFAULT_READ_RETRY_DELAY,
    Action,
    CycleDone,
    CycleFailed,
    Fail,
    Pong,
    Ready,
    Reconnect,
    Send,
    State,
    Wait,
    WinetSession,
    WriteFailed,
    Written,
)
from .tls import TlsConfig
from .watchdog import DEFAULT_LIMIT, Watchdog

if TYPE_CHECKING:
    from .mapping import PollData

_LOGGER = logging.getLogger(__name__)

DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "pw8888"  # the documented factory default
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_HTTP_TIMEOUT = 10.0
_IMMEDIATE_RECONNECTS = 2
_MAX_FRAME = 4 * 1024 * 1024


class WinetClient:
    """A connection to one WiNet gateway.

    ``secure`` forces plain (False) or TLS (True) transport; ``None``
    detects it (plain first, then TLS; TLS only when ``tls`` is pinned or
    strict). ``ports`` exists for tests and unusual setups.
    """

    def __init__(
        self,
        host: str,
        *,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        session: aiohttp.ClientSession | None = None,
        tls: TlsConfig | None = None,
        secure: bool | None = None,
        ports: Ports | None = None,
        lang: str = DEFAULT_LANG,
        i18n_lang: str = "en_US",
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        http_timeout: float = DEFAULT_HTTP_TIMEOUT,
        read_retry_delay: float = DEFAULT_READ_RETRY_DELAY,
        read_retries: int = DEFAULT_READ_RETRIES,
        devicelist_every: int = DEFAULT_DEVICELIST_EVERY,
        backoff: Backoff | None = None,
        watchdog_limit: int = DEFAULT_LIMIT,
        keepalive: float | None = DEFAULT_KEEPALIVE,
    ) -> None:
        self.host = host
        self.tls = tls or TlsConfig()
        self.ports = ports or Ports()
        self.i18n_lang = i18n_lang
        self.request_timeout = request_timeout
        self.http_timeout = http_timeout
        self.metrics = ConnectionMetrics()
        self.backoff = backoff or Backoff()
        self.watchdog = Watchdog(watchdog_limit)
        self.keepalive = KeepAlive(keepalive)
        self._http = session
        self._own_http = session is None
        self._forced_secure = secure
        self._endpoint: Endpoint | None = (
            Endpoint(host, secure, self.ports) if secure is not None else None
        )
        self._session = WinetSession(
            username,
            password,
            lang=lang,
            read_retry_delay=read_retry_delay,
            read_retries=read_retries,
            devicelist_every=devicelist_every,
        )
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._lock = asyncio.Lock()
        self._retry_at = 0.0
        self._fatal: SunstreamError | None = None
        self._established_once = False
        self._full_reset_pending = False
        self.i18n: I18n | None = None
        self.gateway: GatewayInfo | None = None

    # -- public state -----------------------------------------------------

    @property
    def endpoint(self) -> Endpoint | None:
        """The transport in use, once detected."""
        return self._endpoint

    @property
    def devices(self) -> tuple[DeviceInfo, ...]:
        """The devices of the latest ``devicelist`` (empty before login)."""
        return self._session.devices or ()

    @property
    def connect_info(self) -> ConnectReply | None:
        """What the latest ``connect`` reply said about the dongle."""
        return self._session.connect_info

    @property
    def state(self) -> State:
        """The session's state (for diagnostics)."""
        return self._session.state

    @property
    def connected(self) -> bool:
        """Whether a logged-in socket is open right now."""
        return self._ws is not None and not self._ws.closed and self.state is State.READY

    def set_credentials(self, username: str, password: str) -> None:
        """Use new credentials (after a reauth) and forget a login failure."""
        self._session.username = username
        self._session.password = password
        self._fatal = None
        self._retry_at = 0.0

    # -- entry points -------------------------------------------------------

    async def async_connect(self) -> tuple[DeviceInfo, ...]:
        """Connect, log in and read the device list, ignoring any back-off.

        For a config flow: raises :class:`~.errors.AuthenticationFailed`,
        :class:`~.errors.CertificateMismatch` or
        :class:`~..errors.SourceUnavailable` with the reason.
        """
        async with self._lock:
            self._fatal = None
            self._retry_at = 0.0
            await self._ensure_ready()
            return self.devices

    async def async_poll(self) -> PollData:
        """Read every device once over the open session (opened if needed)."""
        async with self._lock:
            return await self._poll()

    async def async_ping(self) -> bool:
        """Send a keep-alive ``ping`` if the session is idle and open.

        Returns whether it was answered. Never raises for link problems: a
        failed ping closes the socket and the next poll reconnects.
        """
        async with self._lock:
            return await self._ping()

    async def async_keepalive(self) -> bool:
        """Ping once if the link has been quiet for the keep-alive interval.

        Returns whether a ping was answered. A poll or write in progress is
        traffic already: the ping is skipped (the interval is checked again
        once the lock is ours).
        """
        if self._lock.locked():
            return False
        async with self._lock:
            if not self.keepalive.due(asyncio.get_running_loop().time()):
                return False
            return await self._ping()

    async def async_run_keepalive(self) -> None:
        """Keep the session alive until cancelled (returns at once if disabled).

        Pings when the link has been quiet for the interval, then sleeps
        until it next could be; without a session, or while a poll holds the
        link (traffic anyway), it checks back after one interval. Never
        raises for link problems.
        """
        interval = self.keepalive.interval
        if interval is None:
            return
        loop = asyncio.get_running_loop()
        while True:
            await self.async_keepalive()
            await asyncio.sleep(self.keepalive.delay(loop.time()) or interval)

    async def async_write_params(
        self, device: DeviceInfo, params: tuple[Param, ...], *, param_type: str
    ) -> tuple[ParamResult, ...]:
        """Write ``params`` to ``device`` over the open session (opened if needed).

        Returns the gateway's per-parameter results; raises
        :class:`~.errors.ParamsRefused` when the gateway refuses the write
        or reports a parameter as not set, and
        :class:`~..errors.SourceUnavailable` when it cannot be reached.
        After a routine reconnect (token expiry, a socket dropped while
        idle) the write is sent again: each parameter is an absolute value,
        so writing it twice is harmless. After a timeout it is not (the
        first write may still land), the caller gets the error instead.
        """
        async with self._lock:
            result = await self._with_reconnects(
                partial(self._write_once, device, params, param_type)
            )
            if isinstance(result, Written):
                if failures := result.failures:
                    raise ParamsRefused(
                        ", ".join(f"{f.name or f.param_id}: {f.result}" for f in failures)
                    )
                return result.results
            if isinstance(result, WriteFailed):
                raise ParamsRefused(f"{result.code} {result.message}".strip())
            # A write is answered by one of the above (Fail only ends a login).
            raise SourceUnavailable(  # pragma: no cover
                Reason.PROTOCOL, f"unexpected action {result!r}"
            )

    async def _write_once(
        self, device: DeviceInfo, params: tuple[Param, ...], param_type: str
    ) -> Action:
        await self._ensure_ready()
        self.metrics.writes += 1
        return await self._run(self._session.write_params(device, params, param_type=param_type))

    async def async_read_params(self, device: DeviceInfo, group: str) -> tuple[ParamInfo, ...]:
        """Read parameter group ``group`` of ``device`` as the web UI does.

        An HTTP ``GET /device/getParam`` with the session's token (opened if
        needed), between polls like a write. A ``106`` (the token died) is a
        routine reconnect, as on the socket (:meth:`_with_reconnects`): log
        in again and ask again, at most twice. ``301`` raises
        :class:`~..errors.SourceUnavailable` ``read_failed``, any other
        refusal ``refused``: the caller keeps its previous reading.
        """
        async with self._lock:
            return await self._with_reconnects(partial(self._read_once, device, group))

    async def _read_once(self, device: DeviceInfo, group: str) -> tuple[ParamInfo, ...] | Reconnect:
        await self._ensure_ready()
        endpoint = await self._ensure_endpoint()
        query = getparam_query(
            self._session.token, device, group, int(time.time() * 1000), lang=self._session.lang
        )
        body = await self._http_get(f"{endpoint.http_base}{GETPARAM_PATH}", params=query)
        try:
            reply = parse_param_list(body)
        except WinetProtocolError as err:
            raise SourceUnavailable(Reason.PROTOCOL, f"getParam type {group}: {err}") from None
        if reply.ok:
            return reply.params
        detail = f"getParam type {group}: {reply.code} {reply.message}".strip()
        if reply.code == RESULT_TOKEN_EXPIRED:
            # Over HTTP, as over the socket: log in again at once.
            return Reconnect(Reason.TOKEN_EXPIRED, detail, backoff=False)
        if reply.code == RESULT_READ_FAILED or reply.message == MSG_READ_FAILED:
            raise SourceUnavailable(Reason.READ_FAILED, detail)
        raise SourceUnavailable(Reason.REFUSED, detail)

    async def async_fetch_i18n(self) -> I18n:
        """Fetch the translation file (detecting the transport if needed)."""
        endpoint = await self._ensure_endpoint()
        if self.i18n is None:
            self.i18n = await self._fetch_i18n(endpoint)
        return self.i18n

    async def async_fetch_gateway_info(self) -> GatewayInfo | None:
        """Read ``/about/list`` with the session token; ``None`` if unavailable.

        Needs a logged-in session (call after :meth:`async_connect`). The
        result is cached in :attr:`gateway`.
        """
        endpoint = await self._ensure_endpoint()
        token = self._session.token
        url = f"{endpoint.http_base}/about/list"
        params = {"lang": self._session.lang, "token": token}
        try:
            body = await self._http_get(url, params=params)
            self.gateway = parse_about(body)
        except (SourceUnavailable, WinetProtocolError) as err:
            if isinstance(err, CertificateMismatch):
                raise
            _LOGGER.debug("No gateway info from %s: %s", url, err)
            return None
        return self.gateway

    async def async_close(self) -> None:
        """Close the socket (and the HTTP session if the client made it)."""
        async with self._lock:
            await self._drop_socket()
            if self._own_http and self._http is not None:
                await self._http.close()
                self._http = None

    # -- polling -------------------------------------------------------------

    async def _poll(self) -> PollData:
        try:
            return await self._run_cycle()
        finally:
            # Whatever did not finish within this poll starts over next time:
            # a cycle resumed minutes later would mix old and new values.
            self._session.abandon_cycle()

    async def _run_cycle(self) -> PollData:
        try:
            # After a routine reconnect the cycle resumes with the request
            # that failed (the session keeps it), so a token that dies
            # mid-cycle costs one request, not the cycle.
            result = await self._with_reconnects(self._cycle_once)
        except SourceUnavailable as err:
            if err.reason is not Reason.BACKOFF:
                self._count_failed_poll()
            raise
        if isinstance(result, CycleDone):
            self.watchdog.success()
            return result.data
        if isinstance(result, Fail):
            await self._fail(result.error)
        reason, detail = (
            (result.reason, result.detail)
            if isinstance(result, CycleFailed)
            else (Reason.PROTOCOL, f"unexpected action {result!r}")
        )
        self.metrics.last_error = reason
        self._count_failed_poll()
        raise SourceUnavailable(reason, detail)

    async def _cycle_once(self) -> Action:
        await self._ensure_ready()
        result = await self._run(self._session.start_cycle())
        if isinstance(result, Ready):  # the periodic devicelist refresh
            result = await self._run(self._session.start_cycle())
        return result

    async def _with_reconnects[T](self, attempt: Callable[[], Awaitable[T | Reconnect]]) -> T:
        """Run ``attempt`` until its outcome is not a :class:`Reconnect`.

        A routine reconnect (token expiry, a socket the dongle dropped while
        idle: ``backoff`` False) is tried again at once, at most
        ``_IMMEDIATE_RECONNECTS`` times; any other schedules the back-off
        and raises :class:`~..errors.SourceUnavailable` with its reason.
        """
        immediate = _IMMEDIATE_RECONNECTS
        while True:
            result = await attempt()
            if not isinstance(result, Reconnect):
                return result
            await self._after_reconnect_action(result)
            if not result.backoff and immediate > 0:
                immediate -= 1
                continue
            self._schedule_retry(result.reason)
            raise SourceUnavailable(result.reason, result.detail)

    def _count_failed_poll(self) -> None:
        if self.watchdog.failure():
            _LOGGER.warning(
                "WiNet %s: %d failed polls in a row, reconnecting from scratch",
                self.host,
                self.watchdog.limit,
            )
            self.metrics.watchdog_trips += 1
            self._full_reset_pending = True
            if self._forced_secure is None:
                self._endpoint = None

    async def _fail(self, error: SunstreamError) -> NoReturn:
        self._fatal = error
        self.metrics.last_error = (
            error.reason if isinstance(error, SourceUnavailable) else type(error).__name__
        )
        await self._drop_socket()
        raise error

    # -- session establishment ----------------------------------------------

    async def _ensure_ready(self) -> None:
        if self._fatal is not None:
            raise self._fatal
        if self._full_reset_pending:
            self._full_reset_pending = False
            await self._drop_socket()
        if self.connected:
            return
        loop = asyncio.get_running_loop()
        wait = self._retry_at - loop.time()
        if wait > 0:
            raise SourceUnavailable(
                Reason.BACKOFF, f"{self.metrics.last_error or 'failure'}; retrying in {wait:.1f} s"
            )
        result = await self._with_reconnects(self._establish)
        if isinstance(result, Fail):
            await self._fail(result.error)

    async def _establish(self) -> Action:
        await self._drop_socket()
        self.metrics.attempts += 1
        if self._established_once:
            self.metrics.reconnections += 1
        try:
            await self._open_socket()
        except SourceUnavailable as err:
            self.metrics.failures += 1
            self.metrics.last_error = err.reason
            if isinstance(err, CertificateMismatch):
                self._fatal = err
                raise
            self._schedule_retry(err.reason)
            raise
        result = await self._run(self._session.connection_made())
        if isinstance(result, Ready):
            self.metrics.successes += 1
            self.backoff.reset()
            self._retry_at = 0.0
            self._established_once = True
            if result.changed:
                _LOGGER.debug("WiNet %s devices: %s", self.host, result.devices)
            return result
        self.metrics.failures += 1
        return result

    async def _after_reconnect_action(self, action: Reconnect) -> None:
        self.metrics.last_error = action.reason
        if action.reason is Reason.TOKEN_EXPIRED:
            self.metrics.token_expiries += 1
        elif action.reason is Reason.TIMEOUT:
            self.metrics.timeouts += 1
        _LOGGER.debug("WiNet %s: reconnect (%s) %s", self.host, action.reason, action.detail)
        await self._drop_socket()

    def _schedule_retry(self, reason: Reason) -> None:
        delay = self.backoff.next_delay()
        self._retry_at = asyncio.get_running_loop().time() + delay
        _LOGGER.debug("WiNet %s: %s, next attempt in %.1f s", self.host, reason, delay)

    async def _open_socket(self) -> None:
        endpoint = await self._ensure_endpoint()
        http = self._get_http()
        try:
            async with asyncio.timeout(self.request_timeout):
                self._ws = await http.ws_connect(
                    endpoint.ws_url,
                    ssl=self.tls.aiohttp_ssl() if endpoint.secure else False,
                    autoping=True,
                    heartbeat=None,
                    max_msg_size=_MAX_FRAME,
                    timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                )
        except TimeoutError:
            raise SourceUnavailable(Reason.TIMEOUT, f"no WebSocket to {endpoint.ws_url}") from None
        except aiohttp.WSServerHandshakeError as err:
            raise SourceUnavailable(
                Reason.REFUSED, f"WebSocket upgrade refused: HTTP {err.status}"
            ) from None
        except (aiohttp.ClientError, OSError) as err:
            raise self._translate(err, endpoint.ws_url) from None

    def _translate(self, err: BaseException, url: str) -> SourceUnavailable:
        if isinstance(err, aiohttp.ServerFingerprintMismatch):
            assert self.tls.fingerprint is not None
            return CertificateMismatch(self.tls.fingerprint, err.got.hex())
        if isinstance(err, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
            return SourceUnavailable(Reason.TLS, f"{url}: {err}")
        return SourceUnavailable(Reason.UNREACHABLE, f"{url}: {err}")

    async def _ping(self) -> bool:
        if not self.connected:
            return False
        self.keepalive.pinged(asyncio.get_running_loop().time())
        self.metrics.pings += 1
        result = await self._run(self._session.ping())
        if isinstance(result, Pong):
            return True
        _LOGGER.debug("WiNet %s: keep-alive ping failed: %s", self.host, result)
        await self._drop_socket()
        return False

    async def _drop_socket(self) -> None:
        ws, self._ws = self._ws, None
        self._session.connection_lost()
        self.keepalive.reset()
        if ws is not None and not ws.closed:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                await ws.close()

    # -- running actions -------------------------------------------------------

    async def _run(self, action: Action) -> Action:
        """Carry out sends and waits until the session reports an outcome."""
        while True:
            if isinstance(action, Send):
                action = await self._exchange(action)
            elif isinstance(action, Wait):
                await asyncio.sleep(action.delay)
                action = self._session.resume()
            else:
                return action

    async def _exchange(self, send: Send) -> Action:
        ws = self._ws
        if ws is None or ws.closed:
            self._session.connection_lost()
            return Reconnect(Reason.CLOSED, "socket closed", backoff=False)
        before = self._session.unexpected_count
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.request_timeout):
                await ws.send_str(send.frame)
                self.metrics.messages_sent += 1
                self.keepalive.traffic(loop.time())
                while True:
                    message = await ws.receive()
                    if message.type in {aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY}:
                        self.metrics.messages_received += 1
                        self.keepalive.traffic(loop.time())
                        result = self._session.receive(message.data)
                        if result is not None:
                            return result
                        continue
                    self._session.connection_lost()
                    return Reconnect(
                        Reason.CLOSED, f"socket {message.type.name.lower()}", backoff=False
                    )
        except TimeoutError:
            return self._session.timed_out()
        except (aiohttp.ClientError, OSError) as err:
            self._session.connection_lost()
            return Reconnect(Reason.CLOSED, str(err), backoff=False)
        finally:
            self.metrics.unexpected_messages += self._session.unexpected_count - before

    # -- HTTP -------------------------------------------------------------------

    def _get_http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
            self._own_http = True
        return self._http

    async def _http_get(
        self, url: str, *, params: dict[str, str] | None = None, secure: bool | None = None
    ) -> str:
        is_secure = url.startswith("https:") if secure is None else secure
        try:
            async with asyncio.timeout(self.http_timeout):
                async with self._get_http().get(
                    url, params=params, ssl=self.tls.aiohttp_ssl() if is_secure else False
                ) as response:
                    if response.status != 200:
                        raise SourceUnavailable(Reason.REFUSED, f"{url}: HTTP {response.status}")
                    return await response.text(errors="replace")
        except TimeoutError:
            raise SourceUnavailable(Reason.TIMEOUT, f"{url}: no answer") from None
        except (aiohttp.ClientError, OSError) as err:
            raise self._translate(err, url) from None

    async def _fetch_i18n(self, endpoint: Endpoint) -> I18n:
        url = f"{endpoint.http_base}/i18n/{self.i18n_lang}.properties"
        texts = parse_properties(await self._http_get(url))
        if not looks_like_properties(texts):
            raise SourceUnavailable(Reason.REFUSED, f"{url} is not a translation file")
        return I18n(texts)

    async def _ensure_endpoint(self) -> Endpoint:
        """Detect plain or TLS transport once (again after a watchdog trip)."""
        if self._endpoint is not None:
            return self._endpoint
        candidates = [False, True] if self.tls.allows_plain else [True]
        last: SourceUnavailable | None = None
        for secure in candidates:
            endpoint = Endpoint(self.host, secure, self.ports)
            try:
                self.i18n = await self._fetch_i18n(endpoint)
            except CertificateMismatch:
                raise
            except SourceUnavailable as err:
                _LOGGER.debug("WiNet %s: %s not usable: %s", self.host, endpoint.http_base, err)
                last = err
                continue
            self._endpoint = endpoint
            return endpoint
        assert last is not None
        raise last
