"""The sans-I/O session: every rule driven by plain calls."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from custom_components.sunstream.pysunstream.winet.errors import AuthenticationFailed
from custom_components.sunstream.pysunstream.winet.session import (
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
)

from .conftest import reply


def ok(service: str, **data: Any) -> str:
    return json.dumps(
        {"result_code": 1, "result_msg": "success", "result_data": {"service": service, **data}}
    )


def err(service: str, code: int, msg: str) -> str:
    return json.dumps({"result_code": code, "result_msg": msg, "result_data": {"service": service}})


def sent(action: object) -> dict[str, Any]:
    assert isinstance(action, Send), action
    return json.loads(action.frame)


def logged_in(sh10rt: dict[str, Any], **kwargs: Any) -> WinetSession:
    session = WinetSession("admin", "pw8888", clock_ms=lambda: 1000, **kwargs)
    assert sent(session.connection_made())["service"] == "connect"
    login = sent(session.receive(ok("connect", token="T-connect", uid=1)))
    assert login["token"] == "T-connect"
    listing = sent(session.receive(ok("login", token="T-login", uid=3)))
    # The token of the login reply is used from now on.
    assert listing["token"] == "T-login"
    ready = session.receive(ok("devicelist", list=sh10rt["devices"], count=2))
    assert isinstance(ready, Ready)
    assert ready.changed
    assert session.state is State.READY
    return session


def answer_cycle(session: WinetSession, first: object, sh10rt: dict[str, Any]) -> object:
    """Answer every request of a cycle from the fixture."""
    action = first
    while isinstance(action, Send):
        request = json.loads(action.frame)
        items = sh10rt["data"][request["dev_id"]][request["service"]]
        action = session.receive(reply(request["service"], items))
    return action


def test_full_cycle_in_order(sh10rt: dict[str, Any]) -> None:
    session = logged_in(sh10rt)
    order = []
    action: object = session.start_cycle()
    while isinstance(action, Send):
        request = json.loads(action.frame)
        assert request["token"] == "T-login"
        assert request["time123456"] == 1000
        order.append((request["dev_id"], request["service"]))
        items = sh10rt["data"][request["dev_id"]][request["service"]]
        action = session.receive(reply(request["service"], items))
    assert order == [("1", "real"), ("1", "real_battery"), ("1", "direct"), ("2", "real")]
    assert isinstance(action, CycleDone)
    inverter, battery = action.data.devices
    assert len(inverter.points) == 46 + 15
    assert len(inverter.direct) == 5
    assert len(battery.points) == 8
    assert session.state is State.READY


def test_strays_are_set_aside_and_logged_once(
    sh10rt: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    session = logged_in(sh10rt)
    action = session.start_cycle()
    assert sent(action)["service"] == "real"
    caplog.set_level(logging.WARNING)
    strays = [
        "garbage{",
        ok("real_battery", list=[]),  # wrong service: not our reply
        ok("statistics", list=[]),
        json.dumps({"result_code": 5, "result_msg": "x", "result_data": {"service": "notice"}}),
        '{"result_code":1,"result_msg":"success"}',
        "garbage again{",
    ]
    for stray in strays:
        assert session.receive(stray) is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 5  # the second garbage frame is not warned about again
    assert session.unexpected_count == 6
    action = session.receive(reply("real", sh10rt["data"]["1"]["real"]))
    assert sent(action)["service"] == "real_battery"


def test_token_expiry_reconnects_and_resumes(sh10rt: dict[str, Any]) -> None:
    session = logged_in(sh10rt)
    session.start_cycle()
    action = session.receive(reply("real", sh10rt["data"]["1"]["real"]))
    assert sent(action)["service"] == "real_battery"
    action = session.receive(err("real_battery", 106, "token expired"))
    assert action == Reconnect("token_expired", "result_code 106", backoff=False)
    assert session.state is State.CLOSED
    sent(session.connection_made())
    session.receive(ok("connect", token="T2"))
    session.receive(ok("login", token="T3"))
    ready = session.receive(ok("devicelist", list=sh10rt["devices"]))
    assert ready == Ready(session.devices or (), changed=False)
    # Resumes with the request that expired, with the new token.
    action = session.start_cycle()
    resumed = sent(action)
    assert (resumed["service"], resumed["token"]) == ("real_battery", "T3")
    done = answer_cycle(session, action, sh10rt)
    assert isinstance(done, CycleDone)
    assert len(done.data.devices[0].points) == 46 + 15


def test_repeated_token_expiry_backs_off(sh10rt: dict[str, Any]) -> None:
    session = logged_in(sh10rt)
    results = []
    for _ in range(3):
        session.state = State.LISTING
        session.expecting = "devicelist"
        results.append(session.receive(err("devicelist", 106, "")))
    assert [r.backoff for r in results if isinstance(r, Reconnect)] == [False, False, True]


def test_read_failed_retries_then_skips(sh10rt: dict[str, Any]) -> None:
    session = logged_in(sh10rt, read_retries=2, read_retry_delay=0.5)
    session.start_cycle()
    assert session.receive(err("real", 301, "I18N_COMMON_READ_FAILED")) == Wait(0.5)
    assert session.state is State.WAITING
    assert sent(session.resume())["service"] == "real"
    assert session.receive(err("real", 301, "I18N_COMMON_READ_FAILED")) == Wait(0.5)
    session.resume()
    # Third failure: give up on this request, carry on with the cycle.
    action = session.receive(err("real", 301, "I18N_COMMON_READ_FAILED"))
    assert sent(action)["service"] == "real_battery"
    done = answer_cycle(session, action, sh10rt)
    assert isinstance(done, CycleDone)
    assert done.data.devices[0].failed == ("real",)
    assert len(done.data.devices[0].points) == 15


def test_cycle_with_no_answer_fails(sh10rt: dict[str, Any]) -> None:
    session = logged_in(sh10rt, read_retries=0)
    action: object = session.start_cycle()
    while isinstance(action, Send):
        action = session.receive(err(json.loads(action.frame)["service"], 301, "x"))
    assert isinstance(action, CycleFailed)
    assert session.state is State.READY


def test_invalid_payload_fails_only_that_request(sh10rt: dict[str, Any]) -> None:
    session = logged_in(sh10rt)
    session.start_cycle()
    action = session.receive(ok("real", list="not a list"))
    assert sent(action)["service"] == "real_battery"


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (
            err("notice", 100, "normal user limit"),
            "user_limit",
        ),
        (
            '{"result_code":0,"result_msg":"I18N_COMMON_INTER_ABNORMAL","result_data":{"service":"notice"}}',
            "internal_error",
        ),
        (
            '{"result_code":401,"result_msg":"I18N_COMMON_INTER_ABNORMAL","result_data":{"service":"real"}}',
            "internal_error",
        ),
    ],
)
def test_user_limit_and_internal_error_back_off(
    sh10rt: dict[str, Any], frame: str, reason: str
) -> None:
    session = logged_in(sh10rt)
    session.start_cycle()
    action = session.receive(frame)
    assert isinstance(action, Reconnect)
    assert action.reason == reason
    assert action.backoff
    assert session.state is State.CLOSED


def test_notice_while_idle_also_reconnects(sh10rt: dict[str, Any]) -> None:
    session = logged_in(sh10rt)
    action = session.receive(
        '{"result_code":100,"result_msg":"normal user limit","result_data":{"service":"notice"}}'
    )
    assert isinstance(action, Reconnect)


def test_login_refused_is_final() -> None:
    session = WinetSession("admin", "wrong")
    session.connection_made()
    session.receive(ok("connect", token="T"))
    action = session.receive(err("login", 102, "I18N_COMMON_ACCOUNT_PSSWD_TIP"))
    assert isinstance(action, Fail)
    assert isinstance(action.error, AuthenticationFailed)
    assert action.error.reason == "auth"
    assert action.error.code == 102


def test_timeout_needs_a_new_socket(sh10rt: dict[str, Any]) -> None:
    session = logged_in(sh10rt)
    session.start_cycle()
    action = session.timed_out()
    assert action.reason == "timeout"
    assert action.backoff
    assert session.state is State.CLOSED


def test_offline_devices_are_not_asked(sh10rt: dict[str, Any]) -> None:
    sh10rt["devices"][1]["link_status"] = 0
    session = logged_in(sh10rt)
    done = answer_cycle(session, session.start_cycle(), sh10rt)
    assert isinstance(done, CycleDone)
    assert done.data.devices[1].points == ()
    assert not done.data.devices[1].device.online


def test_devicelist_refresh_and_change(sh10rt: dict[str, Any]) -> None:
    session = logged_in(sh10rt, devicelist_every=1)
    assert isinstance(answer_cycle(session, session.start_cycle(), sh10rt), CycleDone)
    action = session.start_cycle()
    assert sent(action)["service"] == "devicelist"
    ready = session.receive(ok("devicelist", list=sh10rt["devices"][:1]))
    assert isinstance(ready, Ready)
    assert ready.changed
    done = answer_cycle(session, session.start_cycle(), sh10rt)
    assert isinstance(done, CycleDone)
    assert len(done.data.devices) == 1


def test_ping() -> None:
    session = WinetSession("a", "b")
    with pytest.raises(RuntimeError):
        session.ping()
    session.state = State.READY
    assert sent(session.ping())["service"] == "ping"
    assert session.receive('{"result_code":1,"result_msg":"success"}') == Pong()
    assert session.state is State.READY


def test_misuse_is_a_programming_error() -> None:
    session = WinetSession("a", "b")
    with pytest.raises(RuntimeError):
        session.start_cycle()
    with pytest.raises(RuntimeError):
        session.resume()
