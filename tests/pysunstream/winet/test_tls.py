"""TLS modes and transport detection against the fake's self-signed certificate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
import ssl

import pytest

from custom_components.sunstream.pysunstream.errors import SourceUnavailable
from custom_components.sunstream.pysunstream.winet import (
    CertificateMismatch,
    TlsConfig,
    TlsMode,
    WinetClient,
    async_fetch_fingerprint,
    normalise_fingerprint,
)
from sunstream_fakes.winet_fake import FakeWinet

from .conftest import needs_cryptography

pytestmark = needs_cryptography
MakeClient = Callable[..., WinetClient]


@pytest.fixture(name="tls_fake")
async def tls_fake_fixture(socket_enabled: None) -> AsyncIterator[FakeWinet]:
    """A gateway on newer firmware: TLS only, no plain port."""
    async with FakeWinet("sh10rs", plain=False, tls=True) as fake:
        yield fake


def test_fingerprint_normalisation() -> None:
    colons = ":".join(["AB"] * 32)
    assert normalise_fingerprint(colons) == "ab" * 32
    with pytest.raises(ValueError, match="64 hex"):
        normalise_fingerprint("abcd")
    with pytest.raises(ValueError, match="fingerprint"):
        TlsConfig(TlsMode.PINNED)


async def test_detection_falls_back_to_tls(tls_fake: FakeWinet, make_client: MakeClient) -> None:
    client = make_client(tls_fake)
    await client.async_poll()
    assert client.endpoint is not None
    assert client.endpoint.secure
    assert client.endpoint.ws_url.startswith("wss://")


async def test_plain_preferred_when_both_exist(
    make_client: MakeClient, socket_enabled: None
) -> None:
    async with FakeWinet(tls=True) as fake:
        client = make_client(fake)
        await client.async_connect()
        assert client.endpoint is not None
        assert not client.endpoint.secure
        await client.async_close()


async def test_fingerprint_helper_and_pinning(tls_fake: FakeWinet, make_client: MakeClient) -> None:
    fingerprint = await async_fetch_fingerprint("127.0.0.1", tls_fake.ports.https)
    assert fingerprint == tls_fake.fingerprint
    client = make_client(tls_fake, tls=TlsConfig(TlsMode.PINNED, fingerprint.upper()))
    data = await client.async_poll()
    assert len(data.devices) == 1


async def test_pinned_mismatch_is_refused_before_login(
    tls_fake: FakeWinet, make_client: MakeClient
) -> None:
    client = make_client(tls_fake, tls=TlsConfig(TlsMode.PINNED, "00" * 32))
    with pytest.raises(CertificateMismatch) as mismatch:
        await client.async_connect()
    assert mismatch.value.reason == "certificate"
    assert mismatch.value.actual == tls_fake.fingerprint
    assert mismatch.value.expected == "00" * 32
    assert tls_fake.logins == 0
    # Stays refused without touching the gateway again.
    with pytest.raises(CertificateMismatch):
        await client.async_poll()


async def test_pinned_mode_never_falls_back_to_plain(
    make_client: MakeClient, socket_enabled: None
) -> None:
    async with FakeWinet(tls=True) as fake:
        client = make_client(fake, tls=TlsConfig(TlsMode.PINNED, fake.fingerprint or ""))
        await client.async_connect()
        assert client.endpoint is not None
        assert client.endpoint.secure
        await client.async_close()


async def test_strict_rejects_self_signed(tls_fake: FakeWinet, make_client: MakeClient) -> None:
    client = make_client(tls_fake, tls=TlsConfig(TlsMode.STRICT))
    with pytest.raises(SourceUnavailable) as unavailable:
        await client.async_connect()
    assert unavailable.value.reason == "tls"


async def test_strict_accepts_a_trusted_certificate(
    tls_fake: FakeWinet, make_client: MakeClient
) -> None:
    assert tls_fake.certificate_pem is not None
    context = ssl.create_default_context(cadata=tls_fake.certificate_pem.decode())
    client = make_client(tls_fake, tls=TlsConfig(TlsMode.STRICT, ssl_context=context))
    await client.async_poll()


async def test_slow_handshake_within_timeout(tls_fake: FakeWinet, make_client: MakeClient) -> None:
    tls_fake.faults.upgrade_delay = 0.3
    client = make_client(tls_fake, request_timeout=2.0)
    await client.async_connect()
    tls_fake.faults.upgrade_delay = 0.0


async def test_fingerprint_of_nothing(socket_enabled: None) -> None:
    fake = FakeWinet(plain=True)
    await fake.start()
    port = fake.ports.http
    await fake.stop()
    with pytest.raises(SourceUnavailable) as unavailable:
        await async_fetch_fingerprint("127.0.0.1", port, handshake_timeout=2)
    assert unavailable.value.reason == "unreachable"
