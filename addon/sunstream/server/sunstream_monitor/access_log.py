"""The access log: one line per request, and nothing in it that could be a secret.

aiohttp's default access line writes the request line with its query string
and the ``Referer`` header (another page's address, query included).
Clients put tokens in both — ``?access_token=…`` is a common dashboard habit
even though the app never accepts it there — and a log is read by more
people than a token should reach. So the line is built here, from parts
that hold no secrets, the same whatever the log level:

* method, path without the query string, status, size, duration, and the
  client's address — no headers at all;
* a path segment shaped like a token is written as :data:`REDACTED`: one of
  the configured secrets, a JWT (Home Assistant's access tokens), or a long
  run of random-looking characters (the app's generated tokens are 64 hex
  digits).
"""

from __future__ import annotations

from collections.abc import Iterable
import logging
import re
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

REDACTED: Final = "<redacted>"
# A JWT, or 32+ characters of the alphabets tokens are written in with a digit among them.
_TOKEN_SHAPED: Final = re.compile(
    r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
    r"|(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_~+/=-]{32,}"
)


def redact_path(path: str, secrets: frozenset[str]) -> str:
    """``path`` with every token-shaped segment replaced by :data:`REDACTED`."""
    return "/".join(
        REDACTED if segment in secrets or _TOKEN_SHAPED.fullmatch(segment) else segment
        for segment in path.split("/")
    )


def access_logger(secrets: Iterable[str | None]) -> type[AbstractAccessLogger]:
    """The access logger class for aiohttp, knowing the secrets it must never write."""
    known = frozenset(secret for secret in secrets if secret)

    class AccessLogger(AbstractAccessLogger):
        """``<address> "<METHOD> <path>" <status> <bytes> <seconds>s``, redacted."""

        def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
            self.logger.info(
                '%s "%s %s" %d %d %.3fs',
                request.remote or "-",
                request.method,
                redact_path(request.path, known),
                response.status,
                response.body_length,
                time,
            )

        @property
        def enabled(self) -> bool:
            return self.logger.isEnabledFor(logging.INFO)

    return AccessLogger
