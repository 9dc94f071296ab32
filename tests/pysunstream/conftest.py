"""Plain pytest for pysunstream: no Home Assistant instance is needed.

``tests/conftest.py`` makes every test request ``enable_custom_integrations``,
which starts a ``hass`` fixture. The device layer never touches Home
Assistant, so this package replaces that autouse fixture with a no-op.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Start no Home Assistant for the device layer's tests."""
