"""The alert state machine: one per rule, fed a reading at a time.

Per rule: *normal* → (out of bounds) → *pending* → (still out after
``min_duration``) → *raised* → (inside the clear band for
``clear_duration``) → *normal*. A reading whose value is unknown changes
nothing: a gap in the data neither raises nor clears an alert (communication
loss has its own rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .rules import DEFAULT_RULES, Reading, Rule


@dataclass(slots=True)
class AlertState:
    """Where one rule stands."""

    rule: Rule
    out_since: datetime | None = None
    back_since: datetime | None = None
    raised_at: datetime | None = None
    value: float | None = None
    acknowledged: bool = False

    @property
    def active(self) -> bool:
        """Raised and not yet cleared."""
        return self.raised_at is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view for diagnostics."""
        return {
            "rule": self.rule.key,
            "severity": self.rule.severity.value,
            "value": self.value,
            "raised_at": self.raised_at.isoformat() if self.raised_at else None,
            "acknowledged": self.acknowledged,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """An alert raised or cleared by the last reading."""

    rule: str
    severity: str
    state: str  # "raised" | "cleared"
    value: float | None
    threshold: float | None
    at: datetime
    acknowledged: bool = False


def threshold(rule: Rule, value: float | None) -> float | None:
    """The limit the value crossed (or the nearer one, when unknown)."""
    band = rule.normal
    if value is not None and band.low is not None and value < band.low:
        return band.low
    if value is not None and band.high is not None and value > band.high:
        return band.high
    return band.high if band.high is not None else band.low


class AlertEngine:
    """Evaluate rules against readings; report transitions only."""

    def __init__(self, rules: Iterable[Rule] = DEFAULT_RULES) -> None:
        """Start with every rule normal."""
        self._states = {rule.key: AlertState(rule) for rule in rules}

    @property
    def states(self) -> tuple[AlertState, ...]:
        """Every rule's state."""
        return tuple(self._states.values())

    @property
    def active(self) -> tuple[AlertState, ...]:
        """The alerts raised and not cleared."""
        return tuple(s for s in self._states.values() if s.active)

    def evaluate(self, reading: Reading, now: datetime) -> list[Transition]:
        """Feed one reading; return what it raised or cleared."""
        transitions: list[Transition] = []
        for state in self._states.values():
            rule = state.rule
            value = rule.value(reading)
            if value is None:
                continue
            state.value = value
            if not state.active:
                if not rule.tripped(value):
                    state.out_since = None
                    continue
                state.out_since = state.out_since or now
                if now - state.out_since >= rule.min_duration:
                    state.raised_at, state.back_since = now, None
                    state.acknowledged = False
                    transitions.append(self._transition(state, "raised", now))
                continue
            if not rule.cleared(value):
                state.back_since = None
                continue
            state.back_since = state.back_since or now
            if now - state.back_since >= rule.clear_duration:
                transitions.append(self._transition(state, "cleared", now))
                state.raised_at = state.out_since = state.back_since = None
                state.acknowledged = False
        return transitions

    def acknowledge(self, rule_key: str) -> bool:
        """Mark an active alert acknowledged; ``False`` if it isn't active."""
        state = self._states.get(rule_key)
        if state is None or not state.active:
            return False
        state.acknowledged = True
        return True

    @staticmethod
    def _transition(state: AlertState, kind: str, now: datetime) -> Transition:
        return Transition(
            rule=state.rule.key,
            severity=state.rule.severity.value,
            state=kind,
            value=state.value,
            threshold=threshold(state.rule, state.value),
            at=now,
            acknowledged=state.acknowledged,
        )
