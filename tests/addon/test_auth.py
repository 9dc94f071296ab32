"""Tokens, Home Assistant users and the back-off, without sockets.

Ingress, origins and the HTTP/WebSocket refusals are tested over real
sockets in test_web.py.
"""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request
import pytest

from sunstream_monitor import auth as auth_module
from sunstream_monitor.auth import (
    Authenticator,
    FailureTracker,
    Principal,
    bearer_token,
    normalize_address,
)
from sunstream_monitor.settings import Settings


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class HomeAssistant:
    """Stands in for HA's token check (an outside service): counts its calls."""

    def __init__(self, *, down: bool = False) -> None:
        self.calls = 0
        self.down = down

    async def __call__(self, token: str) -> str | None:
        self.calls += 1
        if self.down:
            raise ConnectionError("Home Assistant is unreachable")
        return "Alice" if token == "ha-token" else None


def test_failures_within_the_window_refuse_the_address() -> None:
    clock = Clock()
    tracker = FailureTracker(max_failures=5, window=60, refuse_for=30, clock=clock)
    for _ in range(4):
        tracker.record("10.0.0.9")
    assert tracker.retry_after("10.0.0.9") == 0
    tracker.record("10.0.0.9")
    assert tracker.retry_after("10.0.0.9") == pytest.approx(30)
    assert tracker.retry_after("10.0.0.10") == 0  # only that address
    clock.now += 20
    assert tracker.retry_after("10.0.0.9") == pytest.approx(10)
    clock.now += 10.5
    assert tracker.retry_after("10.0.0.9") == 0


def test_old_failures_leave_the_window() -> None:
    clock = Clock()
    tracker = FailureTracker(max_failures=3, window=60, refuse_for=30, clock=clock)
    tracker.record("a")
    tracker.record("a")
    clock.now += 61
    tracker.record("a")
    assert tracker.retry_after("a") == 0
    tracker.record("a")
    tracker.record("a")
    assert tracker.retry_after("a") > 0


def test_success_clears_and_unknown_addresses_are_ignored() -> None:
    tracker = FailureTracker(max_failures=2, clock=Clock())
    tracker.record("a")
    tracker.clear("a")
    tracker.record("a")
    assert tracker.retry_after("a") == 0
    tracker.record(None)
    tracker.clear(None)
    assert tracker.retry_after(None) == 0


def test_tracking_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_module, "_MAX_TRACKED", 10)
    tracker = FailureTracker(max_failures=2, clock=Clock())
    for n in range(50):
        tracker.record(f"10.0.0.{n}")
    assert len(tracker._failures) == 10


async def test_configured_tokens_are_admins() -> None:
    authenticator = Authenticator(Settings(tokens=("first-token", "second-token")))
    first = await authenticator.authenticate("first-token", remote="10.0.0.1")
    assert first == Principal(name="token-1", via="token", roles=frozenset({"admin", "user"}))
    assert first.is_admin
    second = await authenticator.authenticate("second-token", remote="10.0.0.1")
    assert second is not None
    assert second.name == "token-2"
    assert await authenticator.authenticate("first-toke", remote="10.0.0.1") is None
    assert await authenticator.authenticate("first-token-and-more", remote="10.0.0.1") is None


async def test_absurdly_long_tokens_are_not_sent_to_home_assistant() -> None:
    home_assistant = HomeAssistant()
    authenticator = Authenticator(Settings(), home_assistant)
    assert await authenticator.authenticate("x" * 5000, remote="10.0.0.4") is None
    assert home_assistant.calls == 0


async def test_missing_token_is_not_a_failure() -> None:
    clock = Clock()
    failures = FailureTracker(max_failures=1, clock=clock)
    authenticator = Authenticator(Settings(tokens=("t" * 20,)), failures=failures, clock=clock)
    assert await authenticator.authenticate(None, remote="10.0.0.1") is None
    assert await authenticator.authenticate("", remote="10.0.0.1") is None
    assert authenticator.retry_after("10.0.0.1") == 0
    assert await authenticator.authenticate("wrong", remote="10.0.0.1") is None
    assert authenticator.retry_after("10.0.0.1") > 0
    # The same address written as IPv4-mapped IPv6 is the same address.
    assert authenticator.retry_after("::ffff:10.0.0.1") > 0


async def test_home_assistant_tokens_are_users() -> None:
    home_assistant = HomeAssistant()
    authenticator = Authenticator(Settings(), home_assistant)
    principal = await authenticator.authenticate("ha-token", remote="10.0.0.2")
    assert principal == Principal(name="Alice", via="home_assistant")
    assert not principal.is_admin
    # One cache of Home Assistant's answers: the validator's (TokenChecker), not a second here.
    assert await authenticator.authenticate("ha-token", remote="10.0.0.2") == principal
    assert home_assistant.calls == 2
    assert await authenticator.authenticate("other", remote="10.0.0.2") is None
    assert home_assistant.calls == 3


async def test_unreachable_home_assistant_refuses_without_a_failure() -> None:
    clock = Clock()
    failures = FailureTracker(max_failures=1, clock=clock)
    authenticator = Authenticator(
        Settings(), HomeAssistant(down=True), failures=failures, clock=clock
    )
    assert await authenticator.authenticate("ha-token", remote="10.0.0.3") is None
    assert authenticator.retry_after("10.0.0.3") == 0


def test_bearer_header_parsing() -> None:
    def request(value: str | None) -> str | None:
        headers = {} if value is None else {"Authorization": value}
        return bearer_token(make_mocked_request("GET", "/", headers=headers))

    assert request("Bearer abc") == "abc"
    assert request("bearer   abc  ") == "abc"
    assert request("Basic abc") is None
    assert request("Bearer ") is None
    assert request(None) is None


def test_addresses_are_normalized() -> None:
    assert normalize_address("::ffff:172.30.32.2") == "172.30.32.2"
    assert normalize_address("172.30.32.2") == "172.30.32.2"
    assert normalize_address("::1") == "::1"
    assert normalize_address("not-an-ip") == "not-an-ip"
    assert normalize_address(None) is None


def test_trusted_proxy_matches_mapped_addresses() -> None:
    authenticator = Authenticator(Settings())
    assert authenticator.is_trusted_proxy("172.30.32.2")
    assert authenticator.is_trusted_proxy("::ffff:172.30.32.2")
    assert not authenticator.is_trusted_proxy("172.30.32.3")
    assert not authenticator.is_trusted_proxy(None)
