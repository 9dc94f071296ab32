"""The WiNet session as a state machine, free of I/O.

In the style of the ``websockets`` library's sans-I/O core: the session
never touches a socket or a clock. The I/O layer tells it what happened
(:meth:`WinetSession.connection_made`, :meth:`~WinetSession.receive`,
:meth:`~WinetSession.timed_out`, …) and carries out the single
:data:`Action` each call returns. That keeps every protocol rule testable
with plain function calls, and the client a thin loop.

Protocol rules enforced here (the facts and their sources: docs/protocols/winet.md):

* ``connect`` → ``login`` with the connect token → ``devicelist`` with the
  token the *login* reply returns;
* one request outstanding at a time; a reply is matched by
  ``result_data.service`` only, so anything else that arrives meanwhile
  (pushed notices, late replies, garbage) is examined and set aside,
  logged once per kind, never raised;
* per device ``real`` / ``real_battery`` / ``direct`` by ``dev_type``;
  offline devices (``link_status`` ≠ 1) are not asked;
* ``106`` (token expired) → reconnect and log in again at once, then resume
  the cycle with the request that failed;
* ``notice`` 100 "normal user limit" and ``I18N_COMMON_INTER_ABNORMAL`` →
  reconnect after a back-off (another user holds the dongle, or it hangs);
* ``301`` / ``I18N_COMMON_READ_FAILED`` → ask again after a delay, a few
  times, then give up on that one request and carry on with the cycle;
* a failed ``login`` is permanent: retrying the same password cannot help;
* a ``param`` write is one request like any other, only between cycles; its
  reply (or an error without ``service``) ends it, and the per-item verdicts
  go back to the caller undecided (:class:`Written`);
* the keep-alive ``ping`` is only sent while idle; *when* is the I/O layer's
  call, measured by :class:`~.keepalive.KeepAlive`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
import logging
import time

from ..errors import Reason, SunstreamError
from .device_types import DIRECT, DeviceInfo
from .errors import AuthenticationFailed, WinetProtocolError
from .mapping import DeviceData, PollData
from .messages import (
    CONNECT,
    DEFAULT_LANG,
    DEVICELIST,
    LOGIN,
    MSG_INTER_ABNORMAL,
    MSG_READ_FAILED,
    MSG_USER_LIMIT,
    NOTICE,
    PARAM,
    PING,
    RESULT_READ_FAILED,
    RESULT_TOKEN_EXPIRED,
    RESULT_USER_LIMIT,
    ConnectReply,
    DataPoint,
    DirectItem,
    Frame,
    Param,
    ParamResult,
    connect_request,
    device_request,
    devicelist_request,
    login_request,
    param_request,
    parse_connect,
    parse_data_points,
    parse_devicelist,
    parse_direct,
    parse_frame,
    parse_login,
    parse_param_results,
    ping_request,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_READ_RETRY_DELAY = 5.0
"""Seconds before asking again after ``301`` (docs/protocols/winet.md#result-codes)."""
DEFAULT_READ_RETRIES = 3
DEFAULT_DEVICELIST_EVERY = 30
"""Cycles between ``devicelist`` refreshes (5 min at the default interval)."""
_MAX_KINDS_REMEMBERED = 64


class State(StrEnum):
    """Where the session is; the I/O layer may show it in diagnostics."""

    CLOSED = "closed"
    CONNECTING = "connecting"
    LOGGING_IN = "logging_in"
    LISTING = "listing"
    READY = "ready"
    POLLING = "polling"
    WAITING = "waiting"
    PINGING = "pinging"
    WRITING = "writing"


# -- actions the I/O layer carries out ---------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``frame`` and wait (with the request timeout) for its reply."""

    frame: str
    service: str


@dataclass(frozen=True, slots=True)
class Wait:
    """Wait ``delay`` seconds, then call :meth:`WinetSession.resume`."""

    delay: float


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Close the socket and open a new one.

    ``backoff`` False: at once (token expiry is routine). True: after the
    reconnect back-off (the gateway is busy, hung or held by someone else).
    ``reason`` is a short word for connectivity events.
    """

    reason: Reason
    detail: str = ""
    backoff: bool = True


@dataclass(frozen=True, slots=True)
class Ready:
    """Logged in and the device list is known; ``changed`` since last time."""

    devices: tuple[DeviceInfo, ...]
    changed: bool


@dataclass(frozen=True, slots=True)
class CycleDone:
    """A poll cycle finished; some requests may have failed (see ``failed``)."""

    data: PollData


@dataclass(frozen=True, slots=True)
class CycleFailed:
    """A poll cycle produced nothing usable; the socket may stay open."""

    reason: Reason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Fail:
    """Stop: retrying cannot help (e.g. :class:`AuthenticationFailed`)."""

    error: SunstreamError


@dataclass(frozen=True, slots=True)
class Pong:
    """The keep-alive ping was answered."""


@dataclass(frozen=True, slots=True)
class Written:
    """The gateway answered a ``param`` write with success.

    ``results`` are its per-parameter verdicts (possibly none); whether a
    failed item fails the whole write is the caller's decision.
    """

    results: tuple[ParamResult, ...]

    @property
    def failures(self) -> tuple[ParamResult, ...]:
        """The parameters the gateway says it did not set."""
        return tuple(result for result in self.results if result.failed)


@dataclass(frozen=True, slots=True)
class WriteFailed:
    """The gateway refused a ``param`` write as a whole (e.g. ``391``)."""

    code: int
    message: str


type Action = (
    Send | Wait | Reconnect | Ready | CycleDone | CycleFailed | Fail | Pong | Written | WriteFailed
)


@dataclass(slots=True)
class _Cycle:
    """Progress of one poll cycle; survives a reconnect for token expiry."""

    devices: tuple[DeviceInfo, ...]
    queue: deque[tuple[DeviceInfo, str]]
    points: dict[int, list[DataPoint]] = field(default_factory=dict)
    direct: dict[int, list[DirectItem]] = field(default_factory=dict)
    failed: dict[int, list[str]] = field(default_factory=dict)
    succeeded: int = 0
    retries: int = 0

    def result(self) -> PollData:
        return PollData(
            tuple(
                DeviceData(
                    device=device,
                    points=tuple(self.points.get(device.dev_id, ())),
                    direct=tuple(self.direct.get(device.dev_id, ())),
                    failed=tuple(self.failed.get(device.dev_id, ())),
                )
                for device in self.devices
            )
        )


def _now_ms() -> int:
    return int(time.time() * 1000)


class WinetSession:
    """One logical session with a WiNet gateway, across socket reconnects.

    ``clock_ms`` supplies ``time123456`` (milliseconds) and is injectable
    for reproducible frames.
    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        lang: str = DEFAULT_LANG,
        read_retry_delay: float = DEFAULT_READ_RETRY_DELAY,
        read_retries: int = DEFAULT_READ_RETRIES,
        devicelist_every: int = DEFAULT_DEVICELIST_EVERY,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.username = username
        self.password = password
        self.lang = lang
        self.read_retry_delay = read_retry_delay
        self.read_retries = read_retries
        self.devicelist_every = devicelist_every
        self._cycles_since_list = 0
        self._clock_ms = clock_ms
        self.state = State.CLOSED
        self.token = ""
        self.connect_info: ConnectReply | None = None
        self.devices: tuple[DeviceInfo, ...] | None = None
        self.expecting: str | None = None
        self._cycle: _Cycle | None = None
        self._expired_in_a_row = 0
        self._seen_unexpected: set[str] = set()
        self.unexpected_count = 0

    # -- events from the I/O layer --------------------------------------

    def connection_made(self) -> Send:
        """A new socket is open: start with ``connect``."""
        self.token = ""
        self.state = State.CONNECTING
        return self._send(connect_request(lang=self.lang), CONNECT)

    def connection_lost(self) -> None:
        """The socket is gone; a cycle in progress waits for the next one."""
        self.state = State.CLOSED
        self.expecting = None
        self.token = ""

    def timed_out(self) -> Reconnect:
        """The outstanding request got no reply in time.

        Replies carry no request id, so a late reply could be taken for the
        answer to the next request: the only safe continuation is a new
        socket.
        """
        service = self.expecting or "?"
        self.connection_lost()
        return Reconnect(Reason.TIMEOUT, f"no reply to {service}")

    def start_cycle(self) -> Action:
        """Begin a poll cycle, or resume the one a reconnect interrupted.

        Every ``devicelist_every`` cycles the device list is asked for
        first, so devices added to or removed from the dongle show up
        without a reconnect; the returned action is then that request, whose
        reply yields :class:`Ready`, after which the caller starts the cycle
        again.
        """
        if self.state is not State.READY or self.devices is None:
            raise RuntimeError(f"cannot poll in state {self.state}")
        if self._cycle is None and self._cycles_since_list >= self.devicelist_every:
            self.state = State.LISTING
            return self._send(devicelist_request(self.token, lang=self.lang), DEVICELIST)
        if self._cycle is None:
            self._cycles_since_list += 1
            queue = deque(
                (device, stage)
                for device in self.devices
                if device.online
                for stage in device.stages
            )
            self._cycle = _Cycle(self.devices, queue)
        return self._advance()

    def resume(self) -> Action:
        """The delay of a :class:`Wait` is over: ask again."""
        if self.state is not State.WAITING:
            raise RuntimeError(f"nothing to resume in state {self.state}")
        self.state = State.POLLING
        return self._request_head()

    def abandon_cycle(self) -> None:
        """Forget a cycle the I/O layer gave up on."""
        self._cycle = None
        if self.state is State.WAITING:
            self.state = State.READY

    def ping(self) -> Send:
        """Keep an idle session alive with the web UI's ``ping``."""
        if self.state is not State.READY:
            raise RuntimeError(f"cannot ping in state {self.state}")
        self.state = State.PINGING
        return self._send(ping_request(self.token, lang=self.lang), PING)

    def write_params(
        self, device: DeviceInfo, params: tuple[Param, ...], *, param_type: str
    ) -> Send:
        """Write ``params`` (group ``param_type``) to ``device`` between cycles.

        The reply is :class:`Written` or :class:`WriteFailed`; token expiry
        and the other session-wide errors give the usual :class:`Reconnect`.
        """
        if self.state is not State.READY:
            raise RuntimeError(f"cannot write in state {self.state}")
        self.state = State.WRITING
        frame = param_request(
            self.token, device, params, self._clock_ms(), param_type=param_type, lang=self.lang
        )
        return self._send(frame, PARAM)

    def receive(self, raw: str | bytes) -> Action | None:
        """Handle one incoming frame; ``None`` means keep waiting."""
        try:
            frame = parse_frame(raw)
        except WinetProtocolError as err:
            self._unexpected("garbage", f"unparsable frame: {err}")
            return None
        if frame.service == NOTICE:
            return self._notice(frame)
        expected = self.expecting
        if expected is None:
            self._unexpected(f"idle:{frame.service}", f"unsolicited frame {frame}")
            return None
        if frame.service is None:
            if expected == PING and frame.ok:
                return self._pong()
            if frame.ok:
                self._unexpected("no_service", f"reply without service: {frame}")
                return None
            # Strictly serial protocol: an error without a service answers
            # the request that is outstanding.
        elif frame.service != expected:
            self._unexpected(
                f"mismatch:{frame.service}", f"got {frame.service}, waiting for {expected}"
            )
            return None
        return self._reply(frame)

    # -- replies ----------------------------------------------------------

    def _reply(self, frame: Frame) -> Action:
        if frame.code == RESULT_TOKEN_EXPIRED:
            return self._token_expired()
        if frame.message == MSG_INTER_ABNORMAL:
            self.connection_lost()
            return Reconnect(Reason.INTERNAL_ERROR, f"{frame.code} {frame.message}")
        if self.state is State.PINGING:
            return self._pong()
        if frame.ok:
            self._expired_in_a_row = 0
        handler = {
            State.CONNECTING: self._on_connect,
            State.LOGGING_IN: self._on_login,
            State.LISTING: self._on_devicelist,
            State.POLLING: self._on_data,
            State.WRITING: self._on_param,
        }.get(self.state)
        if handler is None:  # pragma: no cover - expecting implies one of these
            self._unexpected(f"state:{self.state}", f"reply in state {self.state}")
            return CycleFailed(Reason.PROTOCOL, f"reply in state {self.state}")
        return handler(frame)

    def _on_connect(self, frame: Frame) -> Action:
        if not frame.ok:
            self.connection_lost()
            return Reconnect(Reason.REFUSED, f"connect: {frame.code} {frame.message}")
        try:
            self.connect_info = parse_connect(frame.data)
        except WinetProtocolError as err:
            self.connection_lost()
            return Reconnect(Reason.PROTOCOL, f"connect: {err}")
        self.token = self.connect_info.token
        self.state = State.LOGGING_IN
        return self._send(
            login_request(self.token, self.username, self.password, lang=self.lang), LOGIN
        )

    def _on_login(self, frame: Frame) -> Action:
        if not frame.ok:
            self.connection_lost()
            self._cycle = None
            return Fail(AuthenticationFailed(frame.code, frame.message))
        try:
            self.token = parse_login(frame.data)
        except WinetProtocolError as err:
            self.connection_lost()
            return Reconnect(Reason.PROTOCOL, f"login: {err}")
        self.state = State.LISTING
        return self._send(devicelist_request(self.token, lang=self.lang), DEVICELIST)

    def _on_devicelist(self, frame: Frame) -> Action:
        if not frame.ok:
            self.connection_lost()
            return Reconnect(Reason.REFUSED, f"devicelist: {frame.code} {frame.message}")
        try:
            devices = parse_devicelist(frame.data)
        except WinetProtocolError as err:
            self.connection_lost()
            return Reconnect(Reason.PROTOCOL, f"devicelist: {err}")
        changed = devices != self.devices
        if changed:
            self._cycle = None  # its queue names devices that may be gone
        self.devices = devices
        self._cycles_since_list = 0
        self.state = State.READY
        self.expecting = None
        return Ready(devices, changed)

    def _on_data(self, frame: Frame) -> Action:
        cycle = self._cycle
        assert cycle is not None
        device, stage = cycle.queue[0]
        if frame.code == RESULT_READ_FAILED or frame.message == MSG_READ_FAILED:
            if cycle.retries < self.read_retries:
                cycle.retries += 1
                self.state = State.WAITING
                self.expecting = None
                return Wait(self.read_retry_delay)
            return self._stage_failed(device, stage, f"{frame.code} {frame.message}")
        if not frame.ok:
            return self._stage_failed(device, stage, f"{frame.code} {frame.message}")
        try:
            if stage == DIRECT:
                cycle.direct.setdefault(device.dev_id, []).extend(parse_direct(frame.data))
            else:
                cycle.points.setdefault(device.dev_id, []).extend(parse_data_points(frame.data))
        except WinetProtocolError as err:
            self._unexpected(f"invalid:{stage}", f"invalid {stage} reply: {err}")
            return self._stage_failed(device, stage, str(err))
        cycle.succeeded += 1
        cycle.queue.popleft()
        cycle.retries = 0
        return self._advance()

    def _on_param(self, frame: Frame) -> Action:
        self.state = State.READY
        self.expecting = None
        if not frame.ok:
            return WriteFailed(frame.code, frame.message)
        try:
            return Written(parse_param_results(frame.data))
        except WinetProtocolError as err:
            self._unexpected("invalid:param", f"invalid param reply: {err}")
            return WriteFailed(frame.code, f"invalid reply: {err}")

    def _stage_failed(self, device: DeviceInfo, stage: str, detail: str) -> Action:
        cycle = self._cycle
        assert cycle is not None
        _LOGGER.debug("%s of device %s failed: %s", stage, device.dev_id, detail)
        cycle.failed.setdefault(device.dev_id, []).append(stage)
        cycle.queue.popleft()
        cycle.retries = 0
        return self._advance()

    def _advance(self) -> Action:
        cycle = self._cycle
        assert cycle is not None
        if cycle.queue:
            self.state = State.POLLING
            return self._request_head()
        self._cycle = None
        self.state = State.READY
        self.expecting = None
        if cycle.succeeded == 0 and any(cycle.failed.values()):
            return CycleFailed(Reason.READ_FAILED, "no device answered this cycle")
        return CycleDone(cycle.result())

    def _request_head(self) -> Send:
        assert self._cycle is not None
        device, stage = self._cycle.queue[0]
        frame = device_request(stage, self.token, device.dev_id, self._clock_ms(), lang=self.lang)
        return self._send(frame, stage)

    # -- pushed and odd frames ----------------------------------------------

    def _token_expired(self) -> Reconnect:
        self._expired_in_a_row += 1
        self.connection_lost()
        # Expiry right after a fresh login means the gateway is confused;
        # hammering it with logins would make that worse.
        return Reconnect(
            Reason.TOKEN_EXPIRED, "result_code 106", backoff=self._expired_in_a_row > 2
        )

    def _notice(self, frame: Frame) -> Action | None:
        if frame.code == RESULT_USER_LIMIT or frame.message == MSG_USER_LIMIT:
            self.connection_lost()
            return Reconnect(Reason.USER_LIMIT, frame.message or "notice 100")
        if frame.message == MSG_INTER_ABNORMAL:
            self.connection_lost()
            return Reconnect(Reason.INTERNAL_ERROR, frame.message)
        self._unexpected(f"notice:{frame.code}", f"notice {frame.code} {frame.message}")
        return None

    def _pong(self) -> Pong:
        self.state = State.READY
        self.expecting = None
        return Pong()

    def _send(self, frame: str, service: str) -> Send:
        self.expecting = service
        return Send(frame, service)

    def _unexpected(self, kind: str, detail: str) -> None:
        """Log an unexpected frame: a warning the first time, debug after."""
        self.unexpected_count += 1
        if kind in self._seen_unexpected:
            _LOGGER.debug("Unexpected WiNet message (again): %.300s", detail)
            return
        if len(self._seen_unexpected) < _MAX_KINDS_REMEMBERED:
            self._seen_unexpected.add(kind)
        _LOGGER.warning("Unexpected WiNet message, ignored: %.300s", detail)
