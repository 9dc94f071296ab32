"""Subscribers: who follows each system, walked in the order they subscribed."""

from __future__ import annotations

import random

from sunstream_monitor.subscribers import Subscribers


def test_members_come_back_in_subscription_order() -> None:
    """A fan-out walks a room first subscriber first, whatever the members' hashes."""
    members = [f"sid-{n:05d}" for n in range(500)]
    random.Random(12).shuffle(members)
    subscribers: Subscribers[str] = Subscribers()
    for member in members:
        subscribers.add("roof", member)

    assert list(subscribers.of("roof")) == members


def test_a_member_that_leaves_and_comes_back_goes_last() -> None:
    subscribers: Subscribers[str] = Subscribers()
    for member in ("a", "b", "c"):
        subscribers.add("roof", member)
    subscribers.add("roof", "a")  # already following: keeps its place
    assert list(subscribers.of("roof")) == ["a", "b", "c"]

    assert subscribers.discard("roof", "a") is False
    subscribers.add("roof", "a")
    assert list(subscribers.of("roof")) == ["b", "c", "a"]
    assert "a" in subscribers.of("roof")
    assert subscribers.counts() == {"roof": 3}


def test_the_last_member_leaving_ends_the_system_entry() -> None:
    subscribers: Subscribers[str] = Subscribers()
    subscribers.add("roof", "a")
    assert subscribers.discard("roof", "a") is True
    assert subscribers.discard("roof", "a") is False
    assert not subscribers.of("roof")
    assert subscribers.counts() == {}
