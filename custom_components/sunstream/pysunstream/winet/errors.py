"""Errors specific to WiNet gateways.

Everything a WiNet client raises to its caller is a
:class:`~..errors.SunstreamError`. The two that need a different reaction
from the user than "wait, it will come back" derive from
:class:`~..errors.SourceUnavailable` so a caller that only knows the generic
error still degrades gracefully (entities unavailable, polling continues),
while a caller that knows them can start a re-authentication or raise a
repair issue.
"""

from __future__ import annotations

from ..errors import (
    AuthenticationFailed as BaseAuthenticationFailed,
    CommandFailed,
    Reason,
    SourceUnavailable,
    SunstreamError,
)


class WinetProtocolError(SunstreamError):
    """A frame is not a WiNet message we can understand.

    The frame parser raises this and nothing else for any input, so a
    corrupted or unexpected frame can never surface as a ``KeyError`` or
    ``TypeError`` deep inside the session.
    """


class AuthenticationFailed(BaseAuthenticationFailed):
    """The gateway refused the username or password (``login`` failed).

    ``code`` and ``message`` are the gateway's ``result_code`` and
    ``result_msg``. Retrying with the same credentials cannot help, so the
    client does not reconnect by itself after this; the caller should ask
    the user for new credentials (Home Assistant: reauth flow).
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"login refused: {code} {message}".strip())
        self.code = code
        self.message = message


class CertificateMismatch(SourceUnavailable):
    """The gateway presented a certificate other than the pinned one.

    ``issue`` is "certificate": only the user can re-pin or investigate.

    Raised only in pinned TLS mode. The connection is refused before any
    credential is sent, so a device impersonating the gateway never sees the
    password. ``expected`` is the pinned SHA-256 fingerprint and ``actual``
    the one presented (``None`` if it could not be read); both are lowercase
    hex without separators.
    """

    issue = "certificate"

    def __init__(self, expected: str, actual: str | None) -> None:
        super().__init__(
            Reason.CERTIFICATE,
            f"certificate fingerprint {actual or 'unknown'} does not match pinned {expected}",
        )
        self.expected = expected
        self.actual = actual


class ParamsRefused(CommandFailed):
    """The gateway took a ``param`` write but did not set the parameters.

    Key ``dispatch_refused``; placeholder ``detail`` names the gateway's
    ``result_code`` / ``result_msg`` (e.g. ``391 I18N_COMMON_SET_FAILED``)
    or the parameters it reported as failed. The command was valid, so this
    is the system's doing (another controller, a firmware that locks the
    energy-management mode), not the user's.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("dispatch_refused", detail=detail)
        self.detail = detail
