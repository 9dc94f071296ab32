"""Which Home Assistant exception a command error becomes (coordinator.COMMAND_ERRORS)."""

from __future__ import annotations

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest

from custom_components.sunstream.const import DOMAIN
from custom_components.sunstream.coordinator import _command_error
from custom_components.sunstream.pysunstream.alphaess import DispatchNotApplied
from custom_components.sunstream.pysunstream.errors import (
    CommandError,
    CommandFailed,
    CommandRejected,
)


class _NewKindOfError(CommandError):
    """A command error a source might add later without touching the table."""


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        # What was asked is wrong: the UI shows it as invalid input.
        (
            CommandRejected("power_out_of_range", power="9000", max_power="5000"),
            ServiceValidationError,
        ),
        (CommandRejected("soc_out_of_range", soc="5"), ServiceValidationError),
        # The system did not carry out a valid command: not the input's fault.
        (DispatchNotApplied((0,) * 9, (1,) * 9), HomeAssistantError),
        (CommandFailed("dispatch_not_applied"), HomeAssistantError),
        (_NewKindOfError("not_supported"), HomeAssistantError),
    ],
    ids=["power", "soc", "not_applied", "failed", "unlisted"],
)
def test_command_error_mapping(error: CommandError, expected: type[HomeAssistantError]) -> None:
    raised = _command_error(error)
    assert type(raised) is expected
    assert raised.translation_domain == DOMAIN
    assert raised.translation_key == error.key
    assert raised.translation_placeholders == error.placeholders
