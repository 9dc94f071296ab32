"""The Modbus fakes start on their own, as scripts/develop runs them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
import socket
import sys

import pytest

from custom_components.sunstream.pysunstream.alphaess import AlphaEssSource
from custom_components.sunstream.pysunstream.sungrow import SungrowModbusSource


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _alphaess(port: int) -> str:
    source = AlphaEssSource("127.0.0.1", port, timeout=1.0, spacing=0.01)
    try:
        return await source.identify()
    finally:
        await source.async_close()


async def _sungrow(port: int) -> str:
    source = SungrowModbusSource("127.0.0.1", port, timeout=1.0)
    try:
        serial, model = await source.identify()
        return f"{serial} {model.name}"
    finally:
        await source.async_close()


@pytest.mark.parametrize(
    ("module", "identify", "expected"),
    [
        ("sunstream_fakes.alphaess_fake", _alphaess, "AL7001021060321"),
        ("sunstream_fakes.sungrow_fake", _sungrow, "A2230000001 SH10RT"),
    ],
)
async def test_standalone_fake_serves_a_poll(
    socket_enabled: None, module: str, identify: Callable[[int], Awaitable[str]], expected: str
) -> None:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=10)
        assert f"127.0.0.1:{port}" in line.decode()
        assert await identify(port) == expected
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await asyncio.wait_for(process.wait(), timeout=5)
