"""Running the launcher JVM on a home and waiting until Neo4j answers on Bolt."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from .errors import Neo4jServerError
from .home import LOG_FILE, log_excerpt, tail, write_state
from .jvm import NEO4J_VERSION
from .ports import bolt_answers
from .process import CHILDREN, terminate


def launch(cmd: list[str], home: Path, state: dict, fresh: bool, timeout: float) -> dict:
    """Run the launcher command ``cmd`` on ``home`` and wait for it to be ready.

    The JVM runs in its own session with its output appended to ``logs/launcher.log``; on a
    fresh home it gets the initial password on stdin (never on the command line). Ready means
    that the launcher logged READY and Bolt answers.

    Args:
        cmd: the full launcher command (see :func:`kg.neo4j_local.jvm.jvm_cmd`); ``cmd[0]`` is
            the ``java`` executable.
        home: the server home; its ``logs/`` folder exists.
        state: the server.json of the new server (password, ports), already written.
        fresh: no database was created in the home yet: set the initial password.
        timeout: seconds to wait for readiness.

    Returns:
        ``state`` with ``pid``, ``started_at`` and ``ready_s`` added (also written to
        server.json).

    Raises:
        Neo4jServerError: the JVM could not be run, exited while starting, or was not ready
            within ``timeout`` seconds (it is then stopped); the message holds the end of the
            logs.
    """
    java = cmd[0]
    bolt_port, http_port, pw = state["bolt_port"], state["http_port"], state["password"]
    log_path = home / "logs" / LOG_FILE
    with open(log_path, "ab") as log:
        log.write(
            f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} kgrec: starting Neo4j {NEO4J_VERSION}: "
            f"bolt={bolt_port} http={http_port or 0}"
            f"{' (fresh home)' if fresh else ''}\n".encode()
        )
        log.flush()
        log_start = log.tell()
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=home,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives this Python process; not hit by its Ctrl-C
                close_fds=True,
            )
        except OSError as exc:
            raise Neo4jServerError(f"could not run {java}: {exc}") from exc
    CHILDREN[proc.pid] = proc
    try:
        # The initial password goes through stdin, never on the command line.
        if fresh:
            proc.stdin.write(pw.encode() + b"\n")
        proc.stdin.close()
    except BrokenPipeError:
        pass
    state["pid"] = proc.pid
    state["started_at"] = time.time()
    write_state(home, state)

    deadline = t0 + timeout
    while True:
        rc = proc.poll()
        if rc is not None:
            CHILDREN.pop(proc.pid, None)
            write_state(home, dict(state, pid=None))
            excerpt = log_excerpt(home, log_start)
            hint = ""
            if "Address already in use" in excerpt or "BindException" in excerpt:
                hint = f" A port is busy (bolt {bolt_port}, http {http_port}): pass other ports."
            elif "StoreLockException" in excerpt or "Unable to get a lock" in excerpt:
                hint = " Another Neo4j process holds this home's store lock: stop it first."
            raise Neo4jServerError(
                f"Neo4j exited with code {rc} while starting on {home}.{hint}\n{excerpt}"
            )
        if "READY" in tail(log_path, 50, log_start) and bolt_answers(bolt_port):
            break
        if time.monotonic() > deadline:
            terminate(proc.pid, 10)
            write_state(home, dict(state, pid=None))
            raise Neo4jServerError(
                f"Neo4j did not answer on bolt://127.0.0.1:{bolt_port} within {timeout:.0f} s "
                f"and was stopped; pass a larger timeout if the machine is slow.\n"
                f"{log_excerpt(home, log_start)}"
            )
        time.sleep(0.1)
    state["ready_s"] = round(time.monotonic() - t0, 2)
    write_state(home, state)
    return state
