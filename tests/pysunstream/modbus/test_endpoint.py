"""The shared Modbus endpoint: a second client reads and writes through Sunstream's session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from datetime import UTC, datetime
import logging
import struct

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
import pytest

from custom_components.sunstream.pysunstream.errors import SourceUnavailable
from custom_components.sunstream.pysunstream.modbus.client import ModbusClient
from custom_components.sunstream.pysunstream.modbus.endpoint import (
    RECENT_WRITES,
    EndpointPolicy,
    SharedEndpoint,
    passed_on,
)
from custom_components.sunstream.pysunstream.model import Metric, Snapshot
from custom_components.sunstream.pysunstream.sungrow import SungrowModbusSource
from sunstream_fakes.sungrow_fake import SERIAL, FakeSungrow

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSungrow]:
    async with FakeSungrow() as inverter:
        yield inverter


@pytest.fixture
async def source(fake: FakeSungrow) -> AsyncIterator[SungrowModbusSource]:
    polled = SungrowModbusSource("127.0.0.1", fake.port, timeout=0.5)
    await polled.async_poll(datetime.now(UTC))
    yield polled
    await polled.async_close()


async def _serve(
    source: SungrowModbusSource, policy: EndpointPolicy | None = None
) -> tuple[SharedEndpoint, AsyncModbusTcpClient]:
    endpoint = SharedEndpoint(source.client, policy=policy)
    await endpoint.start()
    other = AsyncModbusTcpClient("127.0.0.1", port=endpoint.port, timeout=2, retries=0)
    assert await other.connect()
    return endpoint, other


async def test_reads_come_from_the_latest_poll(
    fake: FakeSungrow, source: SungrowModbusSource
) -> None:
    endpoint, other = await _serve(source)
    try:
        before = len(fake.requests)
        answer = await other.read_input_registers(13022, count=1, device_id=1)
        assert not answer.isError()
        assert answer.registers == [fake.get("battery_soc")]
        assert len(fake.requests) == before  # the device was not asked again
        assert endpoint.stats.from_cache == 1
    finally:
        other.close()
        await endpoint.stop()


async def test_unpolled_reads_are_forwarded_over_the_one_connection(
    fake: FakeSungrow, source: SungrowModbusSource
) -> None:
    endpoint, other = await _serve(source)
    try:
        before = len(fake.requests)
        answer = await other.read_input_registers(5040, count=2, device_id=1)
        assert not answer.isError()
        assert len(fake.requests) == before + 1
        assert fake.connections == 1  # the device still sees Sunstream only
        assert endpoint.stats.forwarded == 1
        # Sunstream's own polling goes on undisturbed.
        await source.async_poll(datetime.now(UTC))
        assert fake.connections == 1
    finally:
        other.close()
        await endpoint.stop()


async def test_writes_are_read_only_unless_allowed(
    fake: FakeSungrow, source: SungrowModbusSource
) -> None:
    endpoint, other = await _serve(source)
    try:
        refused = await other.write_register(13058, 300, device_id=1)
        assert refused.isError()
        assert refused.exception_code == ExcCodes.ILLEGAL_ADDRESS
        assert fake.get("min_soc") == 100
    finally:
        other.close()
        await endpoint.stop()
    endpoint, other = await _serve(source, EndpointPolicy(writable=((13057, 13058),)))
    try:
        allowed = await other.write_register(13058, 300, device_id=1)
        assert not allowed.isError()
        assert fake.get("min_soc") == 300
        assert list(endpoint.stats.recent_writes) == [(13058, (300,))]
        # The next read is the device's value, not the polled one.
        answer = await other.read_holding_registers(13058, count=1, device_id=1)
        assert answer.registers == [300]
        outside = await other.write_registers(13057, [900, 100, 5], device_id=1)
        assert outside.exception_code == ExcCodes.ILLEGAL_ADDRESS
    finally:
        other.close()
        await endpoint.stop()


async def test_bad_requests_get_modbus_exceptions(
    fake: FakeSungrow, source: SungrowModbusSource
) -> None:
    endpoint, other = await _serve(source, EndpointPolicy(forwards_per_second=3))
    try:
        unknown = await other.read_input_registers(13022, count=1, device_id=7)
        assert unknown.exception_code == ExcCodes.GATEWAY_NO_RESPONSE
        missing = await other.read_input_registers(20000, count=1, device_id=1)
        assert missing.exception_code == ExcCodes.ILLEGAL_ADDRESS  # the device's own answer
        fake.exception = ExcCodes.DEVICE_FAILURE
        failing = await other.read_input_registers(5045, count=1, device_id=1)
        assert failing.exception_code == ExcCodes.DEVICE_FAILURE
        fake.exception = None
        # A flood: beyond the forwarding budget, "busy", and the device is spared.
        before = len(fake.requests)
        answers = [
            await other.read_input_registers(5041 + n, count=1, device_id=1) for n in range(8)
        ]
        busy = [a for a in answers if a.isError() and a.exception_code == ExcCodes.DEVICE_BUSY]
        assert busy
        assert len(fake.requests) - before <= 6
        assert endpoint.stats.refused == len(busy)
        await source.async_poll(datetime.now(UTC))
    finally:
        other.close()
        await endpoint.stop()


async def test_a_failing_device_is_passed_on(
    fake: FakeSungrow, source: SungrowModbusSource
) -> None:
    endpoint, other = await _serve(
        source, EndpointPolicy(writable=((13058, 13058),), forwards_per_second=100)
    )
    try:
        fake.refuse_writes = True
        refused = await other.write_register(13058, 200, device_id=1)
        assert refused.exception_code == ExcCodes.DEVICE_FAILURE
        fake.silent = True
        silent = await other.write_register(13058, 200, device_id=1)
        assert silent.exception_code == ExcCodes.GATEWAY_NO_RESPONSE
        unanswered = await other.read_input_registers(5046, count=1, device_id=1)
        assert unanswered.exception_code == ExcCodes.GATEWAY_NO_RESPONSE
    finally:
        other.close()
        await endpoint.stop()


async def _odd_device(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A device whose firmware answers every request with exception 0x0C (not in Modbus)."""
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while True:
            transaction, _, length, unit = struct.unpack(">HHHB", await reader.readexactly(7))
            pdu = await reader.readexactly(length - 1)
            writer.write(struct.pack(">HHHBBB", transaction, 0, 3, unit, pdu[0] | 0x80, 0x0C))
            await writer.drain()
    writer.close()


async def test_a_non_standard_exception_is_a_device_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert passed_on(0x02) is ExcCodes.ILLEGAL_ADDRESS
    device = await asyncio.start_server(_odd_device, "127.0.0.1", 0)
    client = ModbusClient("127.0.0.1", device.sockets[0].getsockname()[1], 1, timeout=1)
    endpoint = SharedEndpoint(client, policy=EndpointPolicy(forwards_per_second=100))
    await endpoint.start()
    other = AsyncModbusTcpClient("127.0.0.1", port=endpoint.port, timeout=2, retries=0)
    try:
        assert await other.connect()
        with caplog.at_level(logging.WARNING):
            odd = await other.read_input_registers(5046, count=1, device_id=1)
        assert odd.exception_code == ExcCodes.DEVICE_FAILURE
        # Answered by the endpoint, not by pymodbus catching an error of ours.
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    finally:
        other.close()
        await endpoint.stop()
        await client.close()
        device.close()


async def test_only_the_latest_writes_are_kept(
    fake: FakeSungrow, source: SungrowModbusSource
) -> None:
    endpoint, other = await _serve(
        source, EndpointPolicy(writable=((13058, 13058),), forwards_per_second=1000)
    )
    try:
        for value in range(RECENT_WRITES + 5):
            answer = await other.write_register(13058, 100 + value, device_id=1)
            assert not answer.isError(), answer.exception_code
        assert endpoint.stats.written == RECENT_WRITES + 5
        assert len(endpoint.stats.recent_writes) == RECENT_WRITES
        assert endpoint.stats.recent_writes[-1] == (13058, (100 + RECENT_WRITES + 4,))
    finally:
        other.close()
        await endpoint.stop()


async def test_writes_within_the_budget_only(
    fake: FakeSungrow, source: SungrowModbusSource
) -> None:
    endpoint, other = await _serve(
        source, EndpointPolicy(writable=((13058, 13058),), forwards_per_second=1)
    )
    try:
        first = await other.write_register(13058, 200, device_id=1)
        second = await other.write_register(13058, 250, device_id=1)
        assert not first.isError(), first.exception_code
        assert second.exception_code == ExcCodes.DEVICE_BUSY
        assert fake.get("min_soc") == 200
    finally:
        other.close()
        await endpoint.stop()


async def test_a_taken_port_is_an_os_error(source: SungrowModbusSource) -> None:
    endpoint, other = await _serve(source)
    try:
        second = SharedEndpoint(source.client, port=endpoint.port)
        with pytest.raises(OSError, match="cannot listen"):
            await second.start()
    finally:
        other.close()
        await endpoint.stop()


async def _poll_until_answered(reader: SungrowModbusSource) -> Snapshot:
    for _ in range(50):
        try:
            return await reader.async_poll(datetime.now(UTC))
        except SourceUnavailable:
            await asyncio.sleep(0.2)
    return await reader.async_poll(datetime.now(UTC))


async def test_a_second_sunstream_reads_through_the_endpoint_while_faults_are_injected(
    fake: FakeSungrow, source: SungrowModbusSource
) -> None:
    """Another Home Assistant's Sunstream pointed at the endpoint: one client at the inverter.

    Every read forwarded (``max_age`` 0), so the faults reach the second
    reader as they would reach Sunstream itself, and both recover.
    """
    connections = fake.connections
    endpoint = SharedEndpoint(
        source.client, policy=EndpointPolicy(max_age=0, forwards_per_second=100)
    )
    await endpoint.start()
    second = SungrowModbusSource("127.0.0.1", endpoint.port, timeout=1)
    try:
        serial, model = await second.identify()
        assert (serial, model.name) == (SERIAL, "SH10RT")
        snapshot = await second.async_poll(datetime.now(UTC))
        fake.step()
        soc = snapshot.get(Metric.BATTERY_SOC)
        assert soc == pytest.approx(fake.get("battery_soc") / 10, abs=1)
        fake.exception = ExcCodes.DEVICE_FAILURE
        with pytest.raises(SourceUnavailable):
            await second.async_poll(datetime.now(UTC))
        with pytest.raises(SourceUnavailable):
            await source.async_poll(datetime.now(UTC))
        fake.exception = None
        # Through faults the inverter saw one client, and no new connection.
        assert (fake.connections, len(fake.handlers), fake.refusals) == (connections, 1, 0)
        fake.silent = True  # the inverter stops answering: the endpoint says 0x0B
        with pytest.raises(SourceUnavailable):
            await second.async_poll(datetime.now(UTC))
        fake.silent = False
        snapshot = await _poll_until_answered(second)  # both sessions back off, then return
        assert snapshot.get(Metric.GRID_IMPORT_ENERGY) is not None
        await _poll_until_answered(source)
        # Sunstream's own session reconnected after the silence; never a second client.
        assert (fake.connections, len(fake.handlers), fake.refusals) == (connections + 1, 1, 0)
    finally:
        await second.async_close()
        await endpoint.stop()
