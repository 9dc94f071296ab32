"""The developer scripts in scripts/: scripts/clean, the kept log, shellcheck.

scripts/clean runs here only against a throw-away root under the test's temp
dir (``SUNSTREAM_SID_ROOT``), with bind mounts of another temp dir inside,
never against a real provisioned root.
"""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path
import shutil
import subprocess
import time

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
CLEAN = SCRIPTS / "clean"
SHELL_SCRIPTS = [
    *(path for path in sorted(SCRIPTS.iterdir()) if path.is_file() and path.suffix != ".py"),
    SCRIPTS / "lib" / "provision.sh",
]
BASH = shutil.which("bash") or "/bin/bash"


def _mounts_under(path: Path) -> list[str]:
    result = subprocess.run(
        ["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True, check=True
    )
    return [line for line in result.stdout.splitlines() if line.startswith(f"{path}/")]


def _bind(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(source), str(target)], check=True)


def _clean(root: Path, venv: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUNSTREAM_SID_ROOT": str(root), "SUNSTREAM_VENV_DIR": str(venv)}
    return subprocess.run(
        [BASH, str(CLEAN)], capture_output=True, text=True, env=env, check=False, timeout=60
    )


@pytest.fixture
def mounted_root(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    """A tiny root with a checkout and a /dev-like tree bind-mounted inside, nested.

    Yields (root, checkout, venv). Whatever the test leaves mounted is
    unmounted afterwards, lazily, so no mount outlives the test.
    """
    if os.geteuid() != 0 or shutil.which("findmnt") is None:
        pytest.skip("needs root (to mount) and findmnt")
    root, checkout, devices = tmp_path / "sid", tmp_path / "checkout", tmp_path / "devices"
    (checkout / "src").mkdir(parents=True)
    (checkout / "src" / "precious.py").write_text("keep me\n")
    (devices / "pts").mkdir(parents=True)
    (devices / "null-ish").write_text("a device node stand-in\n")
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "opt" / "venv").mkdir(parents=True)
    _bind(checkout, root / checkout.relative_to("/"))
    _bind(devices, root / "dev")
    _bind(devices / "pts", root / "dev" / "pts")  # a mount inside a mount
    venv = tmp_path / "host-venv"
    (venv / "bin").mkdir(parents=True)
    try:
        yield root, checkout, venv
    finally:
        for target in reversed(_mounts_under(tmp_path)):
            subprocess.run(["umount", "-l", target], check=False)


def test_clean_unmounts_then_removes(mounted_root: tuple[Path, Path, Path]) -> None:
    """Every mount under the root goes first; what they showed is untouched."""
    root, checkout, venv = mounted_root
    assert len(_mounts_under(root)) == 3

    result = _clean(root, venv)

    assert result.returncode == 0, result.stderr
    assert _mounts_under(root) == []
    assert not root.exists()
    assert not venv.exists()
    assert (checkout / "src" / "precious.py").read_text() == "keep me\n"
    assert (root.parent / "devices" / "null-ish").exists()


def test_clean_refuses_while_a_mount_is_busy(mounted_root: tuple[Path, Path, Path]) -> None:
    """A mount that cannot go (a process works in it) stops the removal."""
    root, checkout, venv = mounted_root
    inside = root / checkout.relative_to("/")
    with subprocess.Popen(["sleep", "60"], cwd=inside) as busy:
        try:
            result = _clean(root, venv)
        finally:
            busy.kill()
    assert result.returncode != 0
    assert "still mounted" in result.stderr
    assert f"not removing {root}" in result.stderr
    assert (inside / "src" / "precious.py").exists()
    assert (checkout / "src" / "precious.py").read_text() == "keep me\n"
    assert venv.exists()  # nothing removed after a refusal

    # Once the process is gone a second run finishes the job.
    result = _clean(root, venv)
    assert result.returncode == 0, result.stderr
    assert not root.exists()
    assert (checkout / "src" / "precious.py").exists()


class _Run:
    """A bash that provisions like a scripts/test run of this checkout, into a temp root."""

    def __init__(self, root: Path) -> None:
        script = (
            f'source "{SCRIPTS / "lib" / "provision.sh"}" && _hold_repo_lock && _mount_repo'
            " && echo ready && read -r _ && sunstream_release && echo released"
        )
        self.process = subprocess.Popen(
            [BASH, "-c", script],
            env={**os.environ, "SUNSTREAM_SID_ROOT": str(root)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "ready\n"

    def finish(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("done\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline() == "released\n"
        assert self.process.wait(timeout=30) == 0


def test_last_run_of_a_checkout_unmounts_it(mounted_root: tuple[Path, Path, Path]) -> None:
    """The checkout's bind mount goes with the last run of it, not before."""
    root, _, _ = mounted_root
    inside = root / REPO.relative_to("/")
    first = _Run(root)
    second = _Run(root)  # e.g. scripts/develop while scripts/test runs
    assert str(inside) in _mounts_under(root)

    first.finish()
    assert str(inside) in _mounts_under(root)  # the second run still works in it
    assert (inside / "scripts" / "clean").exists()
    second.finish()
    assert str(inside) not in _mounts_under(root)
    # The shared mounts (here /dev) are left to scripts/clean.
    assert str(root / "dev") in _mounts_under(root)


def _copy_with_libraries(program: str, root: Path) -> str:
    """Copy ``program`` and the shared libraries it needs into ``root``; its path there."""
    path = shutil.which(program)
    assert path is not None
    result = subprocess.run(["ldd", path], capture_output=True, text=True, check=True)
    libraries = [word for word in result.stdout.split() if word.startswith("/")]
    for source in [path, *libraries]:
        # At the path asked for and at the one it resolves to (/lib64 -> /usr/lib/...).
        for name in {source, str(Path(source).resolve())}:
            target = root / name.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(source).resolve(), target)
    return path


def test_clean_refuses_while_a_run_is_inside(mounted_root: tuple[Path, Path, Path]) -> None:
    """A process working inside the root (a test run) stops scripts/clean before it unmounts."""
    root, checkout, venv = mounted_root
    sleep = _copy_with_libraries("sleep", root)
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    with subprocess.Popen([chroot, str(root), sleep, "60"]) as inside:
        try:
            proc_root = Path(f"/proc/{inside.pid}/root")
            deadline = time.monotonic() + 10
            while os.readlink(proc_root) != str(root):  # chroot(2) done, sleep started
                assert inside.poll() is None, "the process in the root did not start"
                assert time.monotonic() < deadline
                time.sleep(0.02)
            result = _clean(root, venv)
        finally:
            inside.kill()
    assert result.returncode != 0
    assert f"processes run inside {root} (pids: {inside.pid} )" in result.stderr
    assert len(_mounts_under(root)) == 3  # nothing was unmounted under the running process
    assert (checkout / "src" / "precious.py").exists()


def test_clean_refuses_relative_paths(tmp_path: Path) -> None:
    """Only absolute paths: a relative one would depend on where it is run from."""
    result = _clean(Path("relative/sid"), tmp_path / "venv")
    assert result.returncode != 0
    assert "not an absolute path" in result.stderr


def test_previous_log_is_kept(tmp_path: Path) -> None:
    """scripts/develop keeps the last run's log as hass.log.1 and starts empty."""
    log = tmp_path / "hass.log"
    keep = f'source "{SCRIPTS / "lib" / "provision.sh"}" && keep_previous_log "$1"'

    def start() -> None:
        subprocess.run([BASH, "-c", keep, "keep", str(log)], check=True)

    start()  # first run: nothing to keep
    assert log.read_text() == ""
    assert not (tmp_path / "hass.log.1").exists()
    log.write_text("run 1\n")
    start()
    assert log.read_text() == ""
    assert (tmp_path / "hass.log.1").read_text() == "run 1\n"
    log.write_text("run 2\n")
    start()
    assert (tmp_path / "hass.log.1").read_text() == "run 2\n"
    # A run that logged nothing does not overwrite the one before it.
    start()
    assert (tmp_path / "hass.log.1").read_text() == "run 2\n"


def test_develop_keeps_its_logs() -> None:
    """scripts/develop starts its logs through keep_previous_log, never truncating them."""
    text = (SCRIPTS / "develop").read_text(encoding="utf-8")
    assert 'keep_previous_log "$HASS_LOG"' in text
    assert ': >"$HASS_LOG"' not in text


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_scripts_pass_shellcheck() -> None:
    """No shellcheck findings in scripts/ (the provisioning installs shellcheck)."""
    shellcheck = shutil.which("shellcheck")
    assert shellcheck is not None
    assert CLEAN in SHELL_SCRIPTS
    result = subprocess.run(
        [shellcheck, "-x", *map(str, SHELL_SCRIPTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout
