"""Shared bits: paths, the clock every process agrees on, JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
import socket
import sys
import time
from typing import IO, Any

SOAK = Path(__file__).resolve().parent
BENCH = SOAK.parent
REPO = BENCH.parent
SERVER_SRC = REPO / "addon" / "sunstream" / "server"
RESULTS = BENCH / "results"

# The app's package, for the observers that reuse its discovery (as pytest's pythonpath does).
if str(SERVER_SRC) not in sys.path:
    sys.path.insert(0, str(SERVER_SRC))


def now() -> float:
    """Wall-clock seconds: the one time base all the soak's processes share."""
    return time.time()


def free_port() -> int:
    """A TCP port nobody listens on right now, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dumps(value: Any) -> str:
    """Compact JSON for one line."""
    return json.dumps(value, separators=(",", ":"), default=str)


class JsonLines:
    """An append-only JSON-lines file, flushed per line (a crash keeps what was written)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSON-lines file (a torn last line is skipped)."""
    records = []
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def say(message: str) -> None:
    """A progress line on stderr, in the style of scripts/lib/provision.sh."""
    prefix = "\033[1;35m[soak]\033[0m" if sys.stderr.isatty() else "[soak]"
    print(f"{prefix} {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)
