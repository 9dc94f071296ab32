"""The memory allocator the app runs on: mimalloc, so that memory comes back after a crowd.

A crowd of thousands of dashboard connections allocates millions of small
objects, interleaved with the few that outlive it (the newest documents,
caches). CPython's own small-object allocator (pymalloc) takes memory in
1 MiB arenas and returns an arena to the system only once every object in
it is gone, so after the crowd leaves most arenas stay resident, each held
by a handful of survivors. Measured on ``bench/fanout/app_server.py`` with
5,000 ``/ws/monitoring`` clients that came and went: on pymalloc the app
stayed at 1.4× its idle RSS a minute later, with no object of the crowd
alive (tracemalloc: the traced total back to its idle value; pymalloc's
statistics: 8 MiB of empty pools spread over arenas none of which could be
freed) and neither ``gc.collect()`` nor glibc's ``malloc_trim`` giving
anything back. mimalloc, built into CPython since 3.13, frees memory page
by page (64 KiB) and did return it: 1.1× fifteen seconds later. The soak
checks it (docs/reliability.md, "Memory that comes back").

The allocator is chosen before the interpreter starts (``PYTHONMALLOC``), so
:func:`prefer_mimalloc` restarts the process once, in place, with
``PYTHONMALLOC=mimalloc`` — only when this Python has mimalloc and nobody
chose an allocator already (an explicit ``PYTHONMALLOC`` always wins).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import os
import sys
import sysconfig
from typing import Final

CHOICE: Final = "PYTHONMALLOC"
MIMALLOC: Final = "mimalloc"


def should_switch(environ: Mapping[str, str], has_mimalloc: bool) -> bool:
    """Whether to restart under mimalloc: available, and no allocator chosen yet."""
    return has_mimalloc and not environ.get(CHOICE)


def prefer_mimalloc(
    exec_: Callable[[str, list[str]], object] = os.execv,
) -> None:
    """Restart this process under mimalloc if it is available and not chosen; else return."""
    if not should_switch(os.environ, bool(sysconfig.get_config_var("WITH_MIMALLOC"))):
        return
    os.environ[CHOICE] = MIMALLOC
    sys.stdout.flush()
    sys.stderr.flush()
    exec_(sys.executable, list(sys.orig_argv))
