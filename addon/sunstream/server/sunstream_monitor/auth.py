"""Who may see data and take actions: tokens, Home Assistant users, ingress.

Three ways in, checked in this order by the endpoints:

* **Ingress.** The Supervisor's ingress proxy has already authenticated the
  Home Assistant user and says who it is in ``X-Remote-User-*`` headers. Those
  headers are believed only when the TCP peer is one of
  ``settings.trusted_proxies`` (``172.30.32.2``, and only when the Supervisor
  started the server); from anyone else they are ignored, since any client
  can send any header.
* **Configured tokens** (``settings.tokens``): compared in constant time.
  They are the app owner's own credentials and carry the ``admin`` role,
  which actions that reach every client (``POST /api/broadcast``) require.
* **Home Assistant access tokens** of administrators, checked by a callable
  the HA feed provides (absent in MQTT mode): ``feeds/ha_tokens.py``'s
  ``TokenChecker``, which caches answers briefly, by a hash of the token, so
  a thousand dashboards reconnecting at once do not each cost a round trip
  to Home Assistant.

Repeated failures from one address earn a temporary refusal (HTTP 429),
the back-off Home Assistant applies through its IP-ban counter.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import hmac
import ipaddress
import logging
import time
from typing import Final

from aiohttp import web

from .settings import Settings

_LOGGER = logging.getLogger(__name__)

ROLE_ADMIN: Final = "admin"
ROLE_USER: Final = "user"

# Seconds a browser has to send its first-message credentials (HA uses 10).
AUTH_TIMEOUT: Final = 10.0
# Back-off: this many failures within the window refuse the address for a while.
MAX_FAILURES: Final = 5
FAILURE_WINDOW: Final = 60.0
REFUSE_FOR: Final = 60.0
# Longer "tokens" are refused without asking Home Assistant (HA's are ~200 chars).
MAX_TOKEN_LENGTH: Final = 4096
# Addresses tracked for back-off; the oldest are forgotten beyond this.
_MAX_TRACKED: Final = 10_000

type TokenValidator = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a name for logs and acknowledgements, and roles."""

    name: str
    via: str  # "token" | "home_assistant" | "ingress"
    roles: frozenset[str] = frozenset({ROLE_USER})

    @property
    def is_admin(self) -> bool:
        """Whether the caller may act on every client (broadcast)."""
        return ROLE_ADMIN in self.roles


def normalize_address(address: str | None) -> str | None:
    """An IP as text, with IPv4-mapped IPv6 (``::ffff:1.2.3.4``) unwrapped."""
    if address is None:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def bearer_token(request: web.BaseRequest) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if there is one."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


class FailureTracker:
    """Failed authentications per address, and who is refused for now.

    A sliding window of failure times per address (at most
    :data:`MAX_FAILURES` kept each) and a refusal deadline. Bounded: beyond
    :data:`_MAX_TRACKED` addresses the least recently failing is forgotten,
    and so is the oldest refusal — forgetting one early is the lesser evil
    than a table anyone with many addresses (IPv6) can grow without end.
    Refusals are kept in deadline order, so expired ones are dropped from the
    front at no more than constant cost per failure.
    """

    def __init__(
        self,
        *,
        max_failures: int = MAX_FAILURES,
        window: float = FAILURE_WINDOW,
        refuse_for: float = REFUSE_FOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Track failures; ``clock`` is injectable so tests need not sleep."""
        self.max_failures = max_failures
        self.window = window
        self.refuse_for = refuse_for
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._refused_until: OrderedDict[str, float] = OrderedDict()

    def retry_after(self, address: str | None) -> float:
        """Seconds ``address`` must still wait; ``0`` when it may try."""
        if address is None:
            return 0.0
        until = self._refused_until.get(address)
        if until is None:
            return 0.0
        remaining = until - self._clock()
        if remaining <= 0:
            del self._refused_until[address]
            return 0.0
        return remaining

    def record(self, address: str | None) -> None:
        """Count one failure; refuse the address once it has too many."""
        if address is None:
            return
        now = self._clock()
        times = self._failures.get(address)
        if times is None:
            times = self._failures[address] = deque(maxlen=self.max_failures)
        self._failures.move_to_end(address)
        times.append(now)
        while times and now - times[0] > self.window:
            times.popleft()
        if len(times) >= self.max_failures:
            self._refused_until[address] = now + self.refuse_for
            self._refused_until.move_to_end(address)
            times.clear()
            _LOGGER.warning(
                "%s failed to authenticate %d times within %.0f s; refusing it for %.0f s",
                address,
                self.max_failures,
                self.window,
                self.refuse_for,
            )
        while len(self._failures) > _MAX_TRACKED:
            self._failures.popitem(last=False)
        refused = self._refused_until
        while refused and (len(refused) > _MAX_TRACKED or next(iter(refused.values())) <= now):
            refused.popitem(last=False)

    def clear(self, address: str | None) -> None:
        """Forget an address's failures (after it authenticated)."""
        if address is not None:
            self._failures.pop(address, None)


class Authenticator:
    """Decides whether a token or a proxied request stands for someone."""

    def __init__(
        self,
        settings: Settings,
        validate_token: TokenValidator | None = None,
        *,
        failures: FailureTracker | None = None,
        auth_timeout: float = AUTH_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Accept ``settings.tokens`` and, when given, tokens Home Assistant accepts."""
        self._tokens = tuple(token.encode() for token in settings.tokens if token)
        self._trusted = frozenset(
            address
            for address in (normalize_address(a) for a in settings.trusted_proxies)
            if address is not None
        )
        self._validate = validate_token
        self.failures = failures or FailureTracker(clock=clock)
        self.auth_timeout = auth_timeout

    def retry_after(self, remote: str | None) -> float:
        """Seconds a refused address must still wait (``0``: go ahead)."""
        return self.failures.retry_after(normalize_address(remote))

    def is_trusted_proxy(self, remote: str | None) -> bool:
        """Whether ``remote`` is the Supervisor's ingress proxy."""
        return normalize_address(remote) in self._trusted

    def from_ingress(self, request: web.BaseRequest) -> Principal | None:
        """The HA user of a request the ingress proxy forwarded, else ``None``.

        Both conditions are needed: the peer address is a trusted proxy *and*
        it sent the ingress headers. The same headers from any other address
        are ignored (not an error: the caller then needs a token like anyone).
        """
        if not self.is_trusted_proxy(request.remote):
            return None
        headers = request.headers
        user_id = headers.get("X-Remote-User-Id")
        if user_id is None and "X-Ingress-Path" not in headers:
            return None
        name = (
            headers.get("X-Remote-User-Display-Name")
            or headers.get("X-Remote-User-Name")
            or user_id
            or "ingress"
        )
        return Principal(name=name, via="ingress")

    async def authenticate(self, token: str | None, *, remote: str | None) -> Principal | None:
        """The principal ``token`` stands for, or ``None``.

        A token that is presented and refused counts as a failure of
        ``remote``; a missing token does not (it is a question, not a guess),
        and neither does Home Assistant being unreachable.
        """
        if not token:
            return None
        address = normalize_address(remote)
        try:
            # A header may carry bytes that are not UTF-8 (aiohttp keeps them as
            # surrogates): no token can match those, so they are a wrong guess.
            encoded = token.encode()
        except UnicodeEncodeError:
            encoded = b""
        if not encoded or len(token) > MAX_TOKEN_LENGTH:
            self.failures.record(address)
            return None
        for index, known in enumerate(self._tokens, start=1):
            if hmac.compare_digest(encoded, known):
                self.failures.clear(address)
                return Principal(
                    name=f"token-{index}", via="token", roles=frozenset({ROLE_ADMIN, ROLE_USER})
                )
        try:
            principal = await self._from_home_assistant(encoded)
        except Exception:  # an unreachable HA is a refusal, not a crash
            _LOGGER.warning("Home Assistant could not validate a token", exc_info=True)
            return None
        if principal is None:
            self.failures.record(address)
            return None
        self.failures.clear(address)
        return principal

    async def _from_home_assistant(self, encoded: bytes) -> Principal | None:
        """Ask Home Assistant (its validator keeps the short cache of answers)."""
        if self._validate is None:
            return None
        user = await self._validate(encoded.decode())
        return None if user is None else Principal(name=user, via="home_assistant")
