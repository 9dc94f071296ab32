"""Alerts the integration raised, as dashboards list and acknowledge them.

The integration owns alert rules; the app only keeps the book: what is
active, what was cleared, who acknowledged what. It learns of them two ways:
the ``sunstream_alert`` events as they happen (:meth:`AlertBook.apply`), and
the list of alerts active right now on each system's alert entity
(:meth:`AlertBook.sync`), which catches up on what was missed while the feed
was away. The book is bounded so a flapping rule cannot grow memory without end.
"""

from __future__ import annotations

import builtins
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

MAX_ALERTS = 500
# Hub event kinds (``HubEvent.kind``) that announce alert changes.
ALERT = "alert"
ALERT_ACKNOWLEDGED = "alert_acknowledged"
# Who acknowledged an alert Home Assistant reports acknowledged (its event names nobody).
ACKNOWLEDGED_IN_HA = "Home Assistant"


@dataclass(slots=True, kw_only=True)
class Alert:
    """One alert as dashboards see it."""

    alert_id: str
    system_id: str
    rule: str
    severity: str
    state: str  # "raised" | "cleared" (acknowledgement is its own flag)
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


@dataclass(frozen=True, slots=True)
class AlertUpdate:
    """What :meth:`AlertBook.apply` changed, and the hub event that announces it."""

    alert: Alert
    kind: str  # ALERT | ALERT_ACKNOWLEDGED


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class AlertBook:
    """Alerts by id; the most recent :data:`MAX_ALERTS` are kept."""

    def __init__(self) -> None:
        """Start with no alerts."""
        self._alerts: OrderedDict[str, Alert] = OrderedDict()
        # Home Assistant's own raised_at for the raise the book holds, as its
        # list of active alerts gave it: how a raise is told from a later one.
        self._listed_raised_at: dict[str, str] = {}
        # Alerts whose last change the book took from that list, before the
        # event of the same transition: when the event follows, it is not news.
        self._ahead_of_event: set[str] = set()

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

    def apply(self, system_id: str, data: dict[str, Any]) -> AlertUpdate | None:
        """Record a ``sunstream_alert`` event; what to announce, or ``None`` if nothing changed.

        The integration fires ``raised``, ``cleared`` and ``acknowledged``:

        * ``raised`` starts a new alert, unless the book holds that alert raised
          and (as far as the event knows) in the same acknowledgement state — a
          redelivery, which only refreshes the numbers. An alert raised again
          after it was cleared, or raised unacknowledged while the book holds it
          acknowledged (Home Assistant restarted and lost the acknowledgement),
          is a new alert.
        * ``cleared`` updates the alert it clears; clearing an alert the book
          never saw raised changes nothing.
        * ``acknowledged`` marks the alert acknowledged and is announced as
          ``alert_acknowledged``, once: Home Assistant's echo of an
          acknowledgement made here is not news, and an acknowledgement of an
          alert the book does not hold creates nothing. Who acknowledged is
          the event's ``acknowledged_by`` (the Home Assistant user), else
          :data:`ACKNOWLEDGED_IN_HA`.

        An event for a transition :meth:`sync` booked first (Home Assistant's
        list arrived before it) only fills in what the list lacks — the
        threshold, who acknowledged — and is not announced again.
        """
        rule = str(data.get("rule", "unknown"))
        alert_id = str(data.get("alert_id") or f"{system_id}:{rule}")
        state = str(data.get("state", "raised"))
        alert = self._alerts.get(alert_id)
        ahead = alert_id in self._ahead_of_event
        self._ahead_of_event.discard(alert_id)
        by = _text(data.get("acknowledged_by"))
        if state == "acknowledged":
            if alert is None:
                return None
            if alert.acknowledged:
                if ahead and by is not None and alert.acknowledged_by == ACKNOWLEDGED_IN_HA:
                    alert.acknowledged_by = by  # the list does not say who
                return None
            self.acknowledge(alert_id, by or ACKNOWLEDGED_IN_HA)
            return AlertUpdate(alert, ALERT_ACKNOWLEDGED)
        if state == "raised":
            if (
                alert is None
                or alert.state != "raised"
                or (alert.acknowledged and not data.get("acknowledged"))
            ):
                alert = self._add(alert_id, system_id, rule, data)
                self._update(alert, data)
                return AlertUpdate(alert, ALERT)
        elif state != "cleared" or alert is None:
            return None
        before = alert.as_dict()
        self._update(alert, data)
        if alert.as_dict() == before or (
            ahead and (alert.state, alert.acknowledged) == (before["state"], before["acknowledged"])
        ):
            return None
        return AlertUpdate(alert, ALERT)

    def sync(
        self, system_id: str, active: Iterable[Mapping[str, Any]]
    ) -> builtins.list[AlertUpdate]:
        """Catch up with the alerts Home Assistant lists as active on one system.

        ``active`` is the ``active`` attribute of the system's alert entity:
        ``{"rule", "severity", "value", "raised_at", "acknowledged"}`` per alert
        active right now. The book follows it:

        * an alert listed but not held raised — or held from an earlier raise
          (another ``raised_at`` than the list gave before) — is booked raised,
          and acknowledged if the list says so; announced as ``alert``;
        * an alert held raised and listed acknowledged, but not acknowledged
          here, is acknowledged (by :data:`ACKNOWLEDGED_IN_HA`: the list does
          not say who); announced as ``alert_acknowledged``;
        * an alert held raised on the system but not listed is cleared;
          announced as ``alert``.

        Whatever already agrees changes nothing, so the list that follows each
        live event adds no announcement; and when the list comes first, the
        event of the same transition adds none either (see :meth:`apply`).
        Returns what changed, in order.
        """
        updates: builtins.list[AlertUpdate] = []
        listed: set[str] = set()
        for item in active:
            rule = _text(item.get("rule"))
            if rule is None:
                continue
            alert_id = f"{system_id}:{rule}"
            listed.add(alert_id)
            raised_at = _text(item.get("raised_at"))
            acknowledged = item.get("acknowledged") is True
            alert = self._alerts.get(alert_id)
            seen = self._listed_raised_at.get(alert_id)
            if (
                alert is None
                or alert.state != "raised"
                or (seen is not None and raised_at is not None and seen != raised_at)
            ):
                alert = self._add(alert_id, system_id, rule, item)
                alert.value = _number(item.get("value"))
                if acknowledged:
                    self.acknowledge(alert_id, ACKNOWLEDGED_IN_HA)
                updates.append(AlertUpdate(alert, ALERT))
                self._ahead_of_event.add(alert_id)
            elif acknowledged and not alert.acknowledged:
                self.acknowledge(alert_id, ACKNOWLEDGED_IN_HA)
                updates.append(AlertUpdate(alert, ALERT_ACKNOWLEDGED))
                self._ahead_of_event.add(alert_id)
            if raised_at is not None:
                self._listed_raised_at[alert_id] = raised_at
        for alert in self.list(system_id, active_only=True):
            if alert.alert_id not in listed:
                alert.state = "cleared"
                alert.cleared_at = _now()
                self._listed_raised_at.pop(alert.alert_id, None)
                self._ahead_of_event.add(alert.alert_id)
                updates.append(AlertUpdate(alert, ALERT))
        return updates

    def _add(self, alert_id: str, system_id: str, rule: str, data: Mapping[str, Any]) -> Alert:
        """A newly raised alert, at the end of the book (the oldest ones fall off)."""
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
        self._forget(alert_id)
        while len(self._alerts) > MAX_ALERTS:
            self._forget(self._alerts.popitem(last=False)[0])
        return alert

    def _forget(self, alert_id: str) -> None:
        """Drop what the book noted about the alert it held under ``alert_id``."""
        self._listed_raised_at.pop(alert_id, None)
        self._ahead_of_event.discard(alert_id)

    def _update(self, alert: Alert, data: dict[str, Any]) -> None:
        """Take the event's numbers, severity, clearing and acknowledgement flag."""
        for name in ("value", "threshold"):
            if name in data:
                setattr(alert, name, _number(data[name]))
        if "severity" in data:
            alert.severity = str(data["severity"])
        if data.get("state") == "cleared" and alert.state != "cleared":
            alert.state = "cleared"
            alert.cleared_at = str(data.get("cleared_at") or _now())
        if data.get("acknowledged"):
            self.acknowledge(alert.alert_id, _text(data.get("acknowledged_by")))

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
