"""HTTP errors as RFC 9457 problem documents (``application/problem+json``).

Every refusal the server makes over HTTP — a bad token, an unknown system,
too many connections, a forbidden origin — is one of these, so a client
always gets a machine-readable reason and never an HTML page or a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

from aiohttp import web

from . import wire

CONTENT_TYPE: Final = "application/problem+json"


def problem_response(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """A problem document response; ``code`` is a stable machine-readable reason."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if code is not None:
        body["code"] = code
    body.update(extra)
    return web.Response(
        status=status,
        body=wire.dumps(body),
        content_type=CONTENT_TYPE,
        headers=headers,
    )


class Problem(Exception):
    """Raised by handlers; the error middleware turns it into a problem response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        """Describe the refusal; see :func:`problem_response`."""
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.headers = dict(headers or {})
        self.extra = extra

    def response(self) -> web.Response:
        """The problem as an HTTP response."""
        return problem_response(
            self.status, self.detail, code=self.code, headers=self.headers, **self.extra
        )


def unauthorized(detail: str = "a valid access token is required") -> Problem:
    """401 with the challenge header clients expect."""
    return Problem(
        401, detail, code="unauthorized", headers={"WWW-Authenticate": 'Bearer realm="sunstream"'}
    )


def too_many_failures(retry_after: float) -> Problem:
    """429 for an address refused after repeated authentication failures."""
    seconds = max(1, round(retry_after))
    return Problem(
        429,
        f"too many failed authentications from this address; retry in {seconds} s",
        code="auth_backoff",
        headers={"Retry-After": str(seconds)},
    )
