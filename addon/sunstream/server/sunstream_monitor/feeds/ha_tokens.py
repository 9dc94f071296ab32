"""Whether Home Assistant accepts an access token, and whose it is.

A dashboard presents a Home Assistant access token; Home Assistant itself
decides. The check is a short WebSocket session — auth, then
``auth/current_user`` for the user's name and role — so the answer names the
user, which the plain REST ping (``GET /api/``) cannot.

Only administrators' tokens are accepted: the app's sidebar panel is for
administrators (``panel_admin``), and a token must not open on port 9000
what the panel keeps closed. A token whose user is not an administrator, or
whose user Home Assistant cannot describe, is refused like an unknown one.

Three guards keep this from hurting Home Assistant or the feed:

* answers (both kinds) are cached for a minute by a hash of the token, in a
  bounded cache, and concurrent checks of one token share one round trip;
* strings that are not shaped like HA tokens (JWTs) are refused locally;
* refusals from HA are budgeted: HA counts wrong logins per IP (and may ban
  the address, ``http: login_attempts_threshold``) — the same address the
  feed uses — so past a few refusals a minute, unknown tokens are refused
  here without asking.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable
import hashlib
import logging
import re
import time
from typing import Any, Final

import aiohttp

from ..auth import MAX_TOKEN_LENGTH
from .ha_connection import AUTH_TIMEOUT, authenticate, open_websocket, send_json
from .ha_protocol import (
    CORE_FROM_APP_WSS,
    AuthInvalid,
    CommandFailed,
    HomeAssistantError,
    decode_frame,
    result_of,
)

_LOGGER = logging.getLogger(__name__)

CACHE_TTL: Final = 60.0
CACHE_SIZE: Final = 1024
REFUSAL_BUDGET: Final = 20  # refusals from HA per window before refusing locally
REFUSAL_WINDOW: Final = 60.0
_JWT: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def looks_like_token(token: str) -> bool:
    """Whether ``token`` has the shape of an HA access token (a JWT)."""
    return len(token) <= MAX_TOKEN_LENGTH and _JWT.fullmatch(token) is not None


class TokenChecker:
    """Validates tokens against Home Assistant at the first of ``urls`` that answers."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: tuple[str, ...],
        *,
        ttl: float = CACHE_TTL,
        size: int = CACHE_SIZE,
        refusal_budget: int = REFUSAL_BUDGET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Check against ``urls``; cache ``size`` answers for ``ttl`` seconds."""
        if not urls:
            raise ValueError("TokenChecker needs at least one URL")
        self._session = session
        self._urls = urls
        self.url = urls[0]  # the one that answered last
        self._ttl = ttl
        self._size = size
        self._budget = refusal_budget
        self._clock = clock
        self._cache: OrderedDict[bytes, tuple[float, str | None]] = OrderedDict()
        self._inflight: dict[bytes, asyncio.Future[str | None]] = {}
        self._refusals: deque[float] = deque()

    async def validate(self, token: str) -> str | None:
        """The HA user's name (or id) if HA accepts ``token`` and it is an admin's; else ``None``.

        An accepted token of a user who is not an administrator is refused,
        and that answer cached like any other.
        """
        if not looks_like_token(token):
            return None
        key = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            self._cache.move_to_end(key)
            return cached[1]
        if (pending := self._inflight.get(key)) is not None:
            return await asyncio.shield(pending)
        if self._over_budget(now):
            _LOGGER.warning(
                "Refusing a token without asking Home Assistant: "
                "more than %d were refused in the last %.0f s",
                self._budget,
                REFUSAL_WINDOW,
            )
            return None
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        user: str | None = None
        try:
            user = await self._ask(token)
        except AuthInvalid:
            self._refusals.append(self._clock())
            self._remember(key, None)
        except (HomeAssistantError, aiohttp.ClientError, OSError, TimeoutError) as err:
            # HA unreachable: refuse now, but don't remember it.
            _LOGGER.warning("Cannot check a token with Home Assistant at %s: %s", self.url, err)
        else:
            self._remember(key, user)
        finally:
            # Waiters on the same token get the answer (None if this was cancelled).
            del self._inflight[key]
            future.set_result(user)
        return user

    def _over_budget(self, now: float) -> bool:
        while self._refusals and self._refusals[0] <= now - REFUSAL_WINDOW:
            self._refusals.popleft()
        return len(self._refusals) >= self._budget

    def _remember(self, key: bytes, user: str | None) -> None:
        self._cache[key] = (self._clock() + self._ttl, user)
        self._cache.move_to_end(key)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)

    async def _ask(self, token: str) -> str | None:
        """Ask the URL that answered last, then the others if it can't be reached."""
        failure: Exception | None = None
        for url in (self.url, *(u for u in self._urls if u != self.url)):
            try:
                user = await self._ask_at(url, token)
            except (aiohttp.ClientError, OSError, TimeoutError) as err:
                failure = err
                continue
            self.url = url
            return user
        assert failure is not None
        raise failure

    async def _ask_at(self, url: str, token: str) -> str | None:
        async with asyncio.timeout(AUTH_TIMEOUT):
            ws = await open_websocket(self._session, url, verify_tls=url != CORE_FROM_APP_WSS)
            try:
                await authenticate(ws, token)
                await send_json(ws, {"id": 1, "type": "auth/current_user"})
                while True:
                    message = await ws.receive()
                    if message.type is not aiohttp.WSMsgType.TEXT:
                        raise HomeAssistantError("Home Assistant closed before answering")
                    for item in decode_frame(message.data):
                        if item.get("id") == 1 and item.get("type") == "result":
                            return _admin_name(_current_user(item))
            finally:
                await ws.close()


def _current_user(message: dict[str, Any]) -> Any:
    """The ``auth/current_user`` result; ``None`` where the command is missing.

    HA accepted the token already (``auth_ok``); a Home Assistant without
    the ``auth`` component merely cannot say whose it is — nor whether the
    user is an administrator, so such a token is refused.
    """
    try:
        return result_of(message)
    except CommandFailed as err:
        if err.code != "unknown_command":
            raise
        return None


def _admin_name(user: Any) -> str | None:
    """The user's name (or id) if Home Assistant says they are an administrator."""
    if not isinstance(user, dict) or user.get("is_admin") is not True:
        _LOGGER.info("Refusing a Home Assistant token: its user is not an administrator")
        return None
    for key in ("name", "id"):
        if isinstance(value := user.get(key), str) and value:
            return value
    return "Home Assistant user"
