"""The files of a server home: ``server.json`` (pid, ports, password), log excerpts, password."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from .errors import Neo4jServerError

STATE_FILE = "server.json"
LOG_FILE = "launcher.log"


def state_path(home: Path) -> Path:
    """Path of the home's ``server.json``."""
    return home / STATE_FILE


def read_state(home: Path) -> dict:
    """The home's ``server.json``; ``{}`` when missing or unreadable."""
    try:
        state = json.loads(state_path(home).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def write_state(home: Path, state: dict) -> None:
    """Replace the home's ``server.json`` atomically, readable by its owner only (0600)."""
    tmp = home / f".{STATE_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, state_path(home))


def tail(path: Path, n: int = 20, start: int = 0) -> str:
    """The last ``n`` lines of ``path`` from byte ``start`` on (or "(no log)", "(empty)")."""
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:]) or "(empty)"


def log_excerpt(home: Path, start: int) -> str:
    """The last lines of launcher.log (from byte ``start``) and debug.log, for error messages."""
    logs = home / "logs"
    return (
        f"--- last lines of {logs / LOG_FILE} ---\n{tail(logs / LOG_FILE, 20, start)}\n"
        f"--- last lines of {logs / 'debug.log'} ---\n{tail(logs / 'debug.log', 20)}"
    )


def choose_password(home: Path, state: dict, password: str | None, fresh: bool) -> str:
    """The password of user neo4j for a server about to start on ``home``.

    Generated on a fresh home (unless given or recorded), recorded in server.json, and reused
    afterwards.

    Args:
        home: the server home.
        state: the home's server.json.
        password: the password asked for, or None.
        fresh: no database was created in the home yet.

    Raises:
        Neo4jServerError: ``password`` differs from the recorded one, or the existing
            database's password is unknown.
    """
    recorded = state.get("password")
    if fresh:
        return password or recorded or secrets.token_urlsafe(18)
    if recorded:
        if password is not None and password != recorded:
            raise Neo4jServerError(
                f"{home} was initialised with another password (recorded in "
                f"{state_path(home)}); leave password unset, or delete the home folder to "
                "start over with a new one"
            )
        return recorded
    if password is not None:
        return password
    raise Neo4jServerError(
        f"the password of the existing database in {home} is unknown "
        f"({state_path(home)} is missing): pass password=..., or delete the home "
        "folder to start over"
    )
