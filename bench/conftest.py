"""Benchmarks run in a real Home Assistant, with the test suite's fixtures."""

from __future__ import annotations

import custom_components  # noqa: F401  # isort: skip

from tests.conftest import (  # noqa: F401  (fixtures)
    auto_enable_custom_integrations,
    entity_registry_enabled_by_default,
    located_hass,
)
