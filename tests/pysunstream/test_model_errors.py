"""The data model and the error types."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from custom_components.sunstream.pysunstream.errors import (
    AuthenticationFailed,
    CommandRejected,
    Reason,
    SourceUnavailable,
    SunstreamError,
)
from custom_components.sunstream.pysunstream.model import (
    BatteryMode,
    InverterStatus,
    Metric,
    Snapshot,
)
from custom_components.sunstream.pysunstream.winet import (
    AuthenticationFailed as WinetAuthenticationFailed,
)

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_snapshot_get_known_missing_and_none() -> None:
    snapshot = Snapshot(taken_at=AT, metrics={Metric.PV_POWER: 1234.5, Metric.BATTERY_SOC: None})
    assert snapshot.get(Metric.PV_POWER) == 1234.5
    # Answered but unknown, and not reported at all, both read as None.
    assert snapshot.get(Metric.BATTERY_SOC) is None
    assert snapshot.get(Metric.GRID_POWER) is None
    assert snapshot.extras == {}


def test_snapshot_is_immutable() -> None:
    snapshot = Snapshot(taken_at=AT, metrics={})
    with pytest.raises(AttributeError):
        snapshot.taken_at = AT  # type: ignore[misc]


def test_snapshots_do_not_share_extras() -> None:
    first = Snapshot(taken_at=AT, metrics={})
    second = Snapshot(taken_at=AT, metrics={})
    assert first.extras is not second.extras


@pytest.mark.parametrize("enum", [Metric, InverterStatus, BatteryMode])
def test_enum_values_are_their_lowercase_names(enum: type) -> None:
    # The values end up in entity keys, storage and events: stable strings.
    for member in enum:
        assert member.value == member.name.lower()
        assert member == member.value


def test_source_unavailable_carries_reason_and_detail() -> None:
    err = SourceUnavailable(Reason.TIMEOUT, "no answer within 10 s")
    assert isinstance(err, SunstreamError)
    assert err.reason == "timeout"
    assert err.detail == "no answer within 10 s"
    assert str(err) == "no answer within 10 s"


def test_source_unavailable_without_detail_reads_as_reason() -> None:
    err = SourceUnavailable(Reason.REFUSED)
    assert err.detail == ""
    assert str(err) == "refused"


def test_authentication_failure_is_one_type_for_every_source() -> None:
    err = WinetAuthenticationFailed(1, "wrong password")
    assert isinstance(err, AuthenticationFailed)
    assert isinstance(err, SourceUnavailable)
    assert err.reason is Reason.AUTH
    assert not isinstance(SourceUnavailable(Reason.AUTH), AuthenticationFailed)


def test_command_rejected_carries_key_and_placeholders() -> None:
    err = CommandRejected("power_out_of_range", power="9000", max_power="5000")
    assert isinstance(err, SunstreamError)
    assert err.key == "power_out_of_range"
    assert err.placeholders == {"power": "9000", "max_power": "5000"}
    assert str(err) == "power_out_of_range (power=9000, max_power=5000)"
