"""``WinetSource``: a WiNet gateway as a Sunstream :class:`~..source.Source`.

One client, one session kept open across polls; each poll becomes a
:class:`~..model.Snapshot` whose ``identity`` is the gateway (kind
``GATEWAY``) and whose ``devices`` are the inverters and batteries behind it,
``online`` as the dongle reports their link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from ..dispatch import BatteryLimits, Command
from ..errors import CommandRejected
from ..model import DeviceIdentity, Snapshot
from .client import WinetClient
from .devices import DeviceInfo
from .gateway import GatewayInfo, gateway_identity
from .i18n import I18n
from .mapping import build_snapshot, device_identity
from .tls import TlsConfig

SOURCE_TYPE = "winet"
MIN_POLL_INTERVAL = 5.0
"""Seconds; dongles are reported to crash and reboot when polled faster."""
DEFAULT_POLL_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class GatewayDescription:
    """What :meth:`WinetSource.async_identify` found, for a config flow.

    ``serial`` is the value to use as the config entry's unique id; it is
    the dongle's own serial when ``/about/list`` answered, else a
    substitute derived from the first device (see
    :func:`~.gateway.gateway_identity`).
    """

    identity: DeviceIdentity
    devices: tuple[DeviceIdentity, ...]
    secure: bool
    generation: int | None

    @property
    def serial(self) -> str:
        """The stable serial of the gateway."""
        assert self.identity.serial is not None
        return self.identity.serial


class WinetSource:
    """Reads a WiNet gateway; commands are not supported yet.

    ``gateway_serial`` pins the gateway identity to the serial the caller
    stored at set-up, so the snapshot identity never changes even if
    ``/about/list`` is unavailable on a later start.
    """

    source_type = SOURCE_TYPE

    def __init__(
        self,
        host: str,
        *,
        username: str = "admin",
        password: str = "pw8888",
        session: aiohttp.ClientSession | None = None,
        tls: TlsConfig | None = None,
        gateway_serial: str | None = None,
        client: WinetClient | None = None,
    ) -> None:
        self.client = client or WinetClient(
            host, username=username, password=password, session=session, tls=tls
        )
        self.gateway_serial = gateway_serial
        self._gateway_info_tried = False

    @property
    def battery_limits(self) -> BatteryLimits | None:
        """``None``: WiNet reports no battery capacity or power limits.

        The BMS current limits in ``real_battery`` are not the inverter's
        power limits; with no dispatch implemented yet there is nothing to
        check commands against.
        """
        return None

    @property
    def i18n(self) -> I18n | None:
        """The gateway's translation file, once fetched (display names)."""
        return self.client.i18n

    @property
    def devices(self) -> tuple[DeviceInfo, ...]:
        """The devices of the latest device list."""
        return self.client.devices

    async def async_identify(self) -> GatewayDescription:
        """Connect, log in, list devices and name the gateway.

        For a config flow's connection test. Raises
        :class:`~.errors.AuthenticationFailed` (wrong credentials),
        :class:`~.errors.CertificateMismatch` (pinned mode) or
        :class:`~..errors.SourceUnavailable` (anything else, with a reason).
        """
        devices = await self.client.async_connect()
        info = await self._gateway_info()
        identity = gateway_identity(info, devices, serial=self.gateway_serial)
        endpoint = self.client.endpoint
        connect = self.client.connect_info
        return GatewayDescription(
            identity=identity,
            devices=tuple(device_identity(device) for device in devices),
            secure=bool(endpoint and endpoint.secure),
            generation=connect.generation if connect else None,
        )

    async def _gateway_info(self) -> GatewayInfo | None:
        if not self._gateway_info_tried:
            self._gateway_info_tried = True
            await self.client.async_fetch_gateway_info()
        return self.client.gateway

    async def async_poll(self, now: datetime) -> Snapshot:
        """One poll cycle over the open session.

        Raises :class:`~..errors.SourceUnavailable` (or a subclass) when the
        gateway cannot be read; the client recovers by itself on later
        polls.
        """
        data = await self.client.async_poll()
        info = await self._gateway_info()
        identity = gateway_identity(info, self.client.devices, serial=self.gateway_serial)
        return build_snapshot(now, identity, data)

    async def async_dispatch(self, command: Command) -> None:
        """Battery commands over WiNet are not implemented yet."""
        raise CommandRejected("not_supported")

    async def async_close(self) -> None:
        """Close the socket."""
        await self.client.async_close()

    def as_dict(self) -> dict[str, Any]:
        """Nothing to persist: every value comes from the device."""
        return {}

    def restore(self, data: dict[str, Any]) -> None:
        """Nothing to restore."""

    def link_metrics(self) -> dict[str, int]:
        """The client's counters (attempts, failures, frames…), numbers only."""
        return {
            key: value
            for key, value in self.client.metrics.as_dict().items()
            if isinstance(value, int)
        }

    def diagnostics(self) -> dict[str, Any]:
        """Connection state and counters for a diagnostics download."""
        endpoint = self.client.endpoint
        connect = self.client.connect_info
        return {
            "state": self.client.state.value,
            "endpoint": None if endpoint is None else {"secure": endpoint.secure},
            "tls_mode": self.client.tls.mode.value,
            "generation": connect.generation if connect else None,
            "metrics": self.client.metrics.as_dict(),
            "devices": [dict(device.raw) for device in self.client.devices],
        }
