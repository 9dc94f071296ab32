"""The hub: one broken output does not starve the others."""

from __future__ import annotations

import logging

import pytest

from sunstream_monitor.hub import Hub, HubEvent, SourceKind, System, SystemInfo

from .ha_feed_support import HubRecorder


class Broken:
    """An output whose every callback raises."""

    def on_systems(self, hub: Hub) -> None:
        raise RuntimeError("systems")

    def on_state(self, system: System) -> None:
        raise RuntimeError("state")

    def on_event(self, event: HubEvent) -> None:
        raise RuntimeError("event")


def test_a_failing_listener_is_logged_and_the_next_one_still_hears(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = Hub()
    hub.add_listener(Broken())
    recorder = HubRecorder()
    hub.add_listener(recorder)

    with caplog.at_level(logging.ERROR, logger="sunstream_monitor.hub"):
        hub.set_systems([SystemInfo(system_id="roof", name="Roof", source=SourceKind.SIMULATED)])
        hub.update_state("roof", {"status": "online", "current_generation_kw": 1.2})
        hub.publish_event("connectivity", "roof", {"connected": False})

    assert recorder.systems_changes == 1
    assert recorder.states == [{"status": "online", "current_generation_kw": 1.2}]
    assert [event.kind for event in recorder.events] == ["connectivity"]
    failed = [record.getMessage() for record in caplog.records]
    assert [message.rsplit(" ", 1)[-1] for message in failed] == [
        "on_systems",
        "on_state",
        "on_event",
    ]
    assert hub.systems["roof"].connected is False
