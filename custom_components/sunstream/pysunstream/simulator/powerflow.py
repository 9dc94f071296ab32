"""AC power flow of a small network, by Gauss–Seidel, in per unit.

Five buses need no sparse solver: Gauss–Seidel on complex numbers
converges in a few dozen sweeps and keeps the library free of NumPy. The
slack bus holds voltage and angle and takes whatever power balances the
network (generation − load − losses); PV buses hold |V| and P; PQ buses
hold P and Q.
"""

from __future__ import annotations

import cmath
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class BusType(StrEnum):
    """How a bus is specified in the power flow."""

    SLACK = "slack"
    PV = "pv"
    PQ = "pq"


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """A branch between two buses, series impedance in per unit."""

    a: int
    b: int
    impedance: complex


@dataclass(slots=True, kw_only=True)
class BusSpec:
    """What is fixed at a bus: injections are generation − load, per unit."""

    kind: BusType
    p: float = 0.0
    q: float = 0.0
    voltage: float = 1.0
    angle: float = 0.0


@dataclass(frozen=True, slots=True)
class BusResult:
    """Solved state of one bus; ``p``/``q`` are net injections, per unit."""

    voltage: float
    angle: float  # radians
    p: float
    q: float


class PowerFlowDiverged(ArithmeticError):
    """The network has no solution near the flat start (overloaded, islanded)."""


def admittance(n: int, lines: Sequence[Line]) -> list[list[complex]]:
    """The bus admittance matrix."""
    y = [[0j] * n for _ in range(n)]
    for line in lines:
        series = 1 / line.impedance
        y[line.a][line.a] += series
        y[line.b][line.b] += series
        y[line.a][line.b] -= series
        y[line.b][line.a] -= series
    return y


def solve(
    buses: Sequence[BusSpec],
    y: Sequence[Sequence[complex]],
    *,
    tolerance: float = 1e-9,
    max_sweeps: int = 500,
) -> list[BusResult]:
    """Solve the flow; raise :class:`PowerFlowDiverged` if it doesn't settle."""
    n = len(buses)
    v = [cmath.rect(bus.voltage, bus.angle) for bus in buses]
    q_spec = [bus.q for bus in buses]
    for _ in range(max_sweeps):
        worst = 0.0
        for i, bus in enumerate(buses):
            if bus.kind is BusType.SLACK:
                continue
            current = sum(y[i][k] * v[k] for k in range(n))
            if bus.kind is BusType.PV:
                q_spec[i] = -(v[i].conjugate() * current).imag
            s = complex(bus.p, q_spec[i])
            others = current - y[i][i] * v[i]
            new = (s.conjugate() / v[i].conjugate() - others) / y[i][i]
            if bus.kind is BusType.PV:
                new = cmath.rect(bus.voltage, cmath.phase(new))
            worst = max(worst, abs(new - v[i]))
            v[i] = new
        if worst < tolerance:
            break
    else:
        raise PowerFlowDiverged(f"no convergence in {max_sweeps} sweeps")
    results = []
    for i in range(n):
        injection = v[i] * sum(y[i][k] * v[k] for k in range(n)).conjugate()
        if not (cmath.isfinite(injection) and cmath.isfinite(v[i])):
            raise PowerFlowDiverged("non-finite solution")
        results.append(BusResult(abs(v[i]), cmath.phase(v[i]), injection.real, injection.imag))
    return results
