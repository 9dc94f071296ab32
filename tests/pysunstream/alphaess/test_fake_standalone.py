"""The fake starts on its own, as scripts/develop runs it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys

from custom_components.sunstream.pysunstream.alphaess import AlphaEssSource


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_standalone_fake_serves_a_poll(socket_enabled: None) -> None:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sunstream_fakes.alphaess_fake",
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=10)
        assert f"127.0.0.1:{port}" in line.decode()
        source = AlphaEssSource("127.0.0.1", port, timeout=1.0, spacing=0.01)
        try:
            assert await source.identify() == "AL7001021060321"
        finally:
            await source.async_close()
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await asyncio.wait_for(process.wait(), timeout=5)
