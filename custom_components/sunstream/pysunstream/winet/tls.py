"""TLS modes for gateways that speak HTTPS / WSS.

Every WiNet-S dongle presents the same self-signed certificate (issuer and
subject ``CN=Sungrow``, SANs ``169.254.12.12``, ``11.11.11.1``,
``127.0.0.1``; docs/protocols/winet.md#certificate), so normal verification fails on a LAN
address even if the certificate were trusted. Three modes follow from that:

* ``bypass`` (default): encrypt, verify nothing — what every existing
  client does;
* ``pinned``: accept exactly the certificate whose SHA-256 fingerprint the
  user pinned (the only verification that can work with the shared
  certificate, and it still detects a swapped device or a user-uploaded
  certificate change);
* ``strict``: full CA and hostname validation, for users who uploaded
  their own certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from enum import StrEnum
import hashlib
import ssl

import aiohttp

from ..errors import Reason, SourceUnavailable


class TlsMode(StrEnum):
    """How much of the gateway's certificate to check."""

    BYPASS = "bypass"
    PINNED = "pinned"
    STRICT = "strict"


def normalise_fingerprint(text: str) -> str:
    """Lowercase hex without separators; accepts ``AB:CD:…`` as browsers show it.

    Raises :class:`ValueError` unless the result is 64 hex digits.
    """
    digits = "".join(ch for ch in text.strip().lower() if ch not in ": -")
    if len(digits) != 64 or any(ch not in "0123456789abcdef" for ch in digits):
        raise ValueError("a SHA-256 fingerprint is 64 hex digits")
    return digits


def fingerprint_of(der: bytes) -> str:
    """SHA-256 fingerprint of a DER certificate, as :func:`normalise_fingerprint`."""
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """The TLS mode and what it needs.

    ``fingerprint`` is required in pinned mode. ``ssl_context`` is used in
    strict mode (e.g. with the user's CA loaded); without it aiohttp's
    default verified context applies. The context is not built here, since
    loading CA files blocks the event loop.
    """

    mode: TlsMode = TlsMode.BYPASS
    fingerprint: str | None = None
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        if self.fingerprint is not None:
            object.__setattr__(self, "fingerprint", normalise_fingerprint(self.fingerprint))
        if self.mode is TlsMode.PINNED and self.fingerprint is None:
            raise ValueError("pinned TLS needs a fingerprint")

    @property
    def allows_plain(self) -> bool:
        """Whether unencrypted HTTP/WS may be used at all.

        A user who pinned a certificate or asked for strict validation asked
        for TLS; falling back to plain text would silently drop that.
        """
        return self.mode is TlsMode.BYPASS

    def aiohttp_ssl(self) -> ssl.SSLContext | aiohttp.Fingerprint | bool:
        """The ``ssl=`` argument for aiohttp requests in this mode."""
        if self.mode is TlsMode.PINNED:
            assert self.fingerprint is not None
            return aiohttp.Fingerprint(bytes.fromhex(self.fingerprint))
        if self.mode is TlsMode.STRICT:
            return self.ssl_context or True
        return False


async def async_fetch_fingerprint(
    host: str, port: int = 443, *, handshake_timeout: float = 15.0
) -> str:
    """SHA-256 fingerprint of the certificate ``host:port`` presents right now.

    For a config flow's "pin this certificate" step: show it to the user,
    store it, then connect with :attr:`TlsMode.PINNED`. Nothing is verified
    here (that is the point); raises :class:`SourceUnavailable` with reason
    ``unreachable`` / ``timeout`` / ``tls`` when no certificate can be read.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        async with asyncio.timeout(handshake_timeout):
            _reader, writer = await asyncio.open_connection(host, port, ssl=context)
    except TimeoutError:
        raise SourceUnavailable(Reason.TIMEOUT, f"no TLS handshake with {host}:{port}") from None
    except ssl.SSLError as err:
        raise SourceUnavailable(Reason.TLS, f"TLS handshake with {host}:{port}: {err}") from None
    except OSError as err:
        raise SourceUnavailable(Reason.UNREACHABLE, f"{host}:{port}: {err}") from None
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    if not der:
        raise SourceUnavailable(Reason.TLS, f"{host}:{port} presented no certificate")
    return fingerprint_of(der)
