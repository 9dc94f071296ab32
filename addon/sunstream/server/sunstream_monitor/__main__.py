"""``python -m sunstream_monitor``: read the settings, set up logging, serve.

Exit codes: 0 after a signal, 1 when the server failed, 2 for bad settings
(one line on stderr saying which and why, no traceback) — the app's s6
``finish`` script stops the container on anything but 0.
"""

from __future__ import annotations

from collections.abc import Sequence
import logging
import sys

from .allocator import prefer_mimalloc
from .runner import run
from .settings import SettingsError, load

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sunstream-monitor`` script and of ``python -m``."""
    try:
        settings = load(argv)
    except (SettingsError, ValueError) as err:  # ValueError: e.g. a non-numeric port
        print(f"sunstream_monitor: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format=_LOG_FORMAT)
    return run(settings)


if __name__ == "__main__":
    prefer_mimalloc()
    sys.exit(main())
