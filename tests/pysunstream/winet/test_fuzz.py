"""Property-based fuzzing of the WiNet frame parser and the session.

The promise under test (:mod:`...winet.messages`): whatever arrives on the
socket, the parsers raise :class:`WinetProtocolError` and nothing else, and
the session never raises at all. Inputs:

* arbitrary text and bytes;
* JSON built from the protocol's own keys and services with values of any
  JSON type (type confusion is what real firmware changes look like);
* **mutated real frames**: every reply the fake serves from ``winet_data``
  plus the captures quoted in docs/protocols/winet.md, damaged character by character
  (truncation, deletion, insertion, duplication, substitution) or
  structurally (a value anywhere replaced by any JSON value, or removed);
* sequences of such frames fed to a session in every state.

Settings: ``derandomize=True`` (the same examples on every run, as CI
needs), no example database (nothing written to the tree), no deadline
(a shared CI core is slow, not wrong). 12,500 examples in all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
import copy
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.sunstream.pysunstream.winet import messages
from custom_components.sunstream.pysunstream.winet.dispatch import command_params
from custom_components.sunstream.pysunstream.winet.errors import WinetProtocolError
from custom_components.sunstream.pysunstream.winet.session import (
    Reconnect,
    Send,
    State,
    WinetSession,
)
from sunstream_fakes.winet_fake import FIXTURES, load_fixture

from .test_dispatch import STOP
from .test_messages import CONNECT_BJ, DEVICELIST_BJ, LOGIN_OPT, NOTICE, PING_REPLY

# Hypothesis 6.170 on Python 3.14 warns about its *own* global PRNG
# (a reference-count heuristic in ``register_random``); nothing of ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:It looks like `register_random`:hypothesis.errors.HypothesisWarning"
)


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _reply(service: str, data: dict[str, Any], code: int = 1, msg: str = "success") -> str:
    return json.dumps(
        {"result_code": code, "result_msg": msg, "result_data": {"service": service, **data}},
        ensure_ascii=False,
    )


def _real_frames() -> list[str]:
    """Every reply the fake gateway serves, from the captured fixtures."""
    frames = [CONNECT_BJ, LOGIN_OPT, DEVICELIST_BJ, NOTICE, PING_REPLY]
    for name in FIXTURES:
        fixture = load_fixture(name)
        frames.append(_reply("connect", {"token": "c0ffee", **fixture["connect"]}))
        frames.append(_reply("login", {"token": "t0k3n", **fixture["login"]}))
        devices = [{**device, "list": []} for device in fixture["devices"]]
        frames.append(_reply("devicelist", {"list": devices, "count": len(devices)}))
        for lists in fixture["data"].values():
            for service, items in lists.items():
                frames.append(_reply(service, {"list": items, "count": len(items)}))
    frames.append(
        _reply(
            "param",
            {"list": [{"param_id": 1, "param_pid": 1, "param_name": "m", "result": 0}]},
        )
    )
    frames.append(_reply("param", {}, code=391, msg="I18N_COMMON_SET_FAILED"))
    frames.append(_reply("real", {}, code=106, msg="I18N_COMMON_INTER_ABNORMAL"))
    frames.append(_reply("real", {}, code=301, msg="I18N_COMMON_READ_FAILED"))
    return frames


REAL_FRAMES = _real_frames()
SERVICES = ["connect", "login", "devicelist", "real", "real_battery", "direct", "param"]
SERVICES += ["notice", "ping", "statistics"]
KEYS = [
    "result_code",
    "result_msg",
    "result_data",
    "service",
    "list",
    "count",
    "token",
    "uid",
    "ip",
    "forceModifyPasswd",
    "dev_id",
    "dev_type",
    "dev_code",
    "dev_sn",
    "dev_model",
    "dev_name",
    "link_status",
    "data_name",
    "data_value",
    "data_unit",
    "name",
    "voltage",
    "voltage_unit",
    "current",
    "current_unit",
    "param_id",
    "param_pid",
    "param_name",
    "result",
]
PARSERS: tuple[Callable[[Any], object], ...] = (
    messages.parse_connect,
    messages.parse_login,
    messages.parse_devicelist,
    messages.parse_data_points,
    messages.parse_direct,
    messages.parse_param_results,
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-2, max_value=400)
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["--", "1", "-1", "0.00", "I18N_COMMON_READ_FAILED", "℃", "kΩ"])
)
# Two levels deep at most: Hypothesis' recursive strategies cost ~10 ms per
# example, and nesting deeper than the protocol's own adds nothing here
# (the envelope parser's recursion guard is tested on its own).
containers = st.lists(scalars, max_size=3) | st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=4), scalars, max_size=3
)
json_values = scalars | containers | st.lists(containers, max_size=2)
item = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4)
frames = st.fixed_dictionaries(
    {"result_code": json_values},
    optional={
        "result_msg": json_values,
        "result_data": st.fixed_dictionaries(
            {},
            optional={
                "service": st.sampled_from(SERVICES) | json_values,
                "list": st.lists(item, max_size=3) | json_values,
                "token": json_values,
                "count": json_values,
            },
        )
        | json_values,
    },
)


def _check(raw: str | bytes) -> None:
    """The property: only WinetProtocolError, from the envelope or any payload parser."""
    try:
        frame = messages.parse_frame(raw)
    except WinetProtocolError:
        return
    assert isinstance(frame.code, int)
    assert frame.service is None or isinstance(frame.service, str)
    for parse in PARSERS:
        with contextlib.suppress(WinetProtocolError):
            parse(frame.data)


@fuzz(2000)
@given(st.text(max_size=300))
def test_any_text(raw: str) -> None:
    _check(raw)


@fuzz(1000)
@given(st.binary(max_size=300))
def test_any_bytes(raw: bytes) -> None:
    _check(raw)


@fuzz(2000)
@given(frames, st.booleans())
def test_protocol_shaped_json(frame: dict[str, Any], as_bytes: bool) -> None:
    text = json.dumps(frame)  # NaN/Infinity included: json.loads accepts them
    _check(text.encode() if as_bytes else text)


_DAMAGE = ("truncate", "delete", "insert", "duplicate", "replace")
_JUNK = '{}[]",:-0123456789.eE\\ nul'


def damage(text: str, rng: random.Random, times: int) -> str:
    """``text`` damaged character by character ``times`` times."""
    for _ in range(times):
        i = rng.randint(0, len(text))
        j = rng.randint(i, min(len(text), i + 40))
        match rng.choice(_DAMAGE):
            case "truncate":
                text = text[:i]
            case "delete":
                text = text[:i] + text[j:]
            case "insert":
                junk = "".join(rng.choice(_JUNK) for _ in range(rng.randint(1, 8)))
                text = text[:i] + junk + text[i:]
            case "duplicate":
                text = text[:j] + text[i:j] + text[j:]
            case _:
                text = (
                    text[:i]
                    + chr(rng.choice((rng.randint(0, 0x7F), rng.randint(0, 0x10FFFF))))
                    + text[i + 1 :]
                )
    return text


@st.composite
def damaged(draw: st.DrawFn) -> str:
    """A real frame, damaged character by character 1–4 times.

    Hypothesis draws the frame, the number of hits and the seed of the
    damage; the damage itself is plain ``random`` (cheap to generate, and
    replayable from the three drawn numbers).
    """
    text = draw(st.sampled_from(REAL_FRAMES))
    rng = random.Random(draw(st.integers(0, 2**32)))
    return damage(text, rng, draw(st.integers(1, 4)))


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


REAL_PAYLOADS = [
    (json.loads(raw), [p for p in _paths(json.loads(raw)) if p]) for raw in REAL_FRAMES
]


@st.composite
def restructured(draw: st.DrawFn) -> str:
    """A real frame with one value anywhere replaced by any JSON value (or removed)."""
    original, paths = draw(st.sampled_from(REAL_PAYLOADS))
    payload = copy.deepcopy(original)
    path = paths[draw(st.integers(0, len(paths) - 1))]
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return json.dumps(payload, ensure_ascii=False)


@fuzz(3000)
@given(damaged())
def test_damaged_real_frames(raw: str) -> None:
    _check(raw)


@fuzz(3000)
@given(restructured())
def test_restructured_real_frames(raw: str) -> None:
    _check(raw)


SH10RT = load_fixture("sh10rt")


def _logged_in() -> WinetSession:
    fixture = SH10RT
    session = WinetSession("admin", "pw8888", clock_ms=lambda: 0, read_retry_delay=0)
    session.connection_made()
    session.receive(_reply("connect", {"token": "a"}))
    session.receive(_reply("login", {"token": "b"}))
    session.receive(_reply("devicelist", {"list": fixture["devices"]}))
    assert session.state is State.READY
    return session


@fuzz(1500)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["cycle", "write", "ping", "idle"]),
            st.sampled_from(REAL_FRAMES) | damaged() | restructured(),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_session_never_raises(steps: list[tuple[str, str]]) -> None:
    """Whatever arrives, in whatever state, the session answers with an action or None."""
    session = _logged_in()
    device = session.devices[0] if session.devices else None
    assert device is not None
    for start, raw in steps:
        if session.state is State.CLOSED:
            session.connection_made()
        elif session.state is State.WAITING:
            session.resume()
        elif session.state is State.READY and session.devices:
            if start == "cycle":
                session.start_cycle()
            elif start == "write":
                session.write_params(device, command_params(STOP), param_type="9")
            elif start == "ping":
                session.ping()
        action = session.receive(raw)
        assert action is None or not isinstance(action, Exception)
        if isinstance(action, Send):
            assert session.expecting == action.service
        if isinstance(action, Reconnect):
            assert session.state is State.CLOSED
    assert session.state in State


def test_the_seeds_are_valid() -> None:
    """The corpus is made of frames the parser accepts: mutations start from real input."""
    assert len(REAL_FRAMES) >= 20
    for raw in REAL_FRAMES:
        messages.parse_frame(raw)


@pytest.mark.parametrize("raw", ['{"result_code":1e999}', '{"result_code":NaN}', "[]" * 3])
def test_number_edge_cases(raw: str) -> None:
    with pytest.raises(WinetProtocolError):
        messages.parse_frame(raw)
