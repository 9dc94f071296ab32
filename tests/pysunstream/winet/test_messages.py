"""Frames: request building and validation of captured replies (no sockets)."""

from __future__ import annotations

import contextlib
import json
import random
from typing import Any

import pytest

from custom_components.sunstream.pysunstream.winet import messages
from custom_components.sunstream.pysunstream.winet.errors import WinetProtocolError
from custom_components.sunstream.pysunstream.winet.session import WinetSession

from .conftest import reply

# Real replies, as docs/protocols/winet.md quotes them with their sources.
CONNECT_BJ = (
    '{"result_code":1,"result_msg":"success","result_data":{"service":"connect",'
    '"token":"12345678-9012-4000-0000-abcdef123456","uid":1,"tips_disable":1}}'
)
LOGIN_OPT = (
    '{"result_code":1,"result_msg":"success","result_data":{"service":"login",'
    '"token":"79cad871-e875-4858-a953-f7a5531734b7","uid":3,"role":0,"tips_disable":1,'
    '"virgin_flag":0,"isFirstLogin":0,"forceModifyPasswd":0}}'
)
DEVICELIST_BJ = (
    '{"result_code":1,"result_msg":"success","result_data":{"service":"devicelist","list":['
    '{"id":1,"dev_id":1,"dev_code":3343,"dev_type":35,"dev_procotol":2,"inv_type":0,'
    '"dev_sn":"REDACTED","dev_name":"SH5.0RS(COM1-001)","dev_model":"SH5.0RS","port_name":"COM1",'
    '"phys_addr":"1","logc_addr":"1","link_status":1,"init_status":1,"dev_special":"0","list":[]},'
    '{"id":2,"dev_id":2,"dev_code":8424,"dev_type":44,"dev_procotol":0,"inv_type":0,'
    '"dev_sn":"REDACTED2","dev_name":"SBR128(COM1-200)","dev_model":"SBR128","port_name":"COM1",'
    '"phys_addr":"200","logc_addr":"2","link_status":1,"init_status":255,"dev_special":"0",'
    '"list":[]}],"count":2}}'
)
NOTICE = '{"result_code":100,"result_msg":"normal user limit","result_data":{"service":"notice"}}'
PING_REPLY = '{"result_code":1,"result_msg":"success"}'


def test_requests_follow_the_working_clients() -> None:
    connect = json.loads(messages.connect_request())
    assert connect == {"lang": "en_us", "token": "", "service": "connect"}
    login = json.loads(messages.login_request("t1", "admin", "pw8888"))
    assert login == {
        "lang": "en_us",
        "token": "t1",
        "service": "login",
        "passwd": "pw8888",
        "username": "admin",
    }
    listing = json.loads(messages.devicelist_request("t2"))
    assert listing["type"] == "0"
    assert listing["is_check_token"] == "0"
    real = json.loads(messages.device_request("real", "t2", 1, 1661762597181))
    # dev_id is a string on the wire; time123456 carries milliseconds.
    assert real == {
        "lang": "en_us",
        "token": "t2",
        "dev_id": "1",
        "service": "real",
        "time123456": 1661762597181,
    }
    ping = json.loads(messages.ping_request(request_id="x"))
    assert ping["service"] == "ping"
    assert ping["id"] == "x"


def test_connect_and_login_replies() -> None:
    frame = messages.parse_frame(CONNECT_BJ)
    assert frame.ok
    assert frame.service == "connect"
    info = messages.parse_connect(frame.data)
    assert info.token == "12345678-9012-4000-0000-abcdef123456"
    assert info.generation == 1
    s2 = messages.parse_connect({"token": "x", "uid": 1, "ip": "10.0.0.2", "forceModifyPasswd": 0})
    assert s2.generation == 3
    assert messages.parse_connect({"token": "x", "ip": "10.0.0.2"}).generation == 2
    assert (
        messages.parse_login(messages.parse_frame(LOGIN_OPT).data)
        == "79cad871-e875-4858-a953-f7a5531734b7"
    )


def test_devicelist_capture() -> None:
    devices = messages.parse_devicelist(messages.parse_frame(DEVICELIST_BJ).data)
    assert [d.dev_id for d in devices] == [1, 2]
    assert devices[0].stages == ("real", "real_battery", "direct")
    assert devices[1].stages == ("real",)
    assert devices[1].kind.value == "battery"
    assert devices[0].raw["dev_procotol"] == 2  # kept as the device spells it
    assert "list" not in devices[0].raw


def test_devicelist_tolerates_strings_and_unknown_types() -> None:
    devices = messages.parse_devicelist(
        {"list": [{"dev_id": "7", "dev_type": "99", "dev_sn": None}], "count": 5}
    )
    assert devices[0].dev_id == 7
    assert devices[0].stages == ("real",)  # unknown type: polled, not crashed on
    assert devices[0].key == "dev7"
    assert devices[0].online


@pytest.mark.parametrize(
    "data",
    [
        {"list": "nope"},
        {"list": [1]},
        {"list": [{"dev_type": 35}]},
        {"list": [{"dev_id": True, "dev_type": 35}]},
        {"list": [{"dev_id": 1, "dev_type": 35}, {"dev_id": 1, "dev_type": 44}]},
    ],
)
def test_devicelist_rejects(data: dict[str, Any]) -> None:
    with pytest.raises(WinetProtocolError):
        messages.parse_devicelist(data)


def test_data_points_and_direct(sh10rt: dict[str, Any]) -> None:
    real = messages.parse_frame(reply("real", sh10rt["data"]["1"]["real"]))
    points = messages.parse_data_points(real.data)
    by_name = {p.name: p for p in points}
    assert by_name["I18N_COMMON_BACKUP_FREQUENCY_MPPOWHDF"].unit == "HZ"
    assert by_name["I18N_COMMON_TOTAL_YIELD"].value == "--"
    direct = messages.parse_direct(
        messages.parse_frame(reply("direct", sh10rt["data"]["1"]["direct"])).data
    )
    assert direct[2].name == "I18N_COMMON_GROUP_BUNCH_TITLE_AND%@1"
    # Numbers where strings are expected are accepted; objects are not.
    assert (
        messages.parse_data_points({"list": [{"data_name": "X", "data_value": 1}]})[0].value == "1"
    )
    with pytest.raises(WinetProtocolError):
        messages.parse_data_points({"list": [{"data_name": "X", "data_value": {}}]})
    with pytest.raises(WinetProtocolError):
        messages.parse_direct({"list": [{"voltage": "1"}]})


def test_envelopes() -> None:
    ping = messages.parse_frame(PING_REPLY)
    assert ping.service is None
    assert ping.ok
    notice = messages.parse_frame(NOTICE)
    assert notice.code == 100
    assert notice.service == "notice"
    assert (
        messages.parse_frame(b'{"result_code":"301","result_data":{"service":"real"}}').code == 301
    )


def test_binary_frames_are_read_as_text() -> None:
    """A byte-order mark is dropped; bytes that are not UTF-8 cost only their characters."""
    text = '{"result_code":1,"result_data":{"service":"real","unit":"℃"}}'
    assert messages.parse_frame(text.encode("utf-8-sig")).service == "real"
    frame = messages.parse_frame(text.encode("gb18030"))
    assert frame.service == "real"
    assert frame.data["unit"] == "\ufffd\ufffd"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ping",
        "[]",
        "{}",
        '{"result_code":null}',
        '{"result_code":true}',
        '{"result_code":1,"result_data":[]}',
        '{"result_code":1,"result_data":{"service":{}}}',
        '{"result_code":1,"result_msg":[]}',
        b"\xff\xfe",
        "[" * 100000,
    ],
)
def test_parse_frame_rejects_with_own_error(raw: str | bytes) -> None:
    with pytest.raises(WinetProtocolError):
        messages.parse_frame(raw)


def _mutations(rng: random.Random, frame: str) -> str:
    choice = rng.randrange(6)
    if choice == 0:  # truncate
        return frame[: rng.randrange(len(frame))]
    if choice == 1:  # flip a character
        i = rng.randrange(len(frame))
        return frame[:i] + chr(rng.randrange(32, 0x3000)) + frame[i + 1 :]
    if choice == 2:  # delete a slice
        i, j = sorted(rng.randrange(len(frame)) for _ in range(2))
        return frame[:i] + frame[j:]
    if choice == 3:  # duplicate a slice
        i, j = sorted(rng.randrange(len(frame)) for _ in range(2))
        return frame[:j] + frame[i:j] + frame[j:]
    if choice == 4:  # swap JSON types of a value
        return frame.replace('"1"', "1").replace(":1,", ':"x",', 1).replace("[", "{", 1)
    return frame.replace('"', "", rng.randrange(1, 4))


def test_mutated_real_frames_only_raise_protocol_errors(sh10rt: dict[str, Any]) -> None:
    """Deterministic mutation fuzzing of real frames through parser and session.

    A fast smoke test; the property-based fuzzing (12,500 Hypothesis
    examples) is in ``test_fuzz.py``.
    """
    seeds = [
        CONNECT_BJ,
        LOGIN_OPT,
        DEVICELIST_BJ,
        NOTICE,
        PING_REPLY,
        reply("real", sh10rt["data"]["1"]["real"]),
        reply("direct", sh10rt["data"]["1"]["direct"]),
        reply("real_battery", sh10rt["data"]["1"]["real_battery"]),
    ]
    rng = random.Random(20240530)
    parsers = (
        messages.parse_connect,
        messages.parse_login,
        messages.parse_devicelist,
        messages.parse_data_points,
        messages.parse_direct,
    )
    session = WinetSession("admin", "pw8888")
    session.connection_made()
    for _ in range(4000):
        frame = _mutations(rng, rng.choice(seeds))
        try:
            parsed = messages.parse_frame(frame)
        except WinetProtocolError:
            continue
        for parse in parsers:
            with contextlib.suppress(WinetProtocolError):
                parse(parsed.data)
        # The session never raises on any frame, whatever state it is in.
        session.receive(frame)
        if session.state.value == "closed":
            session.connection_made()
        elif session.state.value == "ready":
            session.start_cycle()
