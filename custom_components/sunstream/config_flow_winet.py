"""The WiNet gateway's forms: address, credentials and TLS, and the connection test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol

from .const import CONF_FINGERPRINT, CONF_SECURITY, CONF_TLS_MODE, LOGGER
from .pysunstream.errors import AuthenticationFailed, SourceUnavailable
from .pysunstream.winet import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    CertificateMismatch,
    GatewayDescription,
    TlsMode,
    normalise_fingerprint,
)
from .sources import winet_source

WINET_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): TextSelector(),
        vol.Required(CONF_USERNAME, default=DEFAULT_USERNAME): TextSelector(),
        vol.Required(CONF_PASSWORD, default=DEFAULT_PASSWORD): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
        vol.Required(CONF_SECURITY): section(
            vol.Schema(
                {
                    vol.Required(CONF_TLS_MODE, default=TlsMode.BYPASS.value): SelectSelector(
                        SelectSelectorConfig(
                            options=[mode.value for mode in TlsMode],
                            translation_key=CONF_TLS_MODE,
                            mode=SelectSelectorMode.DROPDOWN,
                        )
                    ),
                    vol.Optional(CONF_FINGERPRINT): TextSelector(),
                }
            ),
            {"collapsed": True},
        ),
    }
)
REAUTH_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_USERNAME): TextSelector(),
        vol.Required(CONF_PASSWORD): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
    }
)


def flatten_winet(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Entry data from the WiNet form.

    Raises :class:`ValueError` for a fingerprint that is not 64 hex digits.
    """
    security = user_input.get(CONF_SECURITY, {})
    fingerprint = str(security.get(CONF_FINGERPRINT) or "").strip()
    return {
        CONF_HOST: str(user_input[CONF_HOST]).strip(),
        CONF_USERNAME: user_input[CONF_USERNAME],
        CONF_PASSWORD: user_input[CONF_PASSWORD],
        CONF_TLS_MODE: security.get(CONF_TLS_MODE, TlsMode.BYPASS.value),
        CONF_FINGERPRINT: normalise_fingerprint(fingerprint) if fingerprint else "",
    }


def nest_winet(data: Mapping[str, Any]) -> dict[str, Any]:
    """The WiNet form filled from entry data (the inverse of :func:`flatten_winet`)."""
    return {
        CONF_HOST: data.get(CONF_HOST),
        CONF_USERNAME: data.get(CONF_USERNAME),
        CONF_PASSWORD: data.get(CONF_PASSWORD),
        CONF_SECURITY: {
            CONF_TLS_MODE: data.get(CONF_TLS_MODE, TlsMode.BYPASS.value),
            CONF_FINGERPRINT: data.get(CONF_FINGERPRINT) or "",
        },
    }


async def async_identify_winet(
    hass: HomeAssistant, data: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str], GatewayDescription | None]:
    """Connect, log in and name the gateway; or say, translated, why not."""
    source = winet_source(hass, data, None)
    try:
        return {}, {}, await source.async_identify()
    except AuthenticationFailed:
        return {"base": "invalid_auth"}, {}, None
    except CertificateMismatch:
        return {"base": "certificate_mismatch"}, {}, None
    except SourceUnavailable as err:
        return {"base": "cannot_connect"}, {"reason": err.reason}, None
    # Defensive: the library maps every failure it knows to SourceUnavailable,
    # so only a bug lands here; the user still gets a form, not a traceback.
    except Exception:  # pragma: no cover
        LOGGER.exception("Unexpected error talking to WiNet gateway %s", data.get(CONF_HOST))
        return {"base": "unknown"}, {}, None
    finally:
        await source.async_close()
