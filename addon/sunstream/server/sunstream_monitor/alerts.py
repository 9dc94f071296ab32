"""Alerts the integration raised, as dashboards list and acknowledge them.

The integration owns alert rules; the app only keeps the book: what is
active, what was cleared, who acknowledged what. The book is bounded so a
flapping rule cannot grow memory without end.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

MAX_ALERTS = 500


@dataclass(slots=True, kw_only=True)
class Alert:
    """One alert as dashboards see it."""

    alert_id: str
    system_id: str
    rule: str
    severity: str
    state: str  # "raised" | "cleared"
    value: float | None = None
    threshold: float | None = None
    raised_at: str
    cleared_at: str | None = None
    acknowledged: bool = False
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return asdict(self)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class AlertBook:
    """Alerts by id; the most recent :data:`MAX_ALERTS` are kept."""

    def __init__(self) -> None:
        """Start with no alerts."""
        self._alerts: OrderedDict[str, Alert] = OrderedDict()

    def __len__(self) -> int:
        """How many alerts the book holds."""
        return len(self._alerts)

    def get(self, alert_id: str) -> Alert | None:
        """The alert with this id, if still in the book."""
        return self._alerts.get(alert_id)

    def list(self, system_id: str | None = None, *, active_only: bool = False) -> list[Alert]:
        """Alerts, newest first, optionally of one system or only active ones."""
        return [
            alert
            for alert in reversed(self._alerts.values())
            if (system_id is None or alert.system_id == system_id)
            and (not active_only or alert.state == "raised")
        ]

    def apply(self, system_id: str, data: dict[str, Any]) -> Alert:
        """Record a ``sunstream_alert`` event (raised, cleared or acknowledged)."""
        rule = str(data.get("rule", "unknown"))
        alert_id = str(data.get("alert_id") or f"{system_id}:{rule}")
        state = str(data.get("state", "raised"))
        alert = self._alerts.get(alert_id)
        if alert is None or (state == "raised" and alert.state == "cleared"):
            alert = Alert(
                alert_id=alert_id,
                system_id=system_id,
                rule=rule,
                severity=str(data.get("severity", "warning")),
                state="raised",
                raised_at=str(data.get("raised_at") or _now()),
            )
            self._alerts[alert_id] = alert
            self._alerts.move_to_end(alert_id)
        alert.value = _number(data.get("value"))
        alert.threshold = _number(data.get("threshold"))
        if "severity" in data:
            alert.severity = str(data["severity"])
        if state == "cleared" and alert.state != "cleared":
            alert.state = "cleared"
            alert.cleared_at = str(data.get("cleared_at") or _now())
        if data.get("acknowledged"):
            self.acknowledge(alert_id, data.get("acknowledged_by"))
        while len(self._alerts) > MAX_ALERTS:
            self._alerts.popitem(last=False)
        return alert

    def acknowledge(self, alert_id: str, by: str | None) -> Alert | None:
        """Mark an alert acknowledged; ``None`` if the book doesn't hold it."""
        alert = self._alerts.get(alert_id)
        if alert is None:
            return None
        if not alert.acknowledged:
            alert.acknowledged = True
            alert.acknowledged_at = _now()
            alert.acknowledged_by = by
        return alert
