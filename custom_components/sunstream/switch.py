"""The microgrid simulation's run switch (seed 002's start / stop controls)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import SunstreamCoordinator
from .entity import SunstreamEntity
from .pysunstream.capabilities import Pausable
from .runtime import SunstreamConfigEntry

PARALLEL_UPDATES = 0

SIMULATION = SwitchEntityDescription(
    key="simulation_running",
    translation_key="simulation_running",
    entity_category=EntityCategory.CONFIG,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switch to simulations that can be paused (the microgrid)."""
    coordinator = entry.runtime_data.coordinator
    if isinstance(coordinator.source, Pausable):
        async_add_entities([SimulationSwitch(coordinator, coordinator.source)])


class SimulationSwitch(SunstreamEntity, SwitchEntity):
    """Runs or freezes the simulation; frozen readings repeat unchanged."""

    def __init__(self, coordinator: SunstreamCoordinator, system: Pausable) -> None:
        """Control ``system``."""
        super().__init__(coordinator, SIMULATION)
        self._system = system

    @property
    def is_on(self) -> bool:
        """Whether the simulation advances."""
        return self._system.running

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.available, self.is_on)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Start the simulation."""
        self._system.start()
        await self.coordinator.async_refresh()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Stop the simulation."""
        self._system.stop()
        await self.coordinator.async_refresh()
