"""The launcher's processes: file locks, liveness, finding a launcher by its home, stopping it.

Finding a launcher reads ``/proc`` (Linux); elsewhere the recorded pid is trusted.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

from .jvm import LAUNCHER_CLASS

CHILDREN: dict[int, subprocess.Popen] = {}  # servers started by this process (to reap them)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, or a reaped child of ours, is not alive)."""
    child = CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie still answers kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _launcher_args(argv: list[str], home: Path) -> list[str] | None:
    """The Launcher's own arguments (HOME BOLT [HTTP]) if argv runs it on ``home``."""
    if LAUNCHER_CLASS not in argv:
        return None
    args = argv[argv.index(LAUNCHER_CLASS) + 1 :]
    return args if args and args[0] == str(home) else None


def _is_launcher(pid: int, home: Path) -> bool:
    if not pid_alive(pid):
        return False
    argv = _cmdline(pid)
    if argv is None:  # no /proc (not Linux): trust the pid
        return not Path("/proc/self").exists()
    return _launcher_args(argv, home) is not None


def _find_launchers(home: Path) -> list[tuple[int, list[str]]]:
    """Launcher processes running on ``home`` (Linux: scans /proc)."""
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        argv = _cmdline(int(entry.name))
        args = _launcher_args(argv, home) if argv else None
        if args is not None and pid_alive(int(entry.name)):
            found.append((int(entry.name), args))
    return found


def find_running(home: Path, state: dict) -> tuple[int, dict] | None:
    """(pid, state) of a live launcher on ``home``; state ports corrected from its command line."""
    pid = state.get("pid")
    if isinstance(pid, int) and _is_launcher(pid, home):
        return pid, state
    for pid, args in _find_launchers(home):  # server.json lost or stale, server still up
        fixed = dict(state, pid=pid, bolt_port=int(args[1]) if len(args) > 1 else None)
        fixed["http_port"] = int(args[2]) if len(args) > 2 and args[2] != "0" else None
        if fixed["bolt_port"]:
            return pid, fixed
    return None


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            CHILDREN.pop(pid, None)
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM ``pid``; after ``timeout`` seconds, SIGKILL it and its process group."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_exit(pid, timeout):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # the launcher leads its own session
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_exit(pid, 10)
    CHILDREN.pop(pid, None)
