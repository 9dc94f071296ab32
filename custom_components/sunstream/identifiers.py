"""Device-registry identifiers of a system and of its parts."""

from __future__ import annotations

from .const import DOMAIN


def system_identifier(system_id: str) -> tuple[str, str]:
    """Device-registry identifier of the system itself."""
    return (DOMAIN, system_id)


def part_identifier(system_id: str, key: str) -> tuple[str, str]:
    """Device-registry identifier of a part reported by the source."""
    return (DOMAIN, f"{system_id}_{key}")
