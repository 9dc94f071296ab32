"""The soak's processes: start, stop, kill, restart, sample — always by their own id.

Every process is started in a new session, so it leads its own process
group and a signal to that group reaches it and anything it started, and
nothing else. :class:`Proc` remembers each incarnation (pid, start, end, how
it ended) for the report; :func:`sample` reads CPU time and RSS from
``/proc``.
"""

from __future__ import annotations

import contextlib
import ctypes
from dataclasses import dataclass, field
import os
from pathlib import Path
import shutil
import signal
import subprocess
import time
from typing import Any

from .common import now, say

_TICKS = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1
_PAGE = os.sysconf("SC_PAGE_SIZE")

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
)


@dataclass
class Incarnation:
    """One run of a process."""

    pid: int
    started: float
    ended: float | None = None
    how: str | None = None  # "term", "kill", "exited <rc>"
    rc: int | None = None


@dataclass
class Proc:
    """A child process the soak owns, restartable."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None
    incarnations: list[Incarnation] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        """Start (again); output goes to the log, appended across incarnations."""
        if self.alive():
            raise RuntimeError(f"{self.name} is already running")
        with self.log.open("ab") as out:
            out.write(f"\n===== soak: starting {self.name} at {now():.3f} =====\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                # One pre-resolved C call, no lock taken: safe next to to_thread's workers.
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
        self.incarnations.append(Incarnation(pid=self.popen.pid, started=now()))

    def _signal(self, signum: int) -> None:
        popen = self.popen
        if popen is None or popen.poll() is not None:
            return
        # The group this process leads (start_new_session): it and its children.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signum)

    def stop(self, timeout: float = 30.0, *, kill: bool = False) -> int | None:
        """SIGTERM (or SIGKILL) and wait; SIGKILL after ``timeout``. Return the exit code."""
        popen = self.popen
        if popen is None:
            return None
        how = "kill" if kill else "term"
        if popen.poll() is None:
            self._signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                say(f"{self.name} (pid {popen.pid}) did not stop in {timeout:g} s: SIGKILL")
                how = "term-timeout-kill"
                self._signal(signal.SIGKILL)
                popen.wait(timeout=10)
        else:
            how = f"exited {popen.returncode}"
        # Whatever it left in its group (it may have exited before its children).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        self._ended(how)
        self.popen = None
        return popen.returncode

    def _ended(self, how: str) -> None:
        if self.incarnations and self.incarnations[-1].ended is None:
            last = self.incarnations[-1]
            last.ended = now()
            last.how = how
            last.rc = self.popen.returncode if self.popen is not None else None

    def check(self) -> bool:
        """Note an unexpected exit; True while running."""
        if self.popen is not None and self.popen.poll() is not None:
            say(f"{self.name} (pid {self.popen.pid}) exited on its own: {self.popen.returncode}")
            self._ended(f"exited {self.popen.returncode}")
            self.popen = None
        return self.alive()

    def describe(self) -> list[dict[str, Any]]:
        return [vars(i).copy() for i in self.incarnations]


def _libc_prctl() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except OSError, AttributeError:
        return None


_PRCTL = _libc_prctl()  # resolved here, so the child does no more than one C call


def _die_with_parent() -> None:
    """In the child: SIGTERM when the soak dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``).

    Processes are started from the event loop's thread, which lives as long as the soak.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def sample(pid: int) -> tuple[float, int] | None:
    """(CPU seconds so far, RSS bytes) of ``pid``, threads included; None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        with open(f"/proc/{pid}/statm", "rb") as handle:
            statm = handle.read().split()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS
    return cpu, int(statm[1]) * _PAGE


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from ``/proc/stat``."""
    with open("/proc/stat", encoding="ascii") as handle:
        parts = [int(x) for x in handle.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return total - idle, total


def wait_for_port(port: int, timeout: float, proc: Proc | None = None) -> None:
    """Block until 127.0.0.1:``port`` accepts connections (or ``proc`` died)."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.check():
            raise RuntimeError(f"{proc.name} exited before listening on {port} (log: {proc.log})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:g} s")


def mosquitto_config(directory: Path, port: int) -> Path:
    """A loopback broker that keeps sessions across a restart (persistence on)."""
    if MOSQUITTO is None:
        raise RuntimeError("mosquitto is not installed (scripts/lib/provision.sh installs it)")
    data = directory / "mosquitto-data"
    data.mkdir(parents=True, exist_ok=True)
    config = directory / "mosquitto.conf"
    config.write_text(
        "per_listener_settings true\n"
        "user root\n"
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        # The observer's persistent session and its queued QoS 1 messages
        # survive a broker restart; the bridge's own buffer covers the downtime.
        "persistence true\n"
        f"persistence_location {data}/\n"
        "autosave_interval 5\n"
        "max_queued_messages 100000\n"
        f"log_dest file {directory / 'mosquitto.log'}\n"
        "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        "log_timestamp_format %Y-%m-%dT%H:%M:%S\n"
        "connection_messages true\n",
        encoding="utf-8",
    )
    return config
